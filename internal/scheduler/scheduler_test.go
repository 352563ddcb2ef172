package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

const (
	core = 1000    // millicores
	gi   = 1 << 30 // bytes
)

var t0 = time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)

func cpus(n int64) joule.Resources { return joule.Resources{CPUMillis: n * core} }

func node(id string, cores int64) scheduler.Node {
	return scheduler.Node{ID: id, Capacity: joule.Resources{CPUMillis: cores * core, MemoryBytes: 64 * gi}, Ready: true}
}

func job(id string, prio int, r joule.Resources, queued time.Time) scheduler.Pending {
	return scheduler.Pending{JobID: id, Priority: prio, Resources: r, QueuedAt: queued}
}

func ptr[T any](v T) *T { return &v }

func TestPlace(t *testing.T) {
	t.Parallel()
	gpuNode := func(id string, gpus ...int) scheduler.Node {
		n := node(id, 16)
		n.GPUs = gpus
		return n
	}
	twenty := make([]scheduler.Pending, 20)
	for i := range twenty {
		twenty[i] = job(fmt.Sprintf("j%02d", i), 5, cpus(1), t0.Add(time.Duration(i)*time.Second))
	}
	twentyWant := scheduler.Plan{Assignments: []scheduler.Assignment{{JobID: "j00", NodeID: "node-a"}, {JobID: "j01", NodeID: "node-a"}}}
	for _, p := range twenty[2:] {
		twentyWant.Unplaced = append(twentyWant.Unplaced, scheduler.Unplaced{JobID: p.JobID, Cause: scheduler.CauseBusy,
			Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"})
	}
	tests := []struct {
		name    string
		cfg     scheduler.Config
		nodes   []scheduler.Node
		pending []scheduler.Pending
		want    scheduler.Plan
	}{
		{
			name:    "twenty 1-CPU jobs on a 2-core node: two placed",
			nodes:   []scheduler.Node{node("node-a", 2)},
			pending: twenty,
			want:    twentyWant,
		},
		{
			name:  "higher priority first",
			nodes: []scheduler.Node{node("node-a", 1)},
			pending: []scheduler.Pending{
				job("low", 3, cpus(1), t0.Add(-2*time.Minute)),
				job("high", 7, cpus(1), t0.Add(-time.Minute)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "high", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "low", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"}},
			},
		},
		{
			name:  "FIFO within a priority, then job ID",
			nodes: []scheduler.Node{node("node-a", 2)},
			pending: []scheduler.Pending{
				job("c", 5, cpus(1), t0.Add(-time.Minute)),
				job("b", 5, cpus(1), t0.Add(-2*time.Minute)),
				job("a", 5, cpus(1), t0.Add(-time.Minute)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "b", NodeID: "node-a"}, {JobID: "a", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "c", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"}},
			},
		},
		{
			name:  "ageing lets an old priority-1 job go ahead of a new priority-9",
			nodes: []scheduler.Node{node("node-a", 1)},
			pending: []scheduler.Pending{
				job("new9", 9, cpus(1), t0),
				job("old1", 1, cpus(1), t0.Add(-80*time.Minute)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "old1", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "new9", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"}},
			},
		},
		{
			name:  "half-aged priority-1 job still yields to a new priority-9",
			nodes: []scheduler.Node{node("node-a", 1)},
			pending: []scheduler.Pending{
				job("new9", 9, cpus(1), t0),
				job("old1", 1, cpus(1), t0.Add(-40*time.Minute)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "new9", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "old1", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"}},
			},
		},
		{
			name:  "ageing off: priority alone decides",
			cfg:   scheduler.Config{MaxAgeBoost: -1},
			nodes: []scheduler.Node{node("node-a", 1)},
			pending: []scheduler.Pending{
				job("new9", 9, cpus(1), t0),
				job("old1", 1, cpus(1), t0.Add(-24*time.Hour)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "new9", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "old1", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on node-a)"}},
			},
		},
		{
			name:  "two 1-GPU jobs on a 2-GPU node get 0 and 1",
			nodes: []scheduler.Node{gpuNode("gpu-a", 1, 0)},
			pending: []scheduler.Pending{
				job("a", 5, joule.Resources{CPUMillis: core, GPUs: 1}, t0.Add(-2*time.Second)),
				job("b", 5, joule.Resources{CPUMillis: core, GPUs: 1}, t0.Add(-time.Second)),
				job("c", 5, joule.Resources{CPUMillis: core, GPUs: 1}, t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "gpu-a", GPUIndices: []int{0}}, {JobID: "b", NodeID: "gpu-a", GPUIndices: []int{1}}},
				Unplaced:    []scheduler.Unplaced{{JobID: "c", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free GPU (largest free: 0 on gpu-a)"}},
			},
		},
		{
			name: "GPUs in use are skipped, lowest free first",
			nodes: []scheduler.Node{func() scheduler.Node {
				n := gpuNode("gpu-a", 0, 1, 2, 3)
				n.GPUsInUse = []int{0, 2}
				return n
			}()},
			pending: []scheduler.Pending{job("a", 5, joule.Resources{GPUs: 2}, t0)},
			want:    scheduler.Plan{Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "gpu-a", GPUIndices: []int{1, 3}}}},
		},
		{
			name:  "not enough free GPUs names the largest free",
			nodes: []scheduler.Node{gpuNode("gpu-a", 0), gpuNode("gpu-b", 0, 1, 2, 3)},
			pending: []scheduler.Pending{
				job("first", 9, joule.Resources{GPUs: 3}, t0),
				job("second", 5, joule.Resources{GPUs: 2}, t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "first", NodeID: "gpu-b", GPUIndices: []int{0, 1, 2}}},
				Unplaced:    []scheduler.Unplaced{{JobID: "second", Cause: scheduler.CauseBusy, Reason: "no ready node has 2 free GPUs (largest free: 1 on gpu-a)"}},
			},
		},
		{
			name:    "selector mismatch",
			nodes:   []scheduler.Node{func() scheduler.Node { n := node("node-a", 4); n.Labels = map[string]string{"gpu": "h100"}; return n }()},
			pending: []scheduler.Pending{{JobID: "a", Priority: 5, Resources: cpus(1), Selector: map[string]string{"gpu": "a100"}, QueuedAt: t0}},
			want: scheduler.Plan{Unplaced: []scheduler.Unplaced{{JobID: "a", Cause: scheduler.CauseNoNode,
				Reason: "no ready node matches selector gpu=a100"}}},
		},
		{
			name: "selector needs every pair; a matching node that is not ready is named",
			nodes: []scheduler.Node{
				{ID: "n1", Name: "big", Capacity: cpus(4), Labels: map[string]string{"gpu": "a100", "zone": "b"}, Ready: false},
				{ID: "n2", Capacity: cpus(4), Labels: map[string]string{"gpu": "a100"}, Ready: true},
				{ID: "n3", Capacity: cpus(4), Labels: map[string]string{"gpu": "a100", "zone": "b"}, Ready: true},
			},
			pending: []scheduler.Pending{
				{JobID: "a", Priority: 5, Resources: cpus(1), Selector: map[string]string{"zone": "b", "gpu": "a100"}, QueuedAt: t0},
				{JobID: "b", Priority: 5, Resources: cpus(1), Selector: map[string]string{"zone": "c", "gpu": "a100"}, QueuedAt: t0},
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "n3"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "b", Cause: scheduler.CauseNoNode, Reason: "no ready node matches selector gpu=a100,zone=c"}},
			},
		},
		{
			name: "not-ready nodes get nothing",
			nodes: []scheduler.Node{
				{ID: "n1", Name: "lost", Capacity: cpus(4), Labels: map[string]string{"zone": "a"}},
				{ID: "n2", Capacity: cpus(4)},
			},
			pending: []scheduler.Pending{
				job("any", 5, cpus(1), t0),
				{JobID: "zoned", Priority: 5, Resources: cpus(1), Selector: map[string]string{"zone": "a"}, QueuedAt: t0},
			},
			want: scheduler.Plan{Unplaced: []scheduler.Unplaced{
				{JobID: "any", Cause: scheduler.CauseNoNode, Reason: "no node is ready"},
				{JobID: "zoned", Cause: scheduler.CauseNoNode, Reason: "no ready node matches selector zone=a (lost matches but is not ready)"},
			}},
		},
		{
			name:    "no nodes at all",
			pending: []scheduler.Pending{job("a", 5, cpus(1), t0)},
			want:    scheduler.Plan{Unplaced: []scheduler.Unplaced{{JobID: "a", Cause: scheduler.CauseNoNode, Reason: "no nodes are registered"}}},
		},
		{
			name:  "not_before ahead waits; not_before now runs",
			nodes: []scheduler.Node{node("node-a", 4)},
			pending: []scheduler.Pending{
				{JobID: "later", Priority: 9, Resources: cpus(1), QueuedAt: t0, NotBefore: ptr(t0.Add(time.Hour))},
				{JobID: "now", Priority: 5, Resources: cpus(1), QueuedAt: t0, NotBefore: ptr(t0)},
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "now", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "later", Cause: scheduler.CauseNotBefore, Reason: "waiting for not_before 2026-11-27T12:00:00Z"}},
			},
		},
		{
			name: "best fit: the node left with the least free CPU",
			nodes: []scheduler.Node{
				node("roomy", 16),
				func() scheduler.Node { n := node("tight", 4); n.Allocated = cpus(2); return n }(),
				node("tight-twin", 2),
			},
			pending: []scheduler.Pending{job("a", 5, cpus(2), t0)},
			// tight and tight-twin both end with 0 free CPU; the lower ID wins.
			want: scheduler.Plan{Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "tight"}}},
		},
		{
			name:    "a CPU-only job keeps off a GPU node when another fits",
			nodes:   []scheduler.Node{gpuNode("gpu", 0), node("plain", 32)},
			pending: []scheduler.Pending{job("a", 5, cpus(1), t0)},
			want:    scheduler.Plan{Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "plain"}}},
		},
		{
			name:  "memory is never overcommitted",
			nodes: []scheduler.Node{{ID: "n", Capacity: joule.Resources{CPUMillis: 64 * core, MemoryBytes: 8 * gi}, Allocated: joule.Resources{MemoryBytes: 3 * gi}, Ready: true}},
			pending: []scheduler.Pending{
				job("a", 5, joule.Resources{MemoryBytes: 4 * gi}, t0.Add(-time.Second)),
				job("b", 5, joule.Resources{MemoryBytes: 1536 << 20}, t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "n"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "b", Cause: scheduler.CauseBusy, Reason: "no ready node has 1.5Gi of free memory (largest free: 1Gi on n)"}},
			},
		},
		{
			name:  "a large job does not block smaller ones behind it",
			nodes: []scheduler.Node{func() scheduler.Node { n := node("node-a", 4); n.Allocated = cpus(2); return n }()},
			pending: []scheduler.Pending{
				job("big", 9, cpus(4), t0),
				job("small", 1, cpus(1), t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "small", NodeID: "node-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "big", Cause: scheduler.CauseBusy, Reason: "no ready node has 4 free CPUs (largest free: 2 on node-a)"}},
			},
		},
		{
			name: "a starving job reserves the node closest to fitting it",
			nodes: []scheduler.Node{
				func() scheduler.Node { n := node("node-a", 4); n.Allocated = cpus(2); return n }(),
				func() scheduler.Node { n := node("node-b", 4); n.Allocated = cpus(3); return n }(),
				node("node-c", 1),
			},
			pending: []scheduler.Pending{
				job("starving", 1, cpus(4), t0.Add(-90*time.Minute)),
				job("x", 9, cpus(1), t0),
				job("y", 9, cpus(1), t0),
				job("z", 9, cpus(1), t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "x", NodeID: "node-b"}, {JobID: "y", NodeID: "node-c"}},
				Unplaced: []scheduler.Unplaced{
					{JobID: "starving", Cause: scheduler.CauseBusy, Reason: "no ready node has 4 free CPUs (largest free: 2 on node-a); node-a is held for it until it fits"},
					{JobID: "z", Cause: scheduler.CauseBusy, Reason: "node-a has room but is held for job starving, which has waited 1h30m0s"},
				},
				Reservation: &scheduler.Reservation{JobID: "starving", NodeID: "node-a"},
			},
		},
		{
			name: "only the first starving job reserves",
			nodes: []scheduler.Node{
				func() scheduler.Node { n := node("node-a", 2); n.Allocated = cpus(1); return n }(),
				func() scheduler.Node { n := node("node-b", 2); n.Allocated = cpus(1); return n }(),
			},
			pending: []scheduler.Pending{
				job("s1", 1, cpus(2), t0.Add(-3*time.Hour)),
				job("s2", 1, cpus(2), t0.Add(-2*time.Hour)),
				job("small", 1, cpus(1), t0.Add(-2*time.Hour)),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "small", NodeID: "node-b"}},
				Unplaced: []scheduler.Unplaced{
					{JobID: "s1", Cause: scheduler.CauseBusy, Reason: "no ready node has 2 free CPUs (largest free: 1 on node-a); node-a is held for it until it fits"},
					{JobID: "s2", Cause: scheduler.CauseBusy, Reason: "no ready node has 2 free CPUs (largest free: 1 on node-a)"},
				},
				Reservation: &scheduler.Reservation{JobID: "s1", NodeID: "node-a"},
			},
		},
		{
			name:    "a starving job too large for any node reserves nothing",
			nodes:   []scheduler.Node{gpuNode("gpu-a", 0, 1)},
			pending: []scheduler.Pending{job("huge", 5, joule.Resources{GPUs: 4}, t0.Add(-5*time.Hour)), job("small", 5, cpus(1), t0)},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "small", NodeID: "gpu-a"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "huge", Cause: scheduler.CauseTooLarge, Reason: "no ready node is large enough for 4 GPUs (largest: 2 on gpu-a)"}},
			},
		},
		{
			name:  "too large in two resources",
			nodes: []scheduler.Node{node("a", 4), node("b", 8)},
			pending: []scheduler.Pending{{JobID: "j", Priority: 5, Selector: map[string]string{}, QueuedAt: t0,
				Resources: joule.Resources{CPUMillis: 8500, MemoryBytes: 128 * gi}}},
			want: scheduler.Plan{Unplaced: []scheduler.Unplaced{{JobID: "j", Cause: scheduler.CauseTooLarge,
				Reason: "no ready node is large enough for 8.5 CPUs (largest: 8 on b), nor 128Gi of memory (largest: 64Gi on a)"}}},
		},
		{
			name: "room split across nodes",
			nodes: []scheduler.Node{
				{ID: "a", Capacity: joule.Resources{CPUMillis: 2 * core, MemoryBytes: 1 * gi}, Ready: true, Labels: map[string]string{"pool": "x"}},
				{ID: "b", Capacity: joule.Resources{CPUMillis: 1 * core, MemoryBytes: 4 * gi}, Ready: true, Labels: map[string]string{"pool": "x"}},
				{ID: "c", Capacity: joule.Resources{CPUMillis: 4 * core, MemoryBytes: 4 * gi}, Allocated: cpus(4), Ready: true},
			},
			pending: []scheduler.Pending{{JobID: "j", Priority: 5, QueuedAt: t0, Selector: map[string]string{"pool": "x"},
				Resources: joule.Resources{CPUMillis: 2 * core, MemoryBytes: 2 * gi}}},
			want: scheduler.Plan{Unplaced: []scheduler.Unplaced{{JobID: "j", Cause: scheduler.CauseTooLarge,
				Reason: "no ready node matching pool=x is large enough for 2 CPUs and 2Gi of memory at once"}}},
		},
		{
			name:  "a repeated job ID is placed under neither",
			nodes: []scheduler.Node{node("n", 4)},
			pending: []scheduler.Pending{
				job("dup", 5, cpus(1), t0),
				job("dup", 7, cpus(2), t0),
				job("ok", 5, cpus(1), t0),
			},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "ok", NodeID: "n"}},
				Unplaced: []scheduler.Unplaced{
					{JobID: "dup", Cause: scheduler.CauseDuplicate, Reason: "job ID dup appears more than once among the pending jobs"},
					{JobID: "dup", Cause: scheduler.CauseDuplicate, Reason: "job ID dup appears more than once among the pending jobs"},
				},
			},
		},
		{
			name:    "a repeated node ID gets nothing",
			nodes:   []scheduler.Node{node("n", 4), node("n", 4), node("m", 1)},
			pending: []scheduler.Pending{job("a", 5, cpus(1), t0), job("b", 5, cpus(1), t0)},
			want: scheduler.Plan{
				Assignments: []scheduler.Assignment{{JobID: "a", NodeID: "m"}},
				Unplaced:    []scheduler.Unplaced{{JobID: "b", Cause: scheduler.CauseBusy, Reason: "no ready node has 1 free CPU (largest free: 0 on m)"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scheduler.Place(tt.cfg, tt.nodes, tt.pending, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Place() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEffectivePriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      scheduler.Config
		prio     int
		waited   time.Duration
		want     int
		starving bool
	}{
		{"fresh", scheduler.Config{}, 1, 0, 1, false},
		{"one step", scheduler.Config{}, 1, 10 * time.Minute, 2, false},
		{"just short of a step", scheduler.Config{}, 1, 10*time.Minute - time.Nanosecond, 1, false},
		{"almost full", scheduler.Config{}, 1, 79 * time.Minute, 8, false},
		{"full boost", scheduler.Config{}, 1, 80 * time.Minute, 9, true},
		{"boost is capped", scheduler.Config{}, 1, 1000 * time.Hour, 9, true},
		{"never above 9", scheduler.Config{}, 8, 30 * time.Minute, 9, false},
		{"9 stays 9 and still starves", scheduler.Config{}, 9, 80 * time.Minute, 9, true},
		{"custom step and cap", scheduler.Config{AgeingStep: time.Minute, MaxAgeBoost: 2}, 5, time.Hour, 7, true},
		{"queued in the future", scheduler.Config{}, 3, -time.Hour, 3, false},
		{"priority below range", scheduler.Config{}, 0, 0, 1, false},
		{"priority above range", scheduler.Config{}, 12, 0, 9, false},
		{"ageing off", scheduler.Config{MaxAgeBoost: -1}, 2, 100 * time.Hour, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := scheduler.Pending{JobID: "j", Priority: tt.prio, QueuedAt: t0.Add(-tt.waited)}
			if got := tt.cfg.EffectivePriority(p, t0); got != tt.want {
				t.Errorf("EffectivePriority(priority %d, waited %v) = %d, want %d", tt.prio, tt.waited, got, tt.want)
			}
			if got := tt.cfg.Starving(p, t0); got != tt.starving {
				t.Errorf("Starving(priority %d, waited %v) = %v, want %v", tt.prio, tt.waited, got, tt.starving)
			}
		})
	}
}

// TestStarvingJobRuns drives Place as the live queue would, a minute at a
// time, on one 4-core node kept busy by a stream of 1-core priority-9 jobs
// that each run two minutes. A 4-core priority-1 job never finds the node
// empty on its own; ageing and the reservation must get it started.
func TestStarvingJobRuns(t *testing.T) {
	t.Parallel()
	type running struct {
		id  string
		res joule.Resources
		end time.Time
	}
	var (
		cfg     scheduler.Config
		run     []running
		pending = []scheduler.Pending{job("big", 1, cpus(4), t0)}
		started = map[string]time.Time{}
		next    = 0
	)
	for now := t0; now.Before(t0.Add(4 * time.Hour)); now = now.Add(time.Minute) {
		kept := run[:0]
		for _, r := range run {
			if r.end.After(now) {
				kept = append(kept, r)
			}
		}
		run = kept
		for range 3 {
			pending = append(pending, job(fmt.Sprintf("small-%04d", next), 9, cpus(1), now))
			next++
		}
		n := scheduler.Node{ID: "node", Capacity: joule.Resources{CPUMillis: 4 * core, MemoryBytes: 8 * gi}, Ready: true}
		for _, r := range run {
			n.Allocated = n.Allocated.Add(r.res)
		}
		plan := scheduler.Place(cfg, []scheduler.Node{n}, pending, now)
		placed := map[string]bool{}
		for _, a := range plan.Assignments {
			placed[a.JobID] = true
			started[a.JobID] = now
		}
		var left []scheduler.Pending
		for _, p := range pending {
			if placed[p.JobID] {
				run = append(run, running{p.JobID, p.Resources, now.Add(2 * time.Minute)})
			} else {
				left = append(left, p)
			}
		}
		pending = left
		if _, ok := started["big"]; ok {
			break
		}
	}
	at, ok := started["big"]
	if !ok {
		t.Fatalf("the 4-core priority-1 job never started in 4 hours")
	}
	// It reaches the top after 80 minutes and reserves the node; the node
	// drains within the 2 minutes the running jobs take.
	if limit := t0.Add(80*time.Minute + 2*time.Minute); at.After(limit) {
		t.Errorf("the 4-core job started %v after it was queued, want at most %v", at.Sub(t0), limit.Sub(t0))
	}
	if len(started) < 100 {
		t.Errorf("only %d jobs started: small jobs should keep flowing", len(started))
	}
}

func TestPlaceCarbonAware(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	nodes := []scheduler.Node{
		{ID: "a", Ready: true, Capacity: joule.Resources{CPUMillis: 4000}, Allocated: joule.Resources{CPUMillis: 3000}, GramsPerCPUSecond: 2e-4},
		{ID: "b", Ready: true, Capacity: joule.Resources{CPUMillis: 4000}, GramsPerCPUSecond: 1e-4},
		{ID: "c", Ready: true, Capacity: joule.Resources{CPUMillis: 4000}, Allocated: joule.Resources{CPUMillis: 2000}},
	}
	job := []scheduler.Pending{{JobID: "j", Priority: 5, Resources: joule.Resources{CPUMillis: 1000}, QueuedAt: now}}
	// Best fit alone: a, the fullest node that fits.
	if p := scheduler.Place(scheduler.Config{}, nodes, job, now); p.Assignments[0].NodeID != "a" {
		t.Errorf("best fit: %v, want a", p.Assignments)
	}
	// Carbon-aware: b, the greenest per CPU-second.
	if p := scheduler.Place(scheduler.Config{CarbonAware: true}, nodes, job, now); p.Assignments[0].NodeID != "b" {
		t.Errorf("carbon-aware: %v, want b", p.Assignments)
	}
	// Known before unknown: with b full, a (known) before c (unknown).
	nodes[1].Allocated.CPUMillis = 4000
	if p := scheduler.Place(scheduler.Config{CarbonAware: true}, nodes, job, now); p.Assignments[0].NodeID != "a" {
		t.Errorf("carbon-aware with b full: %v, want a (known) over c (unknown)", p.Assignments)
	}
	// Equal grams: best fit decides.
	nodes[1].Allocated.CPUMillis, nodes[1].GramsPerCPUSecond = 0, 2e-4
	if p := scheduler.Place(scheduler.Config{CarbonAware: true}, nodes, job, now); p.Assignments[0].NodeID != "a" {
		t.Errorf("equal grams: %v, want a by best fit", p.Assignments)
	}
}
