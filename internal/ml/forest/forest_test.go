package forest_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/joule-dev/joule/internal/ml/forest"
)

func data(n int) ([][]float64, []int) {
	r := rand.New(rand.NewPCG(1, 2))
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		X[i] = []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		if X[i][0]+0.5*X[i][1] > 0 {
			y[i] = 1
		}
	}
	return X, y
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	t.Parallel()
	X, y := data(300)
	var preds [][]float64
	for _, w := range []int{1, 4} {
		f, err := forest.FitClassifier(X, y, 2, forest.Params{NumTrees: 20, Workers: w, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		var p []float64
		out := make([]float64, 2)
		for _, x := range X[:50] {
			f.Predict(x, out)
			p = append(p, out[1])
		}
		preds = append(preds, p)
	}
	if !slices.Equal(preds[0], preds[1]) {
		t.Error("forests with the same seed differ between 1 and 4 workers")
	}
}

func TestLearnsBoundary(t *testing.T) {
	t.Parallel()
	X, y := data(600)
	f, err := forest.FitClassifier(X[:400], y[:400], 2, forest.Params{NumTrees: 30})
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	out := make([]float64, 2)
	for i, x := range X[400:] {
		f.Predict(x, out)
		if (out[1] > 0.5) == (y[400+i] == 1) {
			correct++
		}
	}
	if correct < 180 {
		t.Errorf("held-out accuracy %d/200, want at least 180", correct)
	}
}

func TestParamErrors(t *testing.T) {
	t.Parallel()
	X, y := data(10)
	if _, err := forest.FitClassifier(X, y, 2, forest.Params{NumTrees: -1}); err == nil {
		t.Error("negative n_estimators: no error")
	}
	if _, err := forest.FitRegressor(X, []float64{1}, forest.Params{}); err == nil {
		t.Error("target length mismatch: no error")
	}
}
