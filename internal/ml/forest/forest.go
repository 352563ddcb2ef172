// Package forest grows random forests of CART trees (package tree):
// bootstrap samples, a random subset of features at each split, and the
// trees grown in parallel on every core, as scikit-learn's
// RandomForestClassifier and RandomForestRegressor do.
package forest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/joule-dev/joule/internal/ml/tree"
)

// Params are a forest's hyperparameters. The zero value means
// scikit-learn's defaults: 100 trees, bootstrap samples, max_features
// sqrt(d) for classification and all d for regression, and the tree
// defaults of package tree.
type Params struct {
	NumTrees            int    // 0: 100
	Criterion           string // as tree.Params
	MaxDepth            int
	MinSamplesSplit     int
	MinSamplesLeaf      int
	MinImpurityDecrease float64
	// MaxFeatures is the number of features drawn at each split; 0 means
	// floor(sqrt(d)) for a classifier and d for a regressor.
	MaxFeatures int
	NoBootstrap bool   // grow every tree on all rows
	Workers     int    // trees grown at once; 0: GOMAXPROCS
	Seed        uint64 // the forest is the same for the same seed, whatever Workers
}

// Forest is a fitted forest. Its prediction is the mean of its trees'
// leaf values: class probabilities, or the regression target.
type Forest struct {
	Trees []*tree.Tree

	flatOnce sync.Once
	flat     *tree.Flat
}

func (p Params) check(d int, classify bool) (Params, error) {
	if p.NumTrees == 0 {
		p.NumTrees = 100
	}
	if p.NumTrees < 0 {
		return p, fmt.Errorf("n_estimators %d: want at least 1", p.NumTrees)
	}
	if p.MaxFeatures == 0 {
		p.MaxFeatures = d
		if classify {
			p.MaxFeatures = max(1, int(math.Sqrt(float64(d))))
		}
	}
	if p.MaxFeatures < 0 {
		return p, fmt.Errorf("max_features %d: want at least 1", p.MaxFeatures)
	}
	if p.Workers == 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	if p.Workers < 0 {
		return p, fmt.Errorf("n_jobs %d: want at least 1", p.Workers)
	}
	return p, nil
}

func (p Params) treeParams(seed uint64) tree.Params {
	return tree.Params{
		Criterion: p.Criterion, MaxDepth: p.MaxDepth, MinSamplesSplit: p.MinSamplesSplit,
		MinSamplesLeaf: p.MinSamplesLeaf, MinImpurityDecrease: p.MinImpurityDecrease,
		MaxFeatures: p.MaxFeatures, Seed: seed,
	}
}

// FitClassifier grows a classification forest on X with labels in
// 0..nClasses-1.
func FitClassifier(X [][]float64, y []int, nClasses int, p Params) (*Forest, error) {
	d, err := tree.CheckMatrix(X)
	if err != nil {
		return nil, fmt.Errorf("random forest: %w", err)
	}
	if p, err = p.check(d, true); err != nil {
		return nil, fmt.Errorf("random forest: %w", err)
	}
	ps := tree.Presort(X)
	return grow(len(X), p, func(w []float64, seed uint64) (*tree.Tree, error) {
		return tree.FitClassifierPresorted(ps, y, nClasses, w, p.treeParams(seed))
	})
}

// FitRegressor grows a regression forest.
func FitRegressor(X [][]float64, y []float64, p Params) (*Forest, error) {
	d, err := tree.CheckMatrix(X)
	if err != nil {
		return nil, fmt.Errorf("random forest: %w", err)
	}
	if p, err = p.check(d, false); err != nil {
		return nil, fmt.Errorf("random forest: %w", err)
	}
	ps := tree.Presort(X)
	return grow(len(X), p, func(w []float64, seed uint64) (*tree.Tree, error) {
		return tree.FitRegressorPresorted(ps, y, w, p.treeParams(seed))
	})
}

// grow draws every tree's bootstrap and seed up front from one generator,
// so that the forest does not depend on scheduling, then fits the trees
// on p.Workers goroutines.
func grow(n int, p Params, fit func(w []float64, seed uint64) (*tree.Tree, error)) (*Forest, error) {
	rng := rand.New(rand.NewPCG(p.Seed, 0xda3e39cb94b95bdb))
	seeds := make([]uint64, p.NumTrees)
	boot := make([]uint64, p.NumTrees)
	for i := range seeds {
		seeds[i], boot[i] = rng.Uint64(), rng.Uint64()
	}
	f := &Forest{Trees: make([]*tree.Tree, p.NumTrees)}
	errs := make([]error, p.NumTrees)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(p.Workers, p.NumTrees) {
		wg.Go(func() {
			w := make([]float64, n)
			for i := range next {
				var wi []float64
				if !p.NoBootstrap {
					clear(w)
					r := rand.New(rand.NewPCG(boot[i], 0))
					for range n {
						w[r.IntN(n)]++
					}
					wi = w
				}
				f.Trees[i], errs[i] = fit(wi, seeds[i])
			}
		})
	}
	for i := range p.NumTrees {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("random forest: %w", err)
	}
	return f, nil
}

// Predict writes into out the mean of the trees' leaf values for x: class
// probabilities (len out = classes) or the regression estimate (len 1).
//
// The trees are packed (tree.Flat) on first use, as for PredictBatch: one
// row's walk then touches one cache line per level.
func (f *Forest) Predict(x []float64, out []float64) {
	f.flatOnce.Do(func() { f.flat = tree.Flatten(f.Trees) })
	clear(out)
	f.flat.AddLeaves(x, out)
	inv := 1 / float64(len(f.Trees))
	for j := range out {
		out[j] *= inv
	}
}

// PredictBatch writes into out the prediction of every row of X, row
// after row (len out = len X × outputs): the same numbers as Predict,
// computed tree by tree over blocks of rows on every core, with the trees
// packed (tree.Flat) on first use.
func (f *Forest) PredictBatch(X [][]float64, out []float64) {
	f.flatOnce.Do(func() { f.flat = tree.Flatten(f.Trees) })
	w := f.Trees[0].NumOutputs
	clear(out[:len(X)*w])
	f.flat.Accumulate(X, out, w, nil)
	inv := 1 / float64(len(f.Trees))
	for j := range out[:len(X)*w] {
		out[j] *= inv
	}
}
