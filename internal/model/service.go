package model

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
)

// Service keeps the model registry: metadata in the Store, model files
// under DataDir/models/<model ID>/<version ID>/.
type Service struct {
	Store   joule.Store
	DataDir string
	Engine  dataset.EngineConfig
	// Executable is the joule binary that train and predict jobs run.
	Executable string
	// Submit queues a job (the compute layer's Submit). nil: no training.
	Submit func(ctx context.Context, workspaceID string, spec joule.JobSpec, by string) (joule.Job, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (nil discards).
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Service) engine() dataset.EngineConfig {
	e := s.Engine
	if e.TempDir == "" && s.DataDir != "" {
		e.TempDir = filepath.Join(s.DataDir, "datasets", "tmp")
		_ = os.MkdirAll(e.TempDir, 0o700)
	}
	return e
}

// datasetVersion returns version n (0: newest) of the named dataset.
func (s *Service) datasetVersion(ctx context.Context, workspaceID, ref string, n int) (joule.Dataset, joule.DatasetVersion, error) {
	if ref == "" {
		return joule.Dataset{}, joule.DatasetVersion{}, joule.Errorf(joule.EINVALID, "dataset: required")
	}
	d, err := s.Store.GetDataset(ctx, workspaceID, ref)
	if err != nil {
		return d, joule.DatasetVersion{}, joule.Errorf(joule.EINVALID, "dataset: %s", joule.ErrorMessage(err))
	}
	v, err := s.Store.GetDatasetVersion(ctx, d.ID, n)
	if err != nil {
		return d, v, joule.Errorf(joule.EINVALID, "dataset_version: %s", joule.ErrorMessage(err))
	}
	return d, v, nil
}

// getOrCreate returns the named model, creating it when it does not exist.
func (s *Service) getOrCreate(ctx context.Context, workspaceID, name, by string) (joule.Model, error) {
	m, err := s.Store.GetModel(ctx, workspaceID, name)
	if joule.ErrorCode(err) != joule.ENOTFOUND {
		return m, err
	}
	if err := joule.ValidateName("model", name); err != nil {
		return m, err
	}
	now := s.now()
	m = joule.Model{ID: joule.NewID("mdl", now), WorkspaceID: workspaceID, Name: name, CreatedAt: now, CreatedBy: by}
	if err := s.Store.CreateModel(ctx, m); err != nil {
		if joule.ErrorCode(err) == joule.ECONFLICT {
			return s.Store.GetModel(ctx, workspaceID, name)
		}
		return m, err
	}
	return s.Store.GetModel(ctx, workspaceID, m.ID)
}

// SubmitTrain checks spec against the dataset version it names and queues
// a job of kind train that runs `joule model train-run`. Bad input is
// EINVALID naming the problem: an unknown target or feature column, a
// non-numeric target for regression, a single class in the training split,
// an unknown algorithm or parameter.
func (s *Service) SubmitTrain(ctx context.Context, workspaceID string, spec joule.TrainSpec, by string) (joule.Job, error) {
	if s.Submit == nil || s.Executable == "" {
		return joule.Job{}, joule.Errorf(joule.EUNAVAILABLE, "this server cannot run training jobs")
	}
	d, v, err := s.datasetVersion(ctx, workspaceID, spec.Dataset, spec.DatasetVersion)
	if err != nil {
		return joule.Job{}, err
	}
	spec.DatasetVersion = v.Version
	if spec, err = Resolve(spec, v); err != nil {
		return joule.Job{}, err
	}
	cfg := s.engine()
	if len(spec.Recipe) > 0 {
		rec, err := dataset.ParseRecipe(spec.Recipe)
		if err != nil {
			return joule.Job{}, err
		}
		if err := dataset.Check(ctx, cfg, filepath.Join(s.DataDir, v.Path), rec); err != nil {
			return joule.Job{}, err
		}
	}
	// The split and the classes in it, checked before queuing.
	if _, err := Load(ctx, cfg, s.DataDir, v, spec, cfg.TempDir, true); err != nil {
		return joule.Job{}, err
	}
	if spec.Model == "" {
		spec.Model = d.Name
	}
	m, err := s.getOrCreate(ctx, workspaceID, spec.Model, by)
	if err != nil {
		return joule.Job{}, err
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return joule.Job{}, fmt.Errorf("submit training: %w", err)
	}
	dataDir, err := filepath.Abs(s.DataDir)
	if err != nil {
		return joule.Job{}, fmt.Errorf("submit training: %w", err)
	}
	js := joule.JobSpec{
		Name: "train-" + m.Name, Kind: joule.JobKindTrain,
		Command:   []string{s.Executable, "model", "train-run", "--data-dir", dataDir, "--model", m.ID, "--spec", string(body)},
		Labels:    map[string]string{"model": m.Name, "dataset": d.Name, "dataset_version": fmt.Sprint(v.Version), "algorithm": spec.Algorithm},
		Resources: joule.Resources{CPUMillis: 1000},
	}
	return s.Submit(ctx, workspaceID, js, by)
}

// RegisterVersion records a version a training job wrote: its file must be
// in the model's directory and read as a model file.
func (s *Service) RegisterVersion(ctx context.Context, workspaceID, ref string, v joule.ModelVersion, by string) (joule.ModelVersion, error) {
	m, err := s.Store.GetModel(ctx, workspaceID, ref)
	if err != nil {
		return v, err
	}
	want := filepath.Join("models", m.ID, v.ID, FileName)
	if v.ID == "" || !strings.HasPrefix(v.ID, "mdv_") || v.Path != want {
		return v, joule.Errorf(joule.EINVALID, "path: a version's file must be %s", want)
	}
	data, err := os.ReadFile(filepath.Join(s.DataDir, want))
	if err != nil {
		return v, joule.Errorf(joule.EINVALID, "path: %s cannot be read", want)
	}
	if _, _, err := ml.Load(data); err != nil {
		return v, joule.Errorf(joule.EINVALID, "path: %s: %v", want, err)
	}
	if v.JobID != "" {
		if _, err := s.Store.GetJob(ctx, workspaceID, v.JobID); err != nil {
			return v, joule.Errorf(joule.EINVALID, "job_id: %s", joule.ErrorMessage(err))
		}
	}
	v.ModelID, v.Bytes, v.CreatedAt, v.CreatedBy, v.Stage, v.Energy, v.StageChangedAt = m.ID, int64(len(data)), s.now(), by, joule.StageNone, nil, nil
	return s.Store.CreateModelVersion(ctx, v)
}

// Get returns a model by ID or name.
func (s *Service) Get(ctx context.Context, workspaceID, ref string) (joule.Model, error) {
	return s.Store.GetModel(ctx, workspaceID, ref)
}

// Version returns version n (0: the latest) of a model, with its training
// energy copied from its job once the job is accounted.
func (s *Service) Version(ctx context.Context, workspaceID, ref string, n int) (joule.Model, joule.ModelVersion, error) {
	m, err := s.Store.GetModel(ctx, workspaceID, ref)
	if err != nil {
		return m, joule.ModelVersion{}, err
	}
	v, err := s.Store.GetModelVersion(ctx, m.ID, n)
	if err != nil {
		return m, v, err
	}
	return m, s.withEnergy(ctx, v), nil
}

// Versions lists a model's versions, oldest first.
func (s *Service) Versions(ctx context.Context, workspaceID, ref string, opt joule.ListOptions) ([]joule.ModelVersion, string, error) {
	m, err := s.Store.GetModel(ctx, workspaceID, ref)
	if err != nil {
		return nil, "", err
	}
	vs, next, err := s.Store.ListModelVersions(ctx, m.ID, opt)
	for i := range vs {
		vs[i] = s.withEnergy(ctx, vs[i])
	}
	return vs, next, err
}

// withEnergy copies the training job's energy onto v once the job has
// ended and been accounted. Failures leave v as it was: the next read
// tries again.
func (s *Service) withEnergy(ctx context.Context, v joule.ModelVersion) joule.ModelVersion {
	if v.Energy != nil || v.JobID == "" {
		return v
	}
	j, err := s.Store.GetJob(ctx, v.WorkspaceID, v.JobID)
	if err != nil || !j.State.Terminal() || j.Energy == nil {
		return v
	}
	if err := s.Store.SetModelEnergy(ctx, v.ModelID, v.Version, *j.Energy); err != nil {
		s.logger().WarnContext(ctx, "copy training energy", "model", v.ModelID, "version", v.Version, "err", err)
		return v
	}
	e := *j.Energy
	v.Energy = &e
	return v
}

// Promote moves version n of a model to stage, returning it and the
// version it moved out of production, if any.
func (s *Service) Promote(ctx context.Context, workspaceID, ref string, n int, stage string) (joule.ModelVersion, *joule.ModelVersion, error) {
	if err := joule.ValidateStage(stage); err != nil {
		return joule.ModelVersion{}, nil, err
	}
	m, err := s.Store.GetModel(ctx, workspaceID, ref)
	if err != nil {
		return joule.ModelVersion{}, nil, err
	}
	if n == 0 {
		n = m.LatestVersion
	}
	v, demoted, err := s.Store.SetModelStage(ctx, m.ID, n, stage, s.now())
	if err != nil {
		return v, nil, err
	}
	return s.withEnergy(ctx, v), demoted, nil
}

// Import makes the next version of the named model (created if needed)
// from an XGBoost JSON model.
func (s *Service) Import(ctx context.Context, workspaceID, name string, data []byte, by string) (joule.ModelVersion, error) {
	mdl, h, err := ml.ImportXGBoost(data)
	if err != nil {
		return joule.ModelVersion{}, joule.Errorf(joule.EINVALID, "model: %v", err)
	}
	m, err := s.getOrCreate(ctx, workspaceID, name, by)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	now := s.now()
	vid := joule.NewID("mdv", now)
	rel := filepath.Join("models", m.ID, vid, FileName)
	size, hash, err := WriteFile(s.DataDir, rel, mdl, *h)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	v := joule.ModelVersion{
		ID: vid, ModelID: m.ID, Algorithm: mdl.Algorithm(), Task: string(mdl.Task()), Params: h.Params, Classes: h.Classes,
		Source: "import:xgboost", Path: rel, Bytes: size, Hash: hash, CreatedAt: now, CreatedBy: by,
	}
	for _, f := range h.Features {
		v.Features = append(v.Features, joule.ModelFeature{Name: f.Name, Type: cmpOr(f.Type, joule.TypeFloat)})
	}
	v, err = s.Store.CreateModelVersion(ctx, v)
	if err != nil {
		os.RemoveAll(filepath.Dir(filepath.Join(s.DataDir, rel)))
	}
	return v, err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// LoadFile reads a version's model file. A missing, corrupt or truncated
// file, or one of a newer format, gets an error that says so.
func LoadFile(dataDir string, v joule.ModelVersion) (ml.Model, *modelfile.Header, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, v.Path))
	if err != nil {
		return nil, nil, fmt.Errorf("model file of version %d: %w", v.Version, err)
	}
	m, h, err := ml.Load(data)
	if err != nil {
		return nil, nil, fmt.Errorf("model file of version %d: %w", v.Version, err)
	}
	return m, h, nil
}
