package forest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPredictMatchesTrees: the packed single-row walk gives, bit for bit,
// the mean of the trees' own leaves added in tree order, NaN included,
// for any number of trees (the walk takes four at a time).
func TestPredictMatchesTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 600, 5
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		X[i] = make([]float64, d)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
		if X[i][0]+X[i][1]*X[i][2] > 0.3 {
			y[i] = 1
		}
		if X[i][3] > 1 {
			y[i] = 2
		}
	}
	for _, trees := range []int{1, 3, 4, 7, 13} {
		f, err := FitClassifier(X, y, 3, Params{NumTrees: trees, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		for r := range 300 {
			x := make([]float64, d)
			for j := range x {
				x[j] = rng.NormFloat64() * 1.5
				if rng.IntN(20) == 0 {
					x[j] = math.NaN()
				}
			}
			want := make([]float64, 3)
			for _, tr := range f.Trees {
				for j, v := range tr.Leaf(x) {
					want[j] += v
				}
			}
			for j := range want {
				want[j] *= 1 / float64(len(f.Trees))
			}
			got := make([]float64, 3)
			f.Predict(x, got)
			for j := range got {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
					t.Fatalf("%d trees, row %d: Predict %v, trees %v", trees, r, got, want)
				}
			}
		}
	}
}
