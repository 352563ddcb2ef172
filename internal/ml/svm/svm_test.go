package svm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/joule-dev/joule/internal/ml/svm"
)

func twoBlobs(n int, sep float64) ([][]float64, []int) {
	r := rand.New(rand.NewPCG(11, 12))
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		y[i] = i % 2
		c := sep * float64(2*y[i]-1)
		X[i] = []float64{c + r.NormFloat64(), r.NormFloat64()}
	}
	return X, y
}

// TestLinearOptimum checks the optimality condition of the primal:
// w̃ = 2C Σ_active m_i y_i x̃_i.
func TestLinearOptimum(t *testing.T) {
	t.Parallel()
	X, y := twoBlobs(200, 1)
	const C = 0.5
	m, err := svm.FitLinear(X, y, svm.LinearParams{C: C})
	if err != nil {
		t.Fatal(err)
	}
	g := []float64{m.Coef[0], m.Coef[1], m.Intercept}
	for i, x := range X {
		s := float64(2*y[i] - 1)
		if mi := 1 - s*m.DecisionFunction(x); mi > 0 {
			g[0] -= 2 * C * mi * s * x[0]
			g[1] -= 2 * C * mi * s * x[1]
			g[2] -= 2 * C * mi * s
		}
	}
	for j, v := range g {
		if math.Abs(v) > 1e-7 {
			t.Errorf("gradient[%d] = %g at the optimum", j, v)
		}
	}
}

// TestKernelKKT checks that the SMO solution separates a ring from its
// centre and that Platt probabilities rise with the decision value.
func TestKernelRingAndProbabilities(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 3))
	var X [][]float64
	var y []int
	for i := range 300 {
		a := r.Float64() * 2 * math.Pi
		rad := 0.5 * r.Float64()
		if i%2 == 1 {
			rad = 2 + 0.5*r.Float64()
		}
		X = append(X, []float64{rad * math.Cos(a), rad * math.Sin(a)})
		y = append(y, i%2)
	}
	m, err := svm.FitKernel(X, y, svm.KernelParams{Probability: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for i, x := range X {
		if m.Predict(x) != y[i] {
			wrong++
		}
	}
	if wrong > 3 {
		t.Errorf("%d of 300 training rows misclassified on a separable ring", wrong)
	}
	pIn, err := m.PredictProba([]float64{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	pOut, _ := m.PredictProba([]float64{2.2, 0})
	if !(pIn < 0.2 && pOut > 0.8) {
		t.Errorf("P(outer) at the centre %v, on the ring %v", pIn, pOut)
	}
	// The dual constraint Σ α_i y_i = 0 and 0 ≤ α_i ≤ C.
	var sum float64
	for _, c := range m.Coef {
		sum += c
		if math.Abs(c) > 1+1e-12 {
			t.Errorf("|α y| = %v above C", c)
		}
	}
	if math.Abs(sum) > 1e-9 {
		t.Errorf("Σ α y = %v, want 0", sum)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	X, _ := twoBlobs(10, 1)
	one := make([]int, 10)
	if _, err := svm.FitLinear(X, one, svm.LinearParams{}); err == nil {
		t.Error("linear, one class: no error")
	}
	if _, err := svm.FitKernel(X, one, svm.KernelParams{}); err == nil {
		t.Error("kernel, one class: no error")
	}
	_, y := twoBlobs(10, 1)
	if _, err := svm.FitKernel(X, y, svm.KernelParams{C: -1}); err == nil {
		t.Error("negative C: no error")
	}
	m, err := svm.FitKernel(X, y, svm.KernelParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.PredictProba(X[0]); err == nil {
		t.Error("PredictProba without probability=true: no error")
	}
}
