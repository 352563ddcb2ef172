package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

// Consolidation: a cluster of identical nodes replayed minute by minute.
// Jobs are placed by scheduler.Place, the live dispatcher's placement (best
// fit, which packs work onto as few nodes as it can), and, with a power
// policy, idle nodes are put to sleep and woken by scheduler.PowerPolicy,
// the same hysteresis the live dispatcher applies. The power figures are
// assumptions the caller states (ClusterConfig), not measurements.

// ClusterConfig is one consolidation simulation.
type ClusterConfig struct {
	Nodes int // identical nodes
	Cores int // CPU cores per node
	// Step is the simulation step; zero means one minute.
	Step time.Duration
	// Power, when set, puts idle nodes to sleep; nil keeps every node
	// awake (the comparison).
	Power *scheduler.PowerPolicy
	// WakeDelay is how long a woken node takes before it accepts work;
	// it draws idle power meanwhile. Zero means two minutes.
	WakeDelay time.Duration
	// Assumed power: a node's idle draw, its draw asleep, and the extra
	// draw of each busy core.
	IdleWatts, SleepWatts, CoreWatts float64
}

// ClusterJob is one job of a consolidation workload.
type ClusterJob struct {
	Arrival  time.Duration // from the start of the simulation
	Duration time.Duration
	Cores    int
}

// ClusterResult sums a consolidation run.
type ClusterResult struct {
	Jobs int
	// Node-hours by state: busy (a job placed), idle (awake, no job),
	// waking, and asleep.
	BusyNodeHours, IdleNodeHours, WakingNodeHours, AsleepNodeHours float64
	EnergyKWh                                                      float64
	Sleeps, Wakes                                                  int
	MeanWait, MaxWait                                              time.Duration
	// ShortestAwake is the shortest time a node stayed awake before it
	// was put to sleep again (the dwell the policy kept); zero when no
	// node slept twice.
	ShortestAwake time.Duration
	Utilisation   float64 // busy core-hours ÷ total core-hours
}

type clusterNode struct {
	id        string
	asleep    bool
	wakeAt    time.Duration // > now while waking
	since     time.Duration // entered its power state
	idleSince time.Duration // −1 while it has a job
	usedCores int
	wokeAt    time.Duration // last wake, for ShortestAwake; −1 if never woken
}

// SimulateCluster replays jobs (in any order) on the cluster until every
// job has ended.
func SimulateCluster(cfg ClusterConfig, jobs []ClusterJob) (ClusterResult, error) {
	if cfg.Nodes < 1 || cfg.Cores < 1 {
		return ClusterResult{}, fmt.Errorf("sim: cluster of %d nodes × %d cores: want at least one of each", cfg.Nodes, cfg.Cores)
	}
	if cfg.Step <= 0 {
		cfg.Step = time.Minute
	}
	if cfg.WakeDelay <= 0 {
		cfg.WakeDelay = 2 * time.Minute
	}
	for i, j := range jobs {
		if j.Cores < 1 || j.Cores > cfg.Cores || j.Duration <= 0 || j.Arrival < 0 {
			return ClusterResult{}, fmt.Errorf("sim: cluster job %d: %d cores for %s at %s does not fit a %d-core node", i, j.Cores, j.Duration, j.Arrival, cfg.Cores)
		}
	}
	order := slices.Clone(jobs)
	slices.SortStableFunc(order, func(a, b ClusterJob) int { return int(a.Arrival - b.Arrival) })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // Place needs wall times; any origin will do
	nodes := make([]*clusterNode, cfg.Nodes)
	for i := range nodes {
		nodes[i] = &clusterNode{id: fmt.Sprintf("node-%02d", i), idleSince: 0, wokeAt: -1}
	}
	type running struct {
		node  int
		end   time.Duration
		cores int
	}
	var (
		res     ClusterResult
		run     []running
		queue   []int // indices into order, arrival order
		next    int
		waitSum time.Duration
		started int
	)
	stepH := cfg.Step.Hours()
	for now := time.Duration(0); started < len(order) || len(run) > 0; now += cfg.Step {
		// Ended jobs free their cores.
		run = slices.DeleteFunc(run, func(r running) bool {
			if r.end > now {
				return false
			}
			nodes[r.node].usedCores -= r.cores
			return true
		})
		for next < len(order) && order[next].Arrival <= now {
			queue = append(queue, next)
			next++
		}
		for _, n := range nodes {
			if !n.asleep && n.wakeAt > 0 && n.wakeAt <= now {
				n.wakeAt = 0
			}
			switch {
			case n.usedCores > 0:
				n.idleSince = -1
			case n.idleSince < 0:
				n.idleSince = now
			}
		}
		// Place with the dispatcher's own code.
		if len(queue) > 0 {
			sn := make([]scheduler.Node, len(nodes))
			for i, n := range nodes {
				sn[i] = scheduler.Node{ID: n.id, Ready: !n.asleep && n.wakeAt == 0,
					Capacity:  joule.Resources{CPUMillis: int64(cfg.Cores) * 1000},
					Allocated: joule.Resources{CPUMillis: int64(n.usedCores) * 1000}}
			}
			ps := make([]scheduler.Pending, len(queue))
			for i, q := range queue {
				ps[i] = scheduler.Pending{JobID: strconv.Itoa(q), Priority: 5, QueuedAt: t0.Add(order[q].Arrival),
					Resources: joule.Resources{CPUMillis: int64(order[q].Cores) * 1000}}
			}
			plan := scheduler.Place(scheduler.Config{MaxAgeBoost: -1}, sn, ps, t0.Add(now))
			placed := map[int]bool{}
			for _, a := range plan.Assignments {
				q, _ := strconv.Atoi(a.JobID)
				ni := slices.IndexFunc(nodes, func(n *clusterNode) bool { return n.id == a.NodeID })
				nodes[ni].usedCores += order[q].Cores
				nodes[ni].idleSince = -1
				run = append(run, running{node: ni, end: now + order[q].Duration, cores: order[q].Cores})
				w := now - order[q].Arrival
				waitSum += w
				res.MaxWait = max(res.MaxWait, w)
				placed[q] = true
				started++
			}
			queue = slices.DeleteFunc(queue, func(q int) bool { return placed[q] })
		}
		// Power states.
		if cfg.Power != nil {
			var wantCores int
			for _, q := range queue {
				wantCores += order[q].Cores
			}
			wanted := 0
			if len(queue) > 0 {
				waking := 0
				for _, n := range nodes {
					if n.wakeAt > now {
						waking++
					}
				}
				wanted = max(int(math.Ceil(float64(wantCores)/float64(cfg.Cores)))-waking, 0)
			}
			np := make([]scheduler.NodePower, len(nodes))
			for i, n := range nodes {
				np[i] = scheduler.NodePower{ID: n.id, Asleep: n.asleep, Since: t0.Add(n.since)}
				if n.idleSince >= 0 && n.wakeAt == 0 {
					np[i].IdleSince = t0.Add(n.idleSince)
				}
			}
			for _, a := range cfg.Power.Decide(t0.Add(now), np, wanted) {
				n := nodes[slices.IndexFunc(nodes, func(n *clusterNode) bool { return n.id == a.NodeID })]
				if a.Sleep {
					if n.wokeAt >= 0 && (res.ShortestAwake == 0 || now-n.wokeAt < res.ShortestAwake) {
						res.ShortestAwake = now - n.wokeAt
					}
					n.asleep, n.since = true, now
					res.Sleeps++
				} else {
					n.asleep, n.since, n.wakeAt, n.wokeAt, n.idleSince = false, now, now+cfg.WakeDelay, now, now
					res.Wakes++
				}
			}
		}
		// Account this step.
		for _, n := range nodes {
			switch {
			case n.asleep:
				res.AsleepNodeHours += stepH
				res.EnergyKWh += cfg.SleepWatts * stepH / 1000
			case n.wakeAt > now:
				res.WakingNodeHours += stepH
				res.EnergyKWh += cfg.IdleWatts * stepH / 1000
			case n.usedCores > 0:
				res.BusyNodeHours += stepH
				res.EnergyKWh += (cfg.IdleWatts + float64(n.usedCores)*cfg.CoreWatts) * stepH / 1000
				res.Utilisation += float64(n.usedCores) * stepH
			default:
				res.IdleNodeHours += stepH
				res.EnergyKWh += cfg.IdleWatts * stepH / 1000
			}
		}
		if now > 1000*24*time.Hour {
			return ClusterResult{}, errors.New("sim: cluster simulation did not finish within 1000 days")
		}
	}
	res.Jobs = len(order)
	if res.Jobs > 0 {
		res.MeanWait = waitSum / time.Duration(res.Jobs)
	}
	if total := res.BusyNodeHours + res.IdleNodeHours + res.WakingNodeHours + res.AsleepNodeHours; total > 0 {
		res.Utilisation /= total * float64(cfg.Cores)
	}
	return res, nil
}

// ClusterLoad generates a deterministic workload for nodes × cores at
// utilisation util over span: Poisson arrivals, exponential durations of
// mean meanDuration (at least one minute), 1 to cores/2 cores each
// (uniform).
func ClusterLoad(seed uint64, nodes, cores int, util float64, span, meanDuration time.Duration) []ClusterJob {
	rng := rand.New(rand.NewPCG(seed, 7))
	maxCores := max(cores/2, 1)
	meanCores := float64(1+maxCores) / 2
	// util × nodes × cores = rate × meanDuration × meanCores
	rate := util * float64(nodes*cores) / (meanDuration.Hours() * meanCores) // jobs per hour
	var out []ClusterJob
	for t := 0.0; ; {
		t += rng.ExpFloat64() / rate
		at := time.Duration(t * float64(time.Hour))
		if at >= span {
			return out
		}
		d := max(time.Duration(rng.ExpFloat64()*float64(meanDuration)), time.Minute).Round(time.Minute)
		out = append(out, ClusterJob{Arrival: at.Round(time.Minute), Duration: d, Cores: 1 + rng.IntN(maxCores)})
	}
}
