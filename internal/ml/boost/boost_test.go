package boost_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml/boost"
)

// blobs draws three Gaussian classes around (0,0), (3,0) and (0,3).
func blobs(n int, seed uint64) ([][]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := [][2]float64{{0, 0}, {3, 0}, {0, 3}}
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		c := i % 3
		X[i] = []float64{centres[c][0] + r.NormFloat64(), centres[c][1] + r.NormFloat64()}
		y[i] = c
	}
	return X, y
}

func TestSoftmax(t *testing.T) {
	t.Parallel()
	X, y := blobs(600, 1)
	m, err := boost.FitClassifier(X[:450], y[:450], 3, boost.Params{NumTrees: 50})
	if err != nil {
		t.Fatal(err)
	}
	if m.Outputs() != 3 || len(m.Trees) != 50 || m.Validate() != nil {
		t.Fatalf("outputs %d, rounds %d, validate %v", m.Outputs(), len(m.Trees), m.Validate())
	}
	correct := 0
	p := make([]float64, 3)
	for i, x := range X[450:] {
		m.PredictProba(x, p)
		if s := p[0] + p[1] + p[2]; math.Abs(s-1) > 1e-12 {
			t.Fatalf("probabilities sum to %v", s)
		}
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		if best == y[450+i] {
			correct++
		}
	}
	if correct < 130 {
		t.Errorf("held-out accuracy %d/150, want at least 130", correct)
	}
}

func TestRegressionConvergesAndEarlyStops(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var X [][]float64
	var y []float64
	for range 500 {
		a, b := r.Float64()*4, r.Float64()*4
		X = append(X, []float64{a, b})
		y = append(y, math.Sin(a)+b*b+0.05*r.NormFloat64())
	}
	m, err := boost.FitRegressor(X, y, boost.Params{NumTrees: 300, Subsample: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	var sse float64
	for i, x := range X {
		e := m.Predict(x) - y[i]
		sse += e * e
	}
	if rmse := math.Sqrt(sse / float64(len(X))); rmse > 0.2 {
		t.Errorf("training RMSE %v, want under 0.2", rmse)
	}
	es, err := boost.FitRegressor(X, y, boost.Params{NumTrees: 5000, LearningRate: 0.3, NIterNoChange: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(es.Trees) >= 5000 || len(es.Trees) == 0 {
		t.Errorf("early stopping kept %d of 5000 rounds", len(es.Trees))
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	X, y := blobs(300, 2)
	var got [2]float64
	for k := range got {
		m, err := boost.FitClassifier(X, y, 3, boost.Params{NumTrees: 10, Subsample: 0.5, Seed: 9, Workers: k + 1})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]float64, 3)
		m.PredictProba(X[0], p)
		got[k] = p[0]
	}
	if got[0] != got[1] {
		t.Errorf("same seed, different models: %v", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	X, y := blobs(30, 1)
	for _, tt := range []struct {
		p    boost.Params
		want string
	}{
		{boost.Params{LearningRate: -1}, "learning_rate"},
		{boost.Params{Subsample: 1.5}, "subsample"},
		{boost.Params{MaxBins: 300}, "max_bins"},
		{boost.Params{NumTrees: -2}, "n_estimators"},
	} {
		if _, err := boost.FitClassifier(X, y, 3, tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want one naming %s", tt.p, err, tt.want)
		}
	}
	if _, err := boost.FitClassifier(X, make([]int, 30), 2, boost.Params{}); err == nil || !strings.Contains(err.Error(), "class 1 has no training rows") {
		t.Errorf("one class: err = %v", err)
	}
}
