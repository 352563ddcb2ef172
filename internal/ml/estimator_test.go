package ml_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
)

// toy returns a small dataset for task: two informative features and one
// of noise; k classes for classification.
func toy(task ml.Task, k int) ([][]float64, []float64) {
	r := rand.New(rand.NewPCG(42, 1))
	var X [][]float64
	var y []float64
	for i := range 120 {
		a, b := r.NormFloat64(), r.NormFloat64()
		switch task {
		case ml.Classification:
			c := i % k
			X = append(X, []float64{a + 2*float64(c), b - float64(c), r.NormFloat64()})
			y = append(y, float64(c))
		case ml.Recommendation:
			u, it := i%12, (i*7)%10
			X = append(X, []float64{float64(u), float64(it)})
			y = append(y, float64((u+it)%3))
		default:
			X = append(X, []float64{a, b, r.NormFloat64()})
			y = append(y, 3*a-b+0.1*r.NormFloat64())
		}
	}
	return X, y
}

var cases = []struct {
	algo   string
	task   ml.Task
	k      int
	params map[string]string
}{
	{"logistic_regression", ml.Classification, 2, nil},
	{"linear_regression", ml.Regression, 0, nil},
	{"ridge", ml.Regression, 0, map[string]string{"alpha": "0.5"}},
	{"decision_tree", ml.Classification, 3, map[string]string{"criterion": "entropy", "max_depth": "4"}},
	{"decision_tree", ml.Regression, 0, nil},
	{"random_forest", ml.Classification, 3, map[string]string{"n_estimators": "10"}},
	{"random_forest", ml.Regression, 0, map[string]string{"n_estimators": "10", "max_features": "2"}},
	{"gradient_boosting", ml.Classification, 2, map[string]string{"n_estimators": "20"}},
	{"gradient_boosting", ml.Classification, 3, map[string]string{"n_estimators": "20", "subsample": "0.8"}},
	{"gradient_boosting", ml.Regression, 0, map[string]string{"n_estimators": "20", "n_iter_no_change": "3"}},
	{"knn", ml.Classification, 3, map[string]string{"weights": "distance"}},
	{"knn", ml.Regression, 0, nil},
	{"linear_svm", ml.Classification, 2, nil},
	{"svm", ml.Classification, 2, nil},
	{"svm", ml.Classification, 2, map[string]string{"probability": "true"}},
	{"naive_bayes", ml.Classification, 3, nil},
	{"kmeans", ml.Clustering, 0, map[string]string{"n_clusters": "3"}},
	{"matrix_factorization", ml.Recommendation, 0, map[string]string{"epochs": "20"}},
	{"logistic_regression", ml.Classification, 3, map[string]string{"C": "0.5"}}, // multinomial
}

// TestFitSaveLoad fits every algorithm through the registry, saves it,
// loads it back, and checks the loaded model predicts the same.
func TestFitSaveLoad(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tt := range cases {
		covered[tt.algo] = true
		t.Run(tt.algo+"/"+string(tt.task), func(t *testing.T) {
			t.Parallel()
			est, err := ml.New(tt.algo, tt.task, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			X, y := toy(tt.task, tt.k)
			m, err := est.Fit(X, y)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			h := modelfile.Header{Features: []modelfile.Feature{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Params: est.Params(),
				Recipe: []byte(`{"scaler":"standard"}`)}
			if err := ml.Save(&buf, m, h); err != nil {
				t.Fatal(err)
			}
			got, gh, err := ml.Load(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if gh.Algorithm != tt.algo || gh.Task != string(tt.task) || string(gh.Recipe) != `{"scaler":"standard"}` {
				t.Errorf("header = %+v", gh)
			}
			for _, x := range X[:30] {
				a, b := predictAll(m, x), predictAll(got, x)
				for j := range a {
					if a[j] != b[j] {
						t.Fatalf("x=%v: fitted %v, loaded %v", x, a, b)
					}
				}
			}
			if c, ok := m.(ml.Classifier); ok {
				correct := 0
				for i, x := range X {
					if ml.PredictClass(c, x) == int(y[i]) {
						correct++
					}
				}
				if correct < len(X)*2/3 {
					t.Errorf("training accuracy %d/%d", correct, len(X))
				}
			}
		})
	}
	for _, a := range ml.Algorithms() {
		if !covered[a.Name] {
			t.Errorf("algorithm %s has no round-trip case", a.Name)
		}
	}
}

func predictAll(m ml.Model, x []float64) []float64 {
	switch m := m.(type) {
	case ml.Classifier:
		out := make([]float64, m.NumClasses())
		m.Scores(x, out)
		return out
	case ml.Regressor:
		return []float64{m.Predict(x)}
	case ml.Clusterer:
		return []float64{float64(m.Cluster(x))}
	}
	panic("unknown model kind")
}

func TestRegistryErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		algo   string
		task   ml.Task
		params map[string]string
		want   string
	}{
		{"xgboost", ml.Classification, nil, `unknown algorithm "xgboost"`},
		{"ridge", ml.Classification, nil, "ridge does not do classification"},
		{"ridge", ml.Regression, map[string]string{"lambda": "1"}, `parameter "lambda": unknown parameter`},
		{"ridge", ml.Regression, map[string]string{"alpha": "-1"}, `parameter "alpha"`},
		{"random_forest", ml.Classification, map[string]string{"n_estimators": "many"}, `parameter "n_estimators": "many" is not an integer`},
		{"decision_tree", ml.Regression, map[string]string{"criterion": "gini"}, `parameter "criterion"`},
		{"gradient_boosting", ml.Regression, map[string]string{"subsample": "1.5"}, `parameter "subsample"`},
		{"knn", ml.Classification, map[string]string{"weights": "cosine"}, `parameter "weights"`},
		{"svm", ml.Classification, map[string]string{"kernel": "poly"}, `parameter "kernel"`},
		{"svm", ml.Classification, map[string]string{"probability": "maybe"}, `parameter "probability"`},
	} {
		_, err := ml.New(tt.algo, tt.task, tt.params)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s, %s, %v) = %v, want an error containing %q", tt.algo, tt.task, tt.params, err, tt.want)
		}
	}
}

func TestFitBadInput(t *testing.T) {
	t.Parallel()
	X := [][]float64{{1}, {2}, {3}, {4}}
	for _, tt := range []struct {
		algo string
		task ml.Task
		y    []float64
		want string
	}{
		{"logistic_regression", ml.Classification, []float64{1, 1, 1, 1}, "only one class"},
		{"random_forest", ml.Classification, []float64{0, 0, 0, 0}, "only one class"},
		{"decision_tree", ml.Classification, []float64{0, 0.5, 1, 1}, "not a class code"},
		{"knn", ml.Classification, []float64{0, 2, 0, 2}, "class 1 has no training rows"},
		{"svm", ml.Classification, []float64{0, 1, 2, 1}, "binary classification only"},
		{"ridge", ml.Regression, []float64{1, math.NaN(), 2, 3}, "target NaN"},
		{"linear_regression", ml.Regression, []float64{1, 2}, "4 rows and 2 targets"},
	} {
		est, err := ml.New(tt.algo, tt.task, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := est.Fit(X, tt.y); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s.Fit(y=%v) = %v, want an error containing %q", tt.algo, tt.y, err, tt.want)
		}
	}
	est, _ := ml.New("logistic_regression", ml.Classification, nil)
	if _, err := est.Fit(X, []float64{1, 1, 1, 1}); !errors.Is(err, ml.ErrOneClassTraining) {
		t.Errorf("one class: %v, want ErrOneClassTraining", err)
	}
}

func savedModel(t testing.TB, algo string, task ml.Task, k int, params map[string]string) []byte {
	est, err := ml.New(algo, task, params)
	if err != nil {
		t.Fatal(err)
	}
	X, y := toy(task, k)
	m, err := est.Fit(X, y)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ml.Save(&buf, m, modelfile.Header{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	good := savedModel(t, "random_forest", ml.Classification, 2, map[string]string{"n_estimators": "3"})
	newer := bytes.Clone(good)
	newer[8] = 2
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	for _, tt := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, modelfile.ErrNotModel},
		{"not a model", []byte("PK\x03\x04 a zip file"), modelfile.ErrNotModel},
		{"truncated", good[:len(good)-10], modelfile.ErrCorrupt},
		{"header only", good[:20], modelfile.ErrCorrupt},
		{"flipped bit", flipped, modelfile.ErrCorrupt},
		{"newer version", newer, modelfile.ErrNewerVersion},
	} {
		_, _, err := ml.Load(tt.data)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Load = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzLoad checks that no input makes Load panic, and that a model that
// loads can predict without panicking.
func FuzzLoad(f *testing.F) {
	for _, c := range cases {
		f.Add(savedModel(f, c.algo, c.task, c.k, c.params))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := ml.Load(data)
		if err != nil {
			return
		}
		x := make([]float64, m.NumFeatures())
		predictAll(m, x)
	})
}

// FuzzDecodeBody rewraps fuzzed bodies in a valid file (right checksum and
// lengths), so the fuzzer reaches every model decoder rather than the
// checksum. The first byte picks the algorithm and task.
func FuzzDecodeBody(f *testing.F) {
	for i, c := range cases {
		file := savedModel(f, c.algo, c.task, c.k, c.params)
		_, body := splitBody(f, file)
		f.Add(append([]byte{byte(i)}, body...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := cases[int(data[0])%len(cases)]
		var buf bytes.Buffer
		h := &modelfile.Header{Algorithm: c.algo, Task: string(c.task)}
		if err := modelfile.Write(&buf, h, func(e *modelfile.Encoder) { e.Raw(data[1:]) }); err != nil {
			t.Fatal(err)
		}
		m, _, err := ml.Load(buf.Bytes())
		if err != nil {
			if !errors.Is(err, modelfile.ErrCorrupt) {
				t.Errorf("Load error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		predictAll(m, make([]float64, m.NumFeatures()))
	})
}

// splitBody returns the header length and body of a model file.
func splitBody(t testing.TB, file []byte) (int, []byte) {
	hlen := int(file[12]) | int(file[13])<<8 | int(file[14])<<16 | int(file[15])<<24
	start := 16 + hlen + 8
	if start > len(file)-4 {
		t.Fatal("short file")
	}
	return hlen, file[start : len(file)-4]
}
