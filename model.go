package joule

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Model is a named model of a workspace. Its fitted forms are immutable,
// numbered versions (1, 2, …): a training job or an import makes a new one.
type Model struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	// LatestVersion is the number of the newest version; 0 when none.
	LatestVersion int `json:"latest_version"`
}

// Model stages. A version starts in StageNone; at most one version of a
// model is in StageProduction at a time (promoting one archives the one
// before).
const (
	StageNone       = "none"
	StageStaging    = "staging"
	StageProduction = "production"
	StageArchived   = "archived"
)

// ModelStages lists the valid stages.
var ModelStages = []string{StageNone, StageStaging, StageProduction, StageArchived}

// ValidateStage checks a stage name (EINVALID naming the known ones).
func ValidateStage(stage string) error {
	if !slices.Contains(ModelStages, stage) {
		return Errorf(EINVALID, "stage: %q is not one of %s", stage, strings.Join(ModelStages, ", "))
	}
	return nil
}

// ModelFeature is one input column of a model, in the order the model
// reads them.
type ModelFeature struct {
	Name string `json:"name"`
	Type string `json:"type"` // a dataset column type
}

// ModelVersion is one immutable fitted model: a model file in the data
// directory and what is known about it, lineage and training energy
// included.
type ModelVersion struct {
	ID          string `json:"id"`
	ModelID     string `json:"model_id"`
	WorkspaceID string `json:"workspace_id"`
	Version     int    `json:"version"` // 1, 2, … within the model; set by the store
	// Algorithm is one of internal/ml's names (or "xgboost" for an
	// imported model); Task is classification or regression.
	Algorithm string            `json:"algorithm"`
	Task      string            `json:"task"`
	Params    map[string]string `json:"params,omitempty"`
	Features  []ModelFeature    `json:"features"`
	Target    string            `json:"target,omitempty"`
	// Classes are the class labels of a classifier, by class code.
	Classes []string `json:"classes,omitempty"`
	// Metrics are the test metrics: accuracy, precision, recall, f1,
	// roc_auc, pr_auc, log_loss for classifiers; rmse, mae, r2, mape for
	// regressors.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Evaluation holds what the console draws: the confusion matrix or a
	// sample of test residuals, and the search's candidates.
	Evaluation *ModelEvaluation `json:"evaluation,omitempty"`

	// Lineage: the dataset version trained on, the split used and the job
	// that trained it. Empty for an imported model.
	DatasetID        string        `json:"dataset_id,omitempty"`
	DatasetName      string        `json:"dataset_name,omitempty"`
	DatasetVersion   int           `json:"dataset_version,omitempty"`
	DatasetVersionID string        `json:"dataset_version_id,omitempty"`
	Split            *DatasetSplit `json:"split,omitempty"`
	JobID            string        `json:"job_id,omitempty"`
	// TrainRows and TestRows count the rows fitted on and scored on.
	TrainRows int64 `json:"train_rows,omitempty"`
	TestRows  int64 `json:"test_rows,omitempty"`
	// Recipe is set when a preprocessing recipe was fitted on the training
	// split; the fitted recipe itself is in the model file's header.
	Recipe bool `json:"recipe,omitempty"`

	// Source says how the version was made: "train" or "import:xgboost".
	Source string `json:"source"`
	// Path is where the model file lives, relative to the data directory;
	// Hash is "sha256:" and its hex digest.
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Hash  string `json:"hash"`

	// Energy is the training job's energy, emissions and cost, copied from
	// the job once the job is accounted (nil before, and for imports).
	Energy *JobEnergy `json:"energy,omitempty"`

	Stage          string     `json:"stage"`
	StageChangedAt *time.Time `json:"stage_changed_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	CreatedBy      string     `json:"created_by,omitempty"`
}

// ModelEvaluation is the detail of a version's test evaluation.
type ModelEvaluation struct {
	// Confusion is the confusion matrix over Classes, [true][predicted].
	Confusion [][]int `json:"confusion,omitempty"`
	// Residuals is a sample (up to 500, in test order) of test targets and
	// predictions of a regressor.
	Residuals []Residual `json:"residuals,omitempty"`
	// Search lists the candidates of a hyperparameter search, with their
	// mean cross-validated score; the chosen params are the version's.
	Search *SearchResult `json:"search,omitempty"`
}

// Residual is one test row of a regressor.
type Residual struct {
	Actual    float64 `json:"actual"`
	Predicted float64 `json:"predicted"`
}

// SearchResult is a hyperparameter search's record.
type SearchResult struct {
	Method     string            `json:"method"` // grid or random
	Folds      int               `json:"folds"`
	Metric     string            `json:"metric"`
	Candidates []SearchCandidate `json:"candidates"`
}

// SearchCandidate is one params setting and its mean cross-validated score.
type SearchCandidate struct {
	Params map[string]string `json:"params"`
	Score  float64           `json:"score"`
}

// ModelStore keeps models and their versions' metadata; the fitted models
// are files in the data directory. Both stores implement it as part of
// Store.
type ModelStore interface {
	// CreateModel inserts m (ECONFLICT if its name is taken in the
	// workspace, ENOTFOUND if the workspace does not exist, EINVALID
	// without an ID).
	CreateModel(ctx context.Context, m Model) error
	// GetModel returns a model of the workspace by ID or name (ENOTFOUND).
	GetModel(ctx context.Context, workspaceID, idOrName string) (Model, error)
	// ListModels lists a workspace's models by ID.
	ListModels(ctx context.Context, workspaceID string, opt ListOptions) ([]Model, string, error)
	// CreateModelVersion inserts v as the model's next version, setting
	// Version to the latest plus one and Stage to none when empty, and
	// returns the stored version (ENOTFOUND if the model does not exist;
	// ECONFLICT if the ID is taken; EINVALID without an ID).
	CreateModelVersion(ctx context.Context, v ModelVersion) (ModelVersion, error)
	// GetModelVersion returns version n of a model, or the latest when n
	// is 0 (ENOTFOUND).
	GetModelVersion(ctx context.Context, modelID string, n int) (ModelVersion, error)
	// ListModelVersions lists a model's versions, oldest first; the cursor
	// pages by version number.
	ListModelVersions(ctx context.Context, modelID string, opt ListOptions) ([]ModelVersion, string, error)
	// SetModelStage moves version n of a model to stage and returns it.
	// Moving a version to production moves the model's other production
	// version, if any, to archived, and returns it as demoted (EINVALID for
	// an unknown stage, ENOTFOUND).
	SetModelStage(ctx context.Context, modelID string, n int, stage string, at time.Time) (v ModelVersion, demoted *ModelVersion, err error)
	// SetModelEnergy records the training energy of version n of a model
	// (ENOTFOUND).
	SetModelEnergy(ctx context.Context, modelID string, n int, e JobEnergy) error
}

// TrainSpec is what a training job is asked to do. It is accepted as JSON by
// the API and as YAML or flags by the CLI.
type TrainSpec struct {
	// Model names the model the version goes to (created if needed;
	// default: the dataset's name).
	Model string `json:"model,omitempty" yaml:"model"`
	// Dataset names the dataset; DatasetVersion picks a version (0: the
	// newest).
	Dataset        string `json:"dataset" yaml:"dataset"`
	DatasetVersion int    `json:"dataset_version,omitempty" yaml:"dataset_version"`
	// Target is the column to predict (default: the column whose role is
	// target).
	Target string `json:"target,omitempty" yaml:"target"`
	// Features are the input columns (default: every column except the
	// target, the split column and columns whose role is id or ignore).
	Features []string `json:"features,omitempty" yaml:"features"`
	// Task is classification or regression (default: regression for a
	// float target or an algorithm that only regresses, else
	// classification).
	Task string `json:"task,omitempty" yaml:"task"`
	// Split says how to divide the rows (default: the version's recorded
	// split when it has one, else random, seed 42, test size 0.2).
	Split *TrainSplit `json:"split,omitempty" yaml:"split"`
	// Algorithm is one of internal/ml's names; Params its hyperparameters
	// as text (defaults match scikit-learn's).
	Algorithm string            `json:"algorithm" yaml:"algorithm"`
	Params    map[string]string `json:"params,omitempty" yaml:"params"`
	// Search tries several params settings by k-fold cross-validation on
	// the training rows and keeps the best.
	Search *TrainSearch `json:"search,omitempty" yaml:"search"`
	// Recipe is a preprocessing recipe ({"steps": […]}) fitted on the
	// training split and stored in the model file, so prediction replays it.
	Recipe json.RawMessage `json:"recipe,omitempty" yaml:"-"`
}

// TrainSplit is a training split: Method random (default), stratified (by
// the target unless By is set) or chronological (in By order), or
// "existing" for the version's recorded split.
type TrainSplit struct {
	Method   string  `json:"method,omitempty" yaml:"method"`
	Seed     *uint64 `json:"seed,omitempty" yaml:"seed"`
	TestSize float64 `json:"test_size,omitempty" yaml:"test_size"`
	By       string  `json:"by,omitempty" yaml:"by"`
}

// TrainSearch is a hyperparameter search.
type TrainSearch struct {
	Method string `json:"method,omitempty" yaml:"method"` // grid (default) or random
	// Params maps each searched hyperparameter to the values to try; the
	// spec's Params fix the others.
	Params map[string][]string `json:"params" yaml:"params"`
	// Iterations is how many settings a random search tries (default 10).
	Iterations int `json:"iterations,omitempty" yaml:"iterations"`
	// Folds is k of the k-fold cross-validation (default 5).
	Folds int `json:"folds,omitempty" yaml:"folds"`
	// Metric is what to maximise (accuracy, f1, roc_auc for classifiers;
	// r2, rmse, mae for regressors, errors minimised). Default: accuracy
	// or r2.
	Metric string `json:"metric,omitempty" yaml:"metric"`
	Seed   uint64 `json:"seed,omitempty" yaml:"seed"`
}

// PredictSpec asks for a batch prediction: the rows of a dataset version
// through a model version, written as the next version of Output.
type PredictSpec struct {
	Model          string `json:"model" yaml:"model"`
	ModelVersion   int    `json:"model_version,omitempty" yaml:"model_version"` // 0: newest
	Dataset        string `json:"dataset" yaml:"dataset"`
	DatasetVersion int    `json:"dataset_version,omitempty" yaml:"dataset_version"` // 0: newest
	// Output names the dataset the predictions go to (default:
	// "<dataset>-predictions").
	Output string `json:"output,omitempty" yaml:"output"`
}
