package boost_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/joule-dev/joule/internal/ml/boost"
)

// TestPredictBatch checks that batch prediction gives exactly the
// per-row numbers, for two and three classes and regression.
func TestPredictBatch(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	var X [][]float64
	var y2, y3 []int
	var yr []float64
	for i := range 600 {
		x := []float64{r.NormFloat64(), r.NormFloat64(), float64(i % 3)}
		X, y2, y3, yr = append(X, x), append(y2, i%2), append(y3, i%3), append(yr, x[0]-x[1])
	}
	m2, err := boost.FitClassifier(X, y2, 2, boost.Params{NumTrees: 12})
	if err != nil {
		t.Fatal(err)
	}
	m3, err := boost.FitClassifier(X, y3, 3, boost.Params{NumTrees: 12})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := boost.FitRegressor(X, yr, boost.Params{NumTrees: 12})
	if err != nil {
		t.Fatal(err)
	}
	X = append(X, []float64{math.NaN(), 1, 2})
	for _, m := range []*boost.Model{m2, m3} {
		k := m.NumClasses
		got := make([]float64, len(X)*k)
		m.PredictProbaBatch(X, got)
		want := make([]float64, k)
		for i, x := range X {
			m.PredictProba(x, want)
			for j := range want {
				if got[i*k+j] != want[j] {
					t.Fatalf("%d classes, row %d: batch %v, PredictProba %v", k, i, got[i*k:(i+1)*k], want)
				}
			}
		}
	}
	got := make([]float64, len(X))
	mr.RawBatch(X, got)
	for i, x := range X {
		if w := mr.Predict(x); got[i] != w {
			t.Fatalf("regression row %d: batch %v, Predict %v", i, got[i], w)
		}
	}
}
