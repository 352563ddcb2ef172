package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/sqlite"
)

// BenchmarkEnergyFlush measures one 10 s flush of the energy-storage write
// path on SQLite with 100 running jobs: the node's ten 1 s intervals of two
// components stored as raw samples and added to its per-minute and hourly
// rollups (powerSampler.record), plus, as if every job's attempt ended in
// that flush, each of the 100 jobs' per-minute and hourly rollups for the
// same ten seconds (what the accountant writes when an attempt ends). Real
// flushes write the job rows only when attempts end, so this is an upper
// bound.
func BenchmarkEnergyFlush(b *testing.B) {
	b.Run("node", func(b *testing.B) { benchFlush(b, false) })
	b.Run("node+100jobs", func(b *testing.B) { benchFlush(b, true) })
}

func benchFlush(b *testing.B, withJobs bool) {
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "joule.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := energy.AccountConfig{PUE: 1.2, Intensity: func(time.Time) (float64, string) { return 400, "static: DE 2023" }}
	p := &powerSampler{store: store, nodeID: "node_1", account: cfg, logger: slog.New(slog.DiscardHandler)}
	const jobs = 100
	ids := make([]string, jobs)
	usage := map[string][]joule.UsageSample{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range ids {
		ids[i] = fmt.Sprintf("job_%03d", i)
	}
	flush := 0
	for b.Loop() {
		start := t0.Add(time.Duration(flush) * 10 * time.Second)
		flush++
		var nodes []energy.NodeInterval
		for s := range 10 {
			end := start.Add(time.Duration(s+1) * time.Second)
			nodes = append(nodes, energy.NodeInterval{Start: end.Add(-time.Second), End: end, CPUSeconds: 2,
				CPU: []energy.ComponentEnergy{{Component: "cpu", Joules: 40, IdleWatts: 8, Method: "estimated:tdp-curve@1"}, {Component: "memory", Joules: 3, Method: "estimated:tdp-curve@1"}}})
		}
		p.pending = nodes
		p.record(b.Context())
		if !withJobs {
			continue
		}
		for i, id := range ids {
			usage[id] = []joule.UsageSample{{Time: start, CPUUserSec: float64(i)}, {Time: start.Add(10 * time.Second), CPUUserSec: float64(i) + 0.02*10}}
		}
		attrs := energy.AttributeSeries(nodes, usage, nil, energy.IdleSeparate)
		byJob := map[string][]energy.Entry{}
		for _, a := range attrs {
			for _, e := range energy.Account(cfg, a) {
				byJob[e.Entity] = append(byJob[e.Entity], e)
			}
		}
		for _, id := range ids {
			rows := energy.StoreRollups(energy.RollupKey{Scope: joule.RollupJob, NodeID: "node_1", WorkspaceID: "ws_1", Attempt: 1}, byJob[id])
			if err := store.AddEnergyRollups(b.Context(), rows); err != nil {
				b.Fatal(err)
			}
		}
	}
}
