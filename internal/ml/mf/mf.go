// Package mf factorises a sparse user × item rating matrix: the biased
// model r̂ = μ + b_u + b_i + p_u·q_i fitted by stochastic gradient descent
// with L2 regularisation (Funk's SVD as Koren describes it), the damped
// bias baseline it is measured against, and top-K recommendation that
// leaves out the items a user has already rated.
package mf

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Rating is one observed rating; User and Item are dense indices.
type Rating struct {
	User, Item int
	Value      float64
}

// Params are the hyperparameters; the zero value means the defaults.
type Params struct {
	Factors      int     // latent dimensions; 0: 10
	Epochs       int     // passes over the ratings; 0: 100
	LearningRate float64 // SGD step; 0: 0.005
	Reg          float64 // L2 penalty on biases and factors; 0: 0.1
	InitStd      float64 // standard deviation of the initial factors; 0: 0.1
	Seed         uint64  // seeds the initial factors and the visiting order
}

// Model is a fitted factorisation.
type Model struct {
	NumUsers, NumItems, Factors int
	Mu                          float64
	UserBias, ItemBias          []float64
	P, Q                        []float64 // row-major user and item factors
}

func check(r []Rating, nUsers, nItems int) error {
	if len(r) == 0 {
		return fmt.Errorf("matrix factorization: no ratings")
	}
	if nUsers < 1 || nItems < 1 {
		return fmt.Errorf("matrix factorization: %d users and %d items", nUsers, nItems)
	}
	for k, x := range r {
		if x.User < 0 || x.User >= nUsers || x.Item < 0 || x.Item >= nItems {
			return fmt.Errorf("matrix factorization: rating %d: user %d, item %d out of range", k, x.User, x.Item)
		}
		if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
			return fmt.Errorf("matrix factorization: rating %d: value %v, want a finite number", k, x.Value)
		}
	}
	return nil
}

// Fit trains the biased factorisation by SGD.
func Fit(ratings []Rating, nUsers, nItems int, p Params) (*Model, error) {
	if p.Factors == 0 {
		p.Factors = 10
	}
	if p.Epochs == 0 {
		p.Epochs = 100
	}
	if p.LearningRate == 0 {
		p.LearningRate = 0.005
	}
	if p.Reg == 0 {
		p.Reg = 0.1
	}
	if p.InitStd == 0 {
		p.InitStd = 0.1
	}
	switch {
	case p.Factors < 1:
		return nil, fmt.Errorf("matrix factorization: factors %d: want at least 1", p.Factors)
	case p.Epochs < 1:
		return nil, fmt.Errorf("matrix factorization: epochs %d: want at least 1", p.Epochs)
	case !(p.LearningRate > 0) || p.LearningRate > 1:
		return nil, fmt.Errorf("matrix factorization: learning_rate %v: want (0, 1]", p.LearningRate)
	case !(p.Reg > 0) || math.IsInf(p.Reg, 0):
		return nil, fmt.Errorf("matrix factorization: reg %v: want a finite number above 0", p.Reg)
	case !(p.InitStd > 0) || math.IsInf(p.InitStd, 0):
		return nil, fmt.Errorf("matrix factorization: init_std %v: want a finite number above 0", p.InitStd)
	}
	if err := check(ratings, nUsers, nItems); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x6a09e667f3bcc909))
	k := p.Factors
	m := &Model{NumUsers: nUsers, NumItems: nItems, Factors: k,
		UserBias: make([]float64, nUsers), ItemBias: make([]float64, nItems),
		P: make([]float64, nUsers*k), Q: make([]float64, nItems*k)}
	for _, r := range ratings {
		m.Mu += r.Value
	}
	m.Mu /= float64(len(ratings))
	for i := range m.P {
		m.P[i] = rng.NormFloat64() * p.InitStd
	}
	for i := range m.Q {
		m.Q[i] = rng.NormFloat64() * p.InitStd
	}
	order := make([]int, len(ratings))
	for i := range order {
		order[i] = i
	}
	lr, reg := p.LearningRate, p.Reg
	for range p.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, o := range order {
			r := ratings[o]
			pu, qi := m.P[r.User*k:(r.User+1)*k], m.Q[r.Item*k:(r.Item+1)*k]
			e := r.Value - m.Predict(r.User, r.Item)
			m.UserBias[r.User] += lr * (e - reg*m.UserBias[r.User])
			m.ItemBias[r.Item] += lr * (e - reg*m.ItemBias[r.Item])
			for f := range k {
				a, b := pu[f], qi[f]
				pu[f] += lr * (e*b - reg*a)
				qi[f] += lr * (e*a - reg*b)
			}
		}
	}
	return m, nil
}

// Predict returns the estimated rating of item i by user u. An index out
// of range (a user or item unseen in training) contributes nothing beyond
// the global mean and the other side's bias.
func (m *Model) Predict(u, i int) float64 {
	s := m.Mu
	uok, iok := u >= 0 && u < m.NumUsers, i >= 0 && i < m.NumItems
	if uok {
		s += m.UserBias[u]
	}
	if iok {
		s += m.ItemBias[i]
	}
	if uok && iok {
		k := m.Factors
		pu, qi := m.P[u*k:(u+1)*k], m.Q[i*k:(i+1)*k]
		for f := range k {
			s += pu[f] * qi[f]
		}
	}
	return s
}

// Recommend returns up to n items for user u, best first, leaving out every
// item for which seen returns true (the items the user has already rated).
// Ties go to the lower item index.
func (m *Model) Recommend(u, n int, seen func(item int) bool) []int {
	type cand struct {
		item  int
		score float64
	}
	var cs []cand
	for i := range m.NumItems {
		if seen != nil && seen(i) {
			continue
		}
		cs = append(cs, cand{i, m.Predict(u, i)})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
	out := make([]int, 0, min(n, len(cs)))
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.item)
	}
	return out
}

// Baseline is the damped bias baseline μ + b_i + b_u: item biases first,
// then user biases on what is left, each shrunk towards 0 by λ, in one
// pass (Koren, "Factor in the neighbors", 2008, §2.1).
type Baseline struct {
	Mu                 float64
	UserBias, ItemBias []float64
}

// FitBaseline fits the baseline with damping lambda (the reference uses
// 10).
func FitBaseline(ratings []Rating, nUsers, nItems int, lambda float64) (*Baseline, error) {
	if err := check(ratings, nUsers, nItems); err != nil {
		return nil, err
	}
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		return nil, fmt.Errorf("bias baseline: lambda %v: want a finite number >= 0", lambda)
	}
	b := &Baseline{UserBias: make([]float64, nUsers), ItemBias: make([]float64, nItems)}
	for _, r := range ratings {
		b.Mu += r.Value
	}
	b.Mu /= float64(len(ratings))
	cntI := make([]float64, nItems)
	for _, r := range ratings {
		b.ItemBias[r.Item] += r.Value - b.Mu
		cntI[r.Item]++
	}
	for i := range b.ItemBias {
		if cntI[i]+lambda > 0 {
			b.ItemBias[i] /= cntI[i] + lambda
		}
	}
	cntU := make([]float64, nUsers)
	for _, r := range ratings {
		b.UserBias[r.User] += r.Value - b.Mu - b.ItemBias[r.Item]
		cntU[r.User]++
	}
	for u := range b.UserBias {
		if cntU[u]+lambda > 0 {
			b.UserBias[u] /= cntU[u] + lambda
		}
	}
	return b, nil
}

// Predict returns μ + b_u + b_i, a bias of 0 for an index out of range.
func (b *Baseline) Predict(u, i int) float64 {
	s := b.Mu
	if u >= 0 && u < len(b.UserBias) {
		s += b.UserBias[u]
	}
	if i >= 0 && i < len(b.ItemBias) {
		s += b.ItemBias[i]
	}
	return s
}
