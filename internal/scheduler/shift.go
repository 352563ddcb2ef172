package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Time shifting. Deferrable jobs are planned on a grid of equal time steps
// (30 minutes in the Let's Wait Awhile reproduction, one hour for hourly
// series). Step 0 is the first value of the forecast the caller passes in;
// every time below is a step index. Intervals are half open: a job with
// earliest start e and deadline d may run in the steps e, e+1, …, d−1.
//
// The functions are pure: the forecast is a plain slice of gCO2e/kWh values,
// never modified, and the same input always gives the same answer. Ties go to
// the earlier step, so a job never waits for nothing.

// ErrNoWindow reports a job that cannot run Length steps between its earliest
// start and its deadline within the forecast.
var ErrNoWindow = errors.New("scheduler: no window of the job's length between its earliest start and its deadline")

// Window is a deferrable job on the step grid.
type Window struct {
	Earliest int // first step the job may run
	Deadline int // the job must be done before this step (exclusive)
	Length   int // steps of work; at least 1
}

func (w Window) check(n int) error {
	if w.Length < 1 {
		return fmt.Errorf("scheduler: job length %d: want at least one step", w.Length)
	}
	if w.Earliest < 0 {
		return fmt.Errorf("scheduler: earliest start %d is before the forecast", w.Earliest)
	}
	if min(w.Deadline, n)-w.Earliest < w.Length {
		return ErrNoWindow
	}
	return nil
}

// BestStart returns the start s that minimises the mean forecast intensity of
// the steps s … s+Length−1, with s ≥ Earliest and s+Length ≤ min(Deadline,
// len(forecast)): the non-interrupting time shift. Of equal windows it picks
// the earliest. It returns ErrNoWindow when no such s exists.
func BestStart(forecast []float64, w Window) (int, error) {
	if err := w.check(len(forecast)); err != nil {
		return 0, err
	}
	end := min(w.Deadline, len(forecast))
	// Window sums are computed afresh per start rather than by a running
	// sum, so that equal windows compare equal whatever their position.
	best, bestSum := w.Earliest, math.Inf(1)
	for s := w.Earliest; s+w.Length <= end; s++ {
		var sum float64
		for _, v := range forecast[s : s+w.Length] {
			sum += v
		}
		if sum < bestSum {
			best, bestSum = s, sum
		}
	}
	return best, nil
}

// CheapestSlots returns the Length steps in [Earliest, min(Deadline,
// len(forecast))) with the lowest forecast intensity, in increasing order:
// the interrupting time shift, where the job may pause and resume at step
// boundaries. Of equal steps it prefers the earlier. It returns ErrNoWindow
// when the interval is shorter than Length.
func CheapestSlots(forecast []float64, w Window) ([]int, error) {
	if err := w.check(len(forecast)); err != nil {
		return nil, err
	}
	end := min(w.Deadline, len(forecast))
	idx := make([]int, 0, end-w.Earliest)
	for s := w.Earliest; s < end; s++ {
		idx = append(idx, s)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(forecast[a], forecast[b]) })
	idx = idx[:w.Length]
	slices.Sort(idx)
	return idx, nil
}

// CapacityPolicy chooses how PlanCapacity places each job among the steps
// that still have room.
type CapacityPolicy int

const (
	// Greedy gives each job, in order, the cheapest placement that still
	// fits: Let's Wait Awhile's rule with a capacity limit added. Jobs early
	// in the order take the greenest hours, and later ones are pushed
	// towards their deadlines.
	Greedy CapacityPolicy = iota
	// CarbonPerWait gives each non-interrupting job the start that saves
	// the most carbon per step waited, (C(e) − C(s)) / (s − e + Length),
	// where e is its first feasible start and C the forecast sum of a
	// window (GAIA's Carbon-Time rule). It waits only where waiting pays,
	// which leaves the green hours further out to the jobs that need them
	// and keeps waits short. Interrupting jobs use Greedy's cheapest
	// free slots.
	CarbonPerWait
	// Replan is joule's policy: every waiting job is re-planned whenever
	// jobs arrive. At each arrival step it builds three plans from the same
	// state — the waiting jobs keep their steps and the arrivals are placed
	// greedily (Greedy's own plan); all waiting jobs and arrivals re-placed
	// largest regret first (the forecast cost a job loses if it does not get
	// its best free placement); and all of them re-placed tightest latest
	// start first (earliest deadline) — and keeps the one that misses the
	// fewest arrivals, then costs least on the newest forecast. A plan that
	// would leave an already planned job without room is never kept, so a
	// deadline that was feasible when a job was planned is always met.
	// Jobs must come in arrival order.
	Replan
)

// String returns the policy's name as the simulator's flags spell it.
func (p CapacityPolicy) String() string {
	switch p {
	case Greedy:
		return "greedy"
	case CarbonPerWait:
		return "carbon-per-wait"
	case Replan:
		return "replan"
	}
	return fmt.Sprintf("CapacityPolicy(%d)", int(p))
}

// ShiftJob is one job for PlanCapacity.
type ShiftJob struct {
	Window
	Interruptible bool // may run in any Length free steps of its window
}

// Placement is where PlanCapacity put one job.
type Placement struct {
	// Slots are the steps the job runs in, increasing; Length of them, or
	// none when the job cannot meet its deadline.
	Slots []int
	// Missed is set when no placement met the deadline: at the time the
	// job was planned, fewer than Length steps with free capacity were
	// left in its window. The job is not placed; the caller decides what
	// to do (run it late, or reject it at submission).
	Missed bool
}

// Start returns the first step of the placement, or −1 when it has none.
func (p Placement) Start() int {
	if len(p.Slots) == 0 {
		return -1
	}
	return p.Slots[0]
}

// PlanCapacity places jobs that share capacity slots per step: at every
// step at most capacity jobs run. Jobs are planned one after another in the
// order given (arrival order in the simulator and the live queue) and each
// keeps the steps it was given, so a later job can never take a step an
// earlier job was promised: a job whose deadline was feasible when it was
// planned always meets it. A job with no feasible placement is marked
// Missed and takes no capacity. The forecast is not modified; the result has
// one Placement per job, in the order of jobs.
func PlanCapacity(forecast []float64, capacity int, jobs []ShiftJob, policy CapacityPolicy) ([]Placement, error) {
	return PlanCapacityFunc(len(forecast), func(int) []float64 { return forecast }, capacity, jobs, policy)
}

// PlanCapacityFunc is PlanCapacity with a forecast per job: job i is
// planned on forecast(i), for example the forecast issued when it arrived.
// Every forecast has n steps. The slice forecast returns is only read while
// job i is planned, so the function may reuse one buffer.
func PlanCapacityFunc(n int, forecast func(i int) []float64, capacity int, jobs []ShiftJob, policy CapacityPolicy) ([]Placement, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("scheduler: capacity %d: want at least 1", capacity)
	}
	switch policy {
	case Greedy, CarbonPerWait:
	case Replan:
		return planReplan(n, forecast, capacity, jobs)
	default:
		return nil, fmt.Errorf("scheduler: unknown capacity policy %d", int(policy))
	}
	used := make([]int, n)
	out := make([]Placement, len(jobs))
	for i, j := range jobs {
		if j.Length < 1 || j.Earliest < 0 {
			return nil, fmt.Errorf("scheduler: job %d: %w", i, j.check(n))
		}
		f := forecast(i)
		if len(f) != n {
			return nil, fmt.Errorf("scheduler: job %d: forecast has %d steps, want %d", i, len(f), n)
		}
		var slots []int
		if j.Interruptible {
			slots = freeCheapest(f, used, capacity, j.Window)
		} else {
			slots = freeStart(f, used, capacity, j.Window, policy)
		}
		if slots == nil {
			out[i] = Placement{Missed: true}
			continue
		}
		for _, s := range slots {
			used[s]++
		}
		out[i] = Placement{Slots: slots}
	}
	return out, nil
}

// freeCheapest returns the Length cheapest steps of w with free capacity,
// or nil when there are fewer.
func freeCheapest(forecast []float64, used []int, capacity int, w Window) []int {
	end := min(w.Deadline, len(forecast))
	var idx []int
	for s := w.Earliest; s < end; s++ {
		if used[s] < capacity {
			idx = append(idx, s)
		}
	}
	if len(idx) < w.Length {
		return nil
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(forecast[a], forecast[b]) })
	idx = idx[:w.Length]
	slices.Sort(idx)
	return idx
}

// freeStart returns the Length consecutive steps of w, all with free
// capacity, that the policy prefers, or nil when there are none.
func freeStart(forecast []float64, used []int, capacity int, w Window, policy CapacityPolicy) []int {
	end := min(w.Deadline, len(forecast))
	first, best := -1, -1
	var firstSum, bestSum, bestScore float64
	run := 0 // free steps ending at s+Length−1
	for t := w.Earliest; t < end; t++ {
		if used[t] < capacity {
			run++
		} else {
			run = 0
		}
		if run < w.Length {
			continue
		}
		s := t - w.Length + 1
		var sum float64
		for _, v := range forecast[s : t+1] {
			sum += v
		}
		if first < 0 {
			first, firstSum, best, bestSum = s, sum, s, sum
			continue
		}
		switch policy {
		case Greedy:
			if sum < bestSum {
				best, bestSum = s, sum
			}
		case CarbonPerWait:
			if score := (firstSum - sum) / float64(s-first+w.Length); score > bestScore {
				best, bestScore = s, score
			}
		}
	}
	if best < 0 {
		return nil
	}
	slots := make([]int, w.Length)
	for k := range slots {
		slots[k] = best + k
	}
	return slots
}
