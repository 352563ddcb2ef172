package model

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
)

// SpecOf returns the training spec a train job ran: the JSON after
// --spec in its command (SubmitTrain resolved it, so the split, the task
// and the dataset version are filled in). EINVALID when the job is not a
// train job.
func SpecOf(j joule.Job) (joule.TrainSpec, error) {
	var spec joule.TrainSpec
	cmd := j.Spec.Command
	i := slices.Index(cmd, "--spec")
	if j.Spec.Kind != joule.JobKindTrain || i < 0 || i+1 >= len(cmd) {
		return spec, joule.Errorf(joule.EINVALID, "job %s is not a train job with a --spec", j.ID)
	}
	if err := json.Unmarshal([]byte(cmd[i+1]), &spec); err != nil {
		return spec, joule.Errorf(joule.EINVALID, "job %s: its --spec does not read: %v", j.ID, err)
	}
	return spec, nil
}

// trainSpec returns the spec of the job that trained v.
func (s *Service) trainSpec(ctx context.Context, workspaceID string, v joule.ModelVersion) (joule.TrainSpec, error) {
	if v.JobID == "" {
		return joule.TrainSpec{}, joule.Errorf(joule.EINVALID, "version %d was not made by a train job (source %s): there is no training spec to repeat", v.Version, v.Source)
	}
	j, err := s.Store.GetJob(ctx, workspaceID, v.JobID)
	if err != nil {
		return joule.TrainSpec{}, joule.Errorf(joule.EINVALID, "version %d: its train job %s: %s", v.Version, v.JobID, joule.ErrorMessage(err))
	}
	return SpecOf(j)
}

// SubmitRetrain queues a train job that repeats the training of version v
// on the newest version of v's dataset: the same algorithm, params,
// search, target, features, recipe and split settings, into the same
// model.
func (s *Service) SubmitRetrain(ctx context.Context, workspaceID string, v joule.ModelVersion, by string) (joule.Job, error) {
	spec, err := s.trainSpec(ctx, workspaceID, v)
	if err != nil {
		return joule.Job{}, err
	}
	m, err := s.Store.GetModel(ctx, workspaceID, v.ModelID)
	if err != nil {
		return joule.Job{}, err
	}
	spec.Model, spec.DatasetVersion = m.Name, 0
	if spec.Dataset == "" {
		spec.Dataset = v.DatasetID
	}
	return s.SubmitTrain(ctx, workspaceID, spec, by)
}

// Compare scores the production version and a candidate of the same model
// on exactly the same rows: the holdout (test) split of the dataset version
// the candidate was trained on, drawn as the candidate's training drew it.
// Each model replays its own fitted recipe on those rows. metric names the
// score judged (see joule.RetrainMetrics); the candidate wins when it is
// better by at least margin.
func (s *Service) Compare(ctx context.Context, workspaceID string, production, candidate joule.ModelVersion, metric string, margin float64) (joule.ModelComparison, error) {
	c := joule.ModelComparison{Metric: metric, Production: production.Version, Candidate: candidate.Version, Margin: margin}
	higher, ok := joule.RetrainMetrics[candidate.Task][metric]
	if !ok {
		return c, joule.Errorf(joule.EINVALID, "metric: %q is not a %s metric", metric, candidate.Task)
	}
	c.HigherIsBetter = higher
	if production.ModelID != candidate.ModelID || production.Task != candidate.Task {
		return c, joule.Errorf(joule.EINVALID, "versions %d and %d are not of the same model and task", production.Version, candidate.Version)
	}
	spec, err := s.trainSpec(ctx, workspaceID, candidate)
	if err != nil {
		return c, err
	}
	dv, err := s.Store.GetDatasetVersion(ctx, candidate.DatasetID, candidate.DatasetVersion)
	if err != nil {
		return c, fmt.Errorf("compare: the candidate's dataset version: %w", err)
	}
	if spec, err = Resolve(spec, dv); err != nil {
		return c, err
	}
	c.Dataset, c.DatasetVersion = candidate.DatasetName, dv.Version
	cfg := s.engine()
	tmp, err := os.MkdirTemp(cfg.TempDir, "compare-")
	if err != nil {
		return c, fmt.Errorf("compare: %w", err)
	}
	defer os.RemoveAll(tmp)
	src, cols := filepath.Join(s.DataDir, dv.Path), dv.Columns
	if sp := spec.Split; sp.Method != "existing" {
		step := dataset.SplitStep{Method: sp.Method, Seed: DefaultSeed, TestSize: sp.TestSize, By: sp.By}
		if sp.Seed != nil {
			step.Seed = *sp.Seed
		}
		res, err := dataset.Apply(ctx, cfg, src, cols, dataset.Recipe{Steps: []dataset.Step{{Split: &step}}}, filepath.Join(tmp, "split"))
		if err != nil {
			return c, err
		}
		src, cols = filepath.Join(tmp, "split", dataset.DataFile), res.Columns
	}
	var prodRows, candRows int
	if c.ProductionMetrics, prodRows, err = s.scoreHoldout(ctx, cfg, production, src, cols, filepath.Join(tmp, "p")); err != nil {
		return c, err
	}
	if c.CandidateMetrics, candRows, err = s.scoreHoldout(ctx, cfg, candidate, src, cols, filepath.Join(tmp, "c")); err != nil {
		return c, err
	}
	if prodRows != candRows {
		return c, joule.Errorf(joule.EINVALID, "compare: version %d scored %d holdout rows and version %d %d: their recipes keep different rows", production.Version, prodRows, candidate.Version, candRows)
	}
	c.Rows = candRows
	p, okP := c.ProductionMetrics[metric]
	q, okQ := c.CandidateMetrics[metric]
	if !okP || !okQ {
		return c, joule.Errorf(joule.EINVALID, "compare: %s is undefined on these %d holdout rows", metric, c.Rows)
	}
	c.ProductionScore, c.CandidateScore = p, q
	c.Judge()
	return c, nil
}

// scoreHoldout scores version v on the test rows of src (which holds the
// split column), replaying v's fitted recipe first.
func (s *Service) scoreHoldout(ctx context.Context, cfg dataset.EngineConfig, v joule.ModelVersion, src string, cols []joule.DatasetColumn, dir string) (map[string]float64, int, error) {
	mdl, h, err := LoadFile(s.DataDir, v)
	if err != nil {
		return nil, 0, err
	}
	if len(h.Recipe) > 0 {
		var rec dataset.Recipe
		if err := json.Unmarshal(h.Recipe, &rec); err != nil {
			return nil, 0, fmt.Errorf("version %d: its recipe does not read: %w", v.Version, err)
		}
		res, err := dataset.ApplyFitted(ctx, cfg, src, cols, rec, dir)
		if err != nil {
			return nil, 0, err
		}
		src, cols = filepath.Join(dir, dataset.DataFile), res.Columns
	}
	col := func(name string) (joule.DatasetColumn, error) {
		i := slices.IndexFunc(cols, func(c joule.DatasetColumn) bool { return c.Name == name })
		if i < 0 {
			return joule.DatasetColumn{}, joule.Errorf(joule.EINVALID, "version %d: the holdout rows have no column %q", v.Version, name)
		}
		return cols[i], nil
	}
	read := make([]joule.DatasetColumn, 0, 2+len(v.Features))
	for _, name := range append([]string{v.Target, dataset.SplitColumn}, featureNames(v)...) {
		c, err := col(name)
		if err != nil {
			return nil, 0, err
		}
		read = append(read, c)
	}
	frame, err := dataset.ReadFrame(ctx, cfg, src, read)
	if err != nil {
		return nil, 0, err
	}
	target, split, feats := frame[0], frame[1], frame[2:]
	var X [][]float64
	var y []float64
	for i := range target.Null {
		if split.Text[i] != "test" || target.Null[i] {
			continue
		}
		x := make([]float64, len(feats))
		if rowOf(feats, i, x) {
			return nil, 0, joule.Errorf(joule.EINVALID, "version %d: holdout row %d has a missing feature value", v.Version, i+1)
		}
		yi := target.Num[i]
		if v.Task == string(ml.Classification) {
			k := slices.Index(v.Classes, target.Text[i])
			if k < 0 {
				return nil, 0, joule.Errorf(joule.EINVALID, "version %d does not know class %q of holdout row %d", v.Version, target.Text[i], i+1)
			}
			yi = float64(k)
		}
		X, y = append(X, x), append(y, yi)
	}
	if len(y) == 0 {
		return nil, 0, joule.Errorf(joule.EINVALID, "version %d: no holdout rows to score", v.Version)
	}
	ms, err := score(mdl, X, y, len(v.Classes), nil)
	return ms, len(y), err
}

func featureNames(v joule.ModelVersion) []string {
	out := make([]string, len(v.Features))
	for i, f := range v.Features {
		out[i] = f.Name
	}
	return out
}
