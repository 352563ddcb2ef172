// Package boost fits gradient-boosted regression trees on histograms:
// binary log-loss, multiclass softmax (one tree per class and round) and
// squared error, with a learning rate, a depth limit, row subsampling and
// early stopping on a validation split.
//
// The defaults follow scikit-learn's GradientBoostingClassifier and
// GradientBoostingRegressor (100 rounds, learning rate 0.1, depth 3, the
// Friedman variance-reduction split on the negative gradient, one Newton
// step per leaf), so that results compare directly; the split search runs
// on at most MaxBins quantile bins per feature, as HistGradientBoosting
// does, which is what makes it fast.
package boost

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/joule-dev/joule/internal/ml/tree"
)

// Params are the hyperparameters. The zero value means the defaults.
type Params struct {
	NumTrees       int     // boosting rounds; 0: 100
	LearningRate   float64 // shrinkage; 0: 0.1
	MaxDepth       int     // 0: 3
	MinSamplesLeaf int     // 0: 1
	Subsample      float64 // fraction of rows drawn (without replacement) per round; 0: 1
	MaxBins        int     // histogram bins per feature, 2..255; 0: 255
	// NIterNoChange turns on early stopping when above 0: ValidationFraction
	// of the training rows is held out, and boosting stops once the
	// validation loss has not improved by Tol for that many rounds; the
	// model keeps the rounds up to its best validation loss.
	NIterNoChange      int
	ValidationFraction float64 // 0: 0.1
	Tol                float64 // 0: 1e-4
	Workers            int     // goroutines for histograms; 0: GOMAXPROCS
	Seed               uint64
}

func (p Params) withDefaults() (Params, error) {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if p.NumTrees == 0 {
		p.NumTrees = 100
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = 3
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = 1
	}
	if p.MaxBins == 0 {
		p.MaxBins = 255
	}
	if p.Workers == 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	def(&p.LearningRate, 0.1)
	def(&p.Subsample, 1)
	def(&p.ValidationFraction, 0.1)
	def(&p.Tol, 1e-4)
	switch {
	case p.NumTrees < 1:
		return p, fmt.Errorf("n_estimators %d: want at least 1", p.NumTrees)
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return p, fmt.Errorf("learning_rate %v: want a finite number above 0", p.LearningRate)
	case p.MaxDepth < 1:
		return p, fmt.Errorf("max_depth %d: want at least 1", p.MaxDepth)
	case p.MinSamplesLeaf < 1:
		return p, fmt.Errorf("min_samples_leaf %d: want at least 1", p.MinSamplesLeaf)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return p, fmt.Errorf("subsample %v: want a fraction in (0, 1]", p.Subsample)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return p, fmt.Errorf("max_bins %d: want 2..255", p.MaxBins)
	case p.NIterNoChange < 0:
		return p, fmt.Errorf("n_iter_no_change %d: want 0 (off) or more", p.NIterNoChange)
	case !(p.ValidationFraction > 0 && p.ValidationFraction < 1):
		return p, fmt.Errorf("validation_fraction %v: want a fraction in (0, 1)", p.ValidationFraction)
	case !(p.Tol >= 0):
		return p, fmt.Errorf("tol %v: want 0 or more", p.Tol)
	case p.Workers < 0:
		return p, fmt.Errorf("n_jobs %d: want at least 1", p.Workers)
	}
	return p, nil
}

// Model is a fitted ensemble. Its raw score for output k is Init[k] plus
// the leaf values (already scaled by the learning rate) of Trees[r][k]
// over the rounds r. A classifier with NumClasses 2 has one output, the
// log-odds of class 1; with more, one output per class, through softmax.
// A regressor has NumClasses 0 and one output.
type Model struct {
	NumFeatures int
	NumClasses  int
	Init        []float64
	Trees       [][]*tree.Tree

	flatOnce sync.Once
	flat     *tree.Flat
}

// RawBatch writes the raw scores of every row of X into out, row after
// row (len out = len X × Outputs): the same numbers as Raw, computed
// tree by tree over blocks of rows on every core.
func (m *Model) RawBatch(X [][]float64, out []float64) {
	w := len(m.Init)
	m.flatOnce.Do(func() {
		var all []*tree.Tree
		for _, round := range m.Trees {
			all = append(all, round...)
		}
		m.flat = tree.Flatten(all)
	})
	for r := range X {
		copy(out[r*w:(r+1)*w], m.Init)
	}
	m.flat.Accumulate(X, out, w, func(i int) int { return i % w })
}

// PredictProbaBatch writes the class probabilities of every row of X into
// out, row after row (len out = len X × NumClasses), as PredictProba.
func (m *Model) PredictProbaBatch(X [][]float64, out []float64) {
	if m.NumClasses == 2 {
		raw := make([]float64, len(X))
		m.RawBatch(X, raw)
		for r, z := range raw {
			out[2*r+1] = sigmoid(z)
			out[2*r] = 1 - out[2*r+1]
		}
		return
	}
	m.RawBatch(X, out)
	for r := range X {
		softmax(out[r*m.NumClasses : (r+1)*m.NumClasses])
	}
}

// Outputs returns the number of raw scores per row.
func (m *Model) Outputs() int { return len(m.Init) }

// Raw writes the raw scores of x into out (len Outputs).
func (m *Model) Raw(x []float64, out []float64) {
	copy(out, m.Init)
	for _, round := range m.Trees {
		for k, t := range round {
			out[k] += t.Leaf(x)[0]
		}
	}
}

// PredictProba writes class probabilities into out (len NumClasses) for a
// classifier.
func (m *Model) PredictProba(x []float64, out []float64) {
	if m.NumClasses == 2 {
		var raw [1]float64
		m.Raw(x, raw[:])
		out[1] = sigmoid(raw[0])
		out[0] = 1 - out[1]
		return
	}
	m.Raw(x, out)
	softmax(out)
}

// Predict returns the regression estimate for x.
func (m *Model) Predict(x []float64) float64 {
	var raw [1]float64
	m.Raw(x, raw[:])
	return raw[0]
}

// Validate checks a decoded model's shape.
func (m *Model) Validate() error {
	want := 1
	if m.NumClasses > 2 {
		want = m.NumClasses
	}
	if m.NumClasses == 1 || m.NumClasses < 0 || len(m.Init) != want || m.NumFeatures < 1 {
		return errors.New("gradient boosting: inconsistent classes and outputs")
	}
	for _, round := range m.Trees {
		if len(round) != want {
			return errors.New("gradient boosting: a round has the wrong number of trees")
		}
		for _, t := range round {
			if err := t.Validate(); err != nil {
				return err
			}
			if t.NumFeatures != m.NumFeatures || t.NumOutputs != 1 {
				return errors.New("gradient boosting: a tree does not match the model")
			}
		}
	}
	return nil
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func softmax(v []float64) {
	m := slices.Max(v)
	var s float64
	for i := range v {
		v[i] = math.Exp(v[i] - m)
		s += v[i]
	}
	for i := range v {
		v[i] /= s
	}
}

// FitClassifier boosts a classifier on labels 0..nClasses-1 (nClasses ≥ 2):
// log-loss for two classes, softmax for more. Every class must be present.
func FitClassifier(X [][]float64, y []int, nClasses int, p Params) (*Model, error) {
	if nClasses < 2 {
		return nil, fmt.Errorf("gradient boosting: %d classes, want at least 2", nClasses)
	}
	if len(y) != len(X) {
		return nil, fmt.Errorf("gradient boosting: %d rows and %d labels", len(X), len(y))
	}
	t := make([]float64, len(y))
	count := make([]int, nClasses)
	for i, c := range y {
		if c < 0 || c >= nClasses {
			return nil, fmt.Errorf("gradient boosting: row %d: class %d, want 0..%d", i, c, nClasses-1)
		}
		count[c]++
		t[i] = float64(c)
	}
	for c, n := range count {
		if n == 0 {
			return nil, fmt.Errorf("gradient boosting: class %d has no training rows", c)
		}
	}
	return fit(X, t, nClasses, p)
}

// FitRegressor boosts a squared-error regressor.
func FitRegressor(X [][]float64, y []float64, p Params) (*Model, error) {
	if len(y) != len(X) {
		return nil, fmt.Errorf("gradient boosting: %d rows and %d targets", len(X), len(y))
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("gradient boosting: row %d: target %v, want a finite number", i, v)
		}
	}
	return fit(X, y, 0, p)
}

// bins maps each feature's values to at most MaxBins ordered bins: value
// x falls in the first bin b with x <= thr[b], or the last bin.
type bins struct {
	thr  [][]float64 // per feature, ascending upper bounds of all bins but the last
	code [][]uint8   // per feature, the bin of each training row
}

func makeBins(X [][]float64, maxBins int) *bins {
	d := len(X[0])
	b := &bins{thr: make([][]float64, d), code: make([][]uint8, d)}
	col := make([]float64, len(X))
	for j := range d {
		for i, r := range X {
			col[i] = r[j]
		}
		vals := slices.Clone(col)
		slices.Sort(vals)
		distinct := slices.Compact(slices.Clone(vals))
		var thr []float64
		if len(distinct) <= maxBins {
			for k := 0; k+1 < len(distinct); k++ {
				thr = append(thr, distinct[k]/2+distinct[k+1]/2)
			}
		} else {
			// Quantile bounds, midway between the neighbouring order
			// statistics, de-duplicated.
			n := len(vals)
			for k := 1; k < maxBins; k++ {
				pos := float64(k) * float64(n-1) / float64(maxBins)
				lo := int(pos)
				q := vals[lo] + (pos-float64(lo))*(vals[min(lo+1, n-1)]-vals[lo])
				if len(thr) == 0 || q > thr[len(thr)-1] {
					thr = append(thr, q)
				}
			}
		}
		code := make([]uint8, len(X))
		for i, v := range col {
			code[i] = uint8(sort.SearchFloat64s(thr, v))
		}
		b.thr[j], b.code[j] = thr, code
	}
	return b
}

func fit(X [][]float64, y []float64, nClasses int, p Params) (*Model, error) {
	d, err := tree.CheckMatrix(X)
	if err != nil {
		return nil, fmt.Errorf("gradient boosting: %w", err)
	}
	if p, err = p.withDefaults(); err != nil {
		return nil, fmt.Errorf("gradient boosting: %w", err)
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x853c49e6748fea9b))
	n := len(X)
	train := make([]int, n)
	for i := range train {
		train[i] = i
	}
	var valid []int
	if p.NIterNoChange > 0 {
		rng.Shuffle(n, func(i, j int) { train[i], train[j] = train[j], train[i] })
		nv := int(math.Ceil(p.ValidationFraction * float64(n)))
		if nv < 1 || nv >= n {
			return nil, fmt.Errorf("gradient boosting: %d rows are too few to hold out a validation split", n)
		}
		valid, train = train[:nv], train[nv:]
		slices.Sort(train)
	}
	xt := make([][]float64, len(train))
	yt := make([]float64, len(train))
	for k, i := range train {
		xt[k], yt[k] = X[i], y[i]
	}
	K := 1
	if nClasses > 2 {
		K = nClasses
	}
	m := &Model{NumFeatures: d, NumClasses: nClasses, Init: make([]float64, K)}
	m.Init = initScores(yt, nClasses)
	bn := makeBins(xt, p.MaxBins)
	nt := len(xt)
	raw := make([]float64, nt*K)
	for i := range nt {
		copy(raw[i*K:], m.Init)
	}
	var vraw []float64
	if valid != nil {
		vraw = make([]float64, len(valid)*K)
		for i := range valid {
			copy(vraw[i*K:], m.Init)
		}
	}
	g := &grower{p: p, bins: bn, d: d}
	grad := make([]float64, nt)
	hess := make([]float64, nt)
	var probs []float64
	if nClasses > 2 {
		probs = make([]float64, nt*K)
	}
	best, bestRound, since := math.Inf(1), 0, 0
	for round := 0; round < p.NumTrees; round++ {
		rows := sampleRows(nt, p.Subsample, rng)
		trees := make([]*tree.Tree, K)
		if nClasses > 2 {
			// Every class's residuals come from the scores at the start
			// of the round.
			for i := range nt {
				pr := probs[i*K : (i+1)*K]
				copy(pr, raw[i*K:(i+1)*K])
				softmax(pr)
			}
		}
		for k := range K {
			// Negative gradient (residual) and the Newton denominator.
			for i := range nt {
				switch {
				case nClasses == 0:
					grad[i], hess[i] = yt[i]-raw[i], 1
				case nClasses == 2:
					pr := sigmoid(raw[i])
					grad[i], hess[i] = yt[i]-pr, pr*(1-pr)
				default:
					var yk float64
					if int(yt[i]) == k {
						yk = 1
					}
					r := yk - probs[i*K+k]
					grad[i], hess[i] = r, math.Abs(r)*(1-math.Abs(r))
				}
			}
			scale := p.LearningRate
			if nClasses > 2 {
				scale *= float64(K-1) / float64(K)
			}
			t := g.grow(rows, grad, hess, scale)
			trees[k] = t
			for i := range nt {
				raw[i*K+k] += t.Leaf(xt[i])[0]
			}
		}
		m.Trees = append(m.Trees, trees)
		if valid == nil {
			continue
		}
		var loss float64
		for vi, i := range valid {
			r := vraw[vi*K : (vi+1)*K]
			for k, t := range trees {
				r[k] += t.Leaf(X[i])[0]
			}
			loss += lossOf(r, y[i], nClasses)
		}
		loss /= float64(len(valid))
		if loss < best-p.Tol {
			best, bestRound, since = loss, round+1, 0
		} else if since++; since >= p.NIterNoChange {
			break
		}
	}
	if valid != nil && bestRound > 0 {
		m.Trees = m.Trees[:bestRound]
	}
	return m, nil
}

func initScores(y []float64, nClasses int) []float64 {
	n := float64(len(y))
	switch {
	case nClasses == 0:
		var s float64
		for _, v := range y {
			s += v
		}
		return []float64{s / n}
	case nClasses == 2:
		var pos float64
		for _, v := range y {
			pos += v
		}
		p := pos / n
		return []float64{math.Log(p / (1 - p))}
	}
	out := make([]float64, nClasses)
	for _, v := range y {
		out[int(v)]++
	}
	for k := range out {
		out[k] = math.Log(max(out[k], 1e-300) / n)
	}
	return out
}

func lossOf(raw []float64, y float64, nClasses int) float64 {
	switch {
	case nClasses == 0:
		return (y - raw[0]) * (y - raw[0])
	case nClasses == 2:
		z := raw[0]
		l := math.Log1p(math.Exp(-math.Abs(z))) + max(z, 0)
		return l - y*z
	}
	m := slices.Max(raw)
	var s float64
	for _, v := range raw {
		s += math.Exp(v - m)
	}
	return m + math.Log(s) - raw[int(y)]
}

func sampleRows(n int, frac float64, rng *rand.Rand) []int32 {
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	if frac >= 1 {
		return rows
	}
	k := max(1, int(frac*float64(n)))
	for i := range k {
		j := i + rng.IntN(n-i)
		rows[i], rows[j] = rows[j], rows[i]
	}
	rows = rows[:k]
	slices.Sort(rows)
	return rows
}

// grower fits one depth-limited regression tree to the residuals on the
// histograms.
type grower struct {
	p    Params
	bins *bins
	d    int
}

type hbin struct{ g, h, n float64 }

// histogram sums the gradients of rows by bin, per feature, splitting the
// features among the workers when the node is large.
func (gr *grower) histogram(rows []int32, grad, hess []float64) [][]hbin {
	hist := make([][]hbin, gr.d)
	one := func(j int) {
		h := make([]hbin, len(gr.bins.thr[j])+1)
		code := gr.bins.code[j]
		for _, r := range rows {
			b := &h[code[r]]
			b.g += grad[r]
			b.h += hess[r]
			b.n++
		}
		hist[j] = h
	}
	if gr.p.Workers <= 1 || len(rows)*gr.d < 1<<16 {
		for j := range gr.d {
			one(j)
		}
		return hist
	}
	var wg sync.WaitGroup
	next := make(chan int, gr.d)
	for j := range gr.d {
		next <- j
	}
	close(next)
	for range min(gr.p.Workers, gr.d) {
		wg.Go(func() {
			for j := range next {
				one(j)
			}
		})
	}
	wg.Wait()
	return hist
}

func (gr *grower) grow(rows []int32, grad, hess []float64, scale float64) *tree.Tree {
	t := &tree.Tree{NumFeatures: gr.d, NumOutputs: 1}
	type item struct {
		rows  []int32
		depth int
		node  int32
	}
	add := func() int32 {
		t.Feature = append(t.Feature, -1)
		t.Threshold = append(t.Threshold, 0)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, 0)
		return int32(len(t.Feature) - 1)
	}
	add()
	queue := []item{{rows, 0, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		var sg, sh float64
		for _, r := range it.rows {
			sg += grad[r]
			sh += hess[r]
		}
		n := float64(len(it.rows))
		// One Newton step: Σ residual / Σ hessian, 0 where that is not
		// defined.
		if math.Abs(sh) < 1e-150 {
			t.Value[it.node] = 0
		} else {
			t.Value[it.node] = scale * sg / sh
		}
		minLeaf := float64(gr.p.MinSamplesLeaf)
		if it.depth >= gr.p.MaxDepth || n < 2 || n < 2*minLeaf {
			continue
		}
		// Node variance of the residuals: a pure node is a leaf.
		mean := sg / n
		var v float64
		for _, r := range it.rows {
			dv := grad[r] - mean
			v += dv * dv
		}
		if v <= 1e-30*max(1, mean*mean)*n {
			continue
		}
		hist := gr.histogram(it.rows, grad, hess)
		bestF, bestB, bestProxy := -1, 0, sg*sg/n
		for j, h := range hist {
			var lg, ln float64
			for b := 0; b+1 < len(h); b++ {
				lg += h[b].g
				ln += h[b].n
				rn := n - ln
				if ln < minLeaf || rn < minLeaf {
					continue
				}
				rg := sg - lg
				if proxy := lg*lg/ln + rg*rg/rn; proxy > bestProxy*(1+1e-12) {
					bestF, bestB, bestProxy = j, b, proxy
				}
			}
		}
		if bestF < 0 {
			continue
		}
		code := gr.bins.code[bestF]
		var left, right []int32
		for _, r := range it.rows {
			if int(code[r]) <= bestB {
				left = append(left, r)
			} else {
				right = append(right, r)
			}
		}
		l, r := add(), add()
		t.Feature[it.node] = int32(bestF)
		t.Threshold[it.node] = gr.bins.thr[bestF][bestB]
		t.Left[it.node], t.Right[it.node] = l, r
		queue = append(queue, item{left, it.depth + 1, l}, item{right, it.depth + 1, r})
	}
	return t
}
