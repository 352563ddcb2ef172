package scheduler

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/joule-dev/joule"
)

// Priorities a job may have: 1 is the lowest, 9 the highest.
const (
	MinPriority = 1
	MaxPriority = 9
)

// Defaults for Config: a job gains one point of priority for every ten
// minutes it waits, so a priority-1 job reaches MaxPriority after 80 minutes.
const (
	DefaultAgeingStep  = 10 * time.Minute
	DefaultMaxAgeBoost = MaxPriority - MinPriority
)

// Config tunes placement. The zero Config uses the defaults.
type Config struct {
	// AgeingStep is how long a job waits for each point of priority it
	// gains. Zero or less means DefaultAgeingStep.
	AgeingStep time.Duration
	// MaxAgeBoost is the most priority a job gains by waiting. Zero means
	// DefaultMaxAgeBoost; a negative value turns ageing off, and with it the
	// reservation for starving jobs.
	MaxAgeBoost int
	// CarbonAware places each job on the fitting node with the lowest
	// GramsPerCPUSecond (nodes where it is unknown come after those where
	// it is known), and only among equals by best fit. Off, placement is
	// best fit alone, which packs work so that idle nodes can sleep.
	CarbonAware bool
}

func (c Config) withDefaults() Config {
	if c.AgeingStep <= 0 {
		c.AgeingStep = DefaultAgeingStep
	}
	if c.MaxAgeBoost == 0 {
		c.MaxAgeBoost = DefaultMaxAgeBoost
	}
	return c
}

// ageBoost returns how many points of priority a job queued at queued has
// gained by now.
func (c Config) ageBoost(queued, now time.Time) int {
	if c.MaxAgeBoost < 0 {
		return 0
	}
	waited := now.Sub(queued)
	if waited <= 0 {
		return 0
	}
	if steps := waited / c.AgeingStep; steps < time.Duration(c.MaxAgeBoost) {
		return int(steps)
	}
	return c.MaxAgeBoost
}

// EffectivePriority returns the priority p ranks at, at time now: its
// priority (clamped to MinPriority..MaxPriority) plus one for each
// AgeingStep it has waited since QueuedAt, at most MaxAgeBoost more, and
// never above MaxPriority. The cap means that a job that has aged to the top
// is ranked behind only the jobs queued before it, however high their
// priority, so a steady stream of new high-priority work cannot starve it.
func (c Config) EffectivePriority(p Pending, now time.Time) int {
	c = c.withDefaults()
	prio := min(max(p.Priority, MinPriority), MaxPriority)
	return min(prio+c.ageBoost(p.QueuedAt, now), MaxPriority)
}

// Starving reports whether p has waited, at now, long enough to have gained
// its full MaxAgeBoost. A starving job that cannot fit may reserve a node
// (see Place). With ageing turned off no job is starving.
func (c Config) Starving(p Pending, now time.Time) bool {
	c = c.withDefaults()
	return c.MaxAgeBoost > 0 && c.ageBoost(p.QueuedAt, now) == c.MaxAgeBoost
}

// Node is one node as placement sees it: what it has, what is taken, and
// whether it takes work. GPUs are counted by index: the free GPUs are GPUs
// minus GPUsInUse, and the GPUs fields of Capacity and Allocated are not
// read. A node whose ID appears more than once in the input gets nothing.
type Node struct {
	ID        string
	Name      string          // used in reasons; ID when empty
	Capacity  joule.Resources // CPU and memory the node offers to jobs
	Allocated joule.Resources // CPU and memory held by jobs placed or running on it
	GPUs      []int           // indices of the node's GPUs
	GPUsInUse []int           // indices held by jobs placed or running on it
	Labels    map[string]string
	Ready     bool // false: the node gets nothing (lost, draining, asleep)
	// GramsPerCPUSecond is the expected emissions of one CPU-second of work
	// on the node now: its grid's intensity × its measured (or estimated)
	// joules per CPU-second × PUE ÷ 3.6e6. Zero means unknown. With
	// Config.CarbonAware, placement prefers the lowest known value.
	GramsPerCPUSecond float64
}

// Pending is a job waiting for placement. Pass only jobs whose dependencies
// have succeeded.
type Pending struct {
	JobID     string
	Priority  int             // MinPriority..MaxPriority; values outside are clamped
	Resources joule.Resources // negative quantities count as zero
	Selector  map[string]string
	QueuedAt  time.Time  // when the job (last) entered the queue; ageing counts from here
	NotBefore *time.Time // the job waits until then; nil: no wait
}

// Plan is what Place decided. Every pending job appears exactly once, either
// in Assignments or in Unplaced; both lists are in rank order, the order in
// which Place considered the jobs.
type Plan struct {
	Assignments []Assignment
	Unplaced    []Unplaced
	// Reservation is the node held back for a starving job, or nil.
	Reservation *Reservation
}

// Assignment places one job on one node.
type Assignment struct {
	JobID  string
	NodeID string
	// GPUIndices are the node's GPUs the job gets, ascending; nil when it
	// asks for none.
	GPUIndices []int
}

// Unplaced is a job left waiting, and why.
type Unplaced struct {
	JobID  string
	Cause  Cause
	Reason string // for people, e.g. "no ready node has 2 free GPUs (largest free: 1 on node-a)"
}

// Reservation is a node held back for a starving job: no job ranked after
// that job was placed on it.
type Reservation struct {
	JobID  string
	NodeID string
}

// Cause classifies why a job was not placed.
type Cause string

// Causes.
const (
	CauseNotBefore Cause = "not_before" // its not_before is still ahead
	CauseDuplicate Cause = "duplicate"  // its job ID appears more than once in the input
	CauseNoNode    Cause = "no_node"    // no ready node matches its selector
	CauseTooLarge  Cause = "too_large"  // no ready matching node could hold it even when empty
	CauseBusy      Cause = "busy"       // it could fit a node, but not in what is free now
)

// slot is a node's free room while a plan is being made.
type slot struct {
	id, name string
	ready    bool
	dup      bool // its ID repeats: it gets nothing and is named in no reason
	labels   map[string]string
	size     joule.Resources // capacity; GPUs = number of distinct GPU indices
	free     joule.Resources // GPUs = len(freeGPUs)
	freeGPUs []int           // ascending
	grams    float64         // GramsPerCPUSecond; 0 unknown
}

// entry is a pending job while a plan is being made.
type entry struct {
	p        Pending
	sel      [][2]string // p.Selector as key, value pairs, sorted by key
	req      joule.Resources
	eff      int
	starving bool
	dup      bool
}

// Place decides which pending jobs start now and where, given the nodes and
// the time now. It never overcommits CPU, memory or GPUs on a node, counting
// the room it hands out itself, and it does not modify its inputs. The same
// input, in any order, gives the same Plan.
//
// Jobs are ranked by effective priority (Config.EffectivePriority), highest
// first, then by QueuedAt, then by JobID. In that order each job goes to the
// ready node that matches every key=value of its selector, has room for it,
// and is left with the fewest free GPUs, then the least free CPU, then the
// least free memory (ties: lowest node ID). A job with a not_before after
// now is not placed.
//
// A job that does not fit is skipped, and smaller jobs behind it may still
// be placed. To keep skipped jobs from starving, the first job in rank order
// that is Config.Starving and fits some matching node's capacity but not its
// free room reserves the matching node closest to fitting it (smallest
// shortfall in GPUs, then CPU, then memory; ties: lowest ID). No job ranked
// after it is placed there, so the node drains until it fits. There is at
// most one reservation per plan; the next starving job gets its turn once
// this one has started.
func Place(cfg Config, nodes []Node, pending []Pending, now time.Time) Plan {
	cfg = cfg.withDefaults()
	slots := snapshot(nodes)
	queue := rank(cfg, pending, now)
	var plan Plan
	var held *slot    // the reserved node
	var holder *entry // the job it is held for
	for _, e := range queue {
		if u, ok := filter(e, now); ok {
			plan.Unplaced = append(plan.Unplaced, u)
			continue
		}
		if s := bestFit(slots, e, held, cfg.CarbonAware); s != nil {
			plan.Assignments = append(plan.Assignments, s.take(e))
			continue
		}
		u, closest := diagnose(slots, e, held, holder, now)
		if u.Cause == CauseBusy && e.starving && held == nil && closest != nil {
			held, holder = closest, e
			plan.Reservation = &Reservation{JobID: e.p.JobID, NodeID: closest.id}
			u.Reason += "; " + closest.name + " is held for it until it fits"
		}
		plan.Unplaced = append(plan.Unplaced, u)
	}
	return plan
}

// snapshot copies the nodes into slots sorted by ID, working out what is
// free on each. Nodes with a repeated ID are marked not ready, and dup.
func snapshot(nodes []Node) []*slot {
	slots := make([]*slot, 0, len(nodes))
	for _, n := range nodes {
		gpus := slices.Clone(n.GPUs)
		slices.Sort(gpus)
		gpus = slices.Compact(gpus)
		free := slices.DeleteFunc(slices.Clone(gpus), func(i int) bool { return slices.Contains(n.GPUsInUse, i) })
		s := &slot{
			id:       n.ID,
			name:     cmp.Or(n.Name, n.ID),
			ready:    n.Ready,
			labels:   n.Labels,
			size:     joule.Resources{CPUMillis: n.Capacity.CPUMillis, MemoryBytes: n.Capacity.MemoryBytes, GPUs: len(gpus)},
			freeGPUs: free,
			grams:    n.GramsPerCPUSecond,
		}
		s.free = joule.Resources{
			CPUMillis:   n.Capacity.CPUMillis - n.Allocated.CPUMillis,
			MemoryBytes: n.Capacity.MemoryBytes - n.Allocated.MemoryBytes,
			GPUs:        len(free),
		}
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b *slot) int { return cmp.Compare(a.id, b.id) })
	for i := 1; i < len(slots); i++ {
		if slots[i].id == slots[i-1].id {
			slots[i].ready, slots[i-1].ready = false, false
			slots[i].dup, slots[i-1].dup = true, true
		}
	}
	return slots
}

// rank copies the pending jobs and sorts them: effective priority, highest
// first, then QueuedAt, then JobID.
func rank(cfg Config, pending []Pending, now time.Time) []*entry {
	count := make(map[string]int, len(pending))
	for _, p := range pending {
		count[p.JobID]++
	}
	queue := make([]*entry, 0, len(pending))
	for _, p := range pending {
		var sel [][2]string
		if len(p.Selector) > 0 {
			for _, k := range slices.Sorted(maps.Keys(p.Selector)) {
				sel = append(sel, [2]string{k, p.Selector[k]})
			}
		}
		queue = append(queue, &entry{
			p:   p,
			sel: sel,
			req: joule.Resources{
				CPUMillis:   max(p.Resources.CPUMillis, 0),
				MemoryBytes: max(p.Resources.MemoryBytes, 0),
				GPUs:        max(p.Resources.GPUs, 0),
			},
			eff:      cfg.EffectivePriority(p, now),
			starving: cfg.Starving(p, now),
			dup:      count[p.JobID] > 1,
		})
	}
	// Entries that compare equal here share a JobID and so are duplicates,
	// which all come out the same; the order among them does not show.
	slices.SortFunc(queue, func(a, b *entry) int {
		return cmp.Or(
			cmp.Compare(b.eff, a.eff),
			a.p.QueuedAt.Compare(b.p.QueuedAt),
			cmp.Compare(a.p.JobID, b.p.JobID),
		)
	})
	return queue
}

// filter sets aside jobs that are not to be placed now, whatever the nodes.
func filter(e *entry, now time.Time) (Unplaced, bool) {
	switch {
	case e.dup:
		return Unplaced{e.p.JobID, CauseDuplicate, "job ID " + e.p.JobID + " appears more than once among the pending jobs"}, true
	case e.p.NotBefore != nil && e.p.NotBefore.After(now):
		return Unplaced{e.p.JobID, CauseNotBefore, "waiting for not_before " + e.p.NotBefore.UTC().Format(time.RFC3339)}, true
	}
	return Unplaced{}, false
}

// eligible reports whether s may take e at all: it is ready and matches e's
// selector.
func (s *slot) eligible(e *entry) bool {
	if !s.ready {
		return false
	}
	for _, kv := range e.sel {
		if got, ok := s.labels[kv[0]]; !ok || got != kv[1] {
			return false
		}
	}
	return true
}

// bestFit returns the eligible slot other than held with room for e that is
// left with the fewest free GPUs, then the least free CPU, then the least
// free memory, or nil if none has room; with carbon, the slot with the
// lowest known grams per CPU-second comes first. Slots are sorted by ID, so
// the first of equals wins.
func bestFit(slots []*slot, e *entry, held *slot, carbon bool) *slot {
	var best *slot
	for _, s := range slots {
		if s == held || !e.req.Fits(s.free) || !s.eligible(e) {
			continue
		}
		if best == nil || cmp.Or(
			greener(carbon, s.grams, best.grams),
			cmp.Compare(s.free.GPUs, best.free.GPUs),
			cmp.Compare(s.free.CPUMillis, best.free.CPUMillis),
			cmp.Compare(s.free.MemoryBytes, best.free.MemoryBytes),
		) < 0 {
			best = s
		}
	}
	return best
}

// greener orders two nodes' grams per CPU-second, known before unknown,
// lower first; 0 when carbon is off or they are equal.
func greener(carbon bool, a, b float64) int {
	switch {
	case !carbon || a == b:
		return 0
	case a > 0 && b > 0:
		return cmp.Compare(a, b)
	case a > 0:
		return -1
	case b > 0:
		return 1
	}
	return 0
}

// take gives e room on s: the lowest free GPU indices first.
func (s *slot) take(e *entry) Assignment {
	a := Assignment{JobID: e.p.JobID, NodeID: s.id}
	if n := e.req.GPUs; n > 0 {
		a.GPUIndices = slices.Clone(s.freeGPUs[:n])
		s.freeGPUs = s.freeGPUs[n:]
	}
	s.free = s.free.Sub(e.req)
	return a
}
