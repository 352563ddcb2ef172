package forest_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/joule-dev/joule/internal/ml/forest"
)

// TestPredictBatch checks that batch prediction gives exactly Predict's
// numbers, on more rows than one block and with a NaN feature.
func TestPredictBatch(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var X [][]float64
	var y []int
	var yr []float64
	for i := range 700 {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		X, y, yr = append(X, x), append(y, i%3), append(yr, x[0]*2+r.NormFloat64())
		x[0] += float64(i % 3)
	}
	fc, err := forest.FitClassifier(X, y, 3, forest.Params{NumTrees: 15})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := forest.FitRegressor(X, yr, forest.Params{NumTrees: 15})
	if err != nil {
		t.Fatal(err)
	}
	X = append(X, []float64{math.NaN(), 0, 0})
	for _, tc := range []struct {
		f *forest.Forest
		w int
	}{{fc, 3}, {fr, 1}} {
		got := make([]float64, len(X)*tc.w)
		tc.f.PredictBatch(X, got)
		want := make([]float64, tc.w)
		for i, x := range X {
			tc.f.Predict(x, want)
			for j := range want {
				if got[i*tc.w+j] != want[j] {
					t.Fatalf("row %d: PredictBatch %v, Predict %v", i, got[i*tc.w:(i+1)*tc.w], want)
				}
			}
		}
	}
}
