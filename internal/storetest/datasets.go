package storetest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// datasetTests are Run's subtests of joule.DatasetStore.
var datasetTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"Datasets", testDatasets},
	{"DatasetVersions", testDatasetVersions},
	{"DatasetVersionsConcurrent", testDatasetVersionsConcurrent},
}

func mustCreateDataset(t *testing.T, s joule.Store, wsID, name string, i int) joule.Dataset {
	t.Helper()
	d := joule.Dataset{ID: idAt("ds", i), WorkspaceID: wsID, Name: name, Description: "rows of " + name, CreatedAt: stored(base), CreatedBy: "tok_1"}
	if err := s.CreateDataset(t.Context(), d); err != nil {
		t.Fatalf("CreateDataset(%q): %v", name, err)
	}
	return d
}

func testDatasets(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "data")
	other := mustCreateWorkspace(t, s, "other")
	d := mustCreateDataset(t, s, ws.ID, "credit", 1)
	mustCreateDataset(t, s, other.ID, "credit", 2) // names are per workspace

	for _, ref := range []string{d.ID, "credit"} {
		got, err := s.GetDataset(ctx, ws.ID, ref)
		if err != nil {
			t.Fatalf("GetDataset(%q): %v", ref, err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("GetDataset(%q) (-want +got):\n%s", ref, diff)
		}
	}
	_, err := s.GetDataset(ctx, other.ID, d.ID)
	wantCode(t, "GetDataset of another workspace", err, joule.ENOTFOUND)
	_, err = s.GetDataset(ctx, ws.ID, "nope")
	wantCode(t, "GetDataset(nope)", err, joule.ENOTFOUND)
	err = s.CreateDataset(ctx, joule.Dataset{ID: idAt("ds", 3), WorkspaceID: ws.ID, Name: "credit", CreatedAt: base})
	wantCode(t, "CreateDataset with a taken name", err, joule.ECONFLICT)
	err = s.CreateDataset(ctx, joule.Dataset{ID: d.ID, WorkspaceID: ws.ID, Name: "fresh", CreatedAt: base})
	wantCode(t, "CreateDataset with a taken ID", err, joule.ECONFLICT)
	err = s.CreateDataset(ctx, joule.Dataset{ID: idAt("ds", 4), WorkspaceID: "ws_missing", Name: "x", CreatedAt: base})
	wantCode(t, "CreateDataset in a missing workspace", err, joule.ENOTFOUND)
	err = s.CreateDataset(ctx, joule.Dataset{WorkspaceID: ws.ID, Name: "noid", CreatedAt: base})
	wantCode(t, "CreateDataset without ID", err, joule.EINVALID)

	for i := 5; i < 12; i++ {
		mustCreateDataset(t, s, ws.ID, "set-"+string(rune('a'+i)), i)
	}
	all := listAll(t, "ListDatasets", 3, func(c string) ([]joule.Dataset, string, error) {
		return s.ListDatasets(ctx, ws.ID, joule.ListOptions{Limit: 3, Cursor: c})
	})
	if len(all) != 8 {
		t.Errorf("ListDatasets: %d datasets, want 8", len(all))
	}
	for _, x := range all {
		if x.WorkspaceID != ws.ID {
			t.Errorf("ListDatasets lists %s of workspace %s", x.ID, x.WorkspaceID)
		}
	}

	if err := s.DeleteDataset(ctx, other.ID, d.ID); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("DeleteDataset from another workspace: %v, want not_found", err)
	}
	if err := s.DeleteDataset(ctx, ws.ID, d.ID); err != nil {
		t.Fatalf("DeleteDataset: %v", err)
	}
	_, err = s.GetDataset(ctx, ws.ID, d.ID)
	wantCode(t, "GetDataset after delete", err, joule.ENOTFOUND)
	wantCode(t, "DeleteDataset twice", s.DeleteDataset(ctx, ws.ID, d.ID), joule.ENOTFOUND)
}

func testVersion(d joule.Dataset, i int) joule.DatasetVersion {
	mean, std := 1.5, 0.25
	return joule.DatasetVersion{
		ID: idAt("dsv", i), DatasetID: d.ID, Hash: "sha256:abc",
		Columns: []joule.DatasetColumn{{Name: "age", Type: joule.TypeInteger, Role: joule.RoleFeature}, {Name: "y", Type: joule.TypeString, Role: joule.RoleTarget}},
		Rows:    100, RejectedRows: 3, Bytes: 4096, Format: "csv", Source: "upload:credit.csv",
		Path: "datasets/" + d.ID + "/x/data.parquet", CreatedAt: base, CreatedBy: "tok_1",
		Profile: &joule.DatasetProfile{Rows: 100, Columns: []joule.ColumnProfile{{Name: "age", Type: joule.TypeInteger, Count: 99, Nulls: 1, Distinct: 40, Mean: &mean, Std: &std,
			Quantiles: []joule.Quantile{{P: 0.5, Value: 1.5}}, Histogram: []joule.HistogramBin{{Lo: 0, Hi: 1, Count: 99}}}},
			Target: "y", TargetBalance: []joule.ValueCount{{Value: "1", Count: 30, Fraction: 0.3}}},
	}
}

func testDatasetVersions(t *testing.T, s joule.Store) {
	ctx := t.Context()
	ws := mustCreateWorkspace(t, s, "data")
	d := mustCreateDataset(t, s, ws.ID, "credit", 1)

	_, err := s.GetDatasetVersion(ctx, d.ID, 0)
	wantCode(t, "GetDatasetVersion of an empty dataset", err, joule.ENOTFOUND)

	v1in := testVersion(d, 1)
	v1, err := s.CreateDatasetVersion(ctx, v1in)
	if err != nil {
		t.Fatalf("CreateDatasetVersion: %v", err)
	}
	if v1.Version != 1 || v1.WorkspaceID != ws.ID {
		t.Errorf("first version: Version %d WorkspaceID %q, want 1 and %q", v1.Version, v1.WorkspaceID, ws.ID)
	}
	v2in := testVersion(d, 2)
	v2in.ParentID, v2in.ParentVersion = v1.ID, 1
	v2in.Recipe = json.RawMessage(`{"steps":[{"standardize":{"columns":["age"]}}],  "fitted": {"age": {"mean": 1.5}}}`)
	v2in.Split = &joule.DatasetSplit{Method: "random", Seed: 42, TestSize: 0.2, Train: 80, Test: 20}
	v2in.JobID = "job_1"
	v2in.Profile = nil
	v2, err := s.CreateDatasetVersion(ctx, v2in)
	if err != nil {
		t.Fatalf("CreateDatasetVersion(v2): %v", err)
	}
	if v2.Version != 2 {
		t.Errorf("second version: Version %d, want 2", v2.Version)
	}
	want := v2in
	want.Version, want.WorkspaceID, want.CreatedAt = 2, ws.ID, stored(base)
	for _, n := range []int{0, 2} {
		got, err := s.GetDatasetVersion(ctx, d.ID, n)
		if err != nil {
			t.Fatalf("GetDatasetVersion(%d): %v", n, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetDatasetVersion(%d) (-want +got):\n%s", n, diff)
		}
	}
	got1, err := s.GetDatasetVersion(ctx, d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	want1 := v1in
	want1.Version, want1.WorkspaceID, want1.CreatedAt = 1, ws.ID, stored(base)
	if diff := cmp.Diff(want1, got1); diff != "" {
		t.Errorf("GetDatasetVersion(1) (-want +got):\n%s", diff)
	}
	gd, err := s.GetDataset(ctx, ws.ID, d.ID)
	if err != nil || gd.LatestVersion != 2 {
		t.Errorf("GetDataset after two versions: LatestVersion %d, %v; want 2", gd.LatestVersion, err)
	}
	_, err = s.GetDatasetVersion(ctx, d.ID, 7)
	wantCode(t, "GetDatasetVersion(7)", err, joule.ENOTFOUND)
	_, err = s.CreateDatasetVersion(ctx, v1in)
	wantCode(t, "CreateDatasetVersion with a taken ID", err, joule.ECONFLICT)
	_, err = s.CreateDatasetVersion(ctx, joule.DatasetVersion{ID: idAt("dsv", 9), DatasetID: "ds_missing"})
	wantCode(t, "CreateDatasetVersion of a missing dataset", err, joule.ENOTFOUND)
	_, err = s.CreateDatasetVersion(ctx, joule.DatasetVersion{DatasetID: d.ID})
	wantCode(t, "CreateDatasetVersion without ID", err, joule.EINVALID)

	for i := 3; i <= 7; i++ {
		if _, err := s.CreateDatasetVersion(ctx, testVersion(d, i)); err != nil {
			t.Fatal(err)
		}
	}
	all := listAll(t, "ListDatasetVersions", 2, func(c string) ([]joule.DatasetVersion, string, error) {
		return s.ListDatasetVersions(ctx, d.ID, joule.ListOptions{Limit: 2, Cursor: c})
	})
	for i, v := range all {
		if v.Version != i+1 {
			t.Errorf("ListDatasetVersions[%d].Version = %d, want %d", i, v.Version, i+1)
		}
	}
	if len(all) != 7 {
		t.Errorf("ListDatasetVersions: %d versions, want 7", len(all))
	}

	if err := s.DeleteDataset(ctx, ws.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	vs, _, err := s.ListDatasetVersions(ctx, d.ID, joule.ListOptions{})
	if err != nil || len(vs) != 0 {
		t.Errorf("ListDatasetVersions after delete: %d versions, %v; want none", len(vs), err)
	}
}

// testDatasetVersionsConcurrent checks that concurrent creates get distinct,
// consecutive version numbers.
func testDatasetVersionsConcurrent(t *testing.T, s joule.Store) {
	ws := mustCreateWorkspace(t, s, "data")
	d := mustCreateDataset(t, s, ws.ID, "credit", 1)
	const n = 8
	var wg sync.WaitGroup
	got := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v, err := s.CreateDatasetVersion(t.Context(), testVersion(d, 10+i))
			if err != nil {
				t.Errorf("CreateDatasetVersion: %v", err)
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
