package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// deploymentTests are Run's subtests of joule.DeploymentStore.
var deploymentTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"Deployments", testDeployments},
	{"DeploymentEvents", testDeploymentEvents},
}

func testDeployment(wsID, name string, i int) joule.Deployment {
	return joule.Deployment{
		ID: idAt("dep", i), WorkspaceID: wsID, Name: name, ModelID: "mdl_1", Model: "credit", ModelVersion: 2,
		MinReplicas: 0, MaxReplicas: 4, TargetConcurrency: 8,
		IdleTimeout: joule.Duration(5 * time.Minute), ColdStartTimeout: joule.Duration(30 * time.Second),
		RateLimit: 100, BodyLimit: 1 << 20, MaxBatch: 1000, Public: true,
		CreatedAt: stored(base), UpdatedAt: stored(base), CreatedBy: "tok_1",
	}
}

func mustCreateDeployment(t *testing.T, s joule.Store, wsID, name string, i int) joule.Deployment {
	t.Helper()
	d := testDeployment(wsID, name, i)
	if err := s.CreateDeployment(t.Context(), d); err != nil {
		t.Fatalf("CreateDeployment(%q): %v", name, err)
	}
	return d
}

func testDeployments(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "serve")
	other := mustCreateWorkspace(t, s, "other")
	d := mustCreateDeployment(t, s, ws.ID, "credit", 1)
	mustCreateDeployment(t, s, other.ID, "credit", 2) // names are per workspace

	for _, ref := range []string{d.ID, "credit"} {
		got, err := s.GetDeployment(ctx, ws.ID, ref)
		if err != nil {
			t.Fatalf("GetDeployment(%q): %v", ref, err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("GetDeployment(%q) (-want +got):\n%s", ref, diff)
		}
	}
	_, err := s.GetDeployment(ctx, other.ID, d.ID)
	wantCode(t, "GetDeployment of another workspace", err, joule.ENOTFOUND)
	wantCode(t, "CreateDeployment with a taken name", s.CreateDeployment(ctx, testDeployment(ws.ID, "credit", 3)), joule.ECONFLICT)
	taken := testDeployment(ws.ID, "fresh", 1)
	taken.ID = d.ID
	wantCode(t, "CreateDeployment with a taken ID", s.CreateDeployment(ctx, taken), joule.ECONFLICT)
	wantCode(t, "CreateDeployment in a missing workspace", s.CreateDeployment(ctx, testDeployment("ws_missing", "x", 4)), joule.ENOTFOUND)
	wantCode(t, "CreateDeployment without ID", s.CreateDeployment(ctx, joule.Deployment{WorkspaceID: ws.ID, Name: "noid"}), joule.EINVALID)

	// A status is live state: it is never stored.
	up := d
	up.MinReplicas, up.MaxReplicas, up.Name = 1, 8, "renamed"
	up.UpdatedAt = stored(base.Add(time.Hour))
	up.Status = &joule.DeploymentStatus{Replicas: 3}
	if err := s.UpdateDeployment(ctx, up); err != nil {
		t.Fatalf("UpdateDeployment: %v", err)
	}
	got, err := s.GetDeployment(ctx, ws.ID, "credit")
	if err != nil {
		t.Fatalf("GetDeployment after update: %v", err)
	}
	want := up
	want.Name, want.Status = "credit", nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateDeployment (-want +got):\n%s", diff)
	}
	wantCode(t, "UpdateDeployment of a missing one", s.UpdateDeployment(ctx, testDeployment(ws.ID, "x", 99)), joule.ENOTFOUND)

	for i := 5; i < 10; i++ {
		mustCreateDeployment(t, s, ws.ID, "dep-"+string(rune('a'+i)), i)
	}
	all := listAll(t, "ListDeployments", 2, func(c string) ([]joule.Deployment, string, error) {
		return s.ListDeployments(ctx, ws.ID, joule.ListOptions{Limit: 2, Cursor: c})
	})
	if len(all) != 6 {
		t.Errorf("ListDeployments: %d deployments, want 6", len(all))
	}
	every := listAll(t, "ListDeployments of every workspace", 3, func(c string) ([]joule.Deployment, string, error) {
		return s.ListDeployments(ctx, "", joule.ListOptions{Limit: 3, Cursor: c})
	})
	if len(every) != 7 {
		t.Errorf("ListDeployments(\"\"): %d deployments, want 7", len(every))
	}

	wantCode(t, "DeleteDeployment from another workspace", s.DeleteDeployment(ctx, other.ID, d.ID), joule.ENOTFOUND)
	if err := s.DeleteDeployment(ctx, ws.ID, d.ID); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	_, err = s.GetDeployment(ctx, ws.ID, d.ID)
	wantCode(t, "GetDeployment after delete", err, joule.ENOTFOUND)
	wantCode(t, "DeleteDeployment twice", s.DeleteDeployment(ctx, ws.ID, d.ID), joule.ENOTFOUND)
}

func testDeploymentEvents(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "serve")
	d := mustCreateDeployment(t, s, ws.ID, "credit", 1)
	other := mustCreateDeployment(t, s, ws.ID, "other", 2)
	var want []joule.DeploymentEvent
	for i := range 5 {
		e := joule.DeploymentEvent{ID: idAt("dev", i+1), DeploymentID: d.ID, WorkspaceID: ws.ID, Time: stored(base.Add(time.Duration(i) * time.Second)),
			Kind: joule.DeploymentScale, From: i, To: i + 1, Reason: "in flight 9 > target 8 × replicas"}
		if err := s.AppendDeploymentEvent(ctx, e); err != nil {
			t.Fatalf("AppendDeploymentEvent(%d): %v", i, err)
		}
		want = append(want, e)
	}
	if err := s.AppendDeploymentEvent(ctx, joule.DeploymentEvent{ID: idAt("dev", 9), DeploymentID: other.ID, Time: base, Kind: joule.DeploymentCreated}); err != nil {
		t.Fatalf("AppendDeploymentEvent(other): %v", err)
	}
	got := listAll(t, "ListDeploymentEvents", 2, func(c string) ([]joule.DeploymentEvent, string, error) {
		return s.ListDeploymentEvents(ctx, d.ID, joule.ListOptions{Limit: 2, Cursor: c})
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListDeploymentEvents (-want +got):\n%s", diff)
	}
	wantCode(t, "AppendDeploymentEvent of a missing deployment",
		s.AppendDeploymentEvent(ctx, joule.DeploymentEvent{ID: idAt("dev", 20), DeploymentID: "dep_missing", Time: base}), joule.ENOTFOUND)
	wantCode(t, "AppendDeploymentEvent without ID",
		s.AppendDeploymentEvent(ctx, joule.DeploymentEvent{DeploymentID: d.ID, Time: base}), joule.EINVALID)
	if err := s.DeleteDeployment(ctx, ws.ID, d.ID); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	es, _, err := s.ListDeploymentEvents(ctx, d.ID, joule.ListOptions{})
	if err != nil || len(es) != 0 {
		t.Errorf("events after delete = %d, %v; want none", len(es), err)
	}
}
