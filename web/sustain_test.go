package web

import (
	"strconv"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// sustainFixture is what seedSustain stored.
type sustainFixture struct {
	node     joule.Node
	jobs     []joule.Job // acme's, oldest first
	baseline joule.Baseline
	target   joule.Target
	// kwh is acme's job energy per UTC day, by day.
	kwh map[time.Time]float64
	// measuredJ and totalJ are acme's job joules since sinceSeed.
	measuredJ, totalJ float64
	// platform is a token secret of an admin of the default workspace.
	platform string
}

// sinceSeed is the first day of seedSustain's history.
var sinceSeed = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)

// seedSustain stores a history from 2025-12-01 to now: one finished job of
// acme a day on node a100-01, two hours long at a power that falls 0.2 % a
// day from 400 W (even days at 02:00 measured by NVML, odd days at 14:00
// estimated, so that day jobs could have waited for the night), one
// job of the other workspace a week, hourly job and node rollups (the node
// draws 60 W idle), PUE 1.25, 300 gCO2e/kWh at night and 450 by day, and a
// price of 0.25 EUR/kWh. Then a baseline of December 2025's energy and a
// target "cut-energy" of −10 % by 2026-06-30, evaluated at now (so its
// history has one entry).
func seedSustain(t testing.TB, f *fixture) sustainFixture {
	t.Helper()
	ctx := t.Context()
	sf := sustainFixture{kwh: map[time.Time]float64{}}
	var err error
	sf.node, err = f.store.UpsertNode(ctx, joule.Node{ID: joule.NewID("node", now), Name: "a100-01", Hostname: "a100-01", CPUCores: 16, MemoryBytes: 64 << 30,
		State: joule.NodeReady, CreatedAt: sinceSeed, LastHeartbeat: now})
	if err != nil {
		t.Fatal(err)
	}
	intensity := func(h time.Time) float64 {
		if h.Hour() < 7 || h.Hour() >= 19 {
			return 300
		}
		return 450
	}
	const pue, price = 1.25, 0.25
	var rows []joule.EnergyRollup
	busy := map[time.Time]float64{}
	mkRow := func(scope string, entity, ws string, h time.Time, joules float64, method string) joule.EnergyRollup {
		fkwh := joules * pue / 3.6e6
		r := joule.EnergyRollup{Scope: scope, Width: time.Hour, NodeID: sf.node.ID, Entity: entity, Start: h, Seconds: 3600, Method: method,
			PUEJoules: joules * pue, EmissionsG: fkwh * intensity(h), IntensitySource: "static table", EnergyCost: fkwh * price, Currency: "EUR"}
		if scope == joule.RollupJob {
			r.WorkspaceID, r.Attempt = ws, 1
		}
		if method == "measured:nvml" {
			r.MeasuredJoules = joules
		} else {
			r.EstimatedJoules = joules
		}
		return r
	}
	job := func(ws joule.Workspace, name string, start time.Time, watts float64, method string) joule.Job {
		end := start.Add(2 * time.Hour)
		j := joule.Job{ID: joule.NewID("job", start), WorkspaceID: ws.ID, State: joule.JobSucceeded, NodeID: sf.node.ID, Attempts: 1,
			Spec:      joule.JobSpec{Name: name, Command: []string{"true"}}.WithDefaults(),
			CreatedAt: start, UpdatedAt: end, StartedAt: ptr(start), FinishedAt: ptr(end), ExitCode: ptr(0),
			Energy: &joule.JobEnergy{Joules: watts * 7200, PUE: pue, Method: method}}
		if err := f.store.CreateJob(ctx, j, nil); err != nil {
			t.Fatalf("create job: %v", err)
		}
		for k := range 2 {
			h := start.Add(time.Duration(k) * time.Hour)
			rows = append(rows, mkRow(joule.RollupJob, j.ID, ws.ID, h, watts*3600, method))
			busy[h] += watts * 3600
		}
		return j
	}
	end := now.Truncate(time.Hour)
	for day, i := sinceSeed, 0; day.Add(16 * time.Hour).Before(end); day, i = day.AddDate(0, 0, 1), i+1 {
		watts := 400 * (1 - 0.002*float64(i))
		method, start := "estimated:tdp-curve@1", day.Add(14*time.Hour)
		if i%2 == 0 {
			method, start = "measured:nvml", day.Add(2*time.Hour)
		}
		sf.jobs = append(sf.jobs, job(f.acme, "train-"+strconv.Itoa(i), start, watts, method))
		sf.kwh[day] += watts * 7200 / 3.6e6
		sf.totalJ += watts * 7200
		if i%2 == 0 {
			sf.measuredJ += watts * 7200
		}
		if i%7 == 3 {
			job(f.other, "other-"+strconv.Itoa(i), day.Add(2*time.Hour), 900, "estimated:tdp-curve@1")
		}
	}
	for h := sinceSeed; h.Before(end); h = h.Add(time.Hour) {
		rows = append(rows, mkRow(joule.RollupNode, "gpu-0", "", h, 60*3600+busy[h], "estimated:tdp-curve@1"))
	}
	if err := f.store.AddEnergyRollups(ctx, rows); err != nil {
		t.Fatalf("add rollups: %v", err)
	}

	// A baseline of December and a target against it, as the API makes them.
	d, err := sustain.Load(ctx, f.store, f.acme.ID, sinceSeed, sinceSeed.AddDate(0, 1, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	sf.baseline, err = sustain.MakeBaseline(d, "2025-12", joule.IndEnergyKWh, "")
	if err != nil {
		t.Fatal(err)
	}
	sf.baseline.ID, sf.baseline.WorkspaceID, sf.baseline.CreatedAt = joule.NewID("bl", now), f.acme.ID, now.Add(-time.Hour)
	if err := f.store.CreateBaseline(ctx, sf.baseline); err != nil {
		t.Fatal(err)
	}
	sf.target, err = sustain.MakeTarget(joule.Target{ID: joule.NewID("tgt", now), WorkspaceID: f.acme.ID, Name: "cut-energy", ReductionPct: 10,
		Due: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), CreatedAt: now.Add(-time.Hour)}, sf.baseline)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateTarget(ctx, sf.target); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := sustain.EvaluateTarget(ctx, f.store, sf.target, now.Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}

	// An admin of the default workspace administers the installation.
	def := joule.Workspace{ID: joule.NewID("ws", now), Name: joule.DefaultWorkspace, CreatedAt: now.Add(-2 * time.Hour)}
	if err := f.store.CreateWorkspace(ctx, def); err != nil {
		t.Fatal(err)
	}
	_, sf.platform = mustCreateToken(t, f.store, def, "root", joule.RoleAdmin)
	return sf
}
