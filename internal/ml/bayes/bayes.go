// Package bayes is Gaussian naive Bayes, as scikit-learn's GaussianNB:
// per class, independent normal features with the class's mean and
// variance, the variances widened by var_smoothing times the largest
// feature variance, and class priors from the training frequencies.
package bayes

import (
	"fmt"
	"math"
)

// Params configures the model; VarSmoothing 0 means scikit-learn's 1e-9.
type Params struct {
	VarSmoothing float64
}

// Model is a fitted Gaussian naive Bayes classifier.
type Model struct {
	LogPrior []float64   // per class
	Mean     [][]float64 // per class, per feature
	Var      [][]float64 // per class, per feature, smoothed
}

// Fit fits the model on labels 0..nClasses-1; every class needs a row.
func Fit(X [][]float64, y []int, nClasses int, p Params) (*Model, error) {
	if p.VarSmoothing == 0 {
		p.VarSmoothing = 1e-9
	}
	if !(p.VarSmoothing > 0) || math.IsInf(p.VarSmoothing, 0) {
		return nil, fmt.Errorf("naive bayes: var_smoothing %v: want a finite number above 0", p.VarSmoothing)
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("naive bayes: %d rows and %d labels", len(X), len(y))
	}
	if nClasses < 2 {
		return nil, fmt.Errorf("naive bayes: %d classes, want at least 2", nClasses)
	}
	d := len(X[0])
	m := &Model{LogPrior: make([]float64, nClasses), Mean: make([][]float64, nClasses), Var: make([][]float64, nClasses)}
	cnt := make([]float64, nClasses)
	for c := range nClasses {
		m.Mean[c], m.Var[c] = make([]float64, d), make([]float64, d)
	}
	all := make([]float64, d)
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("naive bayes: row %d has %d features, want %d", i, len(row), d)
		}
		c := y[i]
		if c < 0 || c >= nClasses {
			return nil, fmt.Errorf("naive bayes: row %d: class %d, want 0..%d", i, c, nClasses-1)
		}
		cnt[c]++
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("naive bayes: row %d feature %d is %v, want a finite number", i, j, v)
			}
			m.Mean[c][j] += v
			all[j] += v
		}
	}
	for c := range nClasses {
		if cnt[c] == 0 {
			return nil, fmt.Errorf("naive bayes: class %d has no training rows", c)
		}
		for j := range d {
			m.Mean[c][j] /= cnt[c]
		}
		m.LogPrior[c] = math.Log(cnt[c] / float64(len(X)))
	}
	allVar := make([]float64, d)
	for j := range all {
		all[j] /= float64(len(X))
	}
	for i, row := range X {
		c := y[i]
		for j, v := range row {
			dv := v - m.Mean[c][j]
			m.Var[c][j] += dv * dv
			da := v - all[j]
			allVar[j] += da * da
		}
	}
	var maxVar float64
	for j := range allVar {
		maxVar = max(maxVar, allVar[j]/float64(len(X)))
	}
	eps := p.VarSmoothing * maxVar
	if eps == 0 {
		eps = p.VarSmoothing // every feature constant
	}
	for c := range nClasses {
		for j := range d {
			m.Var[c][j] = m.Var[c][j]/cnt[c] + eps
		}
	}
	return m, nil
}

// PredictProba writes the posterior class probabilities of x into out.
func (m *Model) PredictProba(x []float64, out []float64) {
	best := math.Inf(-1)
	for c := range m.LogPrior {
		l := m.LogPrior[c]
		for j, v := range x {
			dv := v - m.Mean[c][j]
			l -= 0.5*math.Log(2*math.Pi*m.Var[c][j]) + dv*dv/(2*m.Var[c][j])
		}
		out[c] = l
		best = max(best, l)
	}
	var s float64
	for c := range out {
		out[c] = math.Exp(out[c] - best)
		s += out[c]
	}
	for c := range out {
		out[c] /= s
	}
}
