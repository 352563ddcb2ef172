package linear

import (
	"fmt"
	"math"
)

// Multinomial is a fitted multinomial (softmax) logistic regression: one
// weight vector and intercept per class, P(k|x) ∝ exp(Coef[k]·x +
// Intercept[k]).
type Multinomial struct {
	Coef      [][]float64 // one row of weights per class
	Intercept []float64   // one per class
	Iter      int         // Newton iterations run
	Converged bool        // whether the gradient fell below tolerance within MaxIter
}

// FitMultinomial fits a multinomial logistic regression on the rows of X
// with labels y in 0..k-1, as scikit-learn's LogisticRegression with
// multi_class="multinomial": the objective is C·Σ cross-entropy + ½ Σ_k
// ‖w_k‖², every class's weights penalised and the intercepts not. It is
// strictly convex in the weights, so they and the probabilities are the
// ones scikit-learn's lbfgs approaches; the intercepts are determined up
// to a common shift that changes no probability.
//
// The solver is Newton's method with the step found by conjugate
// gradients on Hessian-vector products (no Hessian is formed, so the cost
// per step is linear in rows × classes × features), and a backtracking
// line search; the sums over rows run on every core in fixed blocks.
func FitMultinomial(X [][]float64, y []int, k int, opts LogisticOptions) (*Multinomial, error) {
	c, maxIter, err := opts.check()
	if err != nil {
		return nil, err
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("logistic regression: %d rows and %d labels", len(X), len(y))
	}
	if k < 2 {
		return nil, fmt.Errorf("logistic regression: %d classes, want at least 2", k)
	}
	d := len(X[0])
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("logistic regression: row %d has %d features, want %d", i, len(row), d)
		}
		if y[i] < 0 || y[i] >= k {
			return nil, fmt.Errorf("logistic regression: row %d: label %d, want 0..%d", i, y[i], k-1)
		}
	}
	s := &softmaxProblem{X: X, y: y, k: k, d: d, c: c, prob: make([]float64, len(X)*k)}
	p := k * (d + 1)
	theta := make([]float64, p)
	grad := make([]float64, p)
	step := make([]float64, p)
	trial := make([]float64, p)
	m := &Multinomial{}
	f := s.evaluate(theta, grad)
	tol := gradTol * c * float64(len(X))
	for m.Iter < maxIter {
		if maxAbs(grad) <= tol {
			m.Converged = true
			break
		}
		m.Iter++
		s.newtonStep(grad, step)
		slope := dot(grad, step)
		if !(slope < 0) { // rounding left no descent direction
			m.Converged = true
			break
		}
		t := 1.0
		var ft float64
		for {
			for i := range theta {
				trial[i] = theta[i] + t*step[i]
			}
			ft = s.objective(trial)
			if ft <= f+1e-4*t*slope || -slope <= 1e-12*(1+math.Abs(f)) || t < 1e-12 {
				break
			}
			t /= 2
		}
		if ft > f && t < 1e-12 {
			m.Converged = true
			break
		}
		copy(theta, trial)
		f = s.evaluate(theta, grad)
	}
	for j := range k {
		w := theta[j*(d+1) : (j+1)*(d+1)]
		m.Coef = append(m.Coef, append([]float64(nil), w[:d]...))
		m.Intercept = append(m.Intercept, w[d])
	}
	return m, nil
}

// check resolves the defaults of LogisticOptions.
func (o LogisticOptions) check() (float64, int, error) {
	c := o.C
	if c == 0 {
		c = 1
	}
	if !(c > 0) || math.IsInf(c, 0) {
		return 0, 0, fmt.Errorf("logistic regression: C must be positive and finite, got %v", o.C)
	}
	maxIter := o.MaxIter
	if maxIter == 0 {
		maxIter = 100
	}
	if maxIter < 0 {
		return 0, 0, fmt.Errorf("logistic regression: max_iter must be positive, got %d", maxIter)
	}
	return c, maxIter, nil
}

// PredictProba writes the class probabilities of x into out (k values).
func (m *Multinomial) PredictProba(x, out []float64) {
	for j, w := range m.Coef {
		out[j] = dot(w, x) + m.Intercept[j]
	}
	softmaxInPlace(out)
}

// softmaxInPlace turns scores into probabilities and returns the log of
// the normaliser (the log-sum-exp of the scores).
func softmaxInPlace(z []float64) float64 {
	top := z[0]
	for _, v := range z {
		top = max(top, v)
	}
	var sum float64
	for j, v := range z {
		z[j] = math.Exp(v - top)
		sum += z[j]
	}
	for j := range z {
		z[j] /= sum
	}
	return top + math.Log(sum)
}

// softmaxProblem holds the data of a fit and the probabilities at the
// last point evaluate saw. θ is k blocks of d weights and an intercept.
type softmaxProblem struct {
	X    [][]float64
	y    []int
	k, d int
	c    float64
	prob []float64 // n×k
}

// loss returns the cross-entropy of row i at θ and leaves its class
// probabilities in z.
func (s *softmaxProblem) loss(theta []float64, i int, z []float64) float64 {
	x := s.X[i]
	for j := range s.k {
		w := theta[j*(s.d+1) : (j+1)*(s.d+1)]
		z[j] = dot(w[:s.d], x) + w[s.d]
	}
	zy := z[s.y[i]]
	return softmaxInPlace(z) - zy
}

func (s *softmaxProblem) penalty(theta []float64) float64 {
	var r float64
	for j := range s.k {
		w := theta[j*(s.d+1) : j*(s.d+1)+s.d]
		r += dot(w, w)
	}
	return 0.5 * r
}

// objective returns the objective at θ.
func (s *softmaxProblem) objective(theta []float64) float64 {
	part := make([]float64, numBlocks(len(s.X)))
	forBlocks(len(s.X), func(b, lo, hi int) {
		z := make([]float64, s.k)
		for i := lo; i < hi; i++ {
			part[b] += s.loss(theta, i, z)
		}
	})
	var l float64
	for _, v := range part {
		l += v
	}
	return s.c*l + s.penalty(theta)
}

// evaluate returns the objective at θ, writes its gradient into grad and
// keeps the probabilities for hessVec.
func (s *softmaxProblem) evaluate(theta, grad []float64) float64 {
	nb, p := numBlocks(len(s.X)), len(theta)
	part := make([]float64, nb)
	gpart := make([]float64, nb*p)
	forBlocks(len(s.X), func(b, lo, hi int) {
		g := gpart[b*p : (b+1)*p]
		for i := lo; i < hi; i++ {
			z := s.prob[i*s.k : (i+1)*s.k]
			part[b] += s.loss(theta, i, z)
			x := s.X[i]
			for j := range s.k {
				r := z[j]
				if j == s.y[i] {
					r--
				}
				gj := g[j*(s.d+1) : (j+1)*(s.d+1)]
				for f, v := range x {
					gj[f] += r * v
				}
				gj[s.d] += r
			}
		}
	})
	var l float64
	clear(grad)
	for b := range nb {
		l += part[b]
		for q, v := range gpart[b*p : (b+1)*p] {
			grad[q] += v
		}
	}
	for q := range grad {
		grad[q] *= s.c
	}
	for j := range s.k {
		w := theta[j*(s.d+1) : j*(s.d+1)+s.d]
		for f, v := range w {
			grad[j*(s.d+1)+f] += v
		}
	}
	return s.c*l + s.penalty(theta)
}

// hessVec writes H·v into out, H the Hessian at the last evaluated point:
// C Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ plus the identity on weights.
func (s *softmaxProblem) hessVec(v, out []float64) {
	nb, p := numBlocks(len(s.X)), len(v)
	opart := make([]float64, nb*p)
	forBlocks(len(s.X), func(b, lo, hi int) {
		o := opart[b*p : (b+1)*p]
		a := make([]float64, s.k)
		for i := lo; i < hi; i++ {
			x, pr := s.X[i], s.prob[i*s.k:(i+1)*s.k]
			var sum float64
			for j := range s.k {
				w := v[j*(s.d+1) : (j+1)*(s.d+1)]
				a[j] = dot(w[:s.d], x) + w[s.d]
				sum += pr[j] * a[j]
			}
			for j := range s.k {
				r := pr[j] * (a[j] - sum)
				oj := o[j*(s.d+1) : (j+1)*(s.d+1)]
				for f, xv := range x {
					oj[f] += r * xv
				}
				oj[s.d] += r
			}
		}
	})
	clear(out)
	for b := range nb {
		for q, x := range opart[b*p : (b+1)*p] {
			out[q] += x
		}
	}
	for q := range out {
		out[q] *= s.c
	}
	for j := range s.k {
		for f := range s.d {
			q := j*(s.d+1) + f
			out[q] += v[q]
		}
	}
}

// newtonStep solves H·step = −grad by conjugate gradients to a relative
// tolerance that tightens as the gradient shrinks (as scikit-learn's
// newton-cg does), so that Newton converges superlinearly.
func (s *softmaxProblem) newtonStep(grad, step []float64) {
	p := len(grad)
	r := make([]float64, p)
	dir := make([]float64, p)
	hd := make([]float64, p)
	clear(step)
	for q := range r {
		r[q] = -grad[q]
	}
	copy(dir, r)
	rr := dot(r, r)
	gnorm := math.Sqrt(rr)
	tol := min(0.5, math.Sqrt(gnorm)) * gnorm
	for it := 0; it < 10*p && math.Sqrt(rr) > tol; it++ {
		s.hessVec(dir, hd)
		curv := dot(dir, hd)
		if !(curv > 0) {
			break
		}
		alpha := rr / curv
		for q := range step {
			step[q] += alpha * dir[q]
			r[q] -= alpha * hd[q]
		}
		rr2 := dot(r, r)
		beta := rr2 / rr
		rr = rr2
		for q := range dir {
			dir[q] = r[q] + beta*dir[q]
		}
	}
	if dot(step, step) == 0 { // no curvature seen: fall back to steepest descent
		copy(step, r)
	}
}
