package scheduler

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
)

// Elastic jobs. A job that can run on 1…N replicas declares a scaling
// profile: its throughput (work per step) and power at each replica count.
// PlanElastic chooses how many replicas to run in each step before the
// deadline, following CarbonScaler's greedy marginal allocation (Hanafy et
// al., SIGMETRICS 2024): every (step, next replica) pair is worth its extra
// throughput per extra gram, Δthroughput / (Δpower × CI[t]); the pairs are
// taken best first, a step's replicas one at a time, until the planned work
// covers the job. With a concave profile the value of a step's next replica
// only falls, so the greedy order is also the order of marginal returns.

// ScalePoint is one replica count of a scaling profile.
type ScalePoint struct {
	Replicas   int
	Throughput float64 // work per step
	PowerW     float64
}

// ScalingProfile lists a job's replica counts from 0 (nothing running: zero
// throughput and power) up to its maximum, in order.
type ScalingProfile []ScalePoint

// Check reports the first problem with p: not starting at 0 replicas, a gap
// in the counts, a negative or non-finite value, or a throughput or power
// that falls as replicas are added.
func (p ScalingProfile) Check() error {
	if len(p) < 2 {
		return errors.New("scheduler: scaling profile: want at least 0 and 1 replicas")
	}
	for i, s := range p {
		switch {
		case s.Replicas != i:
			return fmt.Errorf("scheduler: scaling profile row %d: %d replicas, want %d", i+1, s.Replicas, i)
		case !(s.Throughput >= 0) || !(s.PowerW >= 0) || math.IsInf(s.Throughput, 0) || math.IsInf(s.PowerW, 0):
			return fmt.Errorf("scheduler: scaling profile row %d: throughput and power must be finite and non-negative", i+1)
		case i == 0 && (s.Throughput != 0 || s.PowerW != 0):
			return errors.New("scheduler: scaling profile: 0 replicas must have zero throughput and power")
		case i > 0 && (s.Throughput <= p[i-1].Throughput || s.PowerW < p[i-1].PowerW):
			return fmt.Errorf("scheduler: scaling profile row %d: throughput must rise and power must not fall with replicas", i+1)
		}
	}
	return nil
}

// ElasticPlan is how many replicas run in each step from step 0.
type ElasticPlan []int

// Work returns the plan's total throughput under p.
func (e ElasticPlan) Work(p ScalingProfile) float64 {
	var w float64
	for _, n := range e {
		w += p[n].Throughput
	}
	return w
}

// Grams returns the plan's emissions on ci (gCO2e/kWh per step of
// stepHours): Σ ci[t] × power(n_t) × stepHours / 1000.
func (e ElasticPlan) Grams(p ScalingProfile, ci []float64, stepHours float64) float64 {
	var g float64
	for t, n := range e {
		g += ci[t] * p[n].PowerW * stepHours / 1000
	}
	return g
}

// PlanElastic plans work on the steps 0 … deadline−1 of forecast with at
// most maxReplicas (0: the profile's maximum) by greedy marginal
// allocation. It returns ErrNoWindow when even maxReplicas in every step
// cannot do the work. The plan may overshoot the work by part of the last
// replica-step taken.
func PlanElastic(forecast []float64, p ScalingProfile, work float64, deadline, maxReplicas int) (ElasticPlan, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if !(work > 0) || math.IsInf(work, 0) {
		return nil, fmt.Errorf("scheduler: work %v: want a positive amount", work)
	}
	top := len(p) - 1
	if maxReplicas > 0 {
		top = min(top, maxReplicas)
	}
	deadline = min(deadline, len(forecast))
	if deadline < 1 || float64(deadline)*p[top].Throughput < work*(1-1e-12) {
		return nil, ErrNoWindow
	}
	plan := make(ElasticPlan, deadline)
	h := &marginHeap{}
	value := func(t, j int) float64 {
		dp := (p[j].PowerW - p[j-1].PowerW) * math.Max(forecast[t], 1e-9)
		if dp <= 0 {
			return math.Inf(1) // free throughput
		}
		return (p[j].Throughput - p[j-1].Throughput) / dp
	}
	for t := range deadline {
		heap.Push(h, margin{t: t, j: 1, v: value(t, 1)})
	}
	var done float64
	for done < work*(1-1e-12) && h.Len() > 0 {
		m := heap.Pop(h).(margin)
		plan[m.t] = m.j
		done += p[m.j].Throughput - p[m.j-1].Throughput
		if m.j < top {
			heap.Push(h, margin{t: m.t, j: m.j + 1, v: value(m.t, m.j+1)})
		}
	}
	return plan, nil
}

// StaticPlan runs n replicas from step 0 until the work is done: the
// carbon-agnostic baseline. ErrNoWindow if it does not fit before the
// deadline.
func StaticPlan(p ScalingProfile, work float64, deadline, n int) (ElasticPlan, error) {
	if n < 1 || n >= len(p) {
		return nil, fmt.Errorf("scheduler: %d replicas: the profile has 1 to %d", n, len(p)-1)
	}
	steps := int(math.Ceil(work/p[n].Throughput - 1e-9))
	if steps > deadline {
		return nil, ErrNoWindow
	}
	plan := make(ElasticPlan, deadline)
	for t := range steps {
		plan[t] = n
	}
	return plan, nil
}

// SuspendResumePlan runs n replicas in the cheapest steps before the
// deadline (Let's Wait Awhile's interrupting shift at a fixed scale).
func SuspendResumePlan(forecast []float64, p ScalingProfile, work float64, deadline, n int) (ElasticPlan, error) {
	if n < 1 || n >= len(p) {
		return nil, fmt.Errorf("scheduler: %d replicas: the profile has 1 to %d", n, len(p)-1)
	}
	deadline = min(deadline, len(forecast))
	steps := int(math.Ceil(work/p[n].Throughput - 1e-9))
	slots, err := CheapestSlots(forecast, Window{Earliest: 0, Deadline: deadline, Length: steps})
	if err != nil {
		return nil, err
	}
	plan := make(ElasticPlan, deadline)
	for _, s := range slots {
		plan[s] = n
	}
	return plan, nil
}

type margin struct {
	t, j int
	v    float64
}

// marginHeap pops the highest value; ties go to the earlier step.
type marginHeap []margin

func (h marginHeap) Len() int { return len(h) }
func (h marginHeap) Less(a, b int) bool {
	if h[a].v != h[b].v {
		return h[a].v > h[b].v
	}
	return h[a].t < h[b].t
}
func (h marginHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *marginHeap) Push(x any)   { *h = append(*h, x.(margin)) }
func (h *marginHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	*h = old[:len(old)-1]
	return m
}
