package httpapi_test

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// seedEnergy stores a job in the default workspace with two minutes of
// rollups, one job of another workspace, and the node's own rows.
func seedEnergy(t *testing.T, e *env, at time.Time) (jobID string) {
	t.Helper()
	ctx := t.Context()
	def, _ := e.store.GetWorkspace(ctx, joule.DefaultWorkspace)
	other, _ := e.store.GetWorkspace(ctx, "other")
	j := joule.Job{ID: joule.NewID("job", at), WorkspaceID: def.ID, Spec: joule.JobSpec{Name: "train"}, State: joule.JobSucceeded, CreatedAt: at, UpdatedAt: at}
	if err := e.store.CreateJob(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	row := func(scope, ws, entity string, start time.Time, joules float64) joule.EnergyRollup {
		return joule.EnergyRollup{Scope: scope, Width: time.Minute, NodeID: e.node.ID, Entity: entity, WorkspaceID: ws, Attempt: 1,
			Start: start, Seconds: 60, EstimatedJoules: joules, Method: "estimated:tdp-curve@1", PUEJoules: joules * 1.5,
			EmissionsG: joules / 3.6e6 * 1.5 * 400, IntensitySource: "static:test", EnergyCost: 0.01, Currency: "EUR"}
	}
	rows := []joule.EnergyRollup{
		row(joule.RollupJob, def.ID, j.ID, at, 600),
		row(joule.RollupJob, def.ID, j.ID, at.Add(time.Minute), 1200),
		row(joule.RollupJob, other.ID, "job_elsewhere", at, 999),
		row(joule.RollupNode, "", "cpu", at, 3000),
		row(joule.RollupNode, "", "cpu", at.Add(time.Minute), 3600),
	}
	if err := e.store.AddEnergyRollups(ctx, rows); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func TestEnergyReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	jobID := seedEnergy(t, e, at)
	period := "?since=" + at.Add(-time.Minute).Format(time.RFC3339) + "&until=" + at.Add(5*time.Minute).Format(time.RFC3339)

	get := func(path, token string, want int) httpapi.EnergyReport {
		t.Helper()
		code, body := e.do(t, "GET", path, token, "")
		if code != want {
			t.Fatalf("GET %s = %d %s, want %d", path, code, body, want)
		}
		var rep httpapi.EnergyReport
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatal(err)
			}
		}
		return rep
	}
	rep := get("/v1/workspaces/default/energy/report"+period+"&by=job", e.viewer, 200)
	if len(rep.Lines) != 1 || rep.Lines[0].Key != jobID || rep.Lines[0].Name != "train" || rep.Resolution != "1m" {
		t.Fatalf("by job = %+v, want the workspace's one job (not the other workspace's) at 1m", rep)
	}
	l := rep.Lines[0]
	if l.Joules != 1800 || l.EstimatedJoules != 1800 || l.MeasuredJoules != 0 || l.Method != "estimated:tdp-curve@1" ||
		math.Abs(l.IntensityGPerKWh-400) > 1e-9 || math.Abs(l.PUE-1.5) > 1e-12 || math.Abs(l.Cost-0.02) > 1e-12 || l.Currency != "EUR" {
		t.Errorf("job line = %+v, want 1800 J estimated at 400 g/kWh, PUE 1.5, 0.02 EUR", l)
	}
	if want := 1800 / 3.6e6 * 1.5 * 400; math.Abs(l.EmissionsG-want) > 1e-12 || rep.Total.Joules != 1800 {
		t.Errorf("emissions %v, total %v; want %v g and 1800 J", l.EmissionsG, rep.Total.Joules, want)
	}
	// Only the first minute.
	one := "?since=" + at.Format(time.RFC3339) + "&until=" + at.Add(30*time.Second).Format(time.RFC3339)
	if rep := get("/v1/workspaces/default/energy/report"+one, e.viewer, 200); rep.Total.Joules != 600 {
		t.Errorf("first minute total = %v, want 600", rep.Total.Joules)
	}
	if rep := get("/v1/workspaces/default/energy/report"+period+"&by=workspace", e.viewer, 200); len(rep.Lines) != 1 || rep.Lines[0].Name != "default" || rep.Lines[0].Joules != 1800 {
		t.Errorf("by workspace = %+v", rep.Lines)
	}
	// Nodes: admins of the default workspace only.
	get("/v1/workspaces/default/energy/report"+period+"&by=node", e.viewer, 403)
	rep = get("/v1/workspaces/default/energy/report"+period+"&by=node", e.admin, 200)
	if len(rep.Lines) != 1 || rep.Lines[0].Name != "node-a" || rep.Lines[0].Joules != 6600 || rep.Scope != "node" {
		t.Errorf("by node = %+v, want node-a with 6600 J of whole-node energy", rep)
	}
	if rep := get("/v1/workspaces/default/energy/report"+period+"&resolution=1h", e.viewer, 200); rep.Resolution != "1h" || len(rep.Lines) != 0 {
		t.Errorf("1h report = %+v, want no lines (only minute rows were stored)", rep)
	}
	for _, bad := range []struct{ q, field string }{
		{"?by=rack", "by"}, {"?since=yesterday", "since"}, {"?resolution=5m", "resolution"},
		{"?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
	} {
		code, body := e.do(t, "GET", "/v1/workspaces/default/energy/report"+bad.q, e.viewer, "")
		if c, msg := errorShape(t, body); code != 400 || c != joule.EINVALID || msg[:len(bad.field)] != bad.field {
			t.Errorf("GET report%s = %d %s %q, want 400 naming %s", bad.q, code, c, msg, bad.field)
		}
	}

	code, body := e.do(t, "GET", "/v1/energy/nodes"+period, e.viewer, "")
	var nodes []httpapi.NodePower
	if code != 200 || json.Unmarshal(body, &nodes) != nil || len(nodes) != 1 {
		t.Fatalf("GET /v1/energy/nodes = %d %s", code, body)
	}
	n := nodes[0]
	if len(n.Components) != 1 || n.Components[0].MeanWatts != 6600.0/120 || len(n.Series) != 2 || n.Series[1].Watts != 60 ||
		math.Abs(n.Series[0].IntensityGPerKWh-400) > 1e-9 {
		t.Errorf("node power = %+v, want cpu at 55 W mean, two minutes (50 W, 60 W) at 400 g/kWh", n)
	}
}
