package linear_test

import (
	"math"
	"testing"

	"github.com/joule-dev/joule/internal/ml/linear"
)

// TestFitLogisticOptimum checks the first-order optimality condition of
// C·Σ log-loss + ½‖w‖²: the gradient C·Σ(p−y)x + w, and C·Σ(p−y) for the
// unpenalised intercept, vanish.
func TestFitLogisticOptimum(t *testing.T) {
	t.Parallel()
	X := [][]float64{{0.5, 1}, {1.5, -1}, {-1, 0.3}, {2, 2}, {-0.7, -1.2}, {0.1, 0.4}}
	y := []int{1, 1, 0, 1, 0, 0}
	for _, c := range []float64{0.1, 1, 10} {
		m, err := linear.FitLogistic(X, y, linear.LogisticOptions{C: c})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Converged {
			t.Fatalf("C=%v: not converged after %d iterations", c, m.Iter)
		}
		g := append([]float64(nil), m.Coef...)
		var gb float64
		for i, x := range X {
			r := c * (m.PredictProba(x) - float64(y[i]))
			for j := range x {
				g[j] += r * x[j]
			}
			gb += r
		}
		for j, v := range append(g, gb) {
			if math.Abs(v) > 1e-9 {
				t.Errorf("C=%v: gradient[%d] = %g at the fitted optimum, want 0", c, j, v)
			}
		}
	}
}

func TestFitLogisticErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		X    [][]float64
		y    []int
		opts linear.LogisticOptions
	}{
		{"one class", [][]float64{{1}, {2}}, []int{1, 1}, linear.LogisticOptions{}},
		{"bad label", [][]float64{{1}, {2}}, []int{0, 2}, linear.LogisticOptions{}},
		{"ragged", [][]float64{{1}, {2, 3}}, []int{0, 1}, linear.LogisticOptions{}},
		{"no rows", nil, nil, linear.LogisticOptions{}},
		{"negative C", [][]float64{{1}, {2}}, []int{0, 1}, linear.LogisticOptions{C: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := linear.FitLogistic(tt.X, tt.y, tt.opts); err == nil {
				t.Errorf("FitLogistic(%v, %v, %+v): no error", tt.X, tt.y, tt.opts)
			}
		})
	}
}

func TestPredict(t *testing.T) {
	t.Parallel()
	m := &linear.Logistic{Coef: []float64{2, -1}, Intercept: 0.5}
	if got := m.DecisionFunction([]float64{1, 1}); got != 1.5 {
		t.Errorf("DecisionFunction = %v, want 1.5", got)
	}
	if got := m.Predict([]float64{0, 0.5}); got != 0 { // score exactly 0
		t.Errorf("Predict at score 0 = %d, want 0", got)
	}
	if got := m.PredictProba([]float64{0, 0.5}); got != 0.5 {
		t.Errorf("PredictProba at score 0 = %v, want 0.5", got)
	}
}
