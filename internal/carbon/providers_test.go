package carbon

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/joule-dev/joule"
)

// reply is one scripted answer.
type reply struct {
	status     int
	retryAfter string
	file       string // body from testdata
}

// fakeAPI answers each path from a script, repeating its last reply, and
// records the requests it saw.
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	script map[string][]reply
	hits   map[string]int
	reqs   []*http.Request
}

func newFakeAPI(t *testing.T, script map[string][]reply) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, script: script, hits: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.URL.Path
	if _, ok := f.script[key]; !ok {
		// Scripts for prefixes, such as the UK range endpoints.
		for k := range f.script {
			if strings.HasSuffix(k, "*") && strings.HasPrefix(key, strings.TrimSuffix(k, "*")) {
				key = k
			}
		}
	}
	replies, ok := f.script[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	n := f.hits[key]
	f.hits[key]++
	f.reqs = append(f.reqs, r.Clone(context.Background()))
	rep := replies[min(n, len(replies)-1)]
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	if rep.status != http.StatusOK {
		w.WriteHeader(rep.status)
		w.Write([]byte(`{"error":"scripted"}`))
		return
	}
	b, err := os.ReadFile("testdata/" + rep.file)
	if err != nil {
		f.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (f *fakeAPI) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records backoff waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

var testNow = utc("2026-03-10T14:10:00Z")

func testOptions(srv *httptest.Server, clk *clock, sl *sleeps) HTTPOptions {
	return HTTPOptions{BaseURL: srv.URL, HTTPClient: srv.Client(), NowFunc: clk.now,
		Retry: Retry{SleepFunc: sl.sleep}}
}

func TestElectricityMaps(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, map[string][]reply{
		"/v3/carbon-intensity/latest":   {{status: 500}, {status: 200, file: "em_latest.json"}},
		"/v3/carbon-intensity/history":  {{status: 200, file: "em_history.json"}},
		"/v3/carbon-intensity/forecast": {{status: 200, file: "em_forecast.json"}},
	})
	clk, sl := &clock{t: testNow}, &sleeps{}
	c := NewElectricityMaps("secret")
	c.HTTPOptions = testOptions(srv, clk, sl)
	ctx := t.Context()

	// 500 then success: one retry after the base delay.
	in, err := c.Current(ctx, "DE")
	if err != nil {
		t.Fatal(err)
	}
	want := Intensity{GramsPerKWh: 302, Source: "electricitymaps:DE (lifecycle)", Estimated: true, Note: "estimated by Electricity Maps (TIME_SLICER_AVERAGE)"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("Current (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, sl.got()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if got := api.reqs[0].Header.Get("auth-token"); got != "secret" {
		t.Errorf("auth-token = %q", got)
	}
	if got := api.reqs[0].URL.Query().Get("zone"); got != "DE" {
		t.Errorf("zone = %q", got)
	}
	// Cache hit within the TTL, a new fetch after it.
	c.Current(ctx, "DE")
	if n := api.count("/v3/carbon-intensity/latest"); n != 2 {
		t.Errorf("latest fetched %d times, want 2 (one retry, then cached)", n)
	}
	clk.add(DefaultCacheTTL)
	c.Current(ctx, "DE")
	if n := api.count("/v3/carbon-intensity/latest"); n != 3 {
		t.Errorf("latest fetched %d times after the TTL, want 3", n)
	}

	// History skips the null point: 12:00 holds until 14:00.
	h, err := c.History(ctx, "DE", utc("2026-03-10T11:00:00Z"), utc("2026-03-10T15:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	wantH := []Point{{utc("2026-03-10T11:00:00Z"), 410}, {utc("2026-03-10T12:00:00Z"), 395}, {utc("2026-03-10T14:00:00Z"), 302}}
	if diff := cmp.Diff(wantH, h.Points()); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}

	f, err := c.Forecast(ctx, "DE", utc("2026-03-10T16:00:00Z"), utc("2026-03-10T18:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	wantF := []Point{{utc("2026-03-10T16:00:00Z"), 287}, {utc("2026-03-10T17:00:00Z"), 301}}
	if diff := cmp.Diff(wantF, f.Points()); diff != "" {
		t.Errorf("Forecast (-want +got):\n%s", diff)
	}
}

func TestProviderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replies  []reply
		code     string
		reason   string
		sleeps   []time.Duration
		requests int
	}{
		{"401", []reply{{status: 401}}, joule.EUNAUTHORIZED, "401 unauthorized: check the credentials", nil, 1},
		{"429 with Retry-After", []reply{{status: 429, retryAfter: "7"}}, joule.EUNAVAILABLE, "429 after 3 tries",
			[]time.Duration{7 * time.Second, 7 * time.Second}, 3},
		{"429 Retry-After shorter than backoff", []reply{{status: 429, retryAfter: "1"}, {status: 429, retryAfter: "1"}, {status: 503}}, joule.EUNAVAILABLE, "503 after 3 tries",
			[]time.Duration{time.Second, 2 * time.Second}, 3},
		{"Retry-After capped", []reply{{status: 429, retryAfter: "3600"}}, joule.EUNAVAILABLE, "429 after 3 tries",
			[]time.Duration{DefaultMaxDelay, DefaultMaxDelay}, 3},
		{"404", []reply{{status: 404}}, joule.ENOTFOUND, "404: Not Found", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api, srv := newFakeAPI(t, map[string][]reply{"/v3/carbon-intensity/latest": tt.replies})
			clk, sl := &clock{t: testNow}, &sleeps{}
			c := NewElectricityMaps("bad")
			c.HTTPOptions = testOptions(srv, clk, sl)
			_, err := c.Current(t.Context(), "DE")
			if joule.ErrorCode(err) != tt.code {
				t.Fatalf("Current = %v, want code %s", err, tt.code)
			}
			pe, ok := errors.AsType[*ProviderError](err)
			if !ok || pe.Reason() != tt.reason {
				t.Errorf("Current = %v, want reason %q", err, tt.reason)
			}
			if diff := cmp.Diff(tt.sleeps, sl.got()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if n := api.count("/v3/carbon-intensity/latest"); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			// Errors are not cached.
			c.Current(t.Context(), "DE")
			if n := api.count("/v3/carbon-intensity/latest"); n != 2*tt.requests {
				t.Errorf("%d requests after a second call, want %d", n, 2*tt.requests)
			}
		})
	}
}

func TestWattTime(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, map[string][]reply{
		"/login":           {{status: 200, file: "wt_login.json"}},
		"/v3/forecast":     {{status: 429, retryAfter: "2"}, {status: 200, file: "wt_forecast_now.json"}, {status: 401}, {status: 200, file: "wt_forecast.json"}},
		"/v3/historical":   {{status: 200, file: "wt_historical.json"}},
		"/v3/signal-index": {{status: 200, file: "wt_signal_index.json"}},
	})
	clk, sl := &clock{t: testNow}, &sleeps{}
	c := NewWattTime("user", "pass")
	c.HTTPOptions = testOptions(srv, clk, sl)
	ctx := t.Context()

	in, err := c.Current(ctx, "CAISO_NORTH")
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(in.GramsPerKWh-900*0.45359237) > 1e-9 || in.Source != "watttime:CAISO_NORTH (co2_moer)" ||
		!strings.Contains(in.Note, "marginal") || !strings.Contains(in.Note, "lbs_co2_per_mwh") {
		t.Errorf("Current = %+v, want 900 lbs/MWh as 408.23 g/kWh, marked marginal", in)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, sl.got()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	login := api.reqs[0]
	if u, p, ok := login.BasicAuth(); !ok || u != "user" || p != "pass" {
		t.Errorf("login basic auth = %q, %q, %v", u, p, ok)
	}
	if got := api.reqs[1].Header.Get("Authorization"); got != "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.test-token" {
		t.Errorf("Authorization = %q", got)
	}
	if q := api.reqs[1].URL.Query(); q.Get("region") != "CAISO_NORTH" || q.Get("signal_type") != "co2_moer" || q.Get("horizon_hours") != "0" {
		t.Errorf("forecast query = %v", q)
	}

	// A refused token is renewed once: 401, login again, then the forecast.
	f, err := c.Forecast(ctx, "CAISO_NORTH", utc("2026-03-10T14:05:00Z"), utc("2026-03-10T14:15:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if n := api.count("/login"); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
	wantF := []Point{{utc("2026-03-10T14:05:00Z"), 880 * LbsPerMWhToGramsPerKWh}, {utc("2026-03-10T14:10:00Z"), 850 * LbsPerMWhToGramsPerKWh}}
	if diff := cmp.Diff(wantF, f.Points(), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("Forecast (-want +got):\n%s", diff)
	}

	h, err := c.History(ctx, "CAISO_NORTH", utc("2026-03-10T12:00:00Z"), utc("2026-03-10T12:10:00Z"))
	if err != nil || h.Len() != 2 {
		t.Fatalf("History = %v, %v", h.Points(), err)
	}
	if q := api.reqs[len(api.reqs)-1].URL.Query(); q.Get("start") != "2026-03-10T12:00:00Z" || q.Get("end") != "2026-03-10T12:10:00Z" {
		t.Errorf("historical query = %v", q)
	}

	pct, at, err := c.SignalIndex(ctx, "CAISO_NORTH")
	if err != nil || pct != 37 || !at.Equal(utc("2026-03-10T14:00:00Z")) {
		t.Errorf("SignalIndex = %v, %v, %v", pct, at, err)
	}
}

func TestWattTimeLoginRefused(t *testing.T) {
	t.Parallel()
	_, srv := newFakeAPI(t, map[string][]reply{"/login": {{status: 401}}})
	c := NewWattTime("user", "wrong")
	c.HTTPOptions = testOptions(srv, &clock{t: testNow}, &sleeps{})
	_, err := c.Current(t.Context(), "CAISO_NORTH")
	if joule.ErrorCode(err) != joule.EUNAUTHORIZED || !strings.Contains(err.Error(), "WattTime: 401 unauthorized") {
		t.Errorf("Current = %v, want a WattTime auth error", err)
	}
}

func TestUKCarbonIntensity(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, map[string][]reply{
		"/intensity":   {{status: 502}, {status: 200, file: "uk_intensity.json"}},
		"/intensity/*": {{status: 200, file: "uk_range.json"}},
	})
	clk, sl := &clock{t: testNow}, &sleeps{}
	c := NewUKCarbonIntensity()
	c.HTTPOptions = testOptions(srv, clk, sl)
	ctx := t.Context()

	in, err := c.Current(ctx, "GB")
	if err != nil {
		t.Fatal(err)
	}
	want := Intensity{GramsPerKWh: 189, Source: "ukci:GB", Estimated: true, Note: "NESO forecast: the actual value is not yet published"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("Current (-want +got):\n%s", diff)
	}
	c.Current(ctx, "uk")
	if n := api.count("/intensity"); n != 2 {
		t.Errorf("/intensity fetched %d times, want 2 (a retry, then the cache)", n)
	}

	h, err := c.History(ctx, "GB", utc("2026-03-10T12:00:00Z"), utc("2026-03-10T13:30:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	wantH := []Point{{utc("2026-03-10T12:00:00Z"), 205}, {utc("2026-03-10T12:30:00Z"), 196}, {utc("2026-03-10T13:00:00Z"), 190}}
	if diff := cmp.Diff(wantH, h.Points()); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if got := api.reqs[len(api.reqs)-1].URL.Path; got != "/intensity/2026-03-10T12:00Z/2026-03-10T13:30Z" {
		t.Errorf("History path = %q", got)
	}
	if h.End() != utc("2026-03-10T13:30:00Z") {
		t.Errorf("History End() = %v", h.End())
	}
	if _, err := c.Current(ctx, "DE"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("Current(DE) = %v, want not_found", err)
	}
}

func TestUKCarbonIntensityForecast(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, map[string][]reply{"/intensity/*": {{status: 200, file: "uk_fw48h.json"}}})
	c := NewUKCarbonIntensity()
	c.HTTPOptions = testOptions(srv, &clock{t: testNow}, &sleeps{})
	f, err := c.Forecast(t.Context(), "GB", utc("2026-03-10T14:10:00Z"), utc("2026-03-10T15:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{utc("2026-03-10T14:00:00Z"), 189}, {utc("2026-03-10T14:30:00Z"), 176}}
	if diff := cmp.Diff(want, f.Points()); diff != "" {
		t.Errorf("Forecast (-want +got):\n%s", diff)
	}
	if got := api.reqs[0].URL.Path; got != "/intensity/2026-03-10T14:00Z/fw48h" {
		t.Errorf("Forecast path = %q", got)
	}
}
