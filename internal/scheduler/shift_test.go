package scheduler_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/joule-dev/joule/internal/scheduler"
)

func TestBestStart(t *testing.T) {
	t.Parallel()
	f := []float64{5, 4, 3, 9, 1, 1, 8, 2, 2}
	tests := []struct {
		name string
		w    scheduler.Window
		want int
		err  error
	}{
		{"one step, lowest", scheduler.Window{Earliest: 0, Deadline: 9, Length: 1}, 4, nil},
		{"two steps, first of equal windows", scheduler.Window{Earliest: 0, Deadline: 9, Length: 2}, 4, nil},
		{"deadline cuts the window", scheduler.Window{Earliest: 0, Deadline: 4, Length: 2}, 1, nil},
		{"earliest bounds the start", scheduler.Window{Earliest: 6, Deadline: 9, Length: 2}, 7, nil},
		{"deadline past the forecast", scheduler.Window{Earliest: 5, Deadline: 100, Length: 3}, 5, nil},
		{"no spare time", scheduler.Window{Earliest: 2, Deadline: 5, Length: 3}, 2, nil},
		{"too short", scheduler.Window{Earliest: 2, Deadline: 4, Length: 3}, 0, scheduler.ErrNoWindow},
		{"runs past the forecast", scheduler.Window{Earliest: 8, Deadline: 20, Length: 2}, 0, scheduler.ErrNoWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scheduler.BestStart(f, tt.w)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("BestStart(%v) = %d, %v, want %d, %v", tt.w, got, err, tt.want, tt.err)
			}
		})
	}
	for _, w := range []scheduler.Window{{Earliest: 0, Deadline: 5, Length: 0}, {Earliest: -1, Deadline: 5, Length: 1}} {
		if _, err := scheduler.BestStart(f, w); err == nil {
			t.Errorf("BestStart(%v): no error", w)
		}
	}
}

func TestCheapestSlots(t *testing.T) {
	t.Parallel()
	f := []float64{5, 4, 3, 9, 1, 1, 8, 2, 2}
	tests := []struct {
		w    scheduler.Window
		want []int
	}{
		{scheduler.Window{Earliest: 0, Deadline: 9, Length: 3}, []int{4, 5, 7}},
		{scheduler.Window{Earliest: 0, Deadline: 4, Length: 2}, []int{1, 2}},
		{scheduler.Window{Earliest: 6, Deadline: 50, Length: 3}, []int{6, 7, 8}},
		{scheduler.Window{Earliest: 0, Deadline: 9, Length: 9}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
	}
	for _, tt := range tests {
		got, err := scheduler.CheapestSlots(f, tt.w)
		if err != nil {
			t.Fatalf("CheapestSlots(%v): %v", tt.w, err)
		}
		if d := gocmp.Diff(tt.want, got); d != "" {
			t.Errorf("CheapestSlots(%v) (-want +got):\n%s", tt.w, d)
		}
	}
	if _, err := scheduler.CheapestSlots(f, scheduler.Window{Earliest: 7, Deadline: 9, Length: 3}); !errors.Is(err, scheduler.ErrNoWindow) {
		t.Errorf("CheapestSlots(short window) error = %v, want ErrNoWindow", err)
	}
}

// TestPlanCapacityStampede is the acceptance case: 2 slots, 50 jobs that all
// prefer the same green window.
func TestPlanCapacityStampede(t *testing.T) {
	t.Parallel()
	f := make([]float64, 200)
	for i := range f {
		f[i] = 400
	}
	for i := 40; i < 44; i++ {
		f[i] = 50 // everyone wants these four steps
	}
	for _, policy := range []scheduler.CapacityPolicy{scheduler.Greedy, scheduler.CarbonPerWait, scheduler.Replan} {
		for _, intr := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/interruptible=%v", policy, intr), func(t *testing.T) {
				t.Parallel()
				jobs := make([]scheduler.ShiftJob, 50)
				for i := range jobs {
					e := i % 10
					if policy == scheduler.Replan {
						e = i / 5 // Replan takes jobs in arrival order
					}
					jobs[i] = scheduler.ShiftJob{Window: scheduler.Window{Earliest: e, Deadline: 150, Length: 2}, Interruptible: intr}
				}
				ps, err := scheduler.PlanCapacity(f, 2, jobs, policy)
				if err != nil {
					t.Fatal(err)
				}
				used := make([]int, len(f))
				green := 0
				for i, p := range ps {
					if p.Missed {
						t.Errorf("job %d missed a feasible deadline", i)
					}
					for _, s := range p.Slots {
						used[s]++
						if f[s] == 50 {
							green++
						}
						if s >= jobs[i].Deadline {
							t.Errorf("job %d runs at %d, after its deadline %d", i, s, jobs[i].Deadline)
						}
					}
				}
				if m := slices.Max(used); m > 2 {
					t.Errorf("%d jobs run at once, want at most 2", m)
				}
				if green != 8 {
					t.Errorf("%d job-steps in the green window, want all 8 of its slots used", green)
				}
			})
		}
	}
}

func TestPlanCapacityMissed(t *testing.T) {
	t.Parallel()
	f := []float64{1, 2, 3, 4}
	jobs := []scheduler.ShiftJob{
		{Window: scheduler.Window{Earliest: 0, Deadline: 4, Length: 3}},
		{Window: scheduler.Window{Earliest: 0, Deadline: 4, Length: 2}},
		{Window: scheduler.Window{Earliest: 0, Deadline: 4, Length: 1}, Interruptible: true},
	}
	ps, err := scheduler.PlanCapacity(f, 1, jobs, scheduler.Greedy)
	if err != nil {
		t.Fatal(err)
	}
	want := []scheduler.Placement{{Slots: []int{0, 1, 2}}, {Missed: true}, {Slots: []int{3}}}
	if d := gocmp.Diff(want, ps); d != "" {
		t.Errorf("PlanCapacity (-want +got):\n%s", d)
	}
	if ps[1].Start() != -1 || ps[2].Start() != 3 {
		t.Errorf("Start() = %d, %d, want -1, 3", ps[1].Start(), ps[2].Start())
	}
	if _, err := scheduler.PlanCapacity(f, 0, jobs, scheduler.Greedy); err == nil {
		t.Error("PlanCapacity(capacity 0): no error")
	}
	if _, err := scheduler.PlanCapacity(f, 1, jobs, scheduler.CapacityPolicy(9)); err == nil {
		t.Error("PlanCapacity(unknown policy): no error")
	}
}

// TestPlanCapacityCarbonPerWait shows the difference between the policies:
// a small saving far away is not worth the wait to CarbonPerWait.
func TestPlanCapacityCarbonPerWait(t *testing.T) {
	t.Parallel()
	f := []float64{100, 100, 100, 100, 100, 100, 100, 100, 100, 99}
	jobs := []scheduler.ShiftJob{{Window: scheduler.Window{Earliest: 0, Deadline: 10, Length: 1}}}
	for policy, want := range map[scheduler.CapacityPolicy]int{scheduler.Greedy: 9, scheduler.CarbonPerWait: 9} {
		ps, err := scheduler.PlanCapacity(f, 1, jobs, policy)
		if err != nil || ps[0].Start() != want {
			t.Errorf("%v: start %d, %v, want %d", policy, ps[0].Start(), err, want)
		}
	}
	// Two steps of 60 soon beat one of 50 far away per step waited.
	f = []float64{100, 60, 100, 100, 100, 100, 100, 100, 100, 50}
	ps, _ := scheduler.PlanCapacity(f, 1, jobs, scheduler.CarbonPerWait)
	if ps[0].Start() != 1 {
		t.Errorf("CarbonPerWait start = %d, want 1", ps[0].Start())
	}
	ps, _ = scheduler.PlanCapacity(f, 1, jobs, scheduler.Greedy)
	if ps[0].Start() != 9 {
		t.Errorf("Greedy start = %d, want 9", ps[0].Start())
	}
}

// feasible reports whether a job fits in the steps left free by used.
func feasible(n int, used []int, capacity int, j scheduler.ShiftJob) bool {
	end := min(j.Deadline, n)
	free, run := 0, 0
	for s := j.Earliest; s < end; s++ {
		if used[s] < capacity {
			free++
			run++
			if !j.Interruptible && run >= j.Length {
				return true
			}
		} else {
			run = 0
		}
	}
	return j.Interruptible && free >= j.Length
}

// TestPlanCapacityProperties checks the capacity and deadline rules under
// random forecasts (a true series plus forecast error) and random jobs:
// never more than capacity jobs in a step; every placed job runs Length
// steps inside its window (consecutive unless interruptible); a job is
// Missed only if no placement was left for it when its turn came; and the
// plan is deterministic.
func TestPlanCapacityProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 60).Draw(t, "steps")
		truth := rapid.SliceOfN(rapid.Float64Range(0, 600), n, n).Draw(t, "truth")
		noise := rapid.SliceOfN(rapid.Float64Range(-50, 50), n, n).Draw(t, "error")
		f := make([]float64, n)
		for i := range f {
			f[i] = truth[i] + noise[i]
		}
		capacity := rapid.IntRange(1, 4).Draw(t, "capacity")
		policy := rapid.SampledFrom([]scheduler.CapacityPolicy{scheduler.Greedy, scheduler.CarbonPerWait}).Draw(t, "policy")
		jobs := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) scheduler.ShiftJob {
			e := rapid.IntRange(0, n+2).Draw(t, "earliest")
			return scheduler.ShiftJob{
				Window: scheduler.Window{
					Earliest: e,
					Deadline: e + rapid.IntRange(0, n).Draw(t, "slack"),
					Length:   rapid.IntRange(1, 8).Draw(t, "length"),
				},
				Interruptible: rapid.Bool().Draw(t, "interruptible"),
			}
		}), 0, 40).Draw(t, "jobs")

		ps, err := scheduler.PlanCapacity(f, capacity, jobs, policy)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := scheduler.PlanCapacity(f, capacity, jobs, policy)
		if d := gocmp.Diff(ps, again); d != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", d)
		}
		if len(ps) != len(jobs) {
			t.Fatalf("%d placements for %d jobs", len(ps), len(jobs))
		}
		used := make([]int, n)
		for i, p := range ps {
			j := jobs[i]
			canFit := feasible(n, used, capacity, j)
			if p.Missed {
				if canFit {
					t.Fatalf("job %d %+v missed although a placement was free", i, j)
				}
				if len(p.Slots) != 0 {
					t.Fatalf("missed job %d has slots %v", i, p.Slots)
				}
				continue
			}
			if !canFit {
				t.Fatalf("job %d placed at %v although no placement was free", i, p.Slots)
			}
			if len(p.Slots) != j.Length || !slices.IsSorted(p.Slots) {
				t.Fatalf("job %d %+v: slots %v", i, j, p.Slots)
			}
			for k, s := range p.Slots {
				if s < j.Earliest || s >= j.Deadline || s >= n {
					t.Fatalf("job %d %+v runs at %d, outside its window", i, j, s)
				}
				if k > 0 && s == p.Slots[k-1] {
					t.Fatalf("job %d runs twice at %d", i, s)
				}
				if !j.Interruptible && k > 0 && s != p.Slots[k-1]+1 {
					t.Fatalf("non-interruptible job %d pauses: %v", i, p.Slots)
				}
				used[s]++
				if used[s] > capacity {
					t.Fatalf("step %d has %d jobs, capacity %d", s, used[s], capacity)
				}
			}
		}
	})
}

// TestReplanProperties checks the Replan policy under random forecasts with
// forecast error, random jobs in arrival order and random capacities: no
// step over capacity, every placed job inside its window for exactly its
// length (back to back unless interruptible), a deterministic plan, and,
// with every job arriving at once, never more misses or cost than Greedy.
func TestReplanProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 60).Draw(t, "steps")
		f := make([]float64, n)
		for i := range f {
			f[i] = rapid.Float64Range(0, 600).Draw(t, "truth") + rapid.Float64Range(-50, 50).Draw(t, "error")
		}
		capacity := rapid.IntRange(1, 4).Draw(t, "capacity")
		jobs := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) scheduler.ShiftJob {
			e := rapid.IntRange(0, n+2).Draw(t, "earliest")
			return scheduler.ShiftJob{
				Window:        scheduler.Window{Earliest: e, Deadline: e + rapid.IntRange(0, n).Draw(t, "slack"), Length: rapid.IntRange(1, 8).Draw(t, "length")},
				Interruptible: rapid.Bool().Draw(t, "interruptible"),
			}
		}), 0, 40).Draw(t, "jobs")
		slices.SortStableFunc(jobs, func(a, b scheduler.ShiftJob) int { return a.Earliest - b.Earliest })
		ps, err := scheduler.PlanCapacity(f, capacity, jobs, scheduler.Replan)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := scheduler.PlanCapacity(f, capacity, jobs, scheduler.Replan); !gocmp.Equal(ps, again) {
			t.Fatal("not deterministic")
		}
		used := make([]int, n)
		for i, p := range ps {
			j := jobs[i]
			if p.Missed {
				continue
			}
			if len(p.Slots) != j.Length || !slices.IsSorted(p.Slots) {
				t.Fatalf("job %d %+v: slots %v", i, j, p.Slots)
			}
			for k, s := range p.Slots {
				if s < j.Earliest || s >= j.Deadline || s >= n || (k > 0 && s == p.Slots[k-1]) {
					t.Fatalf("job %d %+v runs at %v", i, j, p.Slots)
				}
				if !j.Interruptible && k > 0 && s != p.Slots[k-1]+1 {
					t.Fatalf("non-interruptible job %d pauses: %v", i, p.Slots)
				}
				if used[s]++; used[s] > capacity {
					t.Fatalf("step %d has %d jobs, capacity %d", s, used[s], capacity)
				}
			}
		}
		// With one arrival step, Replan keeps the cheapest of plans that
		// include Greedy's own: it never misses more, nor costs more at
		// equal misses.
		same := slices.Clone(jobs)
		for i := range same {
			same[i].Deadline -= same[i].Earliest
			same[i].Earliest = 0
		}
		g, _ := scheduler.PlanCapacity(f, capacity, same, scheduler.Greedy)
		r, err := scheduler.PlanCapacity(f, capacity, same, scheduler.Replan)
		if err != nil {
			t.Fatal(err)
		}
		score := func(ps []scheduler.Placement) (missed int, cost float64) {
			for _, p := range ps {
				if p.Missed {
					missed++
				}
				for _, s := range p.Slots {
					cost += f[s]
				}
			}
			return
		}
		gm, gc := score(g)
		rm, rc := score(r)
		if rm > gm || (rm == gm && rc > gc+1e-9*(1+math.Abs(gc))) {
			t.Fatalf("one arrival step: Replan misses %d at cost %v, Greedy %d at %v", rm, rc, gm, gc)
		}
	})
}

// TestReplanRescuesATightJob: an early job with a long window takes the
// only green step; a later job whose window holds only that step would miss
// under Greedy. Replan moves the early job to the next green step and both
// meet their deadlines.
func TestReplanRescuesATightJob(t *testing.T) {
	t.Parallel()
	f := []float64{300, 300, 100, 300, 120, 300}
	jobs := []scheduler.ShiftJob{
		{Window: scheduler.Window{Earliest: 0, Deadline: 6, Length: 1}},
		{Window: scheduler.Window{Earliest: 1, Deadline: 3, Length: 2}},
	}
	g, _ := scheduler.PlanCapacity(f, 1, jobs, scheduler.Greedy)
	if !g[1].Missed {
		t.Fatalf("greedy: %v, want the second job to miss", g)
	}
	r, err := scheduler.PlanCapacity(f, 1, jobs, scheduler.Replan)
	if err != nil {
		t.Fatal(err)
	}
	if r[0].Missed || r[1].Missed || r[0].Start() != 4 || r[1].Start() != 1 {
		t.Errorf("replan: %v, want the first job moved to step 4 and the second at 1–2", r)
	}
	if _, err := scheduler.PlanCapacity(f, 1, []scheduler.ShiftJob{jobs[1], jobs[0]}, scheduler.Replan); err == nil {
		t.Error("jobs out of arrival order: no error")
	}
}

// TestShiftDoesNotModifyForecast guards the purity rule.
func TestShiftDoesNotModifyForecast(t *testing.T) {
	t.Parallel()
	f := []float64{3, 1, 2, 5, 4}
	orig := slices.Clone(f)
	w := scheduler.Window{Earliest: 0, Deadline: 5, Length: 2}
	_, _ = scheduler.BestStart(f, w)
	_, _ = scheduler.CheapestSlots(f, w)
	_, _ = scheduler.PlanCapacity(f, 1, []scheduler.ShiftJob{{Window: w}, {Window: w, Interruptible: true}}, scheduler.CarbonPerWait)
	if d := gocmp.Diff(orig, f); d != "" {
		t.Errorf("forecast modified (-want +got):\n%s", d)
	}
}
