package model_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/model"
	"github.com/joule-dev/joule/internal/sqlite"
)

// inProcess is a model service whose train jobs are real jobs in the store
// whose work runs in process, as `joule model train-run` does in its own.
func inProcess(t *testing.T) (*model.Service, *dataset.Service, joule.Workspace) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	ws := joule.Workspace{ID: joule.NewID("ws", now), Name: "compare", CreatedAt: now}
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	engine := dataset.EngineConfig{TempDir: filepath.Join(dir, "datasets", "tmp")}
	if err := os.MkdirAll(engine.TempDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ds := &dataset.Service{Store: db, DataDir: dir, Engine: engine}
	svc := &model.Service{Store: db, DataDir: dir, Engine: engine, Executable: "joule"}
	svc.Submit = func(ctx context.Context, ws string, spec joule.JobSpec, by string) (joule.Job, error) {
		j := compute.NewJob(ws, spec, by, time.Now())
		if err := db.CreateJob(ctx, j, nil); err != nil {
			return j, err
		}
		ts, err := model.SpecOf(j)
		if err != nil {
			return j, err
		}
		modelID := spec.Command[slices.Index(spec.Command, "--model")+1]
		d, err := db.GetDataset(ctx, ws, ts.Dataset)
		if err != nil {
			return j, err
		}
		dv, err := db.GetDatasetVersion(ctx, d.ID, ts.DatasetVersion)
		if err != nil {
			return j, err
		}
		v, err := model.Train(ctx, dir, modelID, d, dv, ts, j.ID)
		if err != nil {
			return j, err
		}
		if _, err := svc.RegisterVersion(ctx, ws, modelID, v, by); err != nil {
			return j, err
		}
		return db.UpdateJob(ctx, j.ID, nil, "exit 0", func(j *joule.Job) error { j.State = joule.JobSucceeded; return nil }, nil)
	}
	return svc, ds, ws
}

// TestCompare checks that two versions are scored on the candidate's
// holdout rows exactly as training scored them: on the dataset version
// both were trained on, each version's score equals its recorded test
// metric, to the bit, with its fitted recipe replayed; RMSE is lower is
// better; and the margin decides the win.
func TestCompare(t *testing.T) {
	t.Parallel()
	svc, ds, ws := inProcess(t)
	ctx := t.Context()
	if _, _, err := ds.IngestFile(ctx, ws.ID, "enb", "../../examples/data/energy/ENB2012_data.csv", "ENB2012_data.csv", dataset.IngestOptions{}, "tok_test"); err != nil {
		t.Fatalf("IngestFile: %v", err)
	}
	recipe := json.RawMessage(`{"steps": [{"standardize": {"columns": ["X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8"]}}]}`)
	train := func(features []string) joule.ModelVersion {
		t.Helper()
		seed := uint64(42)
		spec := joule.TrainSpec{Dataset: "enb", Target: "Y1", Task: "regression", Algorithm: "ridge", Features: features,
			Split: &joule.TrainSplit{Seed: &seed}, Recipe: recipe}
		j, err := svc.SubmitTrain(ctx, ws.ID, spec, "tok_test")
		if err != nil {
			t.Fatalf("SubmitTrain: %v", err)
		}
		m, err := svc.Get(ctx, ws.ID, "enb")
		if err != nil {
			t.Fatal(err)
		}
		_, v, err := svc.Version(ctx, ws.ID, m.ID, 0)
		if err != nil || v.JobID != j.ID {
			t.Fatalf("the version of job %s: %+v, %v", j.ID, v, err)
		}
		return v
	}
	all := []string{"X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8"}
	few := train([]string{"X6", "X8"}) // orientation and glazing distribution: a poor fit
	full := train(all)

	c, err := svc.Compare(ctx, ws.ID, few, full, "rmse", 0.01)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if c.Rows != int(full.TestRows) || c.HigherIsBetter || c.Production != few.Version || c.Candidate != full.Version || c.Dataset != "enb" || c.DatasetVersion != 1 {
		t.Errorf("comparison %+v; want %d rows of enb version 1, lower is better", c, full.TestRows)
	}
	if c.ProductionScore != few.Metrics["rmse"] || c.CandidateScore != full.Metrics["rmse"] {
		t.Errorf("scores %v and %v; want the recorded test RMSEs %v and %v", c.ProductionScore, c.CandidateScore, few.Metrics["rmse"], full.Metrics["rmse"])
	}
	if !c.Wins || c.Gain != c.ProductionScore-c.CandidateScore || c.Gain < 1 {
		t.Errorf("comparison %+v; want the full model to win by the RMSE difference (over 1)", c)
	}

	// The other way round, the poor model loses; against itself, a gain
	// of zero does not reach a margin.
	if c, err := svc.Compare(ctx, ws.ID, full, few, "rmse", 0.01); err != nil || c.Wins || c.Gain >= 0 {
		t.Errorf("Compare(full, few) = %+v, %v; want a loss", c, err)
	}
	same := train(all)
	if c, err := svc.Compare(ctx, ws.ID, full, same, "r2", 0.01); err != nil || c.Wins || c.Gain != 0 || !c.HigherIsBetter || c.CandidateScore != full.Metrics["r2"] {
		t.Errorf("Compare(full, same) = %+v, %v; want gain 0, no win", c, err)
	}
	if c, err := svc.Compare(ctx, ws.ID, full, same, "rmse", 0); err != nil || !c.Wins {
		t.Errorf("Compare with margin 0 = %+v, %v; want a tie to win", c, err)
	}
	if _, err := svc.Compare(ctx, ws.ID, full, same, "accuracy", 0.01); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("Compare on accuracy for regressors = %v, want invalid", err)
	}
}
