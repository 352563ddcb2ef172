package storetest

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// modelTests are Run's subtests of joule.ModelStore.
var modelTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"Models", testModels},
	{"ModelVersions", testModelVersions},
	{"ModelStages", testModelStages},
	{"ModelVersionsConcurrent", testModelVersionsConcurrent},
}

func mustCreateModel(t *testing.T, s joule.Store, wsID, name string, i int) joule.Model {
	t.Helper()
	m := joule.Model{ID: idAt("mdl", i), WorkspaceID: wsID, Name: name, Description: "scores " + name, CreatedAt: stored(base), CreatedBy: "tok_1"}
	if err := s.CreateModel(t.Context(), m); err != nil {
		t.Fatalf("CreateModel(%q): %v", name, err)
	}
	return m
}

func testModels(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "ml")
	other := mustCreateWorkspace(t, s, "other")
	m := mustCreateModel(t, s, ws.ID, "credit", 1)
	mustCreateModel(t, s, other.ID, "credit", 2) // names are per workspace

	for _, ref := range []string{m.ID, "credit"} {
		got, err := s.GetModel(ctx, ws.ID, ref)
		if err != nil {
			t.Fatalf("GetModel(%q): %v", ref, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("GetModel(%q) (-want +got):\n%s", ref, diff)
		}
	}
	_, err := s.GetModel(ctx, other.ID, m.ID)
	wantCode(t, "GetModel of another workspace", err, joule.ENOTFOUND)
	err = s.CreateModel(ctx, joule.Model{ID: idAt("mdl", 3), WorkspaceID: ws.ID, Name: "credit", CreatedAt: base})
	wantCode(t, "CreateModel with a taken name", err, joule.ECONFLICT)
	err = s.CreateModel(ctx, joule.Model{ID: m.ID, WorkspaceID: ws.ID, Name: "fresh", CreatedAt: base})
	wantCode(t, "CreateModel with a taken ID", err, joule.ECONFLICT)
	err = s.CreateModel(ctx, joule.Model{ID: idAt("mdl", 4), WorkspaceID: "ws_missing", Name: "x", CreatedAt: base})
	wantCode(t, "CreateModel in a missing workspace", err, joule.ENOTFOUND)
	err = s.CreateModel(ctx, joule.Model{WorkspaceID: ws.ID, Name: "noid", CreatedAt: base})
	wantCode(t, "CreateModel without ID", err, joule.EINVALID)

	for i := 5; i < 12; i++ {
		mustCreateModel(t, s, ws.ID, "model-"+string(rune('a'+i)), i)
	}
	all := listAll(t, "ListModels", 3, func(c string) ([]joule.Model, string, error) {
		return s.ListModels(ctx, ws.ID, joule.ListOptions{Limit: 3, Cursor: c})
	})
	if len(all) != 8 {
		t.Errorf("ListModels: %d models, want 8", len(all))
	}
	for _, x := range all {
		if x.WorkspaceID != ws.ID {
			t.Errorf("ListModels lists %s of workspace %s", x.ID, x.WorkspaceID)
		}
	}
}

func testModelVersion(m joule.Model, i int) joule.ModelVersion {
	return joule.ModelVersion{
		ID: idAt("mdv", i), ModelID: m.ID, Algorithm: "logistic_regression", Task: "classification",
		Params:   map[string]string{"C": "1", "max_iter": "100"},
		Features: []joule.ModelFeature{{Name: "age", Type: joule.TypeInteger}, {Name: "amount", Type: joule.TypeFloat}},
		Target:   "y", Classes: []string{"1", "2"},
		Metrics:    map[string]float64{"accuracy": 0.765, "roc_auc": 0.8123456789012345},
		Evaluation: &joule.ModelEvaluation{Confusion: [][]int{{120, 20}, {27, 33}}},
		DatasetID:  "ds_1", DatasetName: "credit", DatasetVersion: 2, DatasetVersionID: "dsv_2",
		Split: &joule.DatasetSplit{Method: "random", Seed: 42, TestSize: 0.2, Train: 800, Test: 200},
		JobID: "job_1", TrainRows: 800, TestRows: 200, Source: "train",
		Path: "models/" + m.ID + "/x/model.joule", Bytes: 1234, Hash: "sha256:abc",
		CreatedAt: base, CreatedBy: "tok_1",
	}
}

func testModelVersions(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "ml")
	m := mustCreateModel(t, s, ws.ID, "credit", 1)

	_, err := s.GetModelVersion(ctx, m.ID, 0)
	wantCode(t, "GetModelVersion of an empty model", err, joule.ENOTFOUND)

	v1in := testModelVersion(m, 1)
	v1, err := s.CreateModelVersion(ctx, v1in)
	if err != nil {
		t.Fatalf("CreateModelVersion: %v", err)
	}
	want := v1in
	want.Version, want.WorkspaceID, want.CreatedAt, want.Stage = 1, ws.ID, stored(base), joule.StageNone
	if diff := cmp.Diff(want, v1); diff != "" {
		t.Errorf("CreateModelVersion (-want +got):\n%s", diff)
	}
	for _, n := range []int{0, 1} {
		got, err := s.GetModelVersion(ctx, m.ID, n)
		if err != nil {
			t.Fatalf("GetModelVersion(%d): %v", n, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetModelVersion(%d) (-want +got):\n%s", n, diff)
		}
	}
	e := joule.JobEnergy{Joules: 12.5, EstimatedJoules: 12.5, Method: "estimated:tdp-curve@1", EmissionsG: 0.0016, IntensityGPerKWh: 475, IntensitySource: "static", PUE: 1}
	if err := s.SetModelEnergy(ctx, m.ID, 1, e); err != nil {
		t.Fatalf("SetModelEnergy: %v", err)
	}
	got, err := s.GetModelVersion(ctx, m.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&e, got.Energy); diff != "" {
		t.Errorf("Energy after SetModelEnergy (-want +got):\n%s", diff)
	}
	wantCode(t, "SetModelEnergy of a missing version", s.SetModelEnergy(ctx, m.ID, 9, e), joule.ENOTFOUND)

	_, err = s.CreateModelVersion(ctx, v1in)
	wantCode(t, "CreateModelVersion with a taken ID", err, joule.ECONFLICT)
	_, err = s.CreateModelVersion(ctx, joule.ModelVersion{ID: idAt("mdv", 9), ModelID: "mdl_missing"})
	wantCode(t, "CreateModelVersion of a missing model", err, joule.ENOTFOUND)
	_, err = s.CreateModelVersion(ctx, joule.ModelVersion{ModelID: m.ID})
	wantCode(t, "CreateModelVersion without ID", err, joule.EINVALID)
	_, err = s.CreateModelVersion(ctx, joule.ModelVersion{ID: idAt("mdv", 8), ModelID: m.ID, Stage: "live"})
	wantCode(t, "CreateModelVersion with an unknown stage", err, joule.EINVALID)

	for i := 2; i <= 6; i++ {
		if _, err := s.CreateModelVersion(ctx, testModelVersion(m, i)); err != nil {
			t.Fatal(err)
		}
	}
	all := listAll(t, "ListModelVersions", 2, func(c string) ([]joule.ModelVersion, string, error) {
		return s.ListModelVersions(ctx, m.ID, joule.ListOptions{Limit: 2, Cursor: c})
	})
	for i, v := range all {
		if v.Version != i+1 {
			t.Errorf("ListModelVersions[%d].Version = %d, want %d", i, v.Version, i+1)
		}
	}
	if len(all) != 6 {
		t.Errorf("ListModelVersions: %d versions, want 6", len(all))
	}
	gm, err := s.GetModel(ctx, ws.ID, m.ID)
	if err != nil || gm.LatestVersion != 6 {
		t.Errorf("GetModel after six versions: LatestVersion %d, %v; want 6", gm.LatestVersion, err)
	}
}

func testModelStages(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "ml")
	m := mustCreateModel(t, s, ws.ID, "credit", 1)
	for i := 1; i <= 3; i++ {
		if _, err := s.CreateModelVersion(ctx, testModelVersion(m, i)); err != nil {
			t.Fatal(err)
		}
	}
	at := base.Add(1e9)
	v, demoted, err := s.SetModelStage(ctx, m.ID, 1, joule.StageProduction, at)
	if err != nil {
		t.Fatalf("SetModelStage(1, production): %v", err)
	}
	if v.Stage != joule.StageProduction || demoted != nil || v.StageChangedAt == nil || !v.StageChangedAt.Equal(stored(at)) {
		t.Errorf("SetModelStage(1, production) = stage %q at %v, demoted %v; want production at %v, none demoted", v.Stage, v.StageChangedAt, demoted, stored(at))
	}
	if _, _, err := s.SetModelStage(ctx, m.ID, 2, joule.StageStaging, at); err != nil {
		t.Fatal(err)
	}
	v, demoted, err = s.SetModelStage(ctx, m.ID, 3, joule.StageProduction, at)
	if err != nil {
		t.Fatalf("SetModelStage(3, production): %v", err)
	}
	if demoted == nil || demoted.Version != 1 || demoted.Stage != joule.StageArchived {
		t.Errorf("SetModelStage(3, production) demoted %+v, want version 1 archived", demoted)
	}
	wantStages := map[int]string{1: joule.StageArchived, 2: joule.StageStaging, 3: joule.StageProduction}
	for n, st := range wantStages {
		got, err := s.GetModelVersion(ctx, m.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		if got.Stage != st {
			t.Errorf("version %d stage %q, want %q", n, got.Stage, st)
		}
	}
	// Promoting the production version again demotes nothing.
	if _, demoted, err := s.SetModelStage(ctx, m.ID, 3, joule.StageProduction, at); err != nil || demoted != nil {
		t.Errorf("SetModelStage(3, production) again: demoted %v, %v; want none", demoted, err)
	}
	_, _, err = s.SetModelStage(ctx, m.ID, 3, "live", at)
	wantCode(t, "SetModelStage(live)", err, joule.EINVALID)
	_, _, err = s.SetModelStage(ctx, m.ID, 9, joule.StageStaging, at)
	wantCode(t, "SetModelStage of a missing version", err, joule.ENOTFOUND)
}

// testModelVersionsConcurrent checks that concurrent creates get distinct,
// consecutive version numbers.
func testModelVersionsConcurrent(t *testing.T, s joule.Store) {
	ws := mustCreateWorkspace(t, s, "ml")
	m := mustCreateModel(t, s, ws.ID, "credit", 1)
	const n = 8
	var wg sync.WaitGroup
	got := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v, err := s.CreateModelVersion(t.Context(), testModelVersion(m, 10+i))
			if err != nil {
				t.Errorf("CreateModelVersion: %v", err)
				return
			}
			got[i] = v.Version
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, v := range got {
		if v < 1 || v > n || seen[v] {
			t.Errorf("versions %v are not 1..%d, each once", got, n)
			break
		}
		seen[v] = true
	}
}
