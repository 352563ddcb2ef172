package mf_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/joule-dev/joule/internal/ml/mf"
)

// TestRecoversLowRank fits ratings drawn from a rank-2 matrix and checks
// the held-out error and that recommendations skip seen items.
func TestRecoversLowRankAndRecommends(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(8, 9))
	const nu, ni = 60, 40
	U := make([][2]float64, nu)
	V := make([][2]float64, ni)
	for i := range U {
		U[i] = [2]float64{r.NormFloat64(), r.NormFloat64()}
	}
	for i := range V {
		V[i] = [2]float64{r.NormFloat64(), r.NormFloat64()}
	}
	var train, test []mf.Rating
	for u := range nu {
		for i := range ni {
			x := mf.Rating{User: u, Item: i, Value: 3 + U[u][0]*V[i][0] + U[u][1]*V[i][1]}
			if r.Float64() < 0.5 {
				train = append(train, x)
			} else {
				test = append(test, x)
			}
		}
	}
	m, err := mf.Fit(train, nu, ni, mf.Params{Factors: 4, Epochs: 300, LearningRate: 0.01, Reg: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mf.FitBaseline(train, nu, ni, 10)
	if err != nil {
		t.Fatal(err)
	}
	rmse := func(f func(u, i int) float64) float64 {
		var s float64
		for _, x := range test {
			e := f(x.User, x.Item) - x.Value
			s += e * e
		}
		return math.Sqrt(s / float64(len(test)))
	}
	if got, base := rmse(m.Predict), rmse(b.Predict); got > 0.5*base {
		t.Errorf("held-out RMSE %v, bias baseline %v: want under half", got, base)
	}
	seen := map[int]bool{}
	for _, x := range train {
		if x.User == 0 {
			seen[x.Item] = true
		}
	}
	rec := m.Recommend(0, 10, func(i int) bool { return seen[i] })
	if len(rec) != 10 {
		t.Fatalf("%d recommendations, want 10", len(rec))
	}
	for k, i := range rec {
		if seen[i] {
			t.Errorf("recommended item %d was already rated", i)
		}
		if k > 0 && m.Predict(0, rec[k-1]) < m.Predict(0, i) {
			t.Errorf("recommendations not in score order: %v", rec)
		}
	}
	all := m.Recommend(0, 1000, nil)
	if len(all) != ni || slices.Contains(all, -1) {
		t.Errorf("unfiltered recommendations: %d items, want %d", len(all), ni)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ok := []mf.Rating{{0, 0, 1}}
	for _, tt := range []struct {
		name string
		r    []mf.Rating
		p    mf.Params
	}{
		{"no ratings", nil, mf.Params{}},
		{"user out of range", []mf.Rating{{5, 0, 1}}, mf.Params{}},
		{"NaN rating", []mf.Rating{{0, 0, math.NaN()}}, mf.Params{}},
		{"negative factors", ok, mf.Params{Factors: -1}},
		{"learning rate above 1", ok, mf.Params{LearningRate: 2}},
	} {
		if _, err := mf.Fit(tt.r, 2, 2, tt.p); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
