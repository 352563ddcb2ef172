package ml

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/joule-dev/joule/internal/ml/bayes"
	"github.com/joule-dev/joule/internal/ml/boost"
	"github.com/joule-dev/joule/internal/ml/cluster"
	"github.com/joule-dev/joule/internal/ml/forest"
	"github.com/joule-dev/joule/internal/ml/knn"
	"github.com/joule-dev/joule/internal/ml/linear"
	"github.com/joule-dev/joule/internal/ml/mf"
	"github.com/joule-dev/joule/internal/ml/modelfile"
	"github.com/joule-dev/joule/internal/ml/svm"
	"github.com/joule-dev/joule/internal/ml/tree"
)

// Task is what a model predicts.
type Task string

// Tasks.
const (
	Classification Task = "classification" // y holds class codes 0..K-1
	Regression     Task = "regression"     // y holds real targets
	Clustering     Task = "clustering"     // y is ignored
	// Recommendation: each X row is [user code, item code], y the rating.
	Recommendation Task = "recommendation"
)

// Model is a fitted model of any algorithm. Save writes it to a model
// file; Load reads it back.
type Model interface {
	Algorithm() string
	Task() Task
	NumFeatures() int
	encode(*modelfile.Encoder)
}

// Classifier is a fitted classification model.
type Classifier interface {
	Model
	NumClasses() int
	// Probabilistic reports whether Scores are class probabilities. When
	// false (an SVM without probability=true) they are decision values:
	// higher means more likely, and for two classes out[1] = −out[0].
	Probabilistic() bool
	// Scores writes one score per class for x into out.
	Scores(x []float64, out []float64)
}

// Regressor is a fitted regression model (and a rating model: x is
// [user code, item code]).
type Regressor interface {
	Model
	Predict(x []float64) float64
}

// Clusterer is a fitted clustering.
type Clusterer interface {
	Model
	NumClusters() int
	Cluster(x []float64) int
}

// PredictClass returns the class with the highest score, the lowest
// class on ties, as scikit-learn's argmax does.
func PredictClass(c Classifier, x []float64) int {
	out := make([]float64, c.NumClasses())
	c.Scores(x, out)
	best := 0
	for k, v := range out {
		if v > out[best] {
			best = k
		}
	}
	return best
}

// Estimator is an algorithm with its hyperparameters, ready to fit.
type Estimator interface {
	Algorithm() string
	Task() Task
	// Params returns every hyperparameter as text, defaults included.
	Params() map[string]string
	// Fit fits a model on the rows of X: a Classifier, Regressor or
	// Clusterer according to Task.
	Fit(X [][]float64, y []float64) (Model, error)
}

// AlgorithmInfo describes a registered algorithm.
type AlgorithmInfo struct {
	Name   string
	Tasks  []Task
	Params []Param
}

type algorithm struct {
	info AlgorithmInfo
	// build parses the params and returns the fit function for task.
	build func(p *params, task Task) func(X [][]float64, y []float64, k int) (Model, error)
}

var registry = map[string]*algorithm{}

func register(a *algorithm) {
	if _, dup := registry[a.info.Name]; dup {
		panic("ml: algorithm registered twice: " + a.info.Name)
	}
	registry[a.info.Name] = a
}

// Algorithms lists the registered algorithms by name.
func Algorithms() []AlgorithmInfo {
	var out []AlgorithmInfo
	for _, a := range registry {
		out = append(out, a.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrUnknownAlgorithm is returned by New for a name not in the registry.
var ErrUnknownAlgorithm = errors.New("unknown algorithm")

// New returns the named algorithm for task with the given hyperparameters
// (text values, as a spec or a command line carries them). An unknown
// algorithm, a task it does not do, an unknown parameter or a bad value
// gets an error that names it.
func New(name string, task Task, params map[string]string) (Estimator, error) {
	a, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownAlgorithm, name, orNone(names))
	}
	if !slices.Contains(a.info.Tasks, task) {
		return nil, fmt.Errorf("%s does not do %s (it does %v)", name, task, a.info.Tasks)
	}
	p := newParams(name, a.info.Params, params)
	fit := a.build(p, task)
	if p.err != nil {
		return nil, p.err
	}
	return &estimator{name: name, task: task, params: p.resolved(), fit: fit}, nil
}

type estimator struct {
	name   string
	task   Task
	params map[string]string
	fit    func(X [][]float64, y []float64, k int) (Model, error)
}

func (e *estimator) Algorithm() string         { return e.name }
func (e *estimator) Task() Task                { return e.task }
func (e *estimator) Params() map[string]string { return e.params }

func (e *estimator) Fit(X [][]float64, y []float64) (Model, error) {
	if len(X) == 0 {
		return nil, fmt.Errorf("%s: no training rows", e.name)
	}
	if e.task != Clustering && len(y) != len(X) {
		return nil, fmt.Errorf("%s: %d rows and %d targets", e.name, len(X), len(y))
	}
	d := len(X[0])
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("%s: row %d has %d features, want %d", e.name, i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: row %d feature %d is %v, want a finite number", e.name, i, j, v)
			}
		}
	}
	k := 0
	switch e.task {
	case Classification:
		var err error
		if k, err = classCount(y); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	case Regression, Recommendation:
		for i, v := range y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: row %d: target %v, want a finite number", e.name, i, v)
			}
		}
	}
	return e.fit(X, y, k)
}

// ErrOneClassTraining is returned when the training labels hold a single
// class.
var ErrOneClassTraining = errors.New("the training labels hold only one class")

// classCount checks class codes 0..K-1, each present, K ≥ 2.
func classCount(y []float64) (int, error) {
	k := 0
	for i, v := range y {
		if v != math.Trunc(v) || v < 0 || v > 1<<20 {
			return 0, fmt.Errorf("row %d: label %v is not a class code (0, 1, 2, …)", i, v)
		}
		k = max(k, int(v)+1)
	}
	seen := make([]bool, k)
	for _, v := range y {
		seen[int(v)] = true
	}
	present := 0
	for _, ok := range seen {
		if ok {
			present++
		}
	}
	if present < 2 {
		return 0, ErrOneClassTraining
	}
	for c, ok := range seen {
		if !ok {
			return 0, fmt.Errorf("class %d has no training rows", c)
		}
	}
	return k, nil
}

func ints(y []float64) []int {
	out := make([]int, len(y))
	for i, v := range y {
		out[i] = int(v)
	}
	return out
}

// classifier and regressor adapt the family packages' models.
type classifier struct {
	algo   string
	d, k   int
	prob   bool
	scores func(x, out []float64)
	enc    func(*modelfile.Encoder)
}

func (c *classifier) Algorithm() string           { return c.algo }
func (c *classifier) Task() Task                  { return Classification }
func (c *classifier) NumFeatures() int            { return c.d }
func (c *classifier) NumClasses() int             { return c.k }
func (c *classifier) Probabilistic() bool         { return c.prob }
func (c *classifier) Scores(x, out []float64)     { c.scores(x, out) }
func (c *classifier) encode(e *modelfile.Encoder) { e.Uint(uint64(c.d)); e.Uint(uint64(c.k)); c.enc(e) }
func (r *regressor) Algorithm() string            { return r.algo }
func (r *regressor) Task() Task                   { return r.task }
func (r *regressor) NumFeatures() int             { return r.d }
func (r *regressor) Predict(x []float64) float64  { return r.predict(x) }
func (r *regressor) encode(e *modelfile.Encoder)  { e.Uint(uint64(r.d)); r.enc(e) }
func (c *clusterer) Algorithm() string            { return "kmeans" }
func (c *clusterer) Task() Task                   { return Clustering }
func (c *clusterer) NumFeatures() int             { return len(c.m.Centers[0]) }
func (c *clusterer) NumClusters() int             { return len(c.m.Centers) }
func (c *clusterer) Cluster(x []float64) int      { return c.m.Predict(x) }
func (c *clusterer) encode(e *modelfile.Encoder)  { encodeKMeans(e, c.m) }
func binaryScores(f func([]float64) float64) func(x, out []float64) {
	return func(x, out []float64) {
		v := f(x)
		out[0], out[1] = -v, v
	}
}

type regressor struct {
	algo    string
	task    Task
	d       int
	predict func(x []float64) float64
	enc     func(*modelfile.Encoder)
}

type clusterer struct{ m *cluster.KMeans }

func binaryOnly(name string, k int) error {
	if k != 2 {
		return fmt.Errorf("%s: %d classes; it supports binary classification only", name, k)
	}
	return nil
}

func init() {
	seedParam := Param{"random_state", "0", "seed; the same seed gives the same model"}
	register(&algorithm{
		info: AlgorithmInfo{Name: "logistic_regression", Tasks: []Task{Classification}, Params: []Param{
			{"C", "1.0", "inverse L2 regularisation strength"},
			{"max_iter", "100", "Newton iterations"},
		}},
		// Two classes: binary logistic regression; more: multinomial
		// (softmax), as scikit-learn's default multi_class="auto" picks.
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			opts := linear.LogisticOptions{C: p.floatv("C", 0, false), MaxIter: p.intv("max_iter", 1, 0)}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if k > 2 {
					m, err := linear.FitMultinomial(X, ints(y), k, opts)
					if err != nil {
						return nil, err
					}
					return multinomialModel(m, len(X[0])), nil
				}
				m, err := linear.FitLogistic(X, ints(y), opts)
				if err != nil {
					return nil, err
				}
				return logisticModel(m, len(X[0])), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "linear_regression", Tasks: []Task{Regression}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			return func(X [][]float64, y []float64, _ int) (Model, error) {
				m, err := linear.FitOLS(X, y)
				if err != nil {
					return nil, err
				}
				return linRegModel("linear_regression", m), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "ridge", Tasks: []Task{Regression}, Params: []Param{
			{"alpha", "1.0", "L2 penalty on the coefficients (the intercept is not penalised)"},
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			alpha := p.floatv("alpha", 0, false)
			return func(X [][]float64, y []float64, _ int) (Model, error) {
				m, err := linear.FitRidge(X, y, alpha)
				if err != nil {
					return nil, err
				}
				return linRegModel("ridge", m), nil
			}
		},
	})
	treeParams := []Param{
		{"criterion", "auto", "gini or entropy for classification, squared_error for regression; auto picks gini or squared_error"},
		{"max_depth", "none", "depth limit; none grows until leaves are pure"},
		{"min_samples_split", "2", "fewest rows a node needs to be split"},
		{"min_samples_leaf", "1", "fewest rows in a leaf"},
		{"min_impurity_decrease", "0.0", "a split must decrease the weighted impurity by at least this"},
	}
	readTree := func(p *params, task Task) tree.Params {
		crit := p.choice("criterion", "auto", tree.Gini, tree.Entropy, tree.SquaredError)
		if crit == "auto" {
			crit = ""
		} else if (task == Regression) != (crit == tree.SquaredError) {
			p.fail("criterion", "%q does not fit %s", crit, task)
		}
		return tree.Params{
			Criterion: crit, MaxDepth: p.intv("max_depth", 1, 0),
			MinSamplesSplit: p.intv("min_samples_split", 2, 0), MinSamplesLeaf: p.intv("min_samples_leaf", 1, 0),
			MinImpurityDecrease: p.floatv("min_impurity_decrease", 0, true),
		}
	}
	register(&algorithm{
		info: AlgorithmInfo{Name: "decision_tree", Tasks: []Task{Classification, Regression},
			Params: append(slices.Clone(treeParams),
				Param{"max_features", "none", "features tried per split; none tries all"}, seedParam)},
		build: func(p *params, task Task) func([][]float64, []float64, int) (Model, error) {
			tp := readTree(p, task)
			tp.MaxFeatures = p.intv("max_features", 1, 0)
			tp.Seed = p.seed("random_state")
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if task == Classification {
					t, err := tree.FitClassifier(X, ints(y), k, nil, tp)
					if err != nil {
						return nil, err
					}
					return treeClassifier("decision_tree", k, t), nil
				}
				t, err := tree.FitRegressor(X, y, nil, tp)
				if err != nil {
					return nil, err
				}
				return treeRegressor(t), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "random_forest", Tasks: []Task{Classification, Regression},
			Params: append([]Param{{"n_estimators", "100", "trees"}}, append(slices.Clone(treeParams),
				Param{"max_features", "auto", "features drawn per split: auto (sqrt for classification, all for regression), sqrt, log2, all, or a count"},
				Param{"bootstrap", "true", "grow each tree on a bootstrap sample"},
				Param{"n_jobs", "0", "trees grown at once; 0 uses every core"},
				seedParam)...)},
		build: func(p *params, task Task) func([][]float64, []float64, int) (Model, error) {
			tp := readTree(p, task)
			fp := forest.Params{NumTrees: p.intv("n_estimators", 1, 0), Criterion: tp.Criterion, MaxDepth: tp.MaxDepth,
				MinSamplesSplit: tp.MinSamplesSplit, MinSamplesLeaf: tp.MinSamplesLeaf, MinImpurityDecrease: tp.MinImpurityDecrease,
				NoBootstrap: !p.boolv("bootstrap"), Workers: p.intv("n_jobs", 0, 0), Seed: p.seed("random_state")}
			mf := p.in["max_features"]
			return func(X [][]float64, y []float64, k int) (Model, error) {
				fp := fp
				d := len(X[0])
				switch mf {
				case "auto":
				case "sqrt":
					fp.MaxFeatures = max(1, int(math.Sqrt(float64(d))))
				case "log2":
					fp.MaxFeatures = max(1, int(math.Log2(float64(d))))
				case "all":
					fp.MaxFeatures = d
				default:
					var n int
					if _, err := fmt.Sscanf(mf, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != mf {
						return nil, &ParamError{"random_forest", "max_features", fmt.Sprintf("%q: want auto, sqrt, log2, all or a count", mf)}
					}
					fp.MaxFeatures = min(n, d)
				}
				if task == Classification {
					f, err := forest.FitClassifier(X, ints(y), k, fp)
					if err != nil {
						return nil, err
					}
					return forestClassifier(f, d, k), nil
				}
				f, err := forest.FitRegressor(X, y, fp)
				if err != nil {
					return nil, err
				}
				return forestRegressor(f, d), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "gradient_boosting", Tasks: []Task{Classification, Regression}, Params: []Param{
			{"n_estimators", "100", "boosting rounds"},
			{"learning_rate", "0.1", "shrinkage of each tree"},
			{"max_depth", "3", "depth of each tree"},
			{"min_samples_leaf", "1", "fewest rows in a leaf"},
			{"subsample", "1.0", "fraction of rows drawn for each round"},
			{"max_bins", "255", "histogram bins per feature (2..255)"},
			{"n_iter_no_change", "none", "early stopping: rounds without improvement on the validation split; none turns it off"},
			{"validation_fraction", "0.1", "rows held out for early stopping"},
			{"tol", "1e-4", "the least validation-loss improvement that counts"},
			{"n_jobs", "0", "histogram workers; 0 uses every core"},
			seedParam,
		}},
		build: func(p *params, task Task) func([][]float64, []float64, int) (Model, error) {
			bp := boost.Params{NumTrees: p.intv("n_estimators", 1, 0), LearningRate: p.floatv("learning_rate", 0, false),
				MaxDepth: p.intv("max_depth", 1, 0), MinSamplesLeaf: p.intv("min_samples_leaf", 1, 0),
				Subsample: p.floatv("subsample", 0, false), MaxBins: p.intv("max_bins", 2, 0),
				NIterNoChange: p.intv("n_iter_no_change", 1, 0), ValidationFraction: p.floatv("validation_fraction", 0, false),
				Tol: p.floatv("tol", 0, true), Workers: p.intv("n_jobs", 0, 0), Seed: p.seed("random_state")}
			if bp.Subsample > 1 {
				p.fail("subsample", "%v: want a fraction in (0, 1]", bp.Subsample)
			}
			if bp.MaxBins > 255 {
				p.fail("max_bins", "%d: want 2..255", bp.MaxBins)
			}
			if bp.ValidationFraction >= 1 {
				p.fail("validation_fraction", "%v: want a fraction in (0, 1)", bp.ValidationFraction)
			}
			if bp.Tol == 0 {
				bp.Tol = 1e-300 // 0 means the default inside boost
			}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if task == Classification {
					m, err := boost.FitClassifier(X, ints(y), k, bp)
					if err != nil {
						return nil, err
					}
					return boostClassifier(m), nil
				}
				m, err := boost.FitRegressor(X, y, bp)
				if err != nil {
					return nil, err
				}
				return boostRegressor(m), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "knn", Tasks: []Task{Classification, Regression}, Params: []Param{
			{"n_neighbors", "5", "neighbours consulted"},
			{"weights", "uniform", "uniform or distance (1/distance)"},
		}},
		build: func(p *params, task Task) func([][]float64, []float64, int) (Model, error) {
			kp := knn.Params{K: p.intv("n_neighbors", 1, 0), Weights: p.choice("weights", knn.Uniform, knn.Distance)}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if task == Classification {
					m, err := knn.FitClassifier(X, ints(y), k, kp)
					if err != nil {
						return nil, err
					}
					return knnClassifier(m), nil
				}
				m, err := knn.FitRegressor(X, y, kp)
				if err != nil {
					return nil, err
				}
				return knnRegressor(m), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "linear_svm", Tasks: []Task{Classification}, Params: []Param{
			{"C", "1.0", "inverse regularisation of the squared hinge loss"},
			{"max_iter", "1000", "Newton iterations"},
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			lp := svm.LinearParams{C: p.floatv("C", 0, false), MaxIter: p.intv("max_iter", 1, 0)}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if err := binaryOnly("linear_svm", k); err != nil {
					return nil, err
				}
				m, err := svm.FitLinear(X, ints(y), lp)
				if err != nil {
					return nil, err
				}
				return linearSVMModel(m, len(X[0])), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "svm", Tasks: []Task{Classification}, Params: []Param{
			{"C", "1.0", "inverse regularisation"},
			{"kernel", "rbf", "rbf is the only kernel"},
			{"gamma", "scale", "RBF width: scale (1/(d·Var X)) or a number"},
			{"tol", "1e-3", "stopping tolerance of SMO"},
			{"max_iter", "none", "SMO steps; none is unbounded"},
			{"probability", "false", "fit Platt probabilities by 5-fold cross-validation"},
			seedParam,
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			kp := svm.KernelParams{C: p.floatv("C", 0, false), Tol: p.floatv("tol", 0, false),
				MaxIter: p.intv("max_iter", 1, 0), Probability: p.boolv("probability"), Seed: p.seed("random_state")}
			p.choice("kernel", "rbf")
			if p.in["gamma"] != "scale" {
				kp.Gamma = p.floatv("gamma", 0, false)
			}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				if err := binaryOnly("svm", k); err != nil {
					return nil, err
				}
				m, err := svm.FitKernel(X, ints(y), kp)
				if err != nil {
					return nil, err
				}
				return kernelSVMModel(m, len(X[0])), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "naive_bayes", Tasks: []Task{Classification}, Params: []Param{
			{"var_smoothing", "1e-9", "share of the largest feature variance added to every variance"},
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			bp := bayes.Params{VarSmoothing: p.floatv("var_smoothing", 0, false)}
			return func(X [][]float64, y []float64, k int) (Model, error) {
				m, err := bayes.Fit(X, ints(y), k, bp)
				if err != nil {
					return nil, err
				}
				return bayesModel(m, len(X[0])), nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "kmeans", Tasks: []Task{Clustering}, Params: []Param{
			{"n_clusters", "8", "clusters"},
			{"max_iter", "300", "Lloyd iterations per run"},
			{"n_init", "10", "runs from different seeds; the lowest inertia wins"},
			{"tol", "1e-4", "stop when the centres move less than this (relative to the data's variance)"},
			seedParam,
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			cp := cluster.Params{K: p.intv("n_clusters", 1, 0), MaxIter: p.intv("max_iter", 1, 0),
				NInit: p.intv("n_init", 1, 0), Tol: p.floatv("tol", 0, true), Seed: p.seed("random_state")}
			if cp.Tol == 0 {
				cp.Tol = 1e-300
			}
			return func(X [][]float64, _ []float64, _ int) (Model, error) {
				m, err := cluster.Fit(X, cp)
				if err != nil {
					return nil, err
				}
				return &clusterer{m}, nil
			}
		},
	})
	register(&algorithm{
		info: AlgorithmInfo{Name: "matrix_factorization", Tasks: []Task{Recommendation}, Params: []Param{
			{"factors", "10", "latent dimensions"},
			{"epochs", "100", "SGD passes over the ratings"},
			{"learning_rate", "0.005", "SGD step"},
			{"reg", "0.1", "L2 penalty on biases and factors"},
			{"init_std", "0.1", "standard deviation of the initial factors"},
			seedParam,
		}},
		build: func(p *params, _ Task) func([][]float64, []float64, int) (Model, error) {
			mp := mf.Params{Factors: p.intv("factors", 1, 0), Epochs: p.intv("epochs", 1, 0),
				LearningRate: p.floatv("learning_rate", 0, false), Reg: p.floatv("reg", 0, false),
				InitStd: p.floatv("init_std", 0, false), Seed: p.seed("random_state")}
			return func(X [][]float64, y []float64, _ int) (Model, error) {
				ratings, nu, ni, err := ratingRows(X, y)
				if err != nil {
					return nil, err
				}
				m, err := mf.Fit(ratings, nu, ni, mp)
				if err != nil {
					return nil, err
				}
				return mfModel(m), nil
			}
		},
	})
}

// ratingRows reads [user code, item code] rows.
func ratingRows(X [][]float64, y []float64) ([]mf.Rating, int, int, error) {
	if len(X[0]) != 2 {
		return nil, 0, 0, fmt.Errorf("matrix_factorization: rows have %d columns, want 2 (user code, item code)", len(X[0]))
	}
	out := make([]mf.Rating, len(X))
	nu, ni := 0, 0
	for i, row := range X {
		u, it := row[0], row[1]
		if u != math.Trunc(u) || it != math.Trunc(it) || u < 0 || it < 0 || u > 1<<30 || it > 1<<30 {
			return nil, 0, 0, fmt.Errorf("matrix_factorization: row %d: user %v, item %v: want codes 0, 1, 2, …", i, u, it)
		}
		out[i] = mf.Rating{User: int(u), Item: int(it), Value: y[i]}
		nu, ni = max(nu, int(u)+1), max(ni, int(it)+1)
	}
	return out, nu, ni, nil
}

// Recommender is implemented by the matrix factorisation model.
type Recommender interface {
	Regressor
	Recommend(user, n int, seen func(item int) bool) []int
}

type mfRegressor struct {
	regressor
	m *mf.Model
}

func (r *mfRegressor) Recommend(user, n int, seen func(item int) bool) []int {
	return r.m.Recommend(user, n, seen)
}

func mfModel(m *mf.Model) Model {
	return &mfRegressor{regressor{algo: "matrix_factorization", task: Recommendation, d: 2,
		predict: func(x []float64) float64 { return m.Predict(code(x[0]), code(x[1])) },
		enc:     func(e *modelfile.Encoder) { encodeMF(e, m) }}, m}
}

// code turns a float code into an index; anything not a valid code is -1
// (unseen).
func code(v float64) int {
	if v != math.Trunc(v) || v < 0 || v > 1<<30 {
		return -1
	}
	return int(v)
}
