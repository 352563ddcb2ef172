package energy

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestRollupSumsToTotals(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		base := time.Date(2026, 2, 3, 10, 58, 0, 0, time.UTC)
		var entries []Entry
		for i := range rapid.IntRange(0, 40).Draw(t, "n") {
			start := base.Add(time.Duration(rapid.IntRange(0, 4*3600_000).Draw(t, fmt.Sprintf("start%d", i))) * time.Millisecond)
			d := time.Duration(rapid.IntRange(0, 3*3600_000).Draw(t, fmt.Sprintf("len%d", i))) * time.Millisecond
			j := rapid.Float64Range(0, 1e5).Draw(t, fmt.Sprintf("j%d", i))
			e := Entry{
				Entity: rapid.SampledFrom([]string{"a", "b", IdleEntity}).Draw(t, fmt.Sprintf("entity%d", i)),
				Start:  start, End: start.Add(d),
				Energy:           JoulesOf(j, rapid.SampledFrom(methods).Draw(t, fmt.Sprintf("method%d", i))),
				PUE:              1.2,
				IntensityGPerKWh: 300,
				EmissionsG:       j / 3.6e6 * 1.2 * 300,
				EmbodiedG:        rapid.Float64Range(0, 10).Draw(t, fmt.Sprintf("emb%d", i)),
				EnergyCost:       j / 3.6e6 * 0.3,
				AmortisationCost: 0.01,
				Currency:         "EUR",
			}
			entries = append(entries, e)
		}
		want := Totals(entries)
		for _, width := range []time.Duration{time.Minute, time.Hour} {
			rows := Rollup(entries, width)
			got := map[string]JobEnergy{}
			for _, r := range rows {
				if !r.Start.Equal(r.Start.Truncate(width)) || r.End.Sub(r.Start) != width {
					t.Fatalf("row %v–%v is not a %v bucket", r.Start, r.End, width)
				}
				g := got[r.Entity]
				g.Joules += r.Joules
				g.MeasuredJoules += r.MeasuredJoules
				g.EstimatedJoules += r.EstimatedJoules
				g.EmissionsG += r.EmissionsG
				g.EmbodiedG += r.EmbodiedG
				g.Cost += r.Cost
				g.Method = MergeMethods(g.Method, r.Method)
				got[r.Entity] = g
				if r.Joules > 0 && !relClose(r.IntensityGPerKWh, 300, 1e-12) {
					t.Fatalf("row intensity %v, want 300", r.IntensityGPerKWh)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%v rollup has %d entities, want %d", width, len(got), len(want))
			}
			for id, w := range want {
				g := got[id]
				for _, c := range [][3]any{
					{"joules", g.Joules, w.Joules}, {"measured", g.MeasuredJoules, w.MeasuredJoules},
					{"estimated", g.EstimatedJoules, w.EstimatedJoules}, {"emissions", g.EmissionsG, w.EmissionsG},
					{"embodied", g.EmbodiedG, w.EmbodiedG}, {"cost", g.Cost, w.Cost},
				} {
					if !relClose(c[1].(float64), c[2].(float64), 1e-9) {
						t.Fatalf("%v rollup of %s: %s %v, want %v", width, id, c[0], c[1], c[2])
					}
				}
				if g.Method != w.Method {
					t.Fatalf("%v rollup of %s: method %q, want %q", width, id, g.Method, w.Method)
				}
			}
		}
	})
}

func TestRollupSplitsAcrossBuckets(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 2, 3, 10, 59, 30, 0, time.UTC)
	e := Entry{Entity: "a", Start: start, End: start.Add(2 * time.Minute), Energy: JoulesOf(120, MethodRAPL), EmissionsG: 12}
	rows := Rollup([]Entry{e}, time.Minute)
	want := []float64{30, 60, 30}
	if len(rows) != 3 {
		t.Fatalf("Rollup = %d rows, want 3", len(rows))
	}
	for i, r := range rows {
		if !relClose(r.Joules, want[i], 1e-12) || !relClose(r.EmissionsG, want[i]/10, 1e-12) || r.Method != MethodRAPL {
			t.Errorf("row %d %v: %v J %v g %q, want %v J", i, r.Start, r.Joules, r.EmissionsG, r.Method, want[i])
		}
	}
	hours := Rollup([]Entry{e}, time.Hour)
	if len(hours) != 2 || !relClose(hours[0].Joules, 30, 1e-12) || !relClose(hours[1].Joules, 90, 1e-12) || hours[1].Start.Hour() != 11 {
		t.Errorf("hourly rollup = %+v", hours)
	}
}
