package linear_test

import (
	"math"
	"testing"

	"github.com/joule-dev/joule/internal/ml/linear"
)

func TestOLSExactAndCollinear(t *testing.T) {
	t.Parallel()
	// y = 2a − 3b + 1, with c = a + b collinear: the predictions are still
	// exact, and the minimum-norm solution spreads weight over a, b, c.
	var X [][]float64
	var y []float64
	for i := range 20 {
		a, b := float64(i%7), float64(i*i%11)
		X = append(X, []float64{a, b, a + b})
		y = append(y, 2*a-3*b+1)
	}
	m, err := linear.FitOLS(X, y)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range X {
		if got := m.Predict(x); math.Abs(got-y[i]) > 1e-9 {
			t.Fatalf("row %d: predicted %v, want %v", i, got, y[i])
		}
	}
	// Minimum norm: the weight along (1, 1, −1), the null direction, is 0.
	if s := m.Coef[0] + m.Coef[1] - m.Coef[2]; math.Abs(s) > 1e-9 {
		t.Errorf("coef %v has a component %v along the null direction", m.Coef, s)
	}
}

func TestRidgeNormalEquations(t *testing.T) {
	t.Parallel()
	X := [][]float64{{1, 2}, {2, 1}, {3, 5}, {4, 3}, {5, 8}}
	y := []float64{1, 3, 2, 5, 4}
	const alpha = 2.0
	m, err := linear.FitRidge(X, y, alpha)
	if err != nil {
		t.Fatal(err)
	}
	// Gradient of ‖y − Xw − b‖² + α‖w‖²: Σ r_i x_i = α w and Σ r_i = 0.
	g := []float64{0, 0}
	var gb float64
	for i, x := range X {
		r := y[i] - m.Predict(x)
		g[0] += r * x[0]
		g[1] += r * x[1]
		gb += r
	}
	for j := range g {
		if math.Abs(g[j]-alpha*m.Coef[j]) > 1e-9 {
			t.Errorf("coordinate %d: Σ r·x = %v, α·w = %v", j, g[j], alpha*m.Coef[j])
		}
	}
	if math.Abs(gb) > 1e-9 {
		t.Errorf("Σ residuals = %v, want 0", gb)
	}
	if _, err := linear.FitRidge(X, y, 0); err == nil {
		t.Error("alpha 0: no error")
	}
	if _, err := linear.FitOLS(X, y[:2]); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := linear.FitOLS([][]float64{{1}, {math.NaN()}}, []float64{1, 2}); err == nil {
		t.Error("NaN feature: no error")
	}
}
