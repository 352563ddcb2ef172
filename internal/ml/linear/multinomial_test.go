package linear

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestMultinomialSklearn compares FitMultinomial with scikit-learn's
// LogisticRegression(multi_class="multinomial") on five-class Cleveland,
// standardised; testdata/multinomial.json is written by
// scripts/make-ml-expected.py.
func TestMultinomialSklearn(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "multinomial.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		X     [][]float64
		Y     []int
		Cases []struct {
			C         float64
			Coef      [][]float64
			Intercept []float64
			Proba     [][]float64
		}
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, tc := range want.Cases {
		m, err := FitMultinomial(want.X, want.Y, 5, LogisticOptions{C: tc.C})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Converged {
			t.Errorf("C=%v: not converged after %d iterations", tc.C, m.Iter)
		}
		var worstCoef, worstP float64
		for k := range tc.Coef {
			for j := range tc.Coef[k] {
				worstCoef = max(worstCoef, math.Abs(m.Coef[k][j]-tc.Coef[k][j]))
			}
		}
		out := make([]float64, 5)
		for i, x := range want.X {
			m.PredictProba(x, out)
			for k := range out {
				worstP = max(worstP, math.Abs(out[k]-tc.Proba[i][k]))
			}
		}
		t.Logf("C=%v: %d Newton iterations; largest difference from scikit-learn: coefficient %.2g, probability %.2g", tc.C, m.Iter, worstCoef, worstP)
		if worstCoef > 1e-7 || worstP > 1e-8 {
			t.Errorf("C=%v: coefficients differ by %g, probabilities by %g; want ≤ 1e-7, 1e-8", tc.C, worstCoef, worstP)
		}
	}
}

func TestMultinomialErrors(t *testing.T) {
	t.Parallel()
	X := [][]float64{{0}, {1}, {2}}
	for _, tt := range []struct {
		name string
		y    []int
		k    int
		opts LogisticOptions
	}{
		{"label out of range", []int{0, 1, 3}, 3, LogisticOptions{}},
		{"one class", []int{0, 0, 0}, 1, LogisticOptions{}},
		{"bad C", []int{0, 1, 2}, 3, LogisticOptions{C: -1}},
		{"rows and labels", []int{0, 1}, 3, LogisticOptions{}},
	} {
		if _, err := FitMultinomial(X, tt.y, tt.k, tt.opts); err == nil {
			t.Errorf("%s: FitMultinomial succeeded, want an error", tt.name)
		}
	}
}
