package scheduler_test

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

// The generators make small clusters with a few labels and GPUs, and queues
// that mix priorities (some out of range), ages, selectors, not_before times
// and odd requests (zero and negative), so that every rule of Place is hit.

var labelKeys, labelValues = []string{"zone", "gpu"}, []string{"a", "b"}

func genLabels(t *rapid.T, label string) map[string]string {
	return rapid.MapOfN(rapid.SampledFrom(labelKeys), rapid.SampledFrom(labelValues), 0, 2).Draw(t, label)
}

func genNode(id string) *rapid.Generator[scheduler.Node] {
	return rapid.Custom(func(t *rapid.T) scheduler.Node {
		capCPU := rapid.Int64Range(0, 8).Draw(t, "cores") * 1000
		capMem := rapid.Int64Range(0, 8).Draw(t, "gib") * gi
		n := scheduler.Node{
			ID:       id,
			Name:     rapid.SampledFrom([]string{"", "name-" + id}).Draw(t, "name"),
			Capacity: joule.Resources{CPUMillis: capCPU, MemoryBytes: capMem, GPUs: rapid.IntRange(0, 4).Draw(t, "capgpus")},
			Allocated: joule.Resources{
				// Usually within capacity; now and then beyond, as a stale
				// snapshot may be.
				CPUMillis:   rapid.Int64Range(0, capCPU/500+1).Draw(t, "alloccpu") * 500,
				MemoryBytes: rapid.Int64Range(0, capMem/(gi/2)+1).Draw(t, "allocmem") * (gi / 2),
			},
			GPUs:      rapid.SliceOfN(rapid.IntRange(0, 5), 0, 5).Draw(t, "gpus"),
			GPUsInUse: rapid.SliceOfN(rapid.IntRange(0, 6), 0, 3).Draw(t, "inuse"),
			Labels:    genLabels(t, "labels"),
			Ready:     rapid.Float64Range(0, 1).Draw(t, "ready") < 0.85,
		}
		return n
	})
}

func genPending(id string, now time.Time) *rapid.Generator[scheduler.Pending] {
	return rapid.Custom(func(t *rapid.T) scheduler.Pending {
		p := scheduler.Pending{
			JobID:    id,
			Priority: rapid.IntRange(0, 10).Draw(t, "prio"),
			Resources: joule.Resources{
				CPUMillis:   rapid.Int64Range(-1, 8).Draw(t, "halfcores") * 500,
				MemoryBytes: rapid.Int64Range(-1, 6).Draw(t, "halfgib") * (gi / 2),
				GPUs:        rapid.IntRange(-1, 3).Draw(t, "gpus"),
			},
			QueuedAt: now.Add(-time.Duration(rapid.IntRange(-5, 200).Draw(t, "waitedmin")) * time.Minute),
		}
		if rapid.Bool().Draw(t, "hasselector") {
			p.Selector = genLabels(t, "selector")
		}
		if rapid.Float64Range(0, 1).Draw(t, "hasnotbefore") < 0.2 {
			nb := now.Add(time.Duration(rapid.IntRange(-60, 60).Draw(t, "notbeforemin")) * time.Minute)
			p.NotBefore = &nb
		}
		return p
	})
}

type input struct {
	cfg     scheduler.Config
	nodes   []scheduler.Node
	pending []scheduler.Pending
	now     time.Time
}

func genInput(t *rapid.T, dupIDs bool) input {
	in := input{now: t0}
	in.cfg = scheduler.Config{
		AgeingStep:  rapid.SampledFrom([]time.Duration{0, time.Minute, 10 * time.Minute}).Draw(t, "step"),
		MaxAgeBoost: rapid.SampledFrom([]int{-1, 0, 1, 3, 8}).Draw(t, "maxboost"),
	}
	nn := rapid.IntRange(0, 6).Draw(t, "nodes")
	for i := range nn {
		id := fmt.Sprintf("n%d", i)
		if dupIDs {
			id = fmt.Sprintf("n%d", rapid.IntRange(0, nn-1).Draw(t, "nodeid"))
		}
		in.nodes = append(in.nodes, genNode(id).Draw(t, "node"))
	}
	np := rapid.IntRange(0, 25).Draw(t, "pending")
	for i := range np {
		id := fmt.Sprintf("j%02d", i)
		if dupIDs {
			id = fmt.Sprintf("j%02d", rapid.IntRange(0, np-1).Draw(t, "jobid"))
		}
		in.pending = append(in.pending, genPending(id, in.now).Draw(t, "job"))
	}
	return in
}

// deepCopy copies an input so that a later comparison sees any mutation.
func deepCopy(in input) input {
	out := in
	out.nodes = slices.Clone(in.nodes)
	for i := range out.nodes {
		n := &out.nodes[i]
		n.GPUs, n.GPUsInUse, n.Labels = slices.Clone(n.GPUs), slices.Clone(n.GPUsInUse), maps.Clone(n.Labels)
	}
	out.pending = slices.Clone(in.pending)
	for i := range out.pending {
		p := &out.pending[i]
		p.Selector = maps.Clone(p.Selector)
		if p.NotBefore != nil {
			nb := *p.NotBefore
			p.NotBefore = &nb
		}
	}
	return out
}

func TestPlaceProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t, false)
		before := deepCopy(in)
		plan := scheduler.Place(in.cfg, in.nodes, in.pending, in.now)
		if diff := gocmp.Diff(before, in, gocmp.AllowUnexported(input{})); diff != "" {
			t.Fatalf("Place changed its input (-before +after):\n%s", diff)
		}
		checkPlan(t, in, plan)

		// Determinism: the same input, and the same input shuffled.
		if again := scheduler.Place(in.cfg, in.nodes, in.pending, in.now); !gocmp.Equal(plan, again) {
			t.Fatalf("Place is not deterministic (-first +second):\n%s", gocmp.Diff(plan, again))
		}
		nodes := rapid.Permutation(in.nodes).Draw(t, "shufflednodes")
		pending := rapid.Permutation(in.pending).Draw(t, "shuffledpending")
		if shuffled := scheduler.Place(in.cfg, nodes, pending, in.now); !gocmp.Equal(plan, shuffled) {
			t.Fatalf("Place depends on input order (-sorted +shuffled):\n%s", gocmp.Diff(plan, shuffled))
		}
	})
}

// TestPlaceRepeatedIDs checks the invariants, and determinism under
// shuffling, when job and node IDs repeat.
func TestPlaceRepeatedIDs(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t, true)
		plan := scheduler.Place(in.cfg, in.nodes, in.pending, in.now)
		checkPlan(t, in, plan)
		nodes := rapid.Permutation(in.nodes).Draw(t, "shufflednodes")
		pending := rapid.Permutation(in.pending).Draw(t, "shuffledpending")
		if shuffled := scheduler.Place(in.cfg, nodes, pending, in.now); !gocmp.Equal(plan, shuffled) {
			t.Fatalf("Place depends on input order (-sorted +shuffled):\n%s", gocmp.Diff(plan, shuffled))
		}
	})
}

// view is the checker's own reading of a node.
type view struct {
	n      scheduler.Node
	size   joule.Resources // GPUs: distinct indices
	free   joule.Resources // before this plan; GPUs: distinct free indices
	gpus   map[int]bool
	inUse  map[int]bool
	unique bool
}

func clampReq(r joule.Resources) joule.Resources {
	return joule.Resources{CPUMillis: max(r.CPUMillis, 0), MemoryBytes: max(r.MemoryBytes, 0), GPUs: max(r.GPUs, 0)}
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// checkPlan checks every invariant of a plan against its input.
func checkPlan(t *rapid.T, in input, plan scheduler.Plan) {
	// Nodes as the checker sees them.
	views := map[string]*view{}
	count := map[string]int{}
	for _, n := range in.nodes {
		count[n.ID]++
	}
	for _, n := range in.nodes {
		v := &view{n: n, gpus: map[int]bool{}, inUse: map[int]bool{}, unique: count[n.ID] == 1}
		for _, g := range n.GPUsInUse {
			v.inUse[g] = true
		}
		for _, g := range n.GPUs {
			if !v.gpus[g] {
				v.gpus[g] = true
				v.size.GPUs++
				if !v.inUse[g] {
					v.free.GPUs++
				}
			}
		}
		v.size.CPUMillis, v.size.MemoryBytes = n.Capacity.CPUMillis, n.Capacity.MemoryBytes
		v.free.CPUMillis, v.free.MemoryBytes = n.Capacity.CPUMillis-n.Allocated.CPUMillis, n.Capacity.MemoryBytes-n.Allocated.MemoryBytes
		views[n.ID] = v
	}
	usable := func(v *view, p scheduler.Pending) bool {
		return v.unique && v.n.Ready && matches(v.n.Labels, p.Selector)
	}

	// Every job comes out exactly once (each copy of a repeated ID once).
	jobs := map[string]scheduler.Pending{}
	jobCount := map[string]int{}
	for _, p := range in.pending {
		jobs[p.JobID] = p
		jobCount[p.JobID]++
	}
	outCount := map[string]int{}
	for _, a := range plan.Assignments {
		outCount[a.JobID]++
	}
	for _, u := range plan.Unplaced {
		outCount[u.JobID]++
		if u.Reason == "" {
			t.Fatalf("job %s is unplaced without a reason", u.JobID)
		}
	}
	if !maps.Equal(jobCount, outCount) {
		t.Fatalf("jobs in %v, out %v: each must come out exactly once", jobCount, outCount)
	}

	// Rank order, as the spec states it.
	rank := map[string]int{}
	var order []scheduler.Pending
	for id, p := range jobs {
		if jobCount[id] == 1 {
			order = append(order, p)
		}
	}
	slices.SortFunc(order, func(a, b scheduler.Pending) int {
		return cmp.Or(
			cmp.Compare(in.cfg.EffectivePriority(b, in.now), in.cfg.EffectivePriority(a, in.now)),
			a.QueuedAt.Compare(b.QueuedAt),
			cmp.Compare(a.JobID, b.JobID),
		)
	})
	for i, p := range order {
		rank[p.JobID] = i
	}
	last := -1
	for _, a := range plan.Assignments {
		if r := rank[a.JobID]; r < last {
			t.Fatalf("assignments are not in rank order at %s", a.JobID)
		} else {
			last = r
		}
	}

	// Assignments: to a usable node, with room, with valid GPUs.
	assigned := map[string]scheduler.Assignment{}
	used := map[string]joule.Resources{}
	gpuTaken := map[string]map[int]bool{}
	for _, a := range plan.Assignments {
		p := jobs[a.JobID]
		assigned[a.JobID] = a
		v, ok := views[a.NodeID]
		switch {
		case jobCount[a.JobID] != 1:
			t.Fatalf("job %s has a repeated ID but was assigned", a.JobID)
		case !ok:
			t.Fatalf("job %s assigned to unknown node %s", a.JobID, a.NodeID)
		case !v.unique:
			t.Fatalf("job %s assigned to node %s, whose ID repeats", a.JobID, a.NodeID)
		case !v.n.Ready:
			t.Fatalf("job %s assigned to node %s, which is not ready", a.JobID, a.NodeID)
		case !matches(v.n.Labels, p.Selector):
			t.Fatalf("job %s (selector %v) assigned to node %s (labels %v)", a.JobID, p.Selector, a.NodeID, v.n.Labels)
		case p.NotBefore != nil && p.NotBefore.After(in.now):
			t.Fatalf("job %s assigned before its not_before", a.JobID)
		}
		req := clampReq(p.Resources)
		if len(a.GPUIndices) != req.GPUs {
			t.Fatalf("job %s asked for %d GPUs, got %v", a.JobID, req.GPUs, a.GPUIndices)
		}
		if req.GPUs == 0 && a.GPUIndices != nil {
			t.Fatalf("job %s asked for no GPUs, got non-nil %v", a.JobID, a.GPUIndices)
		}
		if !slices.IsSorted(a.GPUIndices) {
			t.Fatalf("job %s got GPUs %v, not ascending", a.JobID, a.GPUIndices)
		}
		if gpuTaken[a.NodeID] == nil {
			gpuTaken[a.NodeID] = map[int]bool{}
		}
		for _, g := range a.GPUIndices {
			switch {
			case !v.gpus[g]:
				t.Fatalf("job %s got GPU %d, which node %s does not have (%v)", a.JobID, g, a.NodeID, v.n.GPUs)
			case v.inUse[g]:
				t.Fatalf("job %s got GPU %d on node %s, which is in use", a.JobID, g, a.NodeID)
			case gpuTaken[a.NodeID][g]:
				t.Fatalf("GPU %d on node %s given twice", g, a.NodeID)
			}
			gpuTaken[a.NodeID][g] = true
		}
		used[a.NodeID] = used[a.NodeID].Add(req)
	}
	// No overcommit: what a node had free covers everything placed on it.
	for id, u := range used {
		if v := views[id]; !u.Fits(v.free) {
			t.Fatalf("node %s overcommitted: free %+v, placed %+v", id, v.free, u)
		}
	}

	// Replay in rank order: free room on each node just before each job.
	freeAt := map[string]map[string]joule.Resources{} // job → node → free
	cur := map[string]joule.Resources{}
	for id, v := range views {
		cur[id] = v.free
	}
	for _, p := range order {
		freeAt[p.JobID] = maps.Clone(cur)
		if a, ok := assigned[p.JobID]; ok {
			cur[a.NodeID] = cur[a.NodeID].Sub(clampReq(p.Resources))
		}
	}

	// The reservation.
	var starvingBusy []string // starving jobs unplaced for lack of free room, in rank order
	unplaced := map[string]scheduler.Unplaced{}
	for _, u := range plan.Unplaced {
		unplaced[u.JobID] = u
	}
	for _, p := range order {
		if u, ok := unplaced[p.JobID]; ok && u.Cause == scheduler.CauseBusy && in.cfg.Starving(p, in.now) {
			starvingBusy = append(starvingBusy, p.JobID)
		}
	}
	heldRank := len(order) // jobs ranked after this may not use the held node
	if r := plan.Reservation; r != nil {
		if len(starvingBusy) == 0 || starvingBusy[0] != r.JobID {
			t.Fatalf("reservation %+v, want one for the first starving busy job of %v", *r, starvingBusy)
		}
		v := views[r.NodeID]
		if p := jobs[r.JobID]; v == nil || !usable(v, p) || !clampReq(p.Resources).Fits(v.size) {
			t.Fatalf("reservation %+v: the node cannot hold the job", *r)
		}
		// The held node is the one closest to fitting the job at its turn.
		req := clampReq(jobs[r.JobID].Resources)
		shortfall := func(id string) []int64 {
			f := freeAt[r.JobID][id]
			return []int64{max(int64(req.GPUs-f.GPUs), 0), max(req.CPUMillis-f.CPUMillis, 0), max(req.MemoryBytes-f.MemoryBytes, 0)}
		}
		for id, v := range views {
			if !usable(v, jobs[r.JobID]) || !req.Fits(v.size) || id == r.NodeID {
				continue
			}
			if c := cmp.Or(slices.Compare(shortfall(id), shortfall(r.NodeID)), cmp.Compare(id, r.NodeID)); c < 0 {
				t.Fatalf("reservation on %s (short %v), but %s is closer (short %v)", r.NodeID, shortfall(r.NodeID), id, shortfall(id))
			}
		}
		heldRank = rank[r.JobID]
		for _, a := range plan.Assignments {
			if a.NodeID == r.NodeID && rank[a.JobID] > heldRank {
				t.Fatalf("job %s, ranked after %s, was placed on its reserved node %s", a.JobID, r.JobID, r.NodeID)
			}
		}
	} else if len(starvingBusy) > 0 {
		t.Fatalf("starving busy jobs %v but no reservation", starvingBusy)
	}
	held := func(nodeID, jobID string) bool {
		return plan.Reservation != nil && plan.Reservation.NodeID == nodeID && rank[jobID] > heldRank
	}

	// Best fit: each job went to the usable, unheld node with room that is
	// left with the fewest free GPUs, then CPU, then memory, then lowest ID.
	for _, a := range plan.Assignments {
		p := jobs[a.JobID]
		req := clampReq(p.Resources)
		key := func(id string) []int64 {
			f := freeAt[a.JobID][id]
			return []int64{int64(f.GPUs), f.CPUMillis, f.MemoryBytes}
		}
		for id, v := range views {
			if id == a.NodeID || !usable(v, p) || held(id, a.JobID) || !req.Fits(freeAt[a.JobID][id]) {
				continue
			}
			if c := cmp.Or(slices.Compare(key(id), key(a.NodeID)), cmp.Compare(id, a.NodeID)); c < 0 {
				t.Fatalf("job %s went to %s (free %v) but %s (free %v) fits better", a.JobID, a.NodeID, key(a.NodeID), id, key(id))
			}
		}
	}

	// Causes are true, and priority holds: a job left waiting for room
	// could not have used any node that jobs ranked after it took, even
	// counting everything they took there. The one exception is the
	// reserved node, which jobs ranked after the starving job may not use.
	for _, u := range plan.Unplaced {
		p := jobs[u.JobID]
		req := clampReq(p.Resources)
		var anyUsable, anyLarge bool
		for _, v := range views {
			if usable(v, p) {
				anyUsable = true
				anyLarge = anyLarge || req.Fits(v.size)
			}
		}
		switch u.Cause {
		case scheduler.CauseDuplicate:
			if jobCount[u.JobID] < 2 {
				t.Fatalf("job %s unplaced as a duplicate, but its ID is unique", u.JobID)
			}
			continue
		case scheduler.CauseNotBefore:
			if p.NotBefore == nil || !p.NotBefore.After(in.now) {
				t.Fatalf("job %s unplaced for not_before %v at %v", u.JobID, p.NotBefore, in.now)
			}
		case scheduler.CauseNoNode:
			if anyUsable {
				t.Fatalf("job %s: %q, but a ready node matches", u.JobID, u.Reason)
			}
		case scheduler.CauseTooLarge:
			if !anyUsable || anyLarge {
				t.Fatalf("job %s: %q, but a ready matching node is large enough", u.JobID, u.Reason)
			}
		case scheduler.CauseBusy:
			if !anyLarge {
				t.Fatalf("job %s: %q, but no ready matching node is large enough", u.JobID, u.Reason)
			}
		default:
			t.Fatalf("job %s: unknown cause %q", u.JobID, u.Cause)
		}
		if jobCount[u.JobID] != 1 {
			t.Fatalf("job %s has a repeated ID but cause %s", u.JobID, u.Cause)
		}
		if u.Cause == scheduler.CauseNotBefore || (p.NotBefore != nil && p.NotBefore.After(in.now)) {
			if u.Cause != scheduler.CauseNotBefore {
				t.Fatalf("job %s waits for not_before but has cause %s", u.JobID, u.Cause)
			}
			continue
		}
		for id, v := range views {
			if !usable(v, p) || held(id, u.JobID) {
				continue
			}
			room := freeAt[u.JobID][id] // = final free + what later jobs took there
			if req.Fits(room) {
				t.Fatalf("job %s (%+v) is unplaced (%q), but node %s had room %+v at its turn", u.JobID, req, u.Reason, id, room)
			}
		}
	}
}
