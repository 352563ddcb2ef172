package model

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
)

// FileName is the model file of a version, under
// DATA_DIR/models/<model ID>/<version ID>/.
const FileName = "model.joule"

// Split defaults.
const (
	DefaultSeed     = 42
	DefaultTestSize = 0.2
)

// Resolve checks spec against the columns of the dataset version it names
// and fills in its defaults: the target, the task, the split and (without
// a recipe, which may make new columns) the features. Errors are EINVALID
// and name the problem.
func Resolve(spec joule.TrainSpec, v joule.DatasetVersion) (joule.TrainSpec, error) {
	cols := map[string]joule.DatasetColumn{}
	var names []string
	for _, c := range v.Columns {
		cols[c.Name] = c
		names = append(names, c.Name)
	}
	if spec.Algorithm == "" {
		return spec, joule.Errorf(joule.EINVALID, "algorithm: required (one of %s)", algorithmNames())
	}
	if spec.Target == "" {
		for _, c := range v.Columns {
			if c.Role == joule.RoleTarget {
				spec.Target = c.Name
				break
			}
		}
		if spec.Target == "" {
			return spec, joule.Errorf(joule.EINVALID, "target: required (no column has the target role; columns: %s)", strings.Join(names, ", "))
		}
	}
	tc, ok := cols[spec.Target]
	if !ok {
		return spec, joule.Errorf(joule.EINVALID, "target: unknown column %q (columns: %s)", spec.Target, strings.Join(names, ", "))
	}
	numeric := tc.Type == joule.TypeInteger || tc.Type == joule.TypeFloat
	if spec.Task == "" {
		spec.Task = string(defaultTask(spec.Algorithm, tc.Type))
	}
	switch ml.Task(spec.Task) {
	case ml.Classification:
	case ml.Regression:
		if !numeric {
			return spec, joule.Errorf(joule.EINVALID, "target: column %q is %s, not numeric: regression needs a numeric target", spec.Target, tc.Type)
		}
	default:
		return spec, joule.Errorf(joule.EINVALID, "task: %q is not classification or regression", spec.Task)
	}
	if _, err := ml.New(spec.Algorithm, ml.Task(spec.Task), spec.Params); err != nil {
		return spec, joule.Errorf(joule.EINVALID, "%v", err)
	}
	if err := checkSearch(spec); err != nil {
		return spec, err
	}
	sp := joule.TrainSplit{}
	if spec.Split != nil {
		sp = *spec.Split
	}
	if sp.Method == "" {
		if v.Split != nil && sp.Seed == nil && sp.TestSize == 0 {
			sp.Method = "existing"
		} else {
			sp.Method = "random"
		}
	}
	switch sp.Method {
	case "existing":
		if v.Split == nil || !slices.Contains(names, dataset.SplitColumn) {
			return spec, joule.Errorf(joule.EINVALID, "split: dataset version %d has no recorded split (apply a recipe with a split step, or name a method)", v.Version)
		}
	case "random", "stratified", "chronological":
		if sp.Seed == nil {
			s := uint64(DefaultSeed)
			sp.Seed = &s
		}
		if sp.TestSize == 0 {
			sp.TestSize = DefaultTestSize
		}
		if !(sp.TestSize > 0 && sp.TestSize < 1) {
			return spec, joule.Errorf(joule.EINVALID, "split: test_size %v is outside (0, 1)", sp.TestSize)
		}
		if sp.Method == "stratified" && sp.By == "" {
			sp.By = spec.Target
		}
		if sp.By != "" {
			if _, ok := cols[sp.By]; !ok {
				return spec, joule.Errorf(joule.EINVALID, "split: by: unknown column %q", sp.By)
			}
		}
	default:
		return spec, joule.Errorf(joule.EINVALID, "split: method %q is not one of random, stratified, chronological, existing", sp.Method)
	}
	spec.Split = &sp
	if len(spec.Recipe) > 0 {
		if _, err := dataset.ParseRecipe(spec.Recipe); err != nil {
			return spec, err
		}
		return spec, nil // features are checked after the recipe runs
	}
	return resolveFeatures(spec, v.Columns)
}

// resolveFeatures checks or defaults the features against cols.
func resolveFeatures(spec joule.TrainSpec, cols []joule.DatasetColumn) (joule.TrainSpec, error) {
	byName := map[string]joule.DatasetColumn{}
	var names []string
	for _, c := range cols {
		byName[c.Name] = c
		names = append(names, c.Name)
	}
	if len(spec.Features) == 0 {
		for _, c := range cols {
			if c.Name == spec.Target || c.Name == dataset.SplitColumn || c.Role == joule.RoleID || c.Role == joule.RoleIgnore {
				continue
			}
			spec.Features = append(spec.Features, c.Name)
		}
		if len(spec.Features) == 0 {
			return spec, joule.Errorf(joule.EINVALID, "features: no column is left besides the target")
		}
	}
	seen := map[string]bool{}
	for _, f := range spec.Features {
		c, ok := byName[f]
		switch {
		case !ok:
			return spec, joule.Errorf(joule.EINVALID, "features: unknown column %q (columns: %s)", f, strings.Join(names, ", "))
		case f == spec.Target:
			return spec, joule.Errorf(joule.EINVALID, "features: %q is the target", f)
		case seen[f]:
			return spec, joule.Errorf(joule.EINVALID, "features: %q is listed twice", f)
		case c.Type != joule.TypeInteger && c.Type != joule.TypeFloat && c.Type != joule.TypeBoolean:
			return spec, joule.Errorf(joule.EINVALID, "features: column %q is %s, not numeric: encode it with an onehot or ordinal recipe step, or leave it out", f, c.Type)
		}
		seen[f] = true
	}
	return spec, nil
}

func algorithmNames() string {
	var names []string
	for _, a := range ml.Algorithms() {
		if slices.Contains(a.Tasks, ml.Classification) || slices.Contains(a.Tasks, ml.Regression) {
			names = append(names, a.Name)
		}
	}
	return strings.Join(names, ", ")
}

// defaultTask is regression for a float target or a regression-only
// algorithm, else classification.
func defaultTask(algorithm, targetType string) ml.Task {
	for _, a := range ml.Algorithms() {
		if a.Name != algorithm {
			continue
		}
		cl, re := slices.Contains(a.Tasks, ml.Classification), slices.Contains(a.Tasks, ml.Regression)
		switch {
		case re && !cl:
			return ml.Regression
		case cl && !re:
			return ml.Classification
		}
	}
	if targetType == joule.TypeFloat {
		return ml.Regression
	}
	return ml.Classification
}

// Search limits.
const (
	MaxCandidates     = 200
	DefaultFolds      = 5
	DefaultIterations = 10
)

var classMetrics = []string{"accuracy", "f1", "roc_auc"}
var regMetrics = []string{"r2", "rmse", "mae"}

func checkSearch(spec joule.TrainSpec) error {
	s := spec.Search
	if s == nil {
		return nil
	}
	if len(s.Params) == 0 {
		return joule.Errorf(joule.EINVALID, "search: params: name at least one hyperparameter and its values")
	}
	switch s.Method {
	case "", "grid", "random":
	default:
		return joule.Errorf(joule.EINVALID, "search: method %q is not grid or random", s.Method)
	}
	if s.Folds != 0 && (s.Folds < 2 || s.Folds > 20) {
		return joule.Errorf(joule.EINVALID, "search: folds %d is outside 2 to 20", s.Folds)
	}
	if s.Iterations < 0 || s.Iterations > MaxCandidates {
		return joule.Errorf(joule.EINVALID, "search: iterations %d is outside 1 to %d", s.Iterations, MaxCandidates)
	}
	known := classMetrics
	if spec.Task == string(ml.Regression) {
		known = regMetrics
	}
	if s.Metric != "" && !slices.Contains(known, s.Metric) {
		return joule.Errorf(joule.EINVALID, "search: metric %q is not one of %s for %s", s.Metric, strings.Join(known, ", "), spec.Task)
	}
	cands := candidates(spec)
	if s.Method != "random" && len(cands) > MaxCandidates {
		return joule.Errorf(joule.EINVALID, "search: the grid has %d settings, more than %d: use method random", len(cands), MaxCandidates)
	}
	for _, c := range cands {
		if _, err := ml.New(spec.Algorithm, ml.Task(spec.Task), c); err != nil {
			return joule.Errorf(joule.EINVALID, "search: %v", err)
		}
	}
	return nil
}

// candidates lists the grid's settings (the spec's Params with each
// searched one set), in a fixed order.
func candidates(spec joule.TrainSpec) []map[string]string {
	out := []map[string]string{maps.Clone(spec.Params)}
	if out[0] == nil {
		out[0] = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Search.Params)) {
		var next []map[string]string
		for _, c := range out {
			for _, val := range spec.Search.Params[k] {
				m := maps.Clone(c)
				m[k] = val
				next = append(next, m)
				if len(next) > 10*MaxCandidates {
					return next
				}
			}
		}
		out = next
	}
	return out
}

// Table is a version's rows split for training, as float64 matrices.
type Table struct {
	Features            []joule.ModelFeature
	XTrain, XTest       [][]float64
	YTrain, YTest       []float64
	Classes             []string // classification: class labels by code
	Split               *joule.DatasetSplit
	Columns             []joule.DatasetColumn // after the recipe
	Recipe              *dataset.Recipe       // fitted, without the split step
	DroppedMissingLabel int
}

// Load reads the rows spec (resolved) names from version v, whose file is
// under dataDir: it splits them, applies and fits the recipe on the
// training rows (in tmp, removed after), and encodes the target. With
// onlyTarget it reads the target alone (X is empty), to check the split.
func Load(ctx context.Context, cfg dataset.EngineConfig, dataDir string, v joule.DatasetVersion, spec joule.TrainSpec, tmp string, onlyTarget bool) (*Table, error) {
	sp := spec.Split
	var steps []dataset.Step
	if sp.Method != "existing" {
		seed := uint64(DefaultSeed)
		if sp.Seed != nil {
			seed = *sp.Seed
		}
		steps = append(steps, dataset.Step{Split: &dataset.SplitStep{Method: sp.Method, Seed: seed, TestSize: sp.TestSize, By: sp.By}})
	}
	var user dataset.Recipe
	if len(spec.Recipe) > 0 && !onlyTarget {
		var err error
		if user, err = dataset.ParseRecipe(spec.Recipe); err != nil {
			return nil, err
		}
		steps = append(steps, user.Steps...)
	}
	src := filepath.Join(dataDir, v.Path)
	cols := v.Columns
	t := &Table{Split: v.Split}
	if len(steps) > 0 {
		if onlyTarget {
			keep := []string{spec.Target}
			if sp.By != "" && sp.By != spec.Target {
				keep = append(keep, sp.By)
			}
			steps = append([]dataset.Step{{Select: keep}}, steps...)
		}
		dir, err := os.MkdirTemp(tmp, "train-")
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		defer os.RemoveAll(dir)
		res, err := dataset.Apply(ctx, cfg, src, v.Columns, dataset.Recipe{Steps: steps}, filepath.Join(dir, "t"))
		if err != nil {
			return nil, err
		}
		src, cols, t.Split = filepath.Join(dir, "t", dataset.DataFile), res.Columns, res.Split
		if len(user.Steps) > 0 {
			fitted := res.Fitted
			fitted.Steps = fitted.Steps[len(steps)-len(user.Steps):]
			t.Recipe = &fitted
		}
	}
	t.Columns = cols
	if !onlyTarget {
		var err error
		if spec, err = resolveFeatures(spec, cols); err != nil {
			return nil, err
		}
	}
	byName := map[string]joule.DatasetColumn{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	tc, ok := byName[spec.Target]
	if !ok {
		return nil, joule.Errorf(joule.EINVALID, "target: the recipe left no column %q", spec.Target)
	}
	read := []joule.DatasetColumn{tc, {Name: dataset.SplitColumn, Type: joule.TypeString}}
	if !onlyTarget {
		for _, f := range spec.Features {
			read = append(read, byName[f])
			t.Features = append(t.Features, joule.ModelFeature{Name: f, Type: byName[f].Type})
		}
	}
	frame, err := dataset.ReadFrame(ctx, cfg, src, read)
	if err != nil {
		return nil, err
	}
	target, split := frame[0], frame[1]
	for _, f := range frame[2:] {
		for i, null := range f.Null {
			if null {
				return nil, joule.Errorf(joule.EINVALID, "features: column %q has a missing value (row %d): impute it with a recipe step", f.Name, i+1)
			}
		}
	}
	var codes map[string]int
	if spec.Task == string(ml.Classification) {
		t.Classes, codes = classesOf(target)
	}
	for i := range target.Null {
		if target.Null[i] {
			t.DroppedMissingLabel++
			continue
		}
		y := target.Num[i]
		if codes != nil {
			y = float64(codes[target.Text[i]])
		}
		x := make([]float64, len(frame)-2)
		for j, f := range frame[2:] {
			x[j] = f.Num[i]
		}
		if split.Text[i] == "test" {
			t.XTest, t.YTest = append(t.XTest, x), append(t.YTest, y)
		} else {
			t.XTrain, t.YTrain = append(t.XTrain, x), append(t.YTrain, y)
		}
	}
	if len(t.YTrain) == 0 || len(t.YTest) == 0 {
		return nil, joule.Errorf(joule.EINVALID, "split: %d training and %d test rows: both need at least one", len(t.YTrain), len(t.YTest))
	}
	if codes != nil {
		seen := make([]bool, len(t.Classes))
		for _, y := range t.YTrain {
			seen[int(y)] = true
		}
		var present []string
		for k, ok := range seen {
			if ok {
				present = append(present, t.Classes[k])
			}
		}
		if len(present) < 2 {
			return nil, joule.Errorf(joule.EINVALID, "target: the training split holds a single class (%s of column %q): a classifier needs at least two", strings.Join(present, ", "), spec.Target)
		}
		for k, ok := range seen {
			if !ok {
				return nil, joule.Errorf(joule.EINVALID, "target: class %q of column %q appears only in the test split", t.Classes[k], spec.Target)
			}
		}
	}
	return t, nil
}

// classesOf returns the distinct non-missing labels, sorted (numerically
// for numeric columns), and their codes.
func classesOf(c dataset.FrameColumn) ([]string, map[string]int) {
	codes := map[string]int{}
	var labels []string
	num := map[string]float64{}
	for i, s := range c.Text {
		if c.Null[i] {
			continue
		}
		if _, ok := codes[s]; !ok {
			codes[s] = 0
			labels = append(labels, s)
			num[s] = c.Num[i]
		}
	}
	numeric := c.Type == joule.TypeInteger || c.Type == joule.TypeFloat || c.Type == joule.TypeBoolean
	slices.SortFunc(labels, func(a, b string) int {
		if numeric {
			return cmp.Compare(num[a], num[b])
		}
		return strings.Compare(a, b)
	})
	for k, s := range labels {
		codes[s] = k
	}
	return labels, codes
}

// Result is what Train made: the fitted model, its chosen params, the test
// metrics and evaluation.
type Result struct {
	Model      ml.Model
	Params     map[string]string
	Metrics    map[string]float64
	Evaluation *joule.ModelEvaluation
}

// Fit fits spec's algorithm on t's training rows (searching first when
// spec has a search) and scores the test rows.
func Fit(spec joule.TrainSpec, t *Table) (*Result, error) {
	task := ml.Task(spec.Task)
	params := spec.Params
	ev := &joule.ModelEvaluation{}
	if spec.Search != nil {
		best, sr, err := search(spec, t)
		if err != nil {
			return nil, err
		}
		params, ev.Search = best, sr
	}
	est, err := ml.New(spec.Algorithm, task, params)
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "%v", err)
	}
	m, err := est.Fit(t.XTrain, t.YTrain)
	if err != nil {
		if errors.Is(err, ml.ErrOneClassTraining) {
			return nil, joule.Errorf(joule.EINVALID, "target: %v", err)
		}
		return nil, fmt.Errorf("fit %s: %w", spec.Algorithm, err)
	}
	metrics, err := score(m, t.XTest, t.YTest, len(t.Classes), ev)
	if err != nil {
		return nil, err
	}
	return &Result{Model: m, Params: est.Params(), Metrics: metrics, Evaluation: ev}, nil
}

// score computes the test metrics of m, and fills ev's confusion matrix or
// residuals.
func score(m ml.Model, X [][]float64, y []float64, k int, ev *joule.ModelEvaluation) (map[string]float64, error) {
	out := map[string]float64{}
	switch mm := m.(type) {
	case ml.Classifier:
		yc := make([]int, len(y))
		pred := make([]int, len(y))
		scores := make([][]float64, len(y))
		for i, x := range X {
			yc[i] = int(y[i])
			s := make([]float64, mm.NumClasses())
			mm.Scores(x, s)
			scores[i] = s
			pred[i] = argmax(s)
		}
		mc, err := ml.ScoreMulticlass(yc, pred, max(k, mm.NumClasses()))
		if err != nil {
			return nil, fmt.Errorf("score: %w", err)
		}
		out["accuracy"] = mc.Accuracy
		if ev != nil {
			ev.Confusion = mc.Confusion
		}
		if mm.NumClasses() == 2 {
			c, err := ml.NewConfusion(yc, pred)
			if err != nil {
				return nil, fmt.Errorf("score: %w", err)
			}
			out["precision"], out["recall"], out["f1"] = c.Precision(), c.Recall(), c.F1()
			pos := make([]float64, len(y))
			for i, s := range scores {
				pos[i] = s[1]
			}
			if auc, err := ml.ROCAUC(yc, pos); err == nil {
				out["roc_auc"] = auc
			}
			if ap, err := ml.AveragePrecision(yc, pos); err == nil {
				out["pr_auc"] = ap
			}
		} else {
			out["precision"], out["recall"], out["f1"] = mc.Macro.Precision, mc.Macro.Recall, mc.Macro.F1
		}
		if mm.Probabilistic() {
			if ll, err := ml.LogLoss(yc, scores); err == nil {
				out["log_loss"] = ll
			}
		}
	case ml.Regressor:
		pred := make([]float64, len(y))
		for i, x := range X {
			pred[i] = mm.Predict(x)
		}
		r, err := ml.ScoreRegression(y, pred)
		if err != nil {
			return nil, fmt.Errorf("score: %w", err)
		}
		out["rmse"], out["mae"], out["r2"], out["mape"] = r.RMSE, r.MAE, r.R2, r.MAPE
		if ev != nil {
			for i := range y[:min(len(y), 500)] {
				ev.Residuals = append(ev.Residuals, joule.Residual{Actual: y[i], Predicted: pred[i]})
			}
		}
	default:
		return nil, fmt.Errorf("score: a %s model is not a classifier or regressor", m.Task())
	}
	for k, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(out, k) // JSON cannot carry them; undefined here
		}
	}
	return out, nil
}

func argmax(s []float64) int {
	best := 0
	for k, v := range s {
		if v > s[best] {
			best = k
		}
	}
	return best
}

// search scores each candidate by k-fold cross-validation on the training
// rows (contiguous folds, as scikit-learn's KFold without shuffling) and
// returns the best one's params (the first on ties).
func search(spec joule.TrainSpec, t *Table) (map[string]string, *joule.SearchResult, error) {
	s := spec.Search
	sr := &joule.SearchResult{Method: cmp.Or(s.Method, "grid"), Folds: cmp.Or(s.Folds, DefaultFolds), Metric: s.Metric}
	if sr.Metric == "" {
		sr.Metric = "accuracy"
		if spec.Task == string(ml.Regression) {
			sr.Metric = "r2"
		}
	}
	cands := candidates(spec)
	if sr.Method == "random" {
		n := min(cmp.Or(s.Iterations, DefaultIterations), len(cands))
		perm := ml.NewSplitMix64(s.Seed).Permutation(len(cands))
		picked := make([]map[string]string, n)
		for i := range n {
			picked[i] = cands[perm[i]]
		}
		cands = picked
	}
	n := len(t.XTrain)
	if n < sr.Folds {
		return nil, nil, joule.Errorf(joule.EINVALID, "search: %d training rows cannot make %d folds", n, sr.Folds)
	}
	bestScore, best := math.Inf(-1), -1
	for ci, c := range cands {
		est, err := ml.New(spec.Algorithm, ml.Task(spec.Task), c)
		if err != nil {
			return nil, nil, joule.Errorf(joule.EINVALID, "search: %v", err)
		}
		total, used := 0.0, 0
		for f := range sr.Folds {
			lo, hi := f*n/sr.Folds, (f+1)*n/sr.Folds
			var xtr, xva [][]float64
			var ytr, yva []float64
			for i := range n {
				if i >= lo && i < hi {
					xva, yva = append(xva, t.XTrain[i]), append(yva, t.YTrain[i])
				} else {
					xtr, ytr = append(xtr, t.XTrain[i]), append(ytr, t.YTrain[i])
				}
			}
			m, err := est.Fit(xtr, ytr)
			if err != nil {
				continue // a fold with one class, say: skipped
			}
			ms, err := score(m, xva, yva, len(t.Classes), nil)
			if err != nil {
				continue
			}
			v, ok := ms[sr.Metric]
			if !ok {
				continue
			}
			if sr.Metric == "rmse" || sr.Metric == "mae" {
				v = -v
			}
			total += v
			used++
		}
		if used == 0 {
			return nil, nil, joule.Errorf(joule.EINVALID, "search: no fold could be scored on %s for %v", sr.Metric, c)
		}
		mean := total / float64(used)
		sr.Candidates = append(sr.Candidates, joule.SearchCandidate{Params: est.Params(), Score: mean})
		if mean > bestScore {
			bestScore, best = mean, ci
		}
	}
	return cands[best], sr, nil
}

// WriteFile writes the model file of a version to dataDir/rel and returns
// its size and hash.
func WriteFile(dataDir, rel string, m ml.Model, h modelfile.Header) (int64, string, error) {
	path := filepath.Join(dataDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, "", fmt.Errorf("write model: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("write model: %w", err)
	}
	hash := sha256.New()
	w := &countWriter{w: io.MultiWriter(f, hash)}
	if err := ml.Save(w, m, h); err != nil {
		f.Close()
		os.Remove(path)
		return 0, "", fmt.Errorf("write model: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return 0, "", fmt.Errorf("write model: %w", err)
	}
	return w.n, "sha256:" + hex.EncodeToString(hash.Sum(nil)), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Train is the work of a training job, in the job's own process: it
// resolves spec against version v of dataset d (files under dataDir),
// loads and splits the rows, fits and scores, writes the model file under
// dataDir/models/<modelID>/, and returns the version to register.
func Train(ctx context.Context, dataDir, modelID string, d joule.Dataset, v joule.DatasetVersion, spec joule.TrainSpec, jobID string) (joule.ModelVersion, error) {
	spec, err := Resolve(spec, v)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	cfg := dataset.EngineConfig{TempDir: filepath.Join(dataDir, "datasets", "tmp")}
	if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
		return joule.ModelVersion{}, fmt.Errorf("train: %w", err)
	}
	t, err := Load(ctx, cfg, dataDir, v, spec, cfg.TempDir, false)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	res, err := Fit(spec, t)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	h := modelfile.Header{Classes: t.Classes, Params: res.Params}
	for _, f := range t.Features {
		h.Features = append(h.Features, modelfile.Feature{Name: f.Name, Type: f.Type})
	}
	if t.Recipe != nil {
		if h.Recipe, err = json.Marshal(t.Recipe); err != nil {
			return joule.ModelVersion{}, fmt.Errorf("train: %w", err)
		}
	}
	vid := joule.NewID("mdv", timeNow())
	rel := filepath.Join("models", modelID, vid, FileName)
	size, hash, err := WriteFile(dataDir, rel, res.Model, h)
	if err != nil {
		return joule.ModelVersion{}, err
	}
	return joule.ModelVersion{
		ID: vid, ModelID: modelID, Algorithm: spec.Algorithm, Task: spec.Task, Params: res.Params, Features: t.Features,
		Target: spec.Target, Classes: t.Classes, Metrics: res.Metrics, Evaluation: res.Evaluation,
		DatasetID: d.ID, DatasetName: d.Name, DatasetVersion: v.Version, DatasetVersionID: v.ID, Split: t.Split, JobID: jobID,
		TrainRows: int64(len(t.YTrain)), TestRows: int64(len(t.YTest)), Recipe: t.Recipe != nil,
		Source: "train", Path: rel, Bytes: size, Hash: hash,
	}, nil
}

// formatMetric renders a metric for humans.
func formatMetric(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
