package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/cli"
)

// Carbon-aware placement across grid zones (joule up --prefer-green-nodes).
// A node's expected emissions per CPU-second are its zone's intensity now
// (the label joule.dev/carbon-zone, set by --carbon-zone on that node)
// × its measured efficiency in joules per CPU-second, from its last
// successful jobs' accounted energy and CPU time, × PUE. A node with no
// history yet is taken at the median efficiency of the nodes that have
// one (or 1 J per CPU-second when none has), so it is compared by its
// grid alone; a node without a zone is unknown and comes after the others.

// ZoneLabel is the node label that names its grid zone.
const ZoneLabel = "joule.dev/carbon-zone"

type greenPlacer struct {
	store  joule.Store
	energy cli.EnergyConfig
	pue    float64
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	lookups map[string]*carbon.Lookup
	eff     map[string]effEntry // node ID → joules per CPU-second
}

type effEntry struct {
	jPerCPUs float64 // 0: no history
	at       time.Time
}

// efficiencyTTL is how long a node's measured efficiency is reused.
const efficiencyTTL = 10 * time.Minute

func (g *greenPlacer) gramsPerCPUSecond(ctx context.Context, n joule.Node) float64 {
	zone := n.Labels[ZoneLabel]
	if zone == "" {
		return 0
	}
	g.mu.Lock()
	l := g.lookups[zone]
	if l == nil {
		var err error
		if l, err = carbonLookup(g.energy, zone, g.logger); err != nil {
			g.mu.Unlock()
			g.logger.Warn("no carbon lookup for a node's zone", "node", n.Name, "zone", zone, "err", err)
			return 0
		}
		g.lookups[zone] = l
	}
	g.mu.Unlock()
	in := l.At(ctx, g.now())
	if !(in.GramsPerKWh > 0) {
		return 0
	}
	return in.GramsPerKWh * g.efficiency(ctx, n.ID) * g.pue / 3.6e6
}

// efficiency returns the node's joules per CPU-second, or the fleet's
// median when it has no history.
func (g *greenPlacer) efficiency(ctx context.Context, nodeID string) float64 {
	g.mu.Lock()
	e, ok := g.eff[nodeID]
	g.mu.Unlock()
	if !ok || g.now().Sub(e.at) > efficiencyTTL {
		e = effEntry{jPerCPUs: g.measure(ctx, nodeID), at: g.now()}
		g.mu.Lock()
		g.eff[nodeID] = e
		g.mu.Unlock()
	}
	if e.jPerCPUs > 0 {
		return e.jPerCPUs
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var known []float64
	for _, o := range g.eff {
		if o.jPerCPUs > 0 {
			known = append(known, o.jPerCPUs)
		}
	}
	if len(known) == 0 {
		return 1
	}
	slices.Sort(known)
	return known[len(known)/2]
}

// measure sums the accounted energy and CPU time of the node's last 20
// successful jobs' attempts on it.
func (g *greenPlacer) measure(ctx context.Context, nodeID string) float64 {
	js, _, err := g.store.ListJobs(ctx, joule.JobFilter{NodeID: nodeID, States: []joule.JobState{joule.JobSucceeded}, Newest: true,
		ListOptions: joule.ListOptions{Limit: 20}})
	if err != nil {
		g.logger.Warn("node efficiency", "node_id", nodeID, "err", err)
		return 0
	}
	var joules, cpu float64
	for _, j := range js {
		as, err := g.store.ListAttempts(ctx, j.ID)
		if err != nil {
			continue
		}
		for _, a := range as {
			if a.NodeID == nodeID && a.Energy != nil && a.CPUUserSec+a.CPUSysSec > 0 {
				joules += a.Energy.Joules
				cpu += a.CPUUserSec + a.CPUSysSec
			}
		}
	}
	if cpu <= 0 {
		return 0
	}
	return joules / cpu
}
