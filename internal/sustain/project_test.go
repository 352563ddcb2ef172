package sustain

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/joule-dev/joule"
)

var t0 = time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC)

func weekly(vals ...float64) []joule.SeriesPoint {
	out := make([]joule.SeriesPoint, len(vals))
	for i, v := range vals {
		out[i] = joule.SeriesPoint{Time: t0.Add(time.Duration(i) * Week), Value: v}
	}
	return out
}

// TestProjectionFallingOnePercentAWeek is the case: a series that
// falls 1% a week, against a −20% target due in 10 weeks, is at risk, with
// the projected value shown.
func TestProjectionFallingOnePercentAWeek(t *testing.T) {
	t.Parallel()
	// Baseline 100 kWh/day; eight weeks since, each 1% below the last.
	var vals []float64
	v := 100.0
	for range 8 {
		v *= 0.99
		vals = append(vals, v)
	}
	pts := weekly(vals...)
	last := pts[len(pts)-1].Time
	tg := joule.Target{Name: "cut", Indicator: joule.IndEnergyKWh, ReductionPct: 20, BaselineValue: 100, TargetValue: 80,
		Due: last.Add(10 * Week)}
	st := Evaluate(tg, pts, last.Add(Week))
	if st.Status != joule.TargetAtRisk {
		t.Fatalf("status = %s (%s), want at_risk", st.Status, st.Reason)
	}
	// Due ten weeks after the eighth week: the series itself would stand at
	// 100 × 0.99^18 = 83.5 there; the straight line fitted to a gently
	// convex fall runs a little below it, at 82.6.
	if st.Projected < 82 || st.Projected > 83.5 || !(st.Low <= st.Projected && st.Projected <= st.High) {
		t.Errorf("projected %v in [%v, %v], want about 82.6 inside its interval", st.Projected, st.Low, st.High)
	}
	if st.Current != vals[7] || st.Points != 8 || st.Method == "" || st.Reason == "" {
		t.Errorf("status = %+v", st)
	}
	t.Logf("projected %.3f [%.3f, %.3f] vs target 80: %s (%s)", st.Projected, st.Low, st.High, st.Status, st.Reason)

	// Falling 3% a week meets it; rising misses it outright.
	var fast, up []float64
	v, w := 100.0, 100.0
	for range 8 {
		v *= 0.97
		w *= 1.01
		fast, up = append(fast, v), append(up, w)
	}
	if st := Evaluate(tg, weekly(fast...), last); st.Status != joule.TargetOnTrack {
		t.Errorf("3%%/week fall: %s (%s), want on_track", st.Status, st.Reason)
	}
	if st := Evaluate(tg, weekly(up...), last); st.Status != joule.TargetOffTrack {
		t.Errorf("1%%/week rise: %s (%s), want off_track", st.Status, st.Reason)
	}
	if st := Evaluate(tg, weekly(99, 98), last); st.Status != joule.TargetUnknown {
		t.Errorf("two weeks: %s, want unknown", st.Status)
	}
}

func genSeries(t *rapid.T) (pts []joule.SeriesPoint, a, b float64) {
	n := rapid.IntRange(MinPoints, 40).Draw(t, "n")
	a = rapid.Float64Range(-1e4, 1e4).Draw(t, "a")
	b = rapid.Float64Range(-100, 100).Draw(t, "b")
	noise := rapid.Float64Range(0, 50).Draw(t, "noise")
	for i := range n {
		e := 0.0
		if noise > 0 {
			e = rapid.Float64Range(-noise, noise).Draw(t, "e")
		}
		pts = append(pts, joule.SeriesPoint{Time: t0.Add(time.Duration(i) * Week), Value: a + b*float64(i)*7 + e})
	}
	return pts, a, b
}

// TestProjectionProperties checks the projection's documented properties on
// random series: an exact line is projected exactly with a zero-width
// interval; the interval always contains the projection and widens with
// the distance to the date; adding a constant to the series moves the
// projection by that constant; and the status never improves as the
// target gets more ambitious.
func TestProjectionProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		pts, a, b := genSeries(t)
		weeks := rapid.IntRange(0, 100).Draw(t, "weeks")
		at := pts[len(pts)-1].Time.Add(time.Duration(weeks) * Week)
		p, err := Project(pts, at)
		if err != nil {
			t.Fatal(err)
		}
		if !(p.Low <= p.Value && p.Value <= p.High) {
			t.Fatalf("interval [%v, %v] does not contain %v", p.Low, p.High, p.Value)
		}
		// Exact line.
		exact := make([]joule.SeriesPoint, len(pts))
		for i, q := range pts {
			exact[i] = joule.SeriesPoint{Time: q.Time, Value: a + b*float64(i)*7}
		}
		pe, _ := Project(exact, at)
		x := at.Sub(t0).Hours() / 24
		if want := a + b*x; math.Abs(pe.Value-want) > 1e-6*(1+math.Abs(want)) || pe.High-pe.Low > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("exact line: projected %v [%v, %v], want %v with no width", pe.Value, pe.Low, pe.High, want)
		}
		// Shift.
		c := rapid.Float64Range(-1e3, 1e3).Draw(t, "c")
		shifted := make([]joule.SeriesPoint, len(pts))
		for i, q := range pts {
			shifted[i] = joule.SeriesPoint{Time: q.Time, Value: q.Value + c}
		}
		ps, _ := Project(shifted, at)
		if math.Abs(ps.Value-(p.Value+c)) > 1e-6*(1+math.Abs(p.Value)+math.Abs(c)) {
			t.Fatalf("shift by %v: projected %v, want %v", c, ps.Value, p.Value+c)
		}
		// Width grows with distance.
		far, _ := Project(pts, at.Add(10*Week))
		if far.High-far.Low < p.High-p.Low-1e-9*(1+math.Abs(p.High)) {
			t.Fatalf("interval narrows further out: %v then %v", p.High-p.Low, far.High-far.Low)
		}
		// Monotone status for a reduction target.
		rank := map[string]int{joule.TargetOnTrack: 0, joule.TargetAtRisk: 1, joule.TargetOffTrack: 2}
		base := math.Abs(p.Value) + 100
		t1 := rapid.Float64Range(-base, base).Draw(t, "t1")
		t2 := rapid.Float64Range(-base, t1).Draw(t, "t2") // more ambitious
		s1, _ := Status(base*2, t1, p)
		s2, _ := Status(base*2, t2, p)
		if rank[s2] < rank[s1] {
			t.Fatalf("target %v: %s; more ambitious %v: %s", t1, s1, t2, s2)
		}
		// On track exactly when the whole interval meets the target.
		if (s1 == joule.TargetOnTrack) != (p.High <= t1) {
			t.Fatalf("target %v, interval [%v, %v]: status %s", t1, p.Low, p.High, s1)
		}
	})
}

func TestProjectErrors(t *testing.T) {
	t.Parallel()
	if _, err := Project(weekly(1, 2), t0); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("Project(2 points) = %v, want EINVALID", err)
	}
	same := []joule.SeriesPoint{{Time: t0, Value: 1}, {Time: t0, Value: 2}, {Time: t0, Value: 3}}
	if _, err := Project(same, t0); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("Project(same time) = %v, want EINVALID", err)
	}
}
