package svm

import (
	"container/list"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// KernelParams are SVC's hyperparameters with the RBF kernel
// K(x, z) = exp(−γ‖x − z‖²). The zero value means scikit-learn's defaults:
// C = 1, γ = 'scale' (1 / (d · Var(X)), the variance over every entry of
// the training matrix), tolerance 1e-3, no probabilities.
type KernelParams struct {
	C     float64 // 0: 1
	Gamma float64 // 0: 'scale'
	Tol   float64 // stopping tolerance on the KKT violation; 0: 1e-3
	// MaxIter bounds the SMO steps; 0: no bound, as libsvm's -1.
	MaxIter int
	// Probability fits Platt's sigmoid on 5-fold cross-validated decision
	// values, as libsvm does, so that PredictProba works.
	Probability bool
	CacheMB     int    // kernel row cache; 0: 200
	Seed        uint64 // seeds the cross-validation folds
}

// Kernel is a fitted RBF SVM: decision(x) = Σ Coef_i K(SV_i, x) − Rho.
type Kernel struct {
	Gamma   float64
	SV      [][]float64
	Coef    []float64 // α_i·y_i per support vector
	Rho     float64
	ProbA   float64 // Platt: P(1|x) = 1 / (1 + exp(ProbA·f + ProbB))
	ProbB   float64
	HasProb bool
	Iter    int
}

// DecisionFunction returns the signed score of x; positive means class 1.
func (m *Kernel) DecisionFunction(x []float64) float64 {
	var s float64
	for i, sv := range m.SV {
		var d2 float64
		for j, v := range sv {
			t := v - x[j]
			d2 += t * t
		}
		s += m.Coef[i] * math.Exp(-m.Gamma*d2)
	}
	return s - m.Rho
}

// Predict returns 1 where the decision function is positive.
func (m *Kernel) Predict(x []float64) int {
	if m.DecisionFunction(x) > 0 {
		return 1
	}
	return 0
}

// PredictProba returns Platt's probability of class 1; the model must have
// been fitted with Probability.
func (m *Kernel) PredictProba(x []float64) (float64, error) {
	if !m.HasProb {
		return 0, fmt.Errorf("svm: fitted without probability=true")
	}
	return plattProb(m.DecisionFunction(x), m.ProbA, m.ProbB), nil
}

// FitKernel trains an RBF SVM by SMO.
func FitKernel(X [][]float64, y []int, p KernelParams) (*Kernel, error) {
	if p.C == 0 {
		p.C = 1
	}
	if p.Tol == 0 {
		p.Tol = 1e-3
	}
	if p.CacheMB == 0 {
		p.CacheMB = 200
	}
	switch {
	case !(p.C > 0) || math.IsInf(p.C, 0):
		return nil, fmt.Errorf("svm: C %v: want a finite number above 0", p.C)
	case p.Gamma < 0 || math.IsNaN(p.Gamma) || math.IsInf(p.Gamma, 0):
		return nil, fmt.Errorf("svm: gamma %v: want a finite number above 0, or 0 for 'scale'", p.Gamma)
	case !(p.Tol > 0):
		return nil, fmt.Errorf("svm: tol %v: want a number above 0", p.Tol)
	case p.MaxIter < 0 || p.CacheMB < 0:
		return nil, fmt.Errorf("svm: max_iter %d, cache %d MB: want 0 or more", p.MaxIter, p.CacheMB)
	}
	d, err := checkBinary("svm", X, y)
	if err != nil {
		return nil, err
	}
	if p.Gamma == 0 {
		var s, s2 float64
		for _, row := range X {
			for _, v := range row {
				s += v
				s2 += v * v
			}
		}
		cnt := float64(len(X) * d)
		v := s2/cnt - (s/cnt)*(s/cnt)
		if v > 0 {
			p.Gamma = 1 / (float64(d) * v)
		} else {
			p.Gamma = 1
		}
	}
	m := smo(X, y, p)
	if p.Probability {
		if err := fitPlatt(m, X, y, p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// kcache serves kernel rows K(x_i, ·), keeping the most recent in memory.
type kcache struct {
	X     [][]float64
	norms []float64
	gamma float64
	cap   int
	rows  map[int]*list.Element
	lru   *list.List
}

type crow struct {
	i int
	k []float32
}

func (c *kcache) row(i int) []float32 {
	if e, ok := c.rows[i]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*crow).k
	}
	var k []float32
	if c.lru.Len() >= c.cap {
		e := c.lru.Back()
		old := e.Value.(*crow)
		delete(c.rows, old.i)
		c.lru.Remove(e)
		k = old.k
	} else {
		k = make([]float32, len(c.X))
	}
	xi := c.X[i]
	for t, xt := range c.X {
		var dot float64
		for j, v := range xi {
			dot += v * xt[j]
		}
		d2 := max(c.norms[i]+c.norms[t]-2*dot, 0)
		k[t] = float32(math.Exp(-c.gamma * d2))
	}
	c.rows[i] = c.lru.PushFront(&crow{i, k})
	return k
}

// smo solves the dual with libsvm's second-order working set selection.
func smo(X [][]float64, y []int, p KernelParams) *Kernel {
	n := len(X)
	c := &kcache{X: X, gamma: p.Gamma, rows: map[int]*list.Element{}, lru: list.New()}
	c.norms = make([]float64, n)
	for i, x := range X {
		for _, v := range x {
			c.norms[i] += v * v
		}
	}
	c.cap = max(2, p.CacheMB<<20/(4*n))
	yy := make([]float64, n)
	for i, l := range y {
		yy[i] = float64(2*l - 1)
	}
	alpha := make([]float64, n)
	grad := make([]float64, n) // ∇ of ½αᵀQα − eᵀα
	for i := range grad {
		grad[i] = -1
	}
	C := p.C
	const tau = 1e-12
	iter := 0
	up := func(t int) bool { return (yy[t] > 0 && alpha[t] < C) || (yy[t] < 0 && alpha[t] > 0) }
	low := func(t int) bool { return (yy[t] > 0 && alpha[t] > 0) || (yy[t] < 0 && alpha[t] < C) }
	for p.MaxIter == 0 || iter < p.MaxIter {
		// i: the most violating index in I_up.
		gmax, i := math.Inf(-1), -1
		for t := range n {
			if up(t) {
				if v := -yy[t] * grad[t]; v >= gmax {
					gmax, i = v, t
				}
			}
		}
		if i < 0 {
			break
		}
		ki := c.row(i)
		gmax2, j, best := math.Inf(-1), -1, math.Inf(1)
		for t := range n {
			if !low(t) {
				continue
			}
			v := yy[t] * grad[t]
			gmax2 = max(gmax2, v)
			b := gmax + v
			if b > 0 {
				a := 2 - 2*float64(ki[t]) // K_ii + K_tt − 2K_it with K_ii = 1
				if a <= 0 {
					a = tau
				}
				if obj := -b * b / a; obj <= best {
					best, j = obj, t
				}
			}
		}
		if gmax+gmax2 < p.Tol || j < 0 {
			break
		}
		iter++
		kj := c.row(j)
		ki = c.row(i) // may have been evicted by the row of j
		oldI, oldJ := alpha[i], alpha[j]
		// Q_ij = y_i y_j K_ij; K_ii = K_jj = 1.
		qij := yy[i] * yy[j] * float64(ki[j])
		if yy[i] != yy[j] {
			quad := 2 + 2*qij
			if quad <= 0 {
				quad = tau
			}
			delta := (-grad[i] - grad[j]) / quad
			diff := alpha[i] - alpha[j]
			alpha[i] += delta
			alpha[j] += delta
			if diff > 0 {
				if alpha[j] < 0 {
					alpha[j], alpha[i] = 0, diff
				}
			} else if alpha[i] < 0 {
				alpha[i], alpha[j] = 0, -diff
			}
			if diff > 0 {
				if alpha[i] > C {
					alpha[i], alpha[j] = C, C-diff
				}
			} else if alpha[j] > C {
				alpha[j], alpha[i] = C, C+diff
			}
		} else {
			quad := 2 - 2*qij
			if quad <= 0 {
				quad = tau
			}
			delta := (grad[i] - grad[j]) / quad
			sum := alpha[i] + alpha[j]
			alpha[i] -= delta
			alpha[j] += delta
			if sum > C {
				if alpha[i] > C {
					alpha[i], alpha[j] = C, sum-C
				}
			} else if alpha[j] < 0 {
				alpha[j], alpha[i] = 0, sum
			}
			if sum > C {
				if alpha[j] > C {
					alpha[j], alpha[i] = C, sum-C
				}
			} else if alpha[i] < 0 {
				alpha[i], alpha[j] = 0, sum
			}
		}
		di, dj := alpha[i]-oldI, alpha[j]-oldJ
		ai, aj := yy[i]*di, yy[j]*dj
		for t := range n {
			grad[t] += yy[t] * (ai*float64(ki[t]) + aj*float64(kj[t]))
		}
	}
	// ρ: the mean of y_t ∇_t over free vectors, else the middle of the
	// feasible interval.
	var sum float64
	var nFree int
	ub, lb := math.Inf(1), math.Inf(-1)
	for t := range n {
		yg := yy[t] * grad[t]
		switch {
		case alpha[t] >= C:
			if yy[t] < 0 {
				ub = min(ub, yg)
			} else {
				lb = max(lb, yg)
			}
		case alpha[t] <= 0:
			if yy[t] > 0 {
				ub = min(ub, yg)
			} else {
				lb = max(lb, yg)
			}
		default:
			nFree++
			sum += yg
		}
	}
	rho := (ub + lb) / 2
	if nFree > 0 {
		rho = sum / float64(nFree)
	}
	m := &Kernel{Gamma: p.Gamma, Rho: rho, Iter: iter}
	for t := range n {
		if alpha[t] > 0 {
			m.SV = append(m.SV, slices.Clone(X[t]))
			m.Coef = append(m.Coef, alpha[t]*yy[t])
		}
	}
	return m
}

// fitPlatt fits the sigmoid on decision values from 5-fold cross
// validation, as libsvm's svm_binary_svc_probability does.
func fitPlatt(m *Kernel, X [][]float64, y []int, p KernelParams) error {
	n := len(X)
	perm := rand.New(rand.NewPCG(p.Seed, 0x2545f4914f6cdd1d)).Perm(n)
	dec := make([]float64, n)
	const folds = 5
	for f := range folds {
		var tx, vx [][]float64
		var ty []int
		var vi []int
		for k, i := range perm {
			if k%folds == f {
				vx = append(vx, X[i])
				vi = append(vi, i)
			} else {
				tx = append(tx, X[i])
				ty = append(ty, y[i])
			}
		}
		pos := 0
		for _, l := range ty {
			pos += l
		}
		switch {
		case pos == 0 || pos == len(ty):
			// One class in the fold: libsvm scores it ±1.
			for _, i := range vi {
				dec[i] = float64(2*ty[0] - 1)
			}
		default:
			fm := smo(tx, ty, p)
			for k, x := range vx {
				dec[vi[k]] = fm.DecisionFunction(x)
			}
		}
	}
	m.ProbA, m.ProbB = plattFit(dec, y)
	m.HasProb = true
	return nil
}

// plattFit is Lin, Lin and Weng's Newton method for Platt's sigmoid
// P(1|f) = 1/(1 + exp(A·f + B)) with smoothed targets.
func plattFit(dec []float64, y []int) (float64, float64) {
	var prior1, prior0 float64
	for _, l := range y {
		if l == 1 {
			prior1++
		} else {
			prior0++
		}
	}
	hi, lo := (prior1+1)/(prior1+2), 1/(prior0+2)
	t := make([]float64, len(y))
	for i, l := range y {
		if l == 1 {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	A, B := 0.0, math.Log((prior0+1)/(prior1+1))
	fval := func(A, B float64) float64 {
		var f float64
		for i, d := range dec {
			fApB := d*A + B
			if fApB >= 0 {
				f += t[i]*fApB + math.Log1p(math.Exp(-fApB))
			} else {
				f += (t[i]-1)*fApB + math.Log1p(math.Exp(fApB))
			}
		}
		return f
	}
	f := fval(A, B)
	const sigma = 1e-12
	for range 100 {
		h11, h22, h21, g1, g2 := sigma, sigma, 0.0, 0.0, 0.0
		for i, d := range dec {
			fApB := d*A + B
			var p, q float64
			if fApB >= 0 {
				p = math.Exp(-fApB) / (1 + math.Exp(-fApB))
				q = 1 / (1 + math.Exp(-fApB))
			} else {
				p = 1 / (1 + math.Exp(fApB))
				q = math.Exp(fApB) / (1 + math.Exp(fApB))
			}
			d2 := p * q
			h11 += d * d * d2
			h22 += d2
			h21 += d * d2
			d1 := t[i] - p
			g1 += d * d1
			g2 += d1
		}
		if math.Abs(g1) < 1e-5 && math.Abs(g2) < 1e-5 {
			break
		}
		det := h11*h22 - h21*h21
		dA := -(h22*g1 - h21*g2) / det
		dB := -(-h21*g1 + h11*g2) / det
		gd := g1*dA + g2*dB
		step := 1.0
		for step >= 1e-10 {
			nA, nB := A+step*dA, B+step*dB
			if nf := fval(nA, nB); nf < f+1e-4*step*gd {
				A, B, f = nA, nB, nf
				break
			}
			step /= 2
		}
		if step < 1e-10 {
			break
		}
	}
	return A, B
}

func plattProb(f, A, B float64) float64 {
	fApB := f*A + B
	if fApB >= 0 {
		return math.Exp(-fApB) / (1 + math.Exp(-fApB))
	}
	return 1 / (1 + math.Exp(fApB))
}
