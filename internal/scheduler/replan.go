package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// windowCosts returns the forecast costs of the cheapest and second
// cheapest free back-to-back placements of w (+Inf when there are none).
// Replan orders jobs by their difference, its regret; interruptible jobs
// are ordered by the same measure, as an approximation.
func windowCosts(f []float64, used []int, capacity int, w Window) (c1, c2 float64) {
	c1, c2 = math.Inf(1), math.Inf(1)
	end := min(w.Deadline, len(f))
	run := 0
	for t := w.Earliest; t < end; t++ {
		if used[t] < capacity {
			run++
		} else {
			run = 0
		}
		if run < w.Length {
			continue
		}
		var sum float64
		for _, v := range f[t-w.Length+1 : t+1] {
			sum += v
		}
		if sum < c1 {
			c1, c2 = sum, c1
		} else if sum < c2 {
			c2 = sum
		}
	}
	return
}

// planReplan is PlanCapacityFunc with the Replan policy. The jobs of one
// arrival step are planned on the forecast of the first of them.
func planReplan(n int, forecast func(i int) []float64, capacity int, jobs []ShiftJob) ([]Placement, error) {
	used := make([]int, n)
	out := make([]Placement, len(jobs))
	var waiting []int
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
			if j := jobs[hi]; j.Length < 1 || j.Earliest < 0 {
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
		movable := waiting[:0:0]
		for _, k := range waiting {
			if out[k].Slots[0] > t {
				movable = append(movable, k)
			}
		}
		old := make([][]int, len(movable))
		for x, k := range movable {
			old[x] = out[k].Slots
			take(old[x], -1)
		}
		cand := slices.Clone(movable)
		for i := lo; i < hi; i++ {
			cand = append(cand, i)
		}
		// try places cand in order; it reports whether every already
		// planned job kept a place, and how many arrivals missed; on
		// failure it leaves nothing taken.
		try := func(order []int) (ok bool, missed int) {
			var placed []int
			for _, i := range order {
				slots := place(f, i)
				if slots == nil {
					if i < lo {
						for _, k := range placed {
							take(out[k].Slots, -1)
						}
						return false, 0
					}
					out[i] = Placement{Missed: true}
					missed++
					continue
				}
				take(slots, 1)
				out[i] = Placement{Slots: slots}
				placed = append(placed, i)
			}
			return true, missed
		}
		undo := func() {
			for _, i := range cand {
				if !out[i].Missed && out[i].Slots != nil {
					take(out[i].Slots, -1)
				}
			}
		}
		// Each alternative is tried from the same state (movable jobs
		// un-planned), scored by (arrivals missed, forecast cost of all
		// candidates), and undone; the best is applied.
		type alt struct {
			ok     bool
			missed int
			cost   float64
			slots  map[int][]int
		}
		record := func(ok bool, missed int) alt {
			a := alt{ok: ok, missed: missed, slots: map[int][]int{}}
			if !ok {
				return a
			}
			for _, i := range cand {
				if !out[i].Missed && out[i].Slots != nil {
					a.slots[i] = out[i].Slots
					for _, st := range out[i].Slots {
						a.cost += f[st]
					}
				}
			}
			undo()
			return a
		}
		// A: movable jobs keep their steps; arrivals placed greedily.
		for x, k := range movable {
			out[k] = Placement{Slots: old[x]}
			take(old[x], 1)
		}
		var a alt
		{
			missed := 0
			for i := lo; i < hi; i++ {
				if slots := place(f, i); slots != nil {
					take(slots, 1)
					out[i] = Placement{Slots: slots}
				} else {
					out[i] = Placement{Missed: true}
					missed++
				}
			}
			a = record(true, missed)
		}
		alts := []alt{a}
		regret := map[int]float64{}
		for _, i := range cand {
			c1, c2 := windowCosts(f, used, capacity, jobs[i].Window)
			regret[i] = c2 - c1
		}
		byRegret := slices.Clone(cand)
		slices.SortStableFunc(byRegret, func(a, b int) int { return cmp.Or(-cmp.Compare(regret[a], regret[b]), cmp.Compare(a, b)) })
		latest := func(i int) int { return jobs[i].Deadline - jobs[i].Length }
		byDeadline := slices.Clone(cand)
		slices.SortStableFunc(byDeadline, func(a, b int) int { return cmp.Or(cmp.Compare(latest(a), latest(b)), cmp.Compare(a, b)) })
		alts = append(alts, record(try(byRegret)))
		alts = append(alts, record(try(byDeadline)))
		best := 0
		for k, x := range alts {
			if x.ok && (x.missed < alts[best].missed || (x.missed == alts[best].missed && x.cost < alts[best].cost*(1-1e-12))) {
				best = k
			}
		}
		for _, i := range cand {
			if sl, ok := alts[best].slots[i]; ok {
				out[i] = Placement{Slots: sl}
				take(sl, 1)
			} else if i >= lo {
				out[i] = Placement{Missed: true}
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
