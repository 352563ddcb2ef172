package linear

import (
	"errors"
	"fmt"
	"math"
)

// LogisticOptions are the hyperparameters of FitLogistic. The zero value
// means scikit-learn's defaults.
type LogisticOptions struct {
	// C is the inverse regularisation strength; the objective is
	// C·Σ log-loss + ½‖w‖², the intercept unpenalised. Zero means 1.
	C float64
	// MaxIter bounds the Newton iterations. Zero means 100.
	MaxIter int
}

// Logistic is a fitted binary logistic regression model.
type Logistic struct {
	Coef      []float64 // one weight per feature
	Intercept float64
	Iter      int  // Newton iterations run
	Converged bool // whether the gradient fell below tolerance within MaxIter
}

// gradTol bounds the largest gradient component, relative to C times the
// number of rows, at which the fit stops. It is far tighter than
// scikit-learn's lbfgs tolerance, so both land on the same optimum.
const gradTol = 1e-12

// FitLogistic fits a binary logistic regression on the rows of X with
// labels y (0 or 1, both present) by Newton's method with a backtracking
// line search. The objective is strictly convex, so the optimum is the one
// scikit-learn's lbfgs solver approaches.
func FitLogistic(X [][]float64, y []int, opts LogisticOptions) (*Logistic, error) {
	c := opts.C
	if c == 0 {
		c = 1
	}
	if !(c > 0) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("logistic regression: C must be positive and finite, got %v", opts.C)
	}
	maxIter := opts.MaxIter
	if maxIter == 0 {
		maxIter = 100
	}
	if maxIter < 0 {
		return nil, fmt.Errorf("logistic regression: max_iter must be positive, got %d", maxIter)
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("logistic regression: %d rows and %d labels", len(X), len(y))
	}
	d := len(X[0])
	var pos int
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("logistic regression: row %d has %d features, want %d", i, len(row), d)
		}
		switch y[i] {
		case 0:
		case 1:
			pos++
		default:
			return nil, fmt.Errorf("logistic regression: row %d: label %d, want 0 or 1", i, y[i])
		}
	}
	if pos == 0 || pos == len(y) {
		return nil, errors.New("logistic regression: labels hold only one class")
	}

	// theta = (w, b); the last coordinate is the unpenalised intercept.
	p := d + 1
	theta := make([]float64, p)
	grad := make([]float64, p)
	hess := make([]float64, p*p)
	step := make([]float64, p)
	trial := make([]float64, p)
	m := &Logistic{}
	f := objective(X, y, c, theta)
	tol := gradTol * c * float64(len(X))
	for m.Iter < maxIter {
		gradHess(X, y, c, theta, grad, hess)
		if maxAbs(grad) <= tol {
			m.Converged = true
			break
		}
		m.Iter++
		for i := range grad {
			step[i] = -grad[i]
		}
		if err := cholSolve(hess, step, p); err != nil {
			return nil, fmt.Errorf("logistic regression: %w", err)
		}
		slope := dot(grad, step)
		t := 1.0
		var ft float64
		for {
			for i := range theta {
				trial[i] = theta[i] + t*step[i]
			}
			ft = objective(X, y, c, trial)
			// Near the optimum the decrease, ½·|slope|, is below the
			// rounding error of f: take the full Newton step, which
			// converges quadratically there.
			if ft <= f+1e-4*t*slope || -slope <= 1e-12*(1+math.Abs(f)) || t < 1e-12 {
				break
			}
			t /= 2
		}
		if ft > f && t < 1e-12 { // no descent left in floating point
			m.Converged = true
			break
		}
		copy(theta, trial)
		f = ft
	}
	m.Coef = append([]float64(nil), theta[:d]...)
	m.Intercept = theta[d]
	return m, nil
}

// DecisionFunction returns the linear score w·x + b; it is positive where
// the model predicts 1.
func (m *Logistic) DecisionFunction(x []float64) float64 {
	return dot(m.Coef, x) + m.Intercept
}

// PredictProba returns the probability of class 1 for x.
func (m *Logistic) PredictProba(x []float64) float64 {
	return sigmoid(m.DecisionFunction(x))
}

// Predict returns 1 when the decision function is positive, else 0, as
// scikit-learn does.
func (m *Logistic) Predict(x []float64) int {
	if m.DecisionFunction(x) > 0 {
		return 1
	}
	return 0
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// logLoss is log(1+e^z) − y·z, computed without overflow.
func logLoss(z float64, y int) float64 {
	var l float64
	if z > 0 {
		l = z + math.Log1p(math.Exp(-z))
	} else {
		l = math.Log1p(math.Exp(z))
	}
	return l - float64(y)*z
}

func score(theta, x []float64) float64 {
	d := len(x)
	return dot(theta[:d], x) + theta[d]
}

// objective is C·Σ log-loss + ½‖w‖², the sum over rows taken in fixed
// blocks on every core (see forBlocks).
func objective(X [][]float64, y []int, c float64, theta []float64) float64 {
	part := make([]float64, numBlocks(len(X)))
	forBlocks(len(X), func(b, lo, hi int) {
		var l float64
		for i := lo; i < hi; i++ {
			l += logLoss(score(theta, X[i]), y[i])
		}
		part[b] = l
	})
	var loss float64
	for _, v := range part {
		loss += v
	}
	d := len(theta) - 1
	return c*loss + 0.5*dot(theta[:d], theta[:d])
}

// gradHess fills the gradient and the Hessian (row-major p×p) of the
// objective at theta. Each block of rows adds into its own lower
// triangle, and the blocks are summed in order.
func gradHess(X [][]float64, y []int, c float64, theta, grad, hess []float64) {
	p := len(theta)
	d := p - 1
	nb := numBlocks(len(X))
	gpart := make([]float64, nb*p)
	hpart := make([]float64, nb*p*p)
	forBlocks(len(X), func(b, lo, hi int) {
		g, h := gpart[b*p:(b+1)*p], hpart[b*p*p:(b+1)*p*p]
		xt := make([]float64, p)
		xt[d] = 1
		for i := lo; i < hi; i++ {
			copy(xt, X[i])
			pr := sigmoid(score(theta, X[i]))
			r := c * (pr - float64(y[i]))
			w := c * pr * (1 - pr)
			for j, xj := range xt {
				g[j] += r * xj
				wx := w * xj
				hj := h[j*p : j*p+j+1]
				for k, xk := range xt[:j+1] {
					hj[k] += wx * xk
				}
			}
		}
	})
	clear(grad)
	clear(hess)
	for b := range nb {
		for j, v := range gpart[b*p : (b+1)*p] {
			grad[j] += v
		}
		for j, v := range hpart[b*p*p : (b+1)*p*p] {
			hess[j] += v
		}
	}
	for j := 0; j < d; j++ {
		grad[j] += theta[j]
		hess[j*p+j]++
	}
	for j := 0; j < p; j++ {
		for k := 0; k < j; k++ {
			hess[k*p+j] = hess[j*p+k]
		}
	}
}

// cholSolve solves A x = b in place for a symmetric positive definite A
// (row-major n×n, overwritten by its Cholesky factor); b becomes x.
func cholSolve(a, b []float64, n int) error {
	for j := 0; j < n; j++ {
		s := a[j*n+j]
		for k := 0; k < j; k++ {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 0) {
			return errNotPD
		}
		a[j*n+j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / a[j*n+j]
		}
	}
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
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

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}
