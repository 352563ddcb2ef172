package knn_test

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/joule-dev/joule/internal/ml/knn"
)

// TestNeighborsMatchSort checks the pruned search against sorting every
// distance.
func TestNeighborsMatchSort(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	var X [][]float64
	var y []float64
	for range 300 {
		row := make([]float64, 7)
		for j := range row {
			row[j] = float64(r.IntN(4)) // many ties
		}
		X = append(X, row)
		y = append(y, r.Float64())
	}
	m, err := knn.FitRegressor(X, y, knn.Params{K: 9})
	if err != nil {
		t.Fatal(err)
	}
	for q := range 20 {
		x := X[q*7]
		type pair struct {
			d float64
			i int
		}
		var all []pair
		for i, row := range X {
			var s float64
			for j := range row {
				s += (row[j] - x[j]) * (row[j] - x[j])
			}
			all = append(all, pair{s, i})
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].d < all[b].d })
		var want []int
		for _, p := range all[:9] {
			want = append(want, p.i)
		}
		got, _ := m.Neighbors(x)
		if !slices.Equal(got, want) {
			t.Fatalf("query %d: neighbours %v, want %v", q, got, want)
		}
	}
}

func TestVotesAndWeights(t *testing.T) {
	t.Parallel()
	X := [][]float64{{0}, {1}, {2}, {10}, {11}}
	y := []int{0, 0, 1, 1, 1}
	m, err := knn.FitClassifier(X, y, 2, knn.Params{K: 3})
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float64, 2)
	m.PredictProba([]float64{0.9}, p)
	if p[0] != 2.0/3 || p[1] != 1.0/3 {
		t.Errorf("uniform proba = %v, want [2/3 1/3]", p)
	}
	md, err := knn.FitClassifier(X, y, 2, knn.Params{K: 3, Weights: knn.Distance})
	if err != nil {
		t.Fatal(err)
	}
	md.PredictProba([]float64{2}, p)
	if p[1] != 1 {
		t.Errorf("distance weights with an exact match: proba = %v, want [0 1]", p)
	}
	if _, err := knn.FitClassifier(X, y, 2, knn.Params{K: 6}); err == nil {
		t.Error("k above the row count: no error")
	}
	if _, err := knn.FitClassifier(X, y, 2, knn.Params{Weights: "cosine"}); err == nil {
		t.Error("unknown weights: no error")
	}
}
