package sim_test

import (
	"testing"
	"time"

	"github.com/joule-dev/joule/internal/scheduler"
	"github.com/joule-dev/joule/internal/sim"
)

// TestConsolidationFourNodesAt30Percent is the consolidation acceptance
// case: 4 nodes at 30 % load for a week. Packing plus the power policy puts
// idle nodes to sleep; the result reports idle node-hours and the energy the
// power-state hooks save against the same cluster always on, under the
// stated power assumptions.
func TestConsolidationFourNodesAt30Percent(t *testing.T) {
	t.Parallel()
	jobs := sim.ClusterLoad(1, 4, 8, 0.3, 7*24*time.Hour, 30*time.Minute)
	base := sim.ClusterConfig{Nodes: 4, Cores: 8, IdleWatts: 100, SleepWatts: 5, CoreWatts: 10}
	on, err := sim.SimulateCluster(base, jobs)
	if err != nil {
		t.Fatal(err)
	}
	managed := base
	managed.Power = &scheduler.PowerPolicy{IdleAfter: 10 * time.Minute, MinDwell: 30 * time.Minute, MinAwake: 1}
	off, err := sim.SimulateCluster(managed, jobs)
	if err != nil {
		t.Fatal(err)
	}
	saved := on.EnergyKWh - off.EnergyKWh
	t.Logf("%d jobs, utilisation %.1f%%", on.Jobs, 100*on.Utilisation)
	t.Logf("always on:   idle %.1f node-h, busy %.1f node-h, %.2f kWh, mean wait %s", on.IdleNodeHours, on.BusyNodeHours, on.EnergyKWh, on.MeanWait)
	t.Logf("power hooks: idle %.1f node-h, asleep %.1f node-h, waking %.1f node-h, %.2f kWh, %d sleeps, %d wakes, mean wait %s (max %s), shortest awake before sleeping again %s",
		off.IdleNodeHours, off.AsleepNodeHours, off.WakingNodeHours, off.EnergyKWh, off.Sleeps, off.Wakes, off.MeanWait, off.MaxWait, off.ShortestAwake)
	t.Logf("saved %.2f kWh (%.1f%%)", saved, 100*saved/on.EnergyKWh)
	if u := on.Utilisation; u < 0.25 || u > 0.35 {
		t.Errorf("utilisation %.3f, want about 0.30", u)
	}
	if on.AsleepNodeHours != 0 || on.Sleeps != 0 || on.IdleNodeHours <= 0 {
		t.Errorf("always-on run: %+v", on)
	}
	if off.AsleepNodeHours <= 0 || saved <= 0 || off.Sleeps == 0 || off.Wakes == 0 {
		t.Fatalf("managed run saved nothing: %+v", off)
	}
	// The saving is the sleeping hours at (idle − sleep) power, less the
	// idle power drawn while waking: energy balances exactly.
	want := off.AsleepNodeHours * (100 - 5) / 1000 // waking draws idle power, as idle would
	if d := saved - want; d > 1e-9 || d < -1e-9 {
		t.Errorf("saved %.6f kWh, want asleep hours × (idle − sleep) = %.6f", saved, want)
	}
	if off.ShortestAwake != 0 && off.ShortestAwake < 30*time.Minute {
		t.Errorf("a node slept again after %s awake, under the 30 min dwell", off.ShortestAwake)
	}
	if off.BusyNodeHours < on.BusyNodeHours*0.5 {
		t.Errorf("busy node-hours %.1f vs %.1f: work went missing", off.BusyNodeHours, on.BusyNodeHours)
	}
}
