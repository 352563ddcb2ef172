package carbon

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestLookupLive: recent intervals get the provider's latest value, older
// ones its history at that hour, both in the provider's real answer shapes.
func TestLookupLive(t *testing.T) {
	t.Parallel()
	api, srv := newFakeAPI(t, map[string][]reply{
		"/v3/carbon-intensity/latest":  {{status: 200, file: "em_latest.json"}},
		"/v3/carbon-intensity/history": {{status: 200, file: "em_history.json"}},
	})
	clk, sl := &clock{t: testNow}, &sleeps{}
	em := NewElectricityMaps("secret")
	em.HTTPOptions = testOptions(srv, clk, sl)
	l := &Lookup{Zone: "DE", Chain: &Chain{Live: em, LiveName: "Electricity Maps", NowFunc: clk.now, Logger: slog.New(slog.DiscardHandler)}}
	ctx := t.Context()

	if in := l.At(ctx, testNow.Add(-5*time.Minute)); in.GramsPerKWh != 302 || in.Source != "electricitymaps:DE (lifecycle)" {
		t.Errorf("At(now-5m) = %+v, want the latest 302 g/kWh from Electricity Maps", in)
	}
	// 11:00 and 12:00 are hours of the history: the same job moved to
	// another hour gets that hour's intensity.
	for at, want := range map[string]float64{"2026-03-10T11:30:00Z": 410, "2026-03-10T12:15:00Z": 395} {
		in := l.At(ctx, utc(at))
		if in.GramsPerKWh != want || !strings.Contains(in.Source, "Electricity Maps history") || in.Note != "" {
			t.Errorf("At(%s) = %+v, want %v from the history", at, in, want)
		}
	}
	if n := api.count("/v3/carbon-intensity/history"); n != 1 {
		t.Errorf("history fetched %d times, want 1 (kept for later intervals)", n)
	}
}

// TestLookupFallback: a provider that refuses the key, or keeps failing,
// gives the static table with a note that says why, logged as a warning;
// for RetryAfter the provider is not asked again.
func TestLookupFallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		note   string
	}{
		{401, "Electricity Maps unavailable"},
		{429, "Electricity Maps unavailable"},
		{503, "Electricity Maps unavailable"},
	} {
		api, srv := newFakeAPI(t, map[string][]reply{"/v3/carbon-intensity/latest": {{status: tc.status}}})
		clk, sl := &clock{t: testNow}, &sleeps{}
		em := NewElectricityMaps("secret")
		em.HTTPOptions = testOptions(srv, clk, sl)
		logs := &logBuf{}
		l := &Lookup{Zone: "DE", Chain: &Chain{Live: em, LiveName: "Electricity Maps", NowFunc: clk.now, Logger: slog.New(slog.NewTextHandler(logs, nil))}}
		in := l.At(t.Context(), testNow)
		st, _ := DefaultStatic().Lookup("DE")
		if in.GramsPerKWh != st.GramsPerKWh || !strings.Contains(in.Note, tc.note) || !strings.Contains(in.Note, "using static table DE") {
			t.Errorf("status %d: At = %+v, want the static DE figure with a note", tc.status, in)
		}
		if !strings.Contains(logs.String(), "carbon intensity fallback") {
			t.Errorf("status %d: no warning logged: %q", tc.status, logs.String())
		}
		if !strings.Contains(Label(in), "(") {
			t.Errorf("Label(%+v) = %q, want the note in it", in, Label(in))
		}
		before := api.count("/v3/carbon-intensity/latest")
		l.At(t.Context(), testNow.Add(time.Second))
		if n := api.count("/v3/carbon-intensity/latest"); n != before {
			t.Errorf("status %d: provider asked again within RetryAfter (%d → %d requests)", tc.status, before, n)
		}
	}
}

// TestLookupFile: a time-series file gives each interval its own value,
// and a time outside it falls back with a note naming the file.
func TestLookupFile(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/ger_ci.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, _, err := ParseCSV(f, "ger_ci.csv")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lookup{Zone: "DE", File: &s, FileName: "ger_ci.csv", Chain: &Chain{Logger: slog.New(slog.DiscardHandler)}}
	a, b := l.At(t.Context(), utc("2019-12-20T00:05:00Z")), l.At(t.Context(), utc("2019-12-20T00:20:00Z"))
	if a.GramsPerKWh != 218.29003068829462 || b.GramsPerKWh != 217.8834341330206 || a.Source != "file:ger_ci.csv" {
		t.Errorf("At = %+v, %+v; want the file's first two values", a, b)
	}
	out := l.At(t.Context(), utc("2030-01-01T00:00:00Z"))
	if !strings.Contains(out.Note, "file ger_ci.csv has no value at 2030-01-01T00:00:00Z") || out.GramsPerKWh <= 0 {
		t.Errorf("At(outside the file) = %+v, want the static fallback naming the file", out)
	}
	// No provider at all: the static table, saying so.
	none := &Lookup{Zone: "DE", Chain: &Chain{Logger: slog.New(slog.DiscardHandler)}}
	if in := none.At(t.Context(), utc("2026-01-01T00:00:00Z")); !strings.Contains(in.Note, "no live provider configured") {
		t.Errorf("no provider: %+v, want a note saying none is configured", in)
	}
}
