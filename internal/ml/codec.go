package ml

import (
	"bytes"
	"fmt"
	"io"
	"math"

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

// Limits a decoder enforces before it allocates.
const (
	maxFeatures = 1 << 16
	maxClasses  = 1 << 16
	maxTrees    = 1 << 20
)

// Save writes m as a model file. h carries the feature schema, class
// names, params and fitted recipe; Save fills in the algorithm and task.
func Save(w io.Writer, m Model, h modelfile.Header) error {
	h.Algorithm, h.Task = m.Algorithm(), string(m.Task())
	return modelfile.Write(w, &h, m.encode)
}

// Load reads a model file written by Save. A file that is not a model,
// is truncated or corrupt, or comes from a newer format version gets an
// error wrapping modelfile's ErrNotModel, ErrCorrupt or ErrNewerVersion.
func Load(data []byte) (Model, *modelfile.Header, error) {
	h, d, err := modelfile.Read(data)
	if err != nil {
		return nil, nil, err
	}
	m, err := decode(h, d)
	if err == nil {
		err = d.Done()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load %s model: %w", h.Algorithm, err)
	}
	return m, h, nil
}

// LoadReader reads the whole of r and loads it.
func LoadReader(r io.Reader) (Model, *modelfile.Header, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, nil, err
	}
	return Load(buf.Bytes())
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", modelfile.ErrCorrupt, fmt.Sprintf(format, args...))
}

func decode(h *modelfile.Header, d *modelfile.Decoder) (Model, error) {
	task := Task(h.Task)
	switch task {
	case Classification:
		nf := d.Count("features", maxFeatures)
		k := d.Count("classes", maxClasses)
		if d.Err() != nil {
			return nil, d.Err()
		}
		if nf < 1 || k < 2 {
			return nil, corrupt("%d features, %d classes", nf, k)
		}
		return decodeClassifier(h.Algorithm, nf, k, d)
	case Regression, Recommendation:
		nf := d.Count("features", maxFeatures)
		if d.Err() != nil {
			return nil, d.Err()
		}
		if nf < 1 {
			return nil, corrupt("no features")
		}
		return decodeRegressor(h.Algorithm, task, nf, d)
	case Clustering:
		if h.Algorithm != "kmeans" {
			return nil, corrupt("algorithm %q does not cluster", h.Algorithm)
		}
		return decodeKMeans(d)
	}
	return nil, corrupt("unknown task %q", h.Task)
}

// --- logistic regression, linear SVM, linear and ridge regression

func logisticModel(m *linear.Logistic, d int) Model {
	return &classifier{algo: "logistic_regression", d: d, k: 2, prob: true,
		scores: func(x, out []float64) { p := m.PredictProba(x); out[0], out[1] = 1-p, p },
		enc:    func(e *modelfile.Encoder) { e.Floats(m.Coef); e.Float(m.Intercept) }}
}

// multinomialModel is logistic regression of three or more classes; its
// body is the k coefficient rows, then the k intercepts.
func multinomialModel(m *linear.Multinomial, d int) Model {
	return &classifier{algo: "logistic_regression", d: d, k: len(m.Coef), prob: true, scores: m.PredictProba,
		enc: func(e *modelfile.Encoder) {
			for _, w := range m.Coef {
				e.Floats(w)
			}
			e.Floats(m.Intercept)
		}}
}

func decodeMultinomial(d *modelfile.Decoder, nf, k int) (Model, error) {
	m := &linear.Multinomial{}
	for range k {
		w := d.Floats()
		if d.Err() != nil {
			return nil, d.Err()
		}
		if len(w) != nf || !allFinite(w) {
			return nil, corrupt("%d coefficients for %d features", len(w), nf)
		}
		m.Coef = append(m.Coef, w)
	}
	m.Intercept = d.Floats()
	if d.Err() != nil {
		return nil, d.Err()
	}
	if len(m.Intercept) != k || !allFinite(m.Intercept) {
		return nil, corrupt("%d intercepts for %d classes", len(m.Intercept), k)
	}
	return multinomialModel(m, nf), nil
}

func linearSVMModel(m *svm.Linear, d int) Model {
	return &classifier{algo: "linear_svm", d: d, k: 2, scores: binaryScores(m.DecisionFunction),
		enc: func(e *modelfile.Encoder) { e.Floats(m.Coef); e.Float(m.Intercept) }}
}

func linRegModel(algo string, m *linear.Regression) Model {
	return &regressor{algo: algo, task: Regression, d: len(m.Coef), predict: m.Predict,
		enc: func(e *modelfile.Encoder) { e.Floats(m.Coef); e.Float(m.Intercept) }}
}

// linearParts reads a coefficient vector of nf entries and an intercept.
func linearParts(d *modelfile.Decoder, nf int) ([]float64, float64, error) {
	coef, b := d.Floats(), d.Float()
	if d.Err() != nil {
		return nil, 0, d.Err()
	}
	if len(coef) != nf {
		return nil, 0, corrupt("%d coefficients for %d features", len(coef), nf)
	}
	if !allFinite(coef) || !allFinite([]float64{b}) {
		return nil, 0, corrupt("a coefficient is not finite")
	}
	return coef, b, nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// --- trees, forests, boosting

func encodeTree(e *modelfile.Encoder, t *tree.Tree) {
	e.Uint(uint64(t.NumFeatures))
	e.Uint(uint64(t.NumOutputs))
	e.Int32s(t.Feature)
	e.Floats(t.Threshold)
	e.Int32s(t.Left)
	e.Int32s(t.Right)
	e.Floats(t.Value)
}

func decodeTree(d *modelfile.Decoder, nf, nOut int) (*tree.Tree, error) {
	t := &tree.Tree{NumFeatures: d.Count("features", maxFeatures), NumOutputs: d.Count("outputs", maxClasses)}
	t.Feature, t.Threshold, t.Left, t.Right, t.Value = d.Int32s(), d.Floats(), d.Int32s(), d.Int32s(), d.Floats()
	if d.Err() != nil {
		return nil, d.Err()
	}
	if t.NumFeatures != nf || t.NumOutputs != nOut {
		return nil, corrupt("tree of %d features and %d outputs in a model of %d and %d", t.NumFeatures, t.NumOutputs, nf, nOut)
	}
	if err := t.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	return t, nil
}

func treeClassifier(algo string, k int, t *tree.Tree) Model {
	return &classifier{algo: algo, d: t.NumFeatures, k: k, prob: true,
		scores: func(x, out []float64) { copy(out, t.Leaf(x)) },
		enc:    func(e *modelfile.Encoder) { encodeTree(e, t) }}
}

func treeRegressor(t *tree.Tree) Model {
	return &regressor{algo: "decision_tree", task: Regression, d: t.NumFeatures,
		predict: func(x []float64) float64 { return t.Leaf(x)[0] },
		enc:     func(e *modelfile.Encoder) { encodeTree(e, t) }}
}

func encodeForest(e *modelfile.Encoder, f *forest.Forest) {
	e.Uint(uint64(len(f.Trees)))
	for _, t := range f.Trees {
		encodeTree(e, t)
	}
}

func decodeForest(d *modelfile.Decoder, nf, nOut int) (*forest.Forest, error) {
	n := d.Count("trees", maxTrees)
	if d.Err() != nil {
		return nil, d.Err()
	}
	if n < 1 {
		return nil, corrupt("a forest of no trees")
	}
	f := &forest.Forest{}
	for range n {
		t, err := decodeTree(d, nf, nOut)
		if err != nil {
			return nil, err
		}
		f.Trees = append(f.Trees, t)
	}
	return f, nil
}

func forestClassifier(f *forest.Forest, nf, k int) Model {
	return &classifier{algo: "random_forest", d: nf, k: k, prob: true, scores: f.Predict,
		enc: func(e *modelfile.Encoder) { encodeForest(e, f) }}
}

func forestRegressor(f *forest.Forest, nf int) Model {
	return &regressor{algo: "random_forest", task: Regression, d: nf,
		predict: func(x []float64) float64 { var o [1]float64; f.Predict(x, o[:]); return o[0] },
		enc:     func(e *modelfile.Encoder) { encodeForest(e, f) }}
}

func encodeBoost(e *modelfile.Encoder, m *boost.Model) {
	e.Uint(uint64(m.NumClasses))
	e.Floats(m.Init)
	e.Uint(uint64(len(m.Trees)))
	for _, round := range m.Trees {
		for _, t := range round {
			encodeTree(e, t)
		}
	}
}

func decodeBoost(d *modelfile.Decoder, nf int) (*boost.Model, error) {
	m := &boost.Model{NumFeatures: nf, NumClasses: d.Count("classes", maxClasses), Init: d.Floats()}
	rounds := d.Count("rounds", maxTrees)
	if d.Err() != nil {
		return nil, d.Err()
	}
	if m.NumClasses == 1 || len(m.Init) == 0 || !allFinite(m.Init) {
		return nil, corrupt("boosting with %d classes and %d initial scores", m.NumClasses, len(m.Init))
	}
	for range rounds {
		round := make([]*tree.Tree, len(m.Init))
		for k := range round {
			t, err := decodeTree(d, nf, 1)
			if err != nil {
				return nil, err
			}
			round[k] = t
		}
		m.Trees = append(m.Trees, round)
	}
	if err := m.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	return m, nil
}

func boostClassifier(m *boost.Model) Model {
	return &classifier{algo: "gradient_boosting", d: m.NumFeatures, k: m.NumClasses, prob: true, scores: m.PredictProba,
		enc: func(e *modelfile.Encoder) { encodeBoost(e, m) }}
}

func boostRegressor(m *boost.Model) Model {
	return &regressor{algo: "gradient_boosting", task: Regression, d: m.NumFeatures, predict: m.Predict,
		enc: func(e *modelfile.Encoder) { encodeBoost(e, m) }}
}

// --- k-NN

func encodeKNN(e *modelfile.Encoder, m *knn.Model) {
	e.Uint(uint64(m.K))
	e.String(m.Weights)
	e.Floats(m.X)
	e.Floats(m.Y)
}

func decodeKNN(d *modelfile.Decoder, nf, k int) (*knn.Model, error) {
	m := &knn.Model{K: d.Count("neighbours", 1<<20), Weights: d.String(), X: d.Floats(), Y: d.Floats(), NumFeatures: nf, NumClasses: k}
	if d.Err() != nil {
		return nil, d.Err()
	}
	if m.Weights != knn.Uniform && m.Weights != knn.Distance {
		return nil, corrupt("k-NN weights %q", m.Weights)
	}
	if len(m.X) != len(m.Y)*nf || m.K < 1 || m.K > len(m.Y) || !allFinite(m.X) || !allFinite(m.Y) {
		return nil, corrupt("k-NN of %d values, %d targets, k %d", len(m.X), len(m.Y), m.K)
	}
	for _, v := range m.Y {
		if k > 0 && (v != math.Trunc(v) || v < 0 || int(v) >= k) {
			return nil, corrupt("k-NN label %v of %d classes", v, k)
		}
	}
	return m, nil
}

func knnClassifier(m *knn.Model) Model {
	return &classifier{algo: "knn", d: m.NumFeatures, k: m.NumClasses, prob: true, scores: m.PredictProba,
		enc: func(e *modelfile.Encoder) { encodeKNN(e, m) }}
}

func knnRegressor(m *knn.Model) Model {
	return &regressor{algo: "knn", task: Regression, d: m.NumFeatures, predict: m.Predict,
		enc: func(e *modelfile.Encoder) { encodeKNN(e, m) }}
}

// --- kernel SVM

func kernelSVMModel(m *svm.Kernel, nf int) Model {
	c := &classifier{algo: "svm", d: nf, k: 2, prob: m.HasProb, scores: binaryScores(m.DecisionFunction)}
	if m.HasProb {
		c.scores = func(x, out []float64) {
			p, _ := m.PredictProba(x)
			out[0], out[1] = 1-p, p
		}
	}
	c.enc = func(e *modelfile.Encoder) {
		e.Float(m.Gamma)
		e.Float(m.Rho)
		e.Float(m.ProbA)
		e.Float(m.ProbB)
		hp := uint64(0)
		if m.HasProb {
			hp = 1
		}
		e.Uint(hp)
		e.Floats(m.Coef)
		for _, sv := range m.SV {
			e.Floats(sv)
		}
	}
	return c
}

func decodeKernelSVM(d *modelfile.Decoder, nf int) (*svm.Kernel, error) {
	m := &svm.Kernel{Gamma: d.Float(), Rho: d.Float(), ProbA: d.Float(), ProbB: d.Float(), HasProb: d.Uint() == 1, Coef: d.Floats()}
	if d.Err() != nil {
		return nil, d.Err()
	}
	if !allFinite([]float64{m.Gamma, m.Rho, m.ProbA, m.ProbB}) || !(m.Gamma > 0) || !allFinite(m.Coef) {
		return nil, corrupt("svm parameters not finite")
	}
	for range m.Coef {
		sv := d.Floats()
		if d.Err() != nil {
			return nil, d.Err()
		}
		if len(sv) != nf || !allFinite(sv) {
			return nil, corrupt("support vector of %d values for %d features", len(sv), nf)
		}
		m.SV = append(m.SV, sv)
	}
	return m, nil
}

// --- naive Bayes

func bayesModel(m *bayes.Model, nf int) Model {
	return &classifier{algo: "naive_bayes", d: nf, k: len(m.LogPrior), prob: true, scores: m.PredictProba,
		enc: func(e *modelfile.Encoder) {
			e.Floats(m.LogPrior)
			for c := range m.LogPrior {
				e.Floats(m.Mean[c])
				e.Floats(m.Var[c])
			}
		}}
}

func decodeBayes(d *modelfile.Decoder, nf, k int) (*bayes.Model, error) {
	m := &bayes.Model{LogPrior: d.Floats()}
	if d.Err() != nil {
		return nil, d.Err()
	}
	if len(m.LogPrior) != k || !allFinite(m.LogPrior) {
		return nil, corrupt("%d priors for %d classes", len(m.LogPrior), k)
	}
	for range k {
		mean, vr := d.Floats(), d.Floats()
		if d.Err() != nil {
			return nil, d.Err()
		}
		if len(mean) != nf || len(vr) != nf || !allFinite(mean) || !allFinite(vr) {
			return nil, corrupt("class statistics of the wrong size")
		}
		for _, v := range vr {
			if !(v > 0) {
				return nil, corrupt("variance %v", v)
			}
		}
		m.Mean, m.Var = append(m.Mean, mean), append(m.Var, vr)
	}
	return m, nil
}

// --- k-means

func encodeKMeans(e *modelfile.Encoder, m *cluster.KMeans) {
	e.Uint(uint64(len(m.Centers)))
	for _, c := range m.Centers {
		e.Floats(c)
	}
	e.Float(m.Inertia)
}

func decodeKMeans(d *modelfile.Decoder) (Model, error) {
	n := d.Count("clusters", 1<<20)
	if d.Err() != nil {
		return nil, d.Err()
	}
	if n < 1 {
		return nil, corrupt("no clusters")
	}
	m := &cluster.KMeans{}
	for range n {
		c := d.Floats()
		if d.Err() != nil {
			return nil, d.Err()
		}
		if len(c) == 0 || (len(m.Centers) > 0 && len(c) != len(m.Centers[0])) || !allFinite(c) {
			return nil, corrupt("cluster centre of %d values", len(c))
		}
		m.Centers = append(m.Centers, c)
	}
	m.Inertia = d.Float()
	return &clusterer{m}, d.Err()
}

// --- matrix factorisation

func encodeMF(e *modelfile.Encoder, m *mf.Model) {
	e.Uint(uint64(m.Factors))
	e.Float(m.Mu)
	e.Floats(m.UserBias)
	e.Floats(m.ItemBias)
	e.Floats(m.P)
	e.Floats(m.Q)
}

func decodeMF(d *modelfile.Decoder) (*mf.Model, error) {
	m := &mf.Model{Factors: d.Count("factors", 1<<16), Mu: d.Float(), UserBias: d.Floats(), ItemBias: d.Floats(), P: d.Floats(), Q: d.Floats()}
	if d.Err() != nil {
		return nil, d.Err()
	}
	m.NumUsers, m.NumItems = len(m.UserBias), len(m.ItemBias)
	if m.Factors < 1 || len(m.P) != m.NumUsers*m.Factors || len(m.Q) != m.NumItems*m.Factors ||
		!allFinite(m.P) || !allFinite(m.Q) || !allFinite(m.UserBias) || !allFinite(m.ItemBias) || !allFinite([]float64{m.Mu}) {
		return nil, corrupt("factor matrices do not match %d users, %d items, %d factors", m.NumUsers, m.NumItems, m.Factors)
	}
	return m, nil
}

func decodeClassifier(algo string, nf, k int, d *modelfile.Decoder) (Model, error) {
	switch algo {
	case "logistic_regression", "linear_svm":
		if algo == "logistic_regression" && k > 2 {
			return decodeMultinomial(d, nf, k)
		}
		coef, b, err := linearParts(d, nf)
		if err != nil {
			return nil, err
		}
		if k != 2 {
			return nil, corrupt("%s with %d classes", algo, k)
		}
		if algo == "linear_svm" {
			return linearSVMModel(&svm.Linear{Coef: coef, Intercept: b}, nf), nil
		}
		return logisticModel(&linear.Logistic{Coef: coef, Intercept: b}, nf), nil
	case "decision_tree":
		t, err := decodeTree(d, nf, k)
		if err != nil {
			return nil, err
		}
		return treeClassifier(algo, k, t), nil
	case "random_forest":
		f, err := decodeForest(d, nf, k)
		if err != nil {
			return nil, err
		}
		return forestClassifier(f, nf, k), nil
	case "gradient_boosting":
		m, err := decodeBoost(d, nf)
		if err != nil {
			return nil, err
		}
		if m.NumClasses != k {
			return nil, corrupt("boosting of %d classes in a model of %d", m.NumClasses, k)
		}
		return boostClassifier(m), nil
	case "knn":
		m, err := decodeKNN(d, nf, k)
		if err != nil {
			return nil, err
		}
		return knnClassifier(m), nil
	case "svm":
		if k != 2 {
			return nil, corrupt("svm with %d classes", k)
		}
		m, err := decodeKernelSVM(d, nf)
		if err != nil {
			return nil, err
		}
		return kernelSVMModel(m, nf), nil
	case XGBoostAlgorithm:
		return decodeXGB(d, Classification, nf, k)
	case "naive_bayes":
		m, err := decodeBayes(d, nf, k)
		if err != nil {
			return nil, err
		}
		return bayesModel(m, nf), nil
	}
	return nil, corrupt("no classifier %q", algo)
}

func decodeRegressor(algo string, task Task, nf int, d *modelfile.Decoder) (Model, error) {
	if (task == Recommendation) != (algo == "matrix_factorization") {
		return nil, corrupt("%s is not a %s model", algo, task)
	}
	switch algo {
	case "linear_regression", "ridge":
		coef, b, err := linearParts(d, nf)
		if err != nil {
			return nil, err
		}
		return linRegModel(algo, &linear.Regression{Coef: coef, Intercept: b}), nil
	case "decision_tree":
		t, err := decodeTree(d, nf, 1)
		if err != nil {
			return nil, err
		}
		return treeRegressor(t), nil
	case "random_forest":
		f, err := decodeForest(d, nf, 1)
		if err != nil {
			return nil, err
		}
		return forestRegressor(f, nf), nil
	case "gradient_boosting":
		m, err := decodeBoost(d, nf)
		if err != nil {
			return nil, err
		}
		if m.NumClasses != 0 {
			return nil, corrupt("a boosted classifier in a regression file")
		}
		return boostRegressor(m), nil
	case "knn":
		m, err := decodeKNN(d, nf, 0)
		if err != nil {
			return nil, err
		}
		return knnRegressor(m), nil
	case XGBoostAlgorithm:
		return decodeXGB(d, task, nf, 0)
	case "matrix_factorization":
		if nf != 2 {
			return nil, corrupt("matrix factorisation with %d features", nf)
		}
		m, err := decodeMF(d)
		if err != nil {
			return nil, err
		}
		return mfModel(m), nil
	}
	return nil, corrupt("no regressor %q", algo)
}
