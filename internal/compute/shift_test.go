package compute_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
)

var t0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// hourly returns an hourly forecast from t0 with the given values.
func hourly(vs ...float64) compute.Forecast {
	return compute.Forecast{Start: t0, Step: time.Hour, Values: vs, Source: "test"}
}

// dip returns n hourly values of 320 g/kWh with 180 g/kWh at hour at.
func dip(n, at int) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = 320
	}
	vs[at] = 180
	return vs
}

func TestPlanShiftPicksTheForecastMinimum(t *testing.T) {
	// The acceptance case: the forecast's minimum lies 6 h ahead; a 1-hour
	// job with a 12-hour deadline starts there.
	s, err := compute.PlanShift(compute.ShiftPlan{
		Now: t0, Earliest: t0, Deadline: t0.Add(12 * time.Hour), Duration: time.Hour, DurationSource: "spec",
		Watts: 1000, PUE: 1.5,
	}, hourly(dip(24, 6)...))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(6 * time.Hour); !s.Start.Equal(want) {
		t.Errorf("Start = %s, want %s", s.Start, want)
	}
	if s.ForecastGPerKWh != 180 || s.NowGPerKWh != 320 {
		t.Errorf("forecast %v vs now %v, want 180 vs 320", s.ForecastGPerKWh, s.NowGPerKWh)
	}
	// 1 kW × 1 h × 1.5 × (320 − 180) g/kWh = 210 g.
	if math.Abs(s.ExpectedSavingG-210) > 1e-9 {
		t.Errorf("ExpectedSavingG = %v, want 210", s.ExpectedSavingG)
	}
	reason := compute.WaitReason(s)
	for _, want := range []string{"starts 06:00 UTC", "forecast 180 g/kWh vs 320 now", "expected saving 210 g CO2e"} {
		if !strings.Contains(reason, want) {
			t.Errorf("WaitReason = %q, want it to contain %q", reason, want)
		}
	}
}

func TestPlanShiftNeverMissesTheDeadline(t *testing.T) {
	// The minimum at hour 11 is past the latest start for a 2-hour job
	// due at 12:00, so the plan takes the best window that ends in time.
	vs := dip(24, 11)
	vs[9] = 200
	s, err := compute.PlanShift(compute.ShiftPlan{
		Now: t0.Add(10 * time.Minute), Earliest: t0.Add(10 * time.Minute), Deadline: t0.Add(12 * time.Hour),
		Duration: 2 * time.Hour, Watts: 100, PUE: 1,
	}, hourly(vs...))
	if err != nil {
		t.Fatal(err)
	}
	if end := s.Start.Add(2 * time.Hour); end.After(t0.Add(12 * time.Hour)) {
		t.Errorf("planned %s..%s, after the deadline", s.Start, end)
	}
	if want := t0.Add(10 * time.Hour); !s.Start.Equal(want) {
		t.Errorf("Start = %s, want %s (hours 10–11, mean 250, ending at the deadline)", s.Start, want)
	}
	// Now is the greenest: the start is now itself, not the step's start.
	now := t0.Add(25 * time.Minute)
	s, err = compute.PlanShift(compute.ShiftPlan{Now: now, Earliest: now, Deadline: t0.Add(6 * time.Hour), Duration: time.Hour, Watts: 1, PUE: 1},
		hourly(100, 300, 300, 300, 300, 300, 300))
	if err != nil || !s.Start.Equal(now) {
		t.Errorf("greenest now: Start = %v, err %v; want %s", s, err, now)
	}
}

func TestPlanShiftInterruptibleSlots(t *testing.T) {
	s, err := compute.PlanShift(compute.ShiftPlan{
		Now: t0, Earliest: t0, Deadline: t0.Add(8 * time.Hour), Duration: 3 * time.Hour, Interruptible: true, Watts: 1, PUE: 1,
	}, hourly(300, 100, 300, 100, 110, 300, 300, 300, 50, 50))
	if err != nil {
		t.Fatal(err)
	}
	// Hours 1, 3 and 4 (hour 8's 50 is past the deadline), merged.
	want := []joule.TimeSlot{
		{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)},
		{Start: t0.Add(3 * time.Hour), End: t0.Add(5 * time.Hour)},
	}
	if len(s.Slots) != len(want) {
		t.Fatalf("Slots = %v, want %v", s.Slots, want)
	}
	for i := range want {
		if !s.Slots[i].Start.Equal(want[i].Start) || !s.Slots[i].End.Equal(want[i].End) {
			t.Errorf("slot %d = %v, want %v", i, s.Slots[i], want[i])
		}
	}
	if !s.Start.Equal(want[0].Start) || math.Abs(s.ForecastGPerKWh-310.0/3) > 1e-9 {
		t.Errorf("Start %s, forecast %v; want %s, 103.3", s.Start, s.ForecastGPerKWh, want[0].Start)
	}
}

func TestPlanShiftBadForecasts(t *testing.T) {
	p := compute.ShiftPlan{Now: t0, Earliest: t0, Deadline: t0.Add(12 * time.Hour), Duration: time.Hour, Watts: 1, PUE: 1}
	for _, tc := range []struct {
		name string
		p    compute.ShiftPlan
		f    compute.Forecast
		want string
	}{
		{"negative", p, hourly(300, -5, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300), "forecast value -5 at 2026-11-27T01:00:00Z"},
		{"NaN", p, hourly(300, math.NaN()), "is not a non-negative number"},
		{"ends before the deadline", p, hourly(dip(6, 3)...), "forecast ends at 2026-11-27T06:00:00Z, before the deadline 2026-11-27T12:00:00Z"},
		{"empty", p, hourly(), "forecast is empty"},
		{"no step", p, compute.Forecast{Start: t0, Values: []float64{1}}, "forecast step 0s is not positive"},
		{"starts later", p, compute.Forecast{Start: t0.Add(time.Hour), Step: time.Hour, Values: dip(24, 3)}, "forecast starts at 2026-11-27T01:00:00Z"},
		{"deadline infeasible", compute.ShiftPlan{Now: t0, Earliest: t0, Deadline: t0.Add(30 * time.Minute), Duration: time.Hour, Watts: 1, PUE: 1},
			hourly(dip(24, 3)...), "the deadline 2026-11-27T00:30:00Z cannot be met"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compute.PlanShift(tc.p, tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// stepForecast serves vs from start in steps of step, and answers actual
// intensities from the same values (the forecast was perfect).
type stepForecast struct {
	start time.Time
	step  time.Duration
	vs    []float64
}

func (f stepForecast) forecast(ctx context.Context, from, to time.Time) (compute.Forecast, error) {
	return compute.Forecast{Start: f.start, Step: f.step, Values: f.vs, Source: "test forecast"}, nil
}

func (f stepForecast) intensity(ctx context.Context, from, to time.Time) (float64, string, error) {
	if !to.After(from) {
		return 0, "", errors.New("empty period")
	}
	var sum float64
	n := 0
	for t := from; t.Before(to); t = t.Add(time.Millisecond) {
		i := int(t.Sub(f.start) / f.step)
		if i < 0 || i >= len(f.vs) {
			return 0, "", errors.New("outside the series")
		}
		sum += f.vs[i]
		n++
	}
	return sum / float64(n), "test series", nil
}

func TestLiveShiftWaitsForTheGreenerWindow(t *testing.T) {
	// A real dispatcher, worker and process, on a compressed clock: steps
	// of 500 ms with the minimum 6 steps ahead; the job needs one step and
	// must end within 12.
	start := time.Now().UTC().Truncate(time.Millisecond)
	f := stepForecast{start: start, step: 500 * time.Millisecond, vs: dip(16, 6)}
	h := newHarnessWith(t, 2, 0, func(d *compute.DispatcherConfig, w *compute.WorkerConfig) {
		d.Shift = compute.ShiftConfig{Forecast: f.forecast, PUE: 1.5, JobWatts: func(joule.Job) float64 { return 3600 }}
		w.Intensity = f.intensity
		w.Account = func(joule.Job, joule.Attempt, []joule.UsageSample) *joule.JobEnergy {
			return &joule.JobEnergy{Joules: 3600, EstimatedJoules: 3600, PUE: 1.5, Method: "test"}
		}
	})
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "started")
	deadline := start.Add(6 * time.Second)
	j, err := h.svc.Submit(ctx, h.ws.ID, joule.JobSpec{
		Name: "flexible", Command: []string{"sh", "-c", "date +%s%N > " + out},
		Deadline: &deadline, ExpectedDuration: joule.Duration(400 * time.Millisecond),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := start.Add(3 * time.Second)
	waiting := h.waitFor(t, j.ID, func(j joule.Job) bool { return j.State == joule.JobScheduled && j.Shift != nil })
	if waiting.NodeID != "" || waiting.StartAt == nil || !waiting.StartAt.Equal(want) {
		t.Fatalf("waiting job: node %q, start %v; want no node and %s", waiting.NodeID, waiting.StartAt, want)
	}
	if !strings.HasPrefix(waiting.Reason, "waiting for a greener window: starts ") || !strings.Contains(waiting.Reason, "(forecast 180 g/kWh vs 320 now)") {
		t.Errorf("reason = %q", waiting.Reason)
	}
	done := h.waitFor(t, j.ID, func(j joule.Job) bool { return j.State.Terminal() })
	if done.State != joule.JobSucceeded {
		t.Fatalf("job ended %s: %s", done.State, done.Reason)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if ran := time.Unix(0, ns); ran.Before(want) || ran.After(want.Add(f.step)) {
		t.Errorf("the job ran at %s, want within the planned step from %s", ran, want)
	}
	s := done.Shift
	if s == nil || s.RealisedSavingG == nil {
		t.Fatalf("no realised saving: %+v", s)
	}
	// 1 Wh × 1.5 × (320 − 180): the job ran inside the 180 step.
	if math.Abs(*s.RealisedSavingG-210e-3) > 0.5e-3 {
		t.Errorf("realised saving = %v g, want about 0.21 g (%s)", *s.RealisedSavingG, s.RealisedNote)
	}
}

func TestLiveShiftFallsBackWithoutAForecast(t *testing.T) {
	h := newHarness(t, 2, 0)
	ctx := t.Context()
	j, err := h.svc.Submit(ctx, h.ws.ID, joule.JobSpec{
		Name: "flexible", Command: []string{"true"}, Flexibility: joule.Duration(time.Hour),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	done := h.waitFor(t, j.ID, func(j joule.Job) bool { return j.State.Terminal() })
	if done.State != joule.JobSucceeded || done.Shift == nil || !strings.Contains(done.Shift.Fallback, "no carbon forecast is configured") {
		t.Fatalf("job %s, shift %+v; want succeeded at once with the fallback recorded", done.State, done.Shift)
	}
}

func TestLiveInterruptibleRunsOnlyInItsSlots(t *testing.T) {
	// Steps of 1 s: green at steps 2 and 5. The job does 20 ticks of
	// 100 ms (2 s of running), so it is suspended between the slots.
	start := time.Now().UTC().Truncate(time.Millisecond)
	f := stepForecast{start: start, step: time.Second, vs: []float64{500, 500, 100, 500, 500, 100, 500, 500, 500, 500, 500, 500, 500, 500}}
	h := newHarnessWith(t, 2, 0, func(d *compute.DispatcherConfig, w *compute.WorkerConfig) {
		d.Shift = compute.ShiftConfig{Forecast: f.forecast}
		w.Intensity = f.intensity
	})
	ctx := t.Context()
	ticks := filepath.Join(t.TempDir(), "ticks")
	j, err := h.svc.Submit(ctx, h.ws.ID, joule.JobSpec{
		Name: "interruptible", Interruptible: true, Flexibility: joule.Duration(10 * time.Second),
		ExpectedDuration: joule.Duration(2 * time.Second),
		Command:          []string{"sh", "-c", "i=0; while [ $i -lt 20 ]; do date +%s%N >> " + ticks + "; sleep 0.1; i=$((i+1)); done"},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	done := h.waitFor(t, j.ID, func(j joule.Job) bool { return j.State.Terminal() })
	if done.State != joule.JobSucceeded {
		t.Fatalf("job ended %s: %s", done.State, done.Reason)
	}
	slots := done.Shift.Slots
	if len(slots) < 2 {
		t.Fatalf("slots = %v, want two green steps apart", slots)
	}
	// Planned in time (before step 2), the slots are exactly the green
	// steps; on a machine too loaded to plan that soon, they are whatever
	// the plan chose, and the rest of the test still holds.
	if done.Shift.PlannedAt.Before(start.Add(2 * time.Second)) {
		if !slots[0].Start.Equal(start.Add(2*time.Second)) || !slots[1].Start.Equal(start.Add(5*time.Second)) {
			t.Fatalf("slots = %v, want steps 2 and 5 from %s", slots, start)
		}
	} else {
		t.Logf("planned late (at +%s): slots %v", done.Shift.PlannedAt.Sub(start), slots)
	}
	b, err := os.ReadFile(ticks)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 20 {
		t.Fatalf("%d ticks, want 20", len(lines))
	}
	// Every tick lies in a slot, or after the last slot (the job may need
	// a little more than planned), allowing 300 ms for the worker's poll,
	// River and the dispatcher to react.
	const slack = 300 * time.Millisecond
	var first, last time.Time
	for _, l := range lines {
		ns, _ := strconv.ParseInt(l, 10, 64)
		at := time.Unix(0, ns)
		if first.IsZero() {
			first = at
		}
		last = at
		in := !at.Before(slots[len(slots)-1].End)
		for _, s := range slots {
			in = in || (!at.Before(s.Start) && at.Before(s.End.Add(slack)))
		}
		if !in {
			t.Errorf("tick at +%s is outside the slots %v (from %s)", at.Sub(start), slots, start)
		}
	}
	// Run time = 2 s of ticks ± one step, excluding the suspended gap.
	ran := last.Sub(first)
	for i := 1; i < len(slots); i++ {
		if slots[i].Start.After(first) && slots[i].Start.Before(last) {
			ran -= slots[i].Start.Sub(slots[i-1].End)
		}
	}
	if ran < time.Second || ran > 3*time.Second {
		t.Errorf("run time outside suspension = %s, want 2 s ± 1 step", ran)
	}
}

// waitFor polls until ok(job) holds, or fails after 60 s.
func (h *harness) waitFor(t *testing.T, id string, ok func(joule.Job) bool) joule.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := h.store.GetJob(context.Background(), h.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s) after 60 s", id, j.State, j.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
