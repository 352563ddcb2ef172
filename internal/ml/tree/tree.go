// Package tree grows CART decision trees: classification with the gini or
// entropy criterion and regression with squared error, as scikit-learn's
// DecisionTreeClassifier and DecisionTreeRegressor do. Splits are exact:
// every feature is sorted once and each node's samples stay sorted by
// every feature as the tree partitions them.
package tree

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Criteria of split quality.
const (
	Gini         = "gini"
	Entropy      = "entropy"
	SquaredError = "squared_error"
)

// Params are a tree's hyperparameters. The zero value means scikit-learn's
// defaults: gini (or squared error for regression), unlimited depth,
// min_samples_split 2, min_samples_leaf 1, min_impurity_decrease 0, every
// feature considered at each split.
type Params struct {
	Criterion           string  // gini or entropy (classification), squared_error (regression)
	MaxDepth            int     // 0: unlimited
	MinSamplesSplit     int     // 0: 2
	MinSamplesLeaf      int     // 0: 1
	MinImpurityDecrease float64 // a split must decrease the weighted impurity by at least this
	MaxFeatures         int     // features drawn at each split; 0: all
	Seed                uint64  // seeds the feature order at each split
}

// Tree is a fitted tree in flat arrays; node 0 is the root. For a leaf,
// Feature is -1. Value holds NumOutputs numbers per node: class
// probabilities for a classifier, the mean target for a regressor.
type Tree struct {
	NumFeatures int
	NumOutputs  int
	Feature     []int32
	Threshold   []float64 // a sample goes left when x[Feature] <= Threshold
	Left, Right []int32
	Value       []float64
}

// Leaf returns the value slice of the leaf that x falls in. x must have
// NumFeatures entries.
func (t *Tree) Leaf(x []float64) []float64 {
	n := int32(0)
	for t.Feature[n] >= 0 {
		if x[t.Feature[n]] <= t.Threshold[n] {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	k := int(n) * t.NumOutputs
	return t.Value[k : k+t.NumOutputs]
}

// NumNodes returns the number of nodes.
func (t *Tree) NumNodes() int { return len(t.Feature) }

// Depth returns the length of the longest root-to-leaf path.
func (t *Tree) Depth() int {
	var walk func(n int32) int
	walk = func(n int32) int {
		if t.Feature[n] < 0 {
			return 0
		}
		return 1 + max(walk(t.Left[n]), walk(t.Right[n]))
	}
	return walk(0)
}

// Validate checks that t is well formed: its arrays agree in length, every
// child index points forward into the tree, features are in range, and
// values are finite. Decoders call it before a tree is used.
func (t *Tree) Validate() error {
	n := len(t.Feature)
	if n == 0 || t.NumOutputs < 1 || t.NumFeatures < 1 {
		return errors.New("tree: empty tree")
	}
	if len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n || len(t.Value) != n*t.NumOutputs {
		return errors.New("tree: node arrays differ in length")
	}
	for i := range n {
		if f := t.Feature[i]; f >= 0 {
			if int(f) >= t.NumFeatures {
				return fmt.Errorf("tree: node %d splits on feature %d of %d", i, f, t.NumFeatures)
			}
			l, r := t.Left[i], t.Right[i]
			// Children come after their parent, so every walk ends.
			if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
				return fmt.Errorf("tree: node %d has children %d and %d", i, l, r)
			}
			if math.IsNaN(t.Threshold[i]) {
				return fmt.Errorf("tree: node %d has a NaN threshold", i)
			}
		} else if f != -1 {
			return fmt.Errorf("tree: node %d has feature %d", i, f)
		}
	}
	for _, v := range t.Value {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("tree: a node value is not finite")
		}
	}
	return nil
}

// CheckMatrix checks that X is non-empty, rectangular and finite, and
// returns its width.
func CheckMatrix(X [][]float64) (int, error) {
	if len(X) == 0 {
		return 0, errors.New("no training rows")
	}
	d := len(X[0])
	if d == 0 {
		return 0, errors.New("no features")
	}
	for i, row := range X {
		if len(row) != d {
			return 0, fmt.Errorf("row %d has %d features, want %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("row %d feature %d is %v, want a finite number", i, j, v)
			}
		}
	}
	return d, nil
}

func (p Params) withDefaults(regression bool) (Params, error) {
	if p.Criterion == "" {
		p.Criterion = Gini
		if regression {
			p.Criterion = SquaredError
		}
	}
	switch {
	case regression && p.Criterion != SquaredError:
		return p, fmt.Errorf("criterion %q: a regression tree supports only %q", p.Criterion, SquaredError)
	case !regression && p.Criterion != Gini && p.Criterion != Entropy:
		return p, fmt.Errorf("criterion %q: want %q or %q", p.Criterion, Gini, Entropy)
	}
	if p.MaxDepth < 0 {
		return p, fmt.Errorf("max_depth %d: want 0 (unlimited) or more", p.MaxDepth)
	}
	if p.MinSamplesSplit == 0 {
		p.MinSamplesSplit = 2
	}
	if p.MinSamplesSplit < 2 {
		return p, fmt.Errorf("min_samples_split %d: want at least 2", p.MinSamplesSplit)
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = 1
	}
	if p.MinSamplesLeaf < 1 {
		return p, fmt.Errorf("min_samples_leaf %d: want at least 1", p.MinSamplesLeaf)
	}
	if !(p.MinImpurityDecrease >= 0) || math.IsInf(p.MinImpurityDecrease, 0) {
		return p, fmt.Errorf("min_impurity_decrease %v: want a finite number >= 0", p.MinImpurityDecrease)
	}
	if p.MaxFeatures < 0 {
		return p, fmt.Errorf("max_features %d: want 0 (all) or more", p.MaxFeatures)
	}
	return p, nil
}

// Presorted holds, for each feature, the row indices of a matrix sorted by
// that feature's value. A forest sorts once and shares it among its trees.
type Presorted struct {
	cols  [][]float64 // column-major copy of X
	order [][]int32
}

// Presort sorts the rows of X by each feature. X must be rectangular.
func Presort(X [][]float64) *Presorted {
	n, d := len(X), len(X[0])
	p := &Presorted{cols: make([][]float64, d), order: make([][]int32, d)}
	for j := range d {
		col := make([]float64, n)
		ord := make([]int32, n)
		for i, row := range X {
			col[i] = row[j]
			ord[i] = int32(i)
		}
		slices.SortStableFunc(ord, func(a, b int32) int {
			switch {
			case col[a] < col[b]:
				return -1
			case col[a] > col[b]:
				return 1
			}
			return 0
		})
		p.cols[j], p.order[j] = col, ord
	}
	return p
}

// FitClassifier grows a classification tree on X with labels y in
// 0..nClasses-1. w, when not nil, weights each row (a forest passes
// bootstrap counts; rows of weight 0 are left out).
func FitClassifier(X [][]float64, y []int, nClasses int, w []float64, p Params) (*Tree, error) {
	if _, err := CheckMatrix(X); err != nil {
		return nil, fmt.Errorf("decision tree: %w", err)
	}
	return FitClassifierPresorted(Presort(X), y, nClasses, w, p)
}

// FitClassifierPresorted is FitClassifier on an already sorted matrix.
func FitClassifierPresorted(ps *Presorted, y []int, nClasses int, w []float64, p Params) (*Tree, error) {
	p, err := p.withDefaults(false)
	if err != nil {
		return nil, fmt.Errorf("decision tree: %w", err)
	}
	if nClasses < 1 {
		return nil, fmt.Errorf("decision tree: %d classes", nClasses)
	}
	if len(y) != len(ps.cols[0]) {
		return nil, fmt.Errorf("decision tree: %d rows and %d labels", len(ps.cols[0]), len(y))
	}
	for i, c := range y {
		if c < 0 || c >= nClasses {
			return nil, fmt.Errorf("decision tree: row %d: class %d, want 0..%d", i, c, nClasses-1)
		}
	}
	b := newBuilder(ps, w, p)
	if b == nil {
		return nil, errors.New("decision tree: every row has weight 0")
	}
	b.k = nClasses
	b.cls = make([]int32, len(b.rows))
	for pos, r := range b.rows {
		b.cls[pos] = int32(y[r])
	}
	b.entropy = p.Criterion == Entropy
	return b.build(), nil
}

// FitRegressor grows a regression tree with the squared error criterion.
func FitRegressor(X [][]float64, y []float64, w []float64, p Params) (*Tree, error) {
	if _, err := CheckMatrix(X); err != nil {
		return nil, fmt.Errorf("decision tree: %w", err)
	}
	return FitRegressorPresorted(Presort(X), y, w, p)
}

// FitRegressorPresorted is FitRegressor on an already sorted matrix.
func FitRegressorPresorted(ps *Presorted, y []float64, w []float64, p Params) (*Tree, error) {
	p, err := p.withDefaults(true)
	if err != nil {
		return nil, fmt.Errorf("decision tree: %w", err)
	}
	if len(y) != len(ps.cols[0]) {
		return nil, fmt.Errorf("decision tree: %d rows and %d targets", len(ps.cols[0]), len(y))
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("decision tree: row %d: target %v, want a finite number", i, v)
		}
	}
	b := newBuilder(ps, w, p)
	if b == nil {
		return nil, errors.New("decision tree: every row has weight 0")
	}
	b.k = 0
	b.target = make([]float64, len(b.rows))
	for pos, r := range b.rows {
		b.target[pos] = y[r]
	}
	return b.build(), nil
}

// builder grows one tree. Samples are addressed by position 0..m-1 (the
// rows of positive weight); order[f][s:e] lists a node's positions sorted
// by feature f.
type builder struct {
	p       Params
	cols    [][]float64
	rows    []int32
	w       []float64
	order   [][]int32
	left    []bool
	buf     []int32
	rng     *rand.Rand
	k       int // classes; 0 for regression
	cls     []int32
	target  []float64
	entropy bool
	totalW  float64
	t       *Tree
	// scratch
	cl, cr, ctot []float64
}

func newBuilder(ps *Presorted, w []float64, p Params) *builder {
	n := len(ps.cols[0])
	d := len(ps.cols)
	b := &builder{p: p, cols: ps.cols, rng: rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15))}
	pos := make([]int32, n)
	for i := range n {
		if w != nil && !(w[i] > 0) {
			pos[i] = -1
			continue
		}
		pos[i] = int32(len(b.rows))
		b.rows = append(b.rows, int32(i))
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		b.w = append(b.w, wi)
		b.totalW += wi
	}
	m := len(b.rows)
	if m == 0 {
		return nil
	}
	b.order = make([][]int32, d)
	for j := range d {
		o := make([]int32, 0, m)
		for _, r := range ps.order[j] {
			if q := pos[r]; q >= 0 {
				o = append(o, q)
			}
		}
		b.order[j] = o
	}
	b.left = make([]bool, m)
	b.buf = make([]int32, m)
	return b
}

type split struct {
	feature int
	at      int // positions order[feature][s:s+at] go left
	thr     float64
	proxy   float64
}

// featureThreshold is scikit-learn's FEATURE_THRESHOLD: values closer
// than this count as equal.
const featureThreshold = 1e-7

func (b *builder) build() *Tree {
	d := len(b.cols)
	nOut := max(b.k, 1)
	b.t = &Tree{NumFeatures: d, NumOutputs: nOut}
	b.cl, b.cr, b.ctot = make([]float64, nOut), make([]float64, nOut), make([]float64, nOut)
	type item struct {
		s, e, depth int
		node        int32
	}
	b.t.addNode()
	stack := []item{{0, len(b.rows), 0, 0}}
	feats := make([]int, d)
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s, e := it.s, it.e
		wNode, imp := b.nodeStats(s, e)
		copy(b.t.Value[int(it.node)*nOut:], b.leafValue(wNode))
		n := e - s
		if (b.p.MaxDepth > 0 && it.depth >= b.p.MaxDepth) || n < b.p.MinSamplesSplit ||
			n < 2*b.p.MinSamplesLeaf || imp <= impurityEps(b, wNode) {
			continue
		}
		sp, ok := b.bestSplit(s, e, wNode, feats)
		if !ok {
			continue
		}
		// Impurity decrease, weighted by the node's share of the total.
		impL, impR, wL, wR := b.childImpurities(sp, s, e)
		dec := wNode / b.totalW * (imp - wR/wNode*impR - wL/wNode*impL)
		if dec+1e-15 < b.p.MinImpurityDecrease {
			continue
		}
		b.partition(sp, s, e)
		mid := s + sp.at
		l, r := b.t.addNode(), b.t.addNode()
		b.t.Feature[it.node], b.t.Threshold[it.node] = int32(sp.feature), sp.thr
		b.t.Left[it.node], b.t.Right[it.node] = l, r
		stack = append(stack, item{mid, e, it.depth + 1, r}, item{s, mid, it.depth + 1, l})
	}
	return b.t
}

func impurityEps(b *builder, wNode float64) float64 {
	if b.k > 0 {
		return 1e-12
	}
	// Squared error: the variance of a constant target can come out a
	// rounding error above zero.
	var mean float64
	for j := range b.ctot {
		mean = b.ctot[j] / wNode
	}
	return 1e-14 * max(1, mean*mean)
}

func (t *Tree) addNode() int32 {
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	for range t.NumOutputs {
		t.Value = append(t.Value, 0)
	}
	return int32(len(t.Feature) - 1)
}

// nodeStats fills b.ctot (class weights, or the weighted target sum) and
// returns the node's weight and impurity.
func (b *builder) nodeStats(s, e int) (float64, float64) {
	clear(b.ctot)
	ord := b.order[0][s:e]
	var wn float64
	if b.k > 0 {
		for _, q := range ord {
			b.ctot[b.cls[q]] += b.w[q]
			wn += b.w[q]
		}
		return wn, b.classImpurity(b.ctot, wn)
	}
	var sum float64
	for _, q := range ord {
		sum += b.w[q] * b.target[q]
		wn += b.w[q]
	}
	mean := sum / wn
	var v float64
	for _, q := range ord {
		dv := b.target[q] - mean
		v += b.w[q] * dv * dv
	}
	b.ctot[0] = sum
	return wn, v / wn
}

func (b *builder) classImpurity(c []float64, w float64) float64 {
	if b.entropy {
		var h float64
		for _, ck := range c {
			if ck > 0 {
				p := ck / w
				h -= p * math.Log2(p)
			}
		}
		return h
	}
	var sq float64
	for _, ck := range c {
		sq += ck * ck
	}
	return 1 - sq/(w*w)
}

func (b *builder) leafValue(w float64) []float64 {
	out := make([]float64, len(b.ctot))
	for j, v := range b.ctot {
		out[j] = v / w
	}
	return out
}

// bestSplit searches the features in a random order until MaxFeatures
// non-constant ones have been tried, as scikit-learn's best splitter does.
func (b *builder) bestSplit(s, e int, wNode float64, feats []int) (split, bool) {
	d := len(b.cols)
	for j := range feats {
		feats[j] = j
	}
	mtry := b.p.MaxFeatures
	if mtry == 0 || mtry > d {
		mtry = d
	}
	best := split{proxy: math.Inf(-1)}
	found := false
	tried := 0
	for i := 0; i < d && tried < mtry; i++ {
		j := i + b.rng.IntN(d-i)
		feats[i], feats[j] = feats[j], feats[i]
		f := feats[i]
		ord, col := b.order[f][s:e], b.cols[f]
		if col[b.rows[ord[len(ord)-1]]] <= col[b.rows[ord[0]]]+featureThreshold {
			continue // constant in this node
		}
		tried++
		if sp, ok := b.scan(f, ord, wNode); ok && sp.proxy > best.proxy {
			best, found = sp, true
		}
	}
	return best, found
}

// scan finds the best threshold on feature f whose node positions, in
// value order, are ord.
func (b *builder) scan(f int, ord []int32, wNode float64) (split, bool) {
	col, rows := b.cols[f], b.rows
	minLeaf := b.p.MinSamplesLeaf
	n := len(ord)
	best := split{feature: f, proxy: math.Inf(-1)}
	found := false
	var wl float64
	if b.k == 0 {
		total := b.ctot[0]
		var sl float64
		for i := 0; i < n-1; i++ {
			q := ord[i]
			wl += b.w[q]
			sl += b.w[q] * b.target[q]
			if i+1 < minLeaf || n-i-1 < minLeaf {
				continue
			}
			v, next := col[rows[q]], col[rows[ord[i+1]]]
			if next <= v+featureThreshold {
				continue
			}
			wr := wNode - wl
			sr := total - sl
			proxy := sl*sl/wl + sr*sr/wr
			if proxy > best.proxy {
				best.proxy, best.at, found = proxy, i+1, true
				best.thr = midpoint(v, next)
			}
		}
		return best, found
	}
	cl, cr := b.cl, b.cr
	clear(cl)
	// Gini proxy: Σ cl²/wl + Σ cr²/wr, kept as running sums of squares.
	var sqL, sqR float64
	for _, c := range b.ctot {
		sqR += c * c
	}
	copy(cr, b.ctot)
	for i := 0; i < n-1; i++ {
		q := ord[i]
		wq, c := b.w[q], b.cls[q]
		sqL += wq * (2*cl[c] + wq)
		sqR += wq * (wq - 2*cr[c])
		cl[c] += wq
		cr[c] -= wq
		wl += wq
		if i+1 < minLeaf || n-i-1 < minLeaf {
			continue
		}
		v, next := col[rows[q]], col[rows[ord[i+1]]]
		if next <= v+featureThreshold {
			continue
		}
		wr := wNode - wl
		var proxy float64
		if b.entropy {
			proxy = -(wl*b.classImpurity(cl, wl) + wr*b.classImpurity(cr, wr))
		} else {
			proxy = sqL/wl + sqR/wr
		}
		if proxy > best.proxy {
			best.proxy, best.at, found = proxy, i+1, true
			best.thr = midpoint(v, next)
		}
	}
	return best, found
}

func midpoint(a, b float64) float64 {
	m := a/2 + b/2
	if m >= b || math.IsInf(m, 0) {
		return a
	}
	return m
}

// childImpurities computes the impurities and weights of the two children
// of sp.
func (b *builder) childImpurities(sp split, s, e int) (float64, float64, float64, float64) {
	ord := b.order[sp.feature][s:e]
	impOf := func(part []int32) (float64, float64) {
		var w float64
		if b.k > 0 {
			c := make([]float64, b.k)
			for _, q := range part {
				c[b.cls[q]] += b.w[q]
				w += b.w[q]
			}
			return b.classImpurity(c, w), w
		}
		var sum float64
		for _, q := range part {
			sum += b.w[q] * b.target[q]
			w += b.w[q]
		}
		mean := sum / w
		var v float64
		for _, q := range part {
			dv := b.target[q] - mean
			v += b.w[q] * dv * dv
		}
		return v / w, w
	}
	il, wl := impOf(ord[:sp.at])
	ir, wr := impOf(ord[sp.at:])
	return il, ir, wl, wr
}

// partition reorders every feature's node range so that the left child's
// positions come first, each side still sorted.
func (b *builder) partition(sp split, s, e int) {
	for _, q := range b.order[sp.feature][s : s+sp.at] {
		b.left[q] = true
	}
	for _, q := range b.order[sp.feature][s+sp.at : e] {
		b.left[q] = false
	}
	for f := range b.order {
		if f == sp.feature {
			continue
		}
		ord := b.order[f][s:e]
		l, r := 0, 0
		right := b.buf[:0]
		for _, q := range ord {
			if b.left[q] {
				ord[l] = q
				l++
			} else {
				right = append(right, q)
				r++
			}
		}
		copy(ord[l:], right)
	}
}
