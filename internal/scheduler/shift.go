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
	// Replan is joule's policy: Greedy, with a repair. The jobs that arrive
	// at a step are placed as Greedy places them. When one of them finds
	// no room before its deadline, the arrivals and every planned job that
	// has not started yet are planned again together, tightest latest
	// start first (earliest-deadline order), each taking the cheapest
	// placement left, on the newest forecast: an early job with a long
	// window gives up the green hours a later, tighter job needs, and
	// moves to other green hours in its own window. If that re-plan would
	// leave a job that was already planned without a placement, it is
	// dropped and the Greedy placements stand, so a deadline that was
	// feasible when a job was planned is always met.
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

// planReplan is PlanCapacityFunc with the Replan policy. Jobs must come in
// arrival order (non-decreasing Earliest); the jobs of one arrival step are
// planned on the forecast of the first of them.
func planReplan(n int, forecast func(i int) []float64, capacity int, jobs []ShiftJob) ([]Placement, error) {
	used := make([]int, n)
	out := make([]Placement, len(jobs))
	var waiting []int // planned, not started at the last arrival step
	place := func(f []float64, i int) []int {
		j := jobs[i]
		if j.Interruptible {
			return freeCheapest(f, used, capacity, j.Window)
		}
		return freeStart(f, used, capacity, j.Window, Greedy)
	}
	take := func(slots []int, d int) {
		for _, s := range slots {
			used[s] += d
		}
	}
	for lo := 0; lo < len(jobs); {
		t := jobs[lo].Earliest
		hi := lo
		for hi < len(jobs) && jobs[hi].Earliest == t {
			j := jobs[hi]
			if j.Length < 1 || j.Earliest < 0 {
				return nil, fmt.Errorf("scheduler: job %d: %w", hi, j.check(n))
			}
			hi++
		}
		if hi < len(jobs) && jobs[hi].Earliest < t {
			return nil, fmt.Errorf("scheduler: job %d arrives at step %d, before job %d (step %d): Replan needs arrival order", hi, jobs[hi].Earliest, hi-1, t)
		}
		f := forecast(lo)
		if len(f) != n {
			return nil, fmt.Errorf("scheduler: job %d: forecast has %d steps, want %d", lo, len(f), n)
		}
		// Jobs that have started keep their steps.
		movable := waiting[:0:0]
		for _, k := range waiting {
			if out[k].Slots[0] > t {
				movable = append(movable, k)
			}
		}
		// Greedy first.
		missed := false
		var greedy []int
		for i := lo; i < hi; i++ {
			if slots := place(f, i); slots != nil {
				take(slots, 1)
				out[i] = Placement{Slots: slots}
				greedy = append(greedy, i)
			} else {
				out[i] = Placement{Missed: true}
				missed = true
			}
		}
		if !missed {
			waiting = append(movable, greedy...)
			lo = hi
			continue
		}
		for _, i := range greedy {
			take(out[i].Slots, -1)
		}
		old := make([][]int, len(movable))
		for x, k := range movable {
			old[x] = out[k].Slots
			take(old[x], -1)
		}
		cand := append(slices.Clone(movable), make([]int, 0, hi-lo)...)
		for i := lo; i < hi; i++ {
			cand = append(cand, i)
		}
		latest := func(i int) int { return jobs[i].Deadline - jobs[i].Length }
		slices.SortStableFunc(cand, func(a, b int) int { return cmp.Or(cmp.Compare(latest(a), latest(b)), cmp.Compare(a, b)) })
		ok := true
		var placed []int
		for _, i := range cand {
			slots := place(f, i)
			if slots == nil {
				if i < lo { // an already planned job would lose its place
					ok = false
					break
				}
				out[i] = Placement{Missed: true}
				continue
			}
			take(slots, 1)
			out[i] = Placement{Slots: slots}
			placed = append(placed, i)
		}
		if !ok {
			for _, i := range placed {
				take(out[i].Slots, -1)
			}
			for x, k := range movable {
				out[k] = Placement{Slots: old[x]}
				take(old[x], 1)
			}
			for i := lo; i < hi; i++ {
				if slots := place(f, i); slots != nil {
					take(slots, 1)
					out[i] = Placement{Slots: slots}
				} else {
					out[i] = Placement{Missed: true}
				}
			}
		}
		waiting = movable
		for i := lo; i < hi; i++ {
			if !out[i].Missed {
				waiting = append(waiting, i)
			}
		}
		lo = hi
	}
	return out, nil
}
