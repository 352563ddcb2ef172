// Package svm trains support vector machines for binary classification:
// a linear SVM on the primal squared-hinge objective, as scikit-learn's
// LinearSVC(dual=False) does through liblinear, and a kernel SVM with the
// RBF kernel by sequential minimal optimisation with second-order working
// set selection, as SVC does through libsvm, with Platt-scaled
// probabilities on request.
//
// Labels are 0 and 1; internally 1 is +1 and 0 is −1, so a positive
// decision function means class 1.
package svm

import (
	"errors"
	"fmt"
	"math"
)

// LinearParams are LinearSVC's hyperparameters; the zero value means
// scikit-learn's defaults (C = 1, intercept scaling 1, 1000 iterations).
// Newton's method stops when the gradient norm has fallen by 1e-10, far
// below liblinear's tolerance, so there is no tol to set.
type LinearParams struct {
	C       float64 // inverse regularisation; 0: 1
	MaxIter int     // Newton iterations; 0: 1000
}

// Linear is a fitted linear SVM: decision = Coef·x + Intercept.
type Linear struct {
	Coef      []float64
	Intercept float64
	Iter      int
}

// DecisionFunction returns the signed score of x; positive means class 1.
func (m *Linear) DecisionFunction(x []float64) float64 {
	var s float64
	for j, v := range x {
		s += m.Coef[j] * v
	}
	return s + m.Intercept
}

// Predict returns 1 where the decision function is positive.
func (m *Linear) Predict(x []float64) int {
	if m.DecisionFunction(x) > 0 {
		return 1
	}
	return 0
}

// checkBinary validates X and 0/1 labels with both classes present.
func checkBinary(name string, X [][]float64, y []int) (int, error) {
	if len(X) == 0 || len(X) != len(y) {
		return 0, fmt.Errorf("%s: %d rows and %d labels", name, len(X), len(y))
	}
	d := len(X[0])
	if d == 0 {
		return 0, fmt.Errorf("%s: no features", name)
	}
	var pos int
	for i, row := range X {
		if len(row) != d {
			return 0, fmt.Errorf("%s: row %d has %d features, want %d", name, i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("%s: row %d feature %d is %v, want a finite number", name, i, j, v)
			}
		}
		switch y[i] {
		case 0:
		case 1:
			pos++
		default:
			return 0, fmt.Errorf("%s: row %d: label %d, want 0 or 1", name, i, y[i])
		}
	}
	if pos == 0 || pos == len(y) {
		return 0, fmt.Errorf("%s: the training labels hold only one class", name)
	}
	return d, nil
}

// FitLinear minimises ½‖w̃‖² + C·Σ max(0, 1 − yᵢ w̃·x̃ᵢ)², where x̃ appends a
// constant 1 to x (so the intercept is penalised, as liblinear's is), by
// Newton's method with the generalised Hessian and a backtracking line
// search. The objective is strictly convex, so the optimum is the one
// liblinear's trust-region Newton approaches.
func FitLinear(X [][]float64, y []int, p LinearParams) (*Linear, error) {
	if p.C == 0 {
		p.C = 1
	}
	if p.MaxIter == 0 {
		p.MaxIter = 1000
	}
	if !(p.C > 0) || math.IsInf(p.C, 0) {
		return nil, fmt.Errorf("linear svm: C %v: want a finite number above 0", p.C)
	}
	if p.MaxIter < 0 {
		return nil, fmt.Errorf("linear svm: max_iter %d: want at least 1", p.MaxIter)
	}
	d, err := checkBinary("linear svm", X, y)
	if err != nil {
		return nil, err
	}
	n, q := len(X), d+1
	sgn := make([]float64, n)
	for i, c := range y {
		sgn[i] = float64(2*c - 1)
	}
	w := make([]float64, q)
	score := func(w, x []float64) float64 {
		s := w[d]
		for j, v := range x {
			s += w[j] * v
		}
		return s
	}
	obj := func(w []float64) float64 {
		var f float64
		for _, v := range w {
			f += v * v / 2
		}
		for i, x := range X {
			if m := 1 - sgn[i]*score(w, x); m > 0 {
				f += p.C * m * m
			}
		}
		return f
	}
	g := make([]float64, q)
	h := make([]float64, q*q)
	step := make([]float64, q)
	trial := make([]float64, q)
	f := obj(w)
	var g0 float64
	m := &Linear{}
	xt := make([]float64, q)
	for m.Iter < p.MaxIter {
		copy(g, w)
		clear(h)
		for j := range q {
			h[j*q+j] = 1
		}
		for i, x := range X {
			mi := 1 - sgn[i]*score(w, x)
			if mi <= 0 {
				continue
			}
			copy(xt, x)
			xt[d] = 1
			for j := range q {
				g[j] -= 2 * p.C * mi * sgn[i] * xt[j]
				row := h[j*q : j*q+j+1]
				for k := range row {
					row[k] += 2 * p.C * xt[j] * xt[k]
				}
			}
		}
		gn := math.Sqrt(dotf(g, g))
		if m.Iter == 0 {
			g0 = gn
		}
		// Far tighter than liblinear's stop, so both reach one optimum.
		if gn <= 1e-10*max(g0, 1) {
			break
		}
		m.Iter++
		for j := range q {
			for k := 0; k < j; k++ {
				h[k*q+j] = h[j*q+k]
			}
			step[j] = -g[j]
		}
		if err := cholSolve(h, step, q); err != nil {
			return nil, fmt.Errorf("linear svm: %w", err)
		}
		slope := dotf(g, step)
		t := 1.0
		var ft float64
		for {
			for j := range q {
				trial[j] = w[j] + t*step[j]
			}
			ft = obj(trial)
			if ft <= f+1e-4*t*slope || t < 1e-12 {
				break
			}
			t /= 2
		}
		if ft > f {
			break // no descent left in floating point
		}
		copy(w, trial)
		f = ft
	}
	return &Linear{Coef: w[:d:d], Intercept: w[d], Iter: m.Iter}, nil
}

func dotf(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// cholSolve solves A x = b in place for a symmetric positive definite A
// (row-major n×n, overwritten); b becomes x.
func cholSolve(a, b []float64, n int) error {
	for j := range n {
		s := a[j*n+j]
		for k := range j {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 0) {
			return errors.New("matrix is not positive definite")
		}
		a[j*n+j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / a[j*n+j]
		}
	}
	for i := range n {
		s := b[i]
		for k := range i {
			s -= a[i*n+k] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < n; k++ {
			s -= a[k*n+i] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	return nil
}
