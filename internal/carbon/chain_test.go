package carbon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// logBuffer is a concurrency-safe slog sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func TestChainFallback(t *testing.T) {
	t.Parallel()
	_, srv := newFakeAPI(t, map[string][]reply{"/v3/carbon-intensity/latest": {{status: 429, retryAfter: "1"}}})
	clk := &clock{t: testNow}
	em := NewElectricityMaps("tok")
	em.HTTPOptions = testOptions(srv, clk, &sleeps{})
	logs := &logBuffer{}
	c := &Chain{Live: em, LiveName: "Electricity Maps", NowFunc: clk.now,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	ctx := t.Context()

	in, err := c.Current(ctx, "DE")
	if err != nil {
		t.Fatal(err)
	}
	want := Intensity{GramsPerKWh: 380.95, Source: "static:owid-2023 (DE)", Estimated: true,
		Note: "Electricity Maps unavailable (429 after 3 tries): using static table DE 2023"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("Current (-want +got):\n%s", diff)
	}
	// Warned once per zone per hour.
	c.Current(ctx, "DE")
	clk.add(30 * time.Minute)
	c.Current(ctx, "DE")
	if got := logs.lines(); len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "429 after 3 tries") {
		t.Errorf("logs after three calls in 30 minutes = %q, want one warning", got)
	}
	clk.add(31 * time.Minute)
	c.Current(ctx, "DE")
	if got := logs.lines(); len(got) != 2 {
		t.Errorf("logs after an hour = %q, want a second warning", got)
	}

	h, err := c.History(ctx, "DE", testNow, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := h.At(testNow); v != 380.95 {
		t.Errorf("History fallback = %v, want the static DE value", v)
	}
}

func TestChainNoProviderNoZone(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	c := &Chain{Logger: slog.New(slog.NewTextHandler(logs, nil)), NowFunc: func() time.Time { return testNow }}
	tests := []struct {
		zone string
		want Intensity
	}{
		{"", Intensity{GramsPerKWh: 475, Source: "static:world-average iea-2019", Estimated: true,
			Note: "no carbon zone configured: using the world average (IEA 2019)"}},
		{"gcp:europe-west3", Intensity{GramsPerKWh: 275.82, Source: "static:google-2024 (gcp:europe-west3)", Estimated: true,
			Note: "no live provider configured: using static table gcp:europe-west3 2024"}},
		{"SE-SE3", Intensity{GramsPerKWh: 40.7, Source: "static:owid-2023 (SE)", Estimated: true,
			Note: "no live provider configured: using static table SE 2023 (the country of zone SE-SE3)"}},
		{"Atlantis", Intensity{GramsPerKWh: 475, Source: "static:world-average iea-2019", Estimated: true,
			Note: "no live provider configured: zone Atlantis is not in the static table: using the world average (IEA 2019)"}},
	}
	for _, tt := range tests {
		got, err := c.Current(t.Context(), tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got, cmpApprox); diff != "" {
			t.Errorf("Current(%q) (-want +got):\n%s", tt.zone, diff)
		}
	}
	if got := logs.lines(); len(got) != len(tests) {
		t.Errorf("%d warnings, want one per zone: %q", len(got), got)
	}
}

func TestChainLiveAndForecast(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	// Two weeks of hourly history, value = hour of day.
	h := hourly(t, t0, 14*24, func(i int) float64 { return float64(i % 24) })
	now := t0.Add(14 * day)
	tr := &Trace{Zone: "DE", Series: h, Now: func() time.Time { return now.Add(-time.Minute) }}
	c := &Chain{Live: tr, LiveName: "trace", NowFunc: func() time.Time { return now }, ProfileWeeks: 2}
	in, err := c.Current(t.Context(), "de")
	if err != nil || in.GramsPerKWh != 23 || in.Note != "" {
		t.Errorf("Current = %+v, %v; want the live 23 with no note", in, err)
	}
	f, err := c.Forecast(t.Context(), "DE", now.Add(5*time.Hour), now.Add(7*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{now.Add(5 * time.Hour), 5}, {now.Add(6 * time.Hour), 6}}
	if diff := cmp.Diff(want, f.Points()); diff != "" {
		t.Errorf("Forecast from history (-want +got):\n%s", diff)
	}
}

// Forecast falls back to persistence when history is shorter than a week.
func TestChainForecastPersistence(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	h := hourly(t, t0, 24, func(i int) float64 { return float64(100 + i) })
	now := t0.Add(day)
	c := &Chain{Live: &Trace{Zone: "DE", Series: h}, NowFunc: func() time.Time { return now }}
	f, err := c.Forecast(context.Background(), "DE", now.Add(2*time.Hour), now.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Point{{now.Add(2 * time.Hour), 102}}, f.Points()); diff != "" {
		t.Errorf("Forecast (-want +got):\n%s", diff)
	}
}
