package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
)

// Prediction columns added to the rows.
const (
	PredictionColumn  = "prediction"
	ProbabilityPrefix = "probability_"
)

// SubmitPredict checks a batch prediction and queues a job of kind predict
// that runs `joule model predict-run`: the job writes the dataset
// version's rows with the model's predictions (and class probabilities) as
// the next version of the output dataset (created if needed).
func (s *Service) SubmitPredict(ctx context.Context, workspaceID string, spec joule.PredictSpec, by string) (joule.Job, error) {
	if s.Submit == nil || s.Executable == "" {
		return joule.Job{}, joule.Errorf(joule.EUNAVAILABLE, "this server cannot run prediction jobs")
	}
	if spec.Model == "" {
		return joule.Job{}, joule.Errorf(joule.EINVALID, "model: required")
	}
	m, mv, err := s.Version(ctx, workspaceID, spec.Model, spec.ModelVersion)
	if err != nil {
		return joule.Job{}, joule.Errorf(joule.EINVALID, "model: %s", joule.ErrorMessage(err))
	}
	d, dv, err := s.datasetVersion(ctx, workspaceID, spec.Dataset, spec.DatasetVersion)
	if err != nil {
		return joule.Job{}, err
	}
	_, h, err := LoadFile(s.DataDir, mv)
	if err != nil {
		return joule.Job{}, joule.Errorf(joule.EINVALID, "model: %v", err)
	}
	if len(h.Recipe) > 0 {
		var rec dataset.Recipe
		if err := json.Unmarshal(h.Recipe, &rec); err != nil {
			return joule.Job{}, joule.Errorf(joule.EINVALID, "model: its recipe does not read: %v", err)
		}
	} else if err := checkInputs(mv, dv.Columns); err != nil {
		return joule.Job{}, err
	}
	if spec.Output == "" {
		spec.Output = d.Name + "-predictions"
	}
	if err := joule.ValidateName("output", spec.Output); err != nil {
		return joule.Job{}, err
	}
	out, err := s.Store.GetDataset(ctx, workspaceID, spec.Output)
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		now := s.now()
		out = joule.Dataset{ID: joule.NewID("ds", now), WorkspaceID: workspaceID, Name: spec.Output,
			Description: fmt.Sprintf("predictions of model %s", m.Name), CreatedAt: now, CreatedBy: by}
		if err = s.Store.CreateDataset(ctx, out); joule.ErrorCode(err) == joule.ECONFLICT {
			out, err = s.Store.GetDataset(ctx, workspaceID, spec.Output)
		}
	}
	if err != nil {
		return joule.Job{}, err
	}
	dataDir, err := filepath.Abs(s.DataDir)
	if err != nil {
		return joule.Job{}, fmt.Errorf("submit prediction: %w", err)
	}
	js := joule.JobSpec{
		Name: "predict-" + m.Name, Kind: joule.JobKindPredict,
		Command: []string{s.Executable, "model", "predict-run", "--data-dir", dataDir, "--model", m.ID, "--model-version", fmt.Sprint(mv.Version),
			"--dataset", d.ID, "--dataset-version", fmt.Sprint(dv.Version), "--output", out.ID},
		Labels: map[string]string{"model": m.Name, "model_version": fmt.Sprint(mv.Version), "dataset": d.Name,
			"dataset_version": fmt.Sprint(dv.Version), "output": out.Name},
		Resources: joule.Resources{CPUMillis: 1000},
	}
	return s.Submit(ctx, workspaceID, js, by)
}

// checkInputs checks that cols hold the model's features, numeric.
func checkInputs(mv joule.ModelVersion, cols []joule.DatasetColumn) error {
	for _, f := range mv.Features {
		i := slices.IndexFunc(cols, func(c joule.DatasetColumn) bool { return c.Name == f.Name })
		if i < 0 {
			return joule.Errorf(joule.EINVALID, "dataset: no column %q, a feature of model version %d", f.Name, mv.Version)
		}
		if t := cols[i].Type; t != joule.TypeInteger && t != joule.TypeFloat && t != joule.TypeBoolean {
			return joule.Errorf(joule.EINVALID, "dataset: column %q is %s, not numeric", f.Name, t)
		}
	}
	return nil
}

// RunPredict is the work of a predict job, in the job's own process: it
// runs the rows of dataset version dv through model version mv (replaying
// the model's fitted recipe first) and writes them with a prediction
// column, and for classifiers one probability column per class, as the
// next version of dataset outID. It returns the version to register.
func RunPredict(ctx context.Context, dataDir string, mv joule.ModelVersion, modelName string, dv joule.DatasetVersion, datasetName, outID, jobID string) (joule.DatasetVersion, error) {
	mdl, h, err := LoadFile(dataDir, mv)
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	cfg := dataset.EngineConfig{TempDir: filepath.Join(dataDir, "datasets", "tmp")}
	if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
		return joule.DatasetVersion{}, fmt.Errorf("predict: %w", err)
	}
	src, cols := filepath.Join(dataDir, dv.Path), dv.Columns
	if len(h.Recipe) > 0 {
		var rec dataset.Recipe
		if err := json.Unmarshal(h.Recipe, &rec); err != nil {
			return joule.DatasetVersion{}, fmt.Errorf("predict: model recipe: %w", err)
		}
		tmp, err := os.MkdirTemp(cfg.TempDir, "predict-")
		if err != nil {
			return joule.DatasetVersion{}, fmt.Errorf("predict: %w", err)
		}
		defer os.RemoveAll(tmp)
		res, err := dataset.ApplyFitted(ctx, cfg, src, dv.Columns, rec, filepath.Join(tmp, "t"))
		if err != nil {
			return joule.DatasetVersion{}, err
		}
		src, cols = filepath.Join(tmp, "t", dataset.DataFile), res.Columns
	}
	if err := checkInputs(mv, cols); err != nil {
		return joule.DatasetVersion{}, err
	}
	read := make([]joule.DatasetColumn, len(mv.Features))
	for i, f := range mv.Features {
		read[i] = cols[slices.IndexFunc(cols, func(c joule.DatasetColumn) bool { return c.Name == f.Name })]
	}
	frame, err := dataset.ReadFrame(ctx, cfg, src, read)
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	n := 0
	if len(frame) > 0 {
		n = len(frame[0].Num)
	}
	x := make([]float64, len(frame))
	var added []dataset.AddedColumn
	switch m := mdl.(type) {
	case ml.Classifier:
		k := m.NumClasses()
		pred := dataset.AddedColumn{Name: PredictionColumn, Type: joule.TypeString, Text: make([]string, n)}
		probs := make([]dataset.AddedColumn, k)
		for c := range k {
			label := fmt.Sprint(c)
			if c < len(h.Classes) {
				label = h.Classes[c]
			}
			probs[c] = dataset.AddedColumn{Name: ProbabilityPrefix + label, Type: joule.TypeFloat, Num: make([]float64, n)}
		}
		scores := make([]float64, k)
		for i := range n {
			missing := rowOf(frame, i, x)
			if missing {
				pred.Text[i] = ""
				for c := range k {
					probs[c].Num[i] = nan()
				}
				continue
			}
			m.Scores(x, scores)
			best := argmax(scores)
			pred.Text[i] = fmt.Sprint(best)
			if best < len(h.Classes) {
				pred.Text[i] = h.Classes[best]
			}
			for c := range k {
				probs[c].Num[i] = scores[c]
			}
		}
		added = append(added, pred)
		if m.Probabilistic() {
			added = append(added, probs...)
		}
	case ml.Regressor:
		pred := dataset.AddedColumn{Name: PredictionColumn, Type: joule.TypeFloat, Num: make([]float64, n)}
		for i := range n {
			if rowOf(frame, i, x) {
				pred.Num[i] = nan()
				continue
			}
			pred.Num[i] = m.Predict(x)
		}
		added = append(added, pred)
	default:
		return joule.DatasetVersion{}, joule.Errorf(joule.EINVALID, "model: a %s model does not predict rows", mdl.Task())
	}
	for _, a := range added {
		if slices.ContainsFunc(dv.Columns, func(c joule.DatasetColumn) bool { return c.Name == a.Name }) {
			return joule.DatasetVersion{}, joule.Errorf(joule.EINVALID, "dataset: it already has a column %q", a.Name)
		}
	}
	vid := joule.NewID("dsv", time.Now())
	rel := filepath.Join("datasets", outID, vid)
	res, err := dataset.AddColumns(ctx, cfg, filepath.Join(dataDir, dv.Path), dv.Columns, added, filepath.Join(dataDir, rel))
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	return joule.DatasetVersion{
		ID: vid, DatasetID: outID, Hash: res.Hash, Columns: res.Columns, Rows: res.Rows, Bytes: res.Bytes, Format: "predict",
		Source: fmt.Sprintf("predictions of model %s version %d (%s) on dataset %s version %d (%s)", modelName, mv.Version, mv.ID, datasetName, dv.Version, dv.ID),
		Path:   filepath.Join(rel, dataset.DataFile), JobID: jobID, Profile: res.Profile,
	}, nil
}

// rowOf fills x with row i and reports whether a value is missing.
func rowOf(frame []dataset.FrameColumn, i int, x []float64) bool {
	for j, c := range frame {
		if c.Null[i] {
			return true
		}
		x[j] = c.Num[i]
	}
	return false
}

func nan() float64 { return math.NaN() }
