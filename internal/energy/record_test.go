package energy

import (
	"math"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// TestStoreRollupsAddUp: the per-minute and the hourly rows of a run of
// one-second intervals that crosses a minute boundary each add up to the
// intervals, with the seconds they cover.
func TestStoreRollupsAddUp(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 50, 0, time.UTC)
	cfg := AccountConfig{PUE: 1.5, Intensity: func(time.Time) (float64, string) { return 300, "static:test" },
		Price: Price{FlatPerKWh: 0.2}, Currency: "EUR", AmortisationPerNodeHour: 0.36}
	var entries []Entry
	var samples []joule.PowerSample
	for i := range 20 {
		n := NodeInterval{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second),
			CPU: []ComponentEnergy{{Component: "package-0", Joules: 40, Method: MethodRAPL}, {Component: "dram-0", Joules: 10, Method: MethodRAPL}}}
		entries = append(entries, AccountNode(cfg, n)...)
		samples = append(samples, PowerSamples("node_a", n)...)
	}
	if len(samples) != 40 || samples[0].Watts() != 40 {
		t.Fatalf("PowerSamples: %d samples, first %v W; want 40 samples, 40 W", len(samples), samples[0].Watts())
	}
	rows := StoreRollups(RollupKey{Scope: joule.RollupNode, NodeID: "node_a"}, entries)
	sum := map[time.Duration]float64{}
	secs := map[time.Duration]float64{}
	var minutes int
	for _, r := range rows {
		if err := r.Validate(); err != nil {
			t.Fatalf("row %+v: %v", r, err)
		}
		sum[r.Width] += r.Joules()
		secs[r.Width] += r.Seconds
		if r.Width == joule.RollupMinute {
			minutes++
		}
		if r.Method != MethodRAPL {
			t.Errorf("row method %q, want %q", r.Method, MethodRAPL)
		}
	}
	if minutes != 4 { // two components × two minutes
		t.Errorf("%d minute rows, want 4", minutes)
	}
	for _, w := range []time.Duration{joule.RollupMinute, joule.RollupHour} {
		if math.Abs(sum[w]-1000) > 1e-9 || math.Abs(secs[w]-40) > 1e-9 {
			t.Errorf("width %v: %v J over %v s, want 1000 J over 40 s (20 s × 2 components)", w, sum[w], secs[w])
		}
	}
	lines := joule.SummariseEnergy(rows, func(r joule.EnergyRollup) string {
		if r.Width != joule.RollupHour {
			return ""
		}
		return r.NodeID
	})
	var node joule.EnergySummary
	for _, l := range lines {
		if l.Key == "node_a" {
			node = l
		}
	}
	// 1000 J = 1/3600 kWh; × PUE 1.5 × 300 g = 0.125 g; × 0.2 = 0.0000833;
	// amortisation 0.36/h × 20 s = 0.002 (split over the components).
	wantG := 1000 / JoulesPerKWh * 1.5 * 300
	if math.Abs(node.EmissionsG-wantG) > 1e-12 || math.Abs(node.IntensityGPerKWh-300) > 1e-9 || math.Abs(node.PUE-1.5) > 1e-12 {
		t.Errorf("report = %+v, want %v g at 300 g/kWh, PUE 1.5", node, wantG)
	}
	if math.Abs(node.AmortisationCost-0.002) > 1e-12 || math.Abs(node.EnergyCost-1000/JoulesPerKWh*1.5*0.2) > 1e-12 || node.Currency != "EUR" {
		t.Errorf("report cost = %+v, want amortisation 0.002 and energy cost in EUR", node)
	}
}
