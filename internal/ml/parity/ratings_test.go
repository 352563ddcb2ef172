package parity_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/mf"
)

// ratingsData is rating_final.csv with users and items as dense indices.
type ratingsData struct {
	users, items []int
	values       map[string][]float64
	nUsers       int
	nItems       int
}

func loadRatings() (*ratingsData, error) {
	t, err := readCSV("retail/rating_final.csv")
	if err != nil {
		return nil, err
	}
	uc, err := t.col("userID")
	if err != nil {
		return nil, err
	}
	ic, err := t.col("placeID")
	if err != nil {
		return nil, err
	}
	d := &ratingsData{values: map[string][]float64{}}
	uix, iix := map[string]int{}, map[string]int{}
	index := func(m map[string]int, k string) int {
		if v, ok := m[k]; ok {
			return v
		}
		m[k] = len(m)
		return m[k]
	}
	for _, rec := range t.rows {
		d.users = append(d.users, index(uix, rec[uc]))
		d.items = append(d.items, index(iix, rec[ic]))
	}
	d.nUsers, d.nItems = len(uix), len(iix)
	for _, col := range []string{"rating", "food_rating", "service_rating"} {
		X, err := t.floats(col)
		if err != nil {
			return nil, err
		}
		d.values[col] = column(X, 0)
	}
	return d, nil
}

// mfRow labels joule's own row in the ratings tables.
const mfRow = "joule matrix_factorization (biased SGD, defaults)"

func runRatings(t *testing.T, s *section, used map[string]bool) []result {
	d, err := loadRatings()
	if err != nil {
		t.Fatal(err)
	}
	vals, ok := d.values[s.target]
	if !ok {
		t.Fatalf("ratings: no column %q", s.target)
	}
	tr, te := ml.TrainTestSplit(len(vals), 42)
	var train []mf.Rating
	for _, i := range tr {
		train = append(train, mf.Rating{User: d.users[i], Item: d.items[i], Value: vals[i]})
	}
	yte := rowsAt(vals, te)
	var mu float64
	for _, r := range train {
		mu += r.Value
	}
	mu /= float64(len(train))
	means := func(key func(r mf.Rating) int, n int) []float64 {
		sum, cnt := make([]float64, n), make([]float64, n)
		for _, r := range train {
			sum[key(r)] += r.Value
			cnt[key(r)]++
		}
		for k := range sum {
			if cnt[k] == 0 {
				sum[k] = mu
			} else {
				sum[k] /= cnt[k]
			}
		}
		return sum
	}
	itemMean := means(func(r mf.Rating) int { return r.Item }, d.nItems)
	userMean := means(func(r mf.Rating) int { return r.User }, d.nUsers)
	base, err := mf.FitBaseline(train, d.nUsers, d.nItems, 10)
	if err != nil {
		t.Fatal(err)
	}
	model, err := mf.Fit(train, d.nUsers, d.nItems, mf.Params{})
	if err != nil {
		t.Fatal(err)
	}
	predictors := map[string]func(u, i int) float64{
		"global mean":   func(int, int) float64 { return mu },
		"item mean":     func(_, i int) float64 { return itemMean[i] },
		"user mean":     func(u, _ int) float64 { return userMean[u] },
		"bias baseline": base.Predict,
		mfRow:           model.Predict,
	}
	score := func(f func(u, i int) float64) ml.RegressionMetrics {
		p := make([]float64, len(te))
		for k, i := range te {
			p[k] = f(d.users[i], d.items[i])
		}
		m, err := ml.ScoreRegression(yte, p)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var out []result
	var baselineRMSE float64
	for _, r := range s.rows {
		var f func(u, i int) float64
		for prefix, g := range predictors {
			if strings.HasPrefix(r.model, prefix) {
				f = g
			}
		}
		if f == nil {
			t.Errorf("ratings: no joule predictor for %q", r.model)
			continue
		}
		m := score(f)
		if strings.HasPrefix(r.model, "bias baseline") {
			baselineRMSE = m.RMSE
		}
		chk := &check{t: t, key: sectionKey(s) + "|" + r.model, det: true, used: used}
		chk.metric("RMSE", s.value(r, "RMSE"), m.RMSE, false)
		got := map[string]float64{"RMSE": m.RMSE, "MAE": m.MAE}
		out = append(out, result{model: r.model, cells: cells(s, r, got), verdict: chk.String()})
	}
	m := score(model.Predict)
	verdict := fmt.Sprintf("beats the bias baseline (%.4f)", baselineRMSE)
	if !(m.RMSE < baselineRMSE) {
		t.Errorf("ratings %s: matrix factorisation RMSE %.4f does not beat the bias baseline %.4f", s.target, m.RMSE, baselineRMSE)
		verdict = fmt.Sprintf("MISS: bias baseline %.4f is better", baselineRMSE)
	}
	out = append(out, result{model: mfRow, cells: []string{fmt.Sprintf("- / %.4f", m.RMSE), fmt.Sprintf("- / %.4f", m.MAE)}, verdict: verdict})
	t.Logf("ratings %s: MF RMSE %.4f MAE %.4f; bias baseline %.4f", s.target, m.RMSE, m.MAE, baselineRMSE)
	return out
}
