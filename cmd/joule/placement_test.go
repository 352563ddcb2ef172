package main

import (
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/sqlite"
)

// TestGreenPlacerEfficiency: a node's efficiency is its last jobs' energy
// over their CPU time; a node without history takes the fleet's median; a
// node's grams per CPU-second is its zone's intensity × efficiency × PUE.
func TestGreenPlacerEfficiency(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", t0), Name: "team", CreatedAt: t0}
	if err := st.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	// Two finished jobs on node_a: 30 J over 2 CPU-s and 50 J over 3 CPU-s.
	for i, e := range []struct{ joules, cpu float64 }{{30, 2}, {50, 3}} {
		fin := t0.Add(time.Duration(i+1) * time.Minute)
		j := joule.Job{ID: joule.NewID("job", t0.Add(time.Duration(i)*time.Second)), WorkspaceID: ws.ID, Spec: joule.JobSpec{Name: "j"},
			State: joule.JobSucceeded, NodeID: "node_a", Attempts: 1, CreatedAt: t0, UpdatedAt: fin, FinishedAt: &fin}
		if err := st.CreateJob(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.PutAttempt(ctx, joule.Attempt{JobID: j.ID, N: 1, NodeID: "node_a", State: joule.JobSucceeded, StartedAt: t0, FinishedAt: &fin,
			CPUUserSec: e.cpu, Energy: &joule.JobEnergy{Joules: e.joules, EstimatedJoules: e.joules, Method: "estimated:tdp-curve@1"}}); err != nil {
			t.Fatal(err)
		}
	}
	g := &greenPlacer{store: st, pue: 1.5, logger: slog.New(slog.DiscardHandler), now: func() time.Time { return t0 },
		lookups: map[string]*carbon.Lookup{}, eff: map[string]effEntry{}}
	if e := g.efficiency(ctx, "node_a"); math.Abs(e-16) > 1e-12 {
		t.Errorf("node_a: %v J per CPU-second, want 80 J / 5 s = 16", e)
	}
	if e := g.efficiency(ctx, "node_b"); math.Abs(e-16) > 1e-12 {
		t.Errorf("node_b without history: %v, want the fleet median 16", e)
	}
	n := joule.Node{ID: "node_a", Name: "a", Labels: map[string]string{ZoneLabel: "DE"}}
	got := g.gramsPerCPUSecond(ctx, n)
	de, err := carbon.DefaultStatic().Lookup("DE")
	if err != nil {
		t.Fatal(err)
	}
	if want := de.GramsPerKWh * 16 * 1.5 / 3.6e6; math.Abs(got-want) > 1e-12*want {
		t.Errorf("grams per CPU-second %v, want DE's %v g/kWh × 16 J × 1.5 / 3.6e6 = %v", got, de.GramsPerKWh, want)
	}
	if got := g.gramsPerCPUSecond(ctx, joule.Node{ID: "node_c"}); got != 0 {
		t.Errorf("a node without a zone: %v, want 0 (unknown)", got)
	}
}
