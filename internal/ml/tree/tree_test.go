package tree_test

import (
	"math"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml/tree"
)

func TestClassifierFitsXOR(t *testing.T) {
	t.Parallel()
	X := [][]float64{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
	y := []int{0, 1, 1, 0}
	for _, crit := range []string{tree.Gini, tree.Entropy} {
		tr, err := tree.FitClassifier(X, y, 2, nil, tree.Params{Criterion: crit})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range X {
			if p := tr.Leaf(x); p[y[i]] != 1 {
				t.Errorf("%s: row %d: proba %v, want class %d with certainty", crit, i, p, y[i])
			}
		}
		if tr.Depth() != 2 || tr.Validate() != nil {
			t.Errorf("%s: depth %d, validate %v; want 2, nil", crit, tr.Depth(), tr.Validate())
		}
	}
}

func TestControls(t *testing.T) {
	t.Parallel()
	var X [][]float64
	var y []float64
	for i := range 64 {
		X = append(X, []float64{float64(i)})
		y = append(y, float64(i*i))
	}
	full, err := tree.FitRegressor(X, y, nil, tree.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if full.NumNodes() != 127 {
		t.Errorf("unlimited tree on 64 distinct targets: %d nodes, want 127", full.NumNodes())
	}
	for _, tt := range []struct {
		name string
		p    tree.Params
		ok   func(*tree.Tree) bool
	}{
		{"max_depth", tree.Params{MaxDepth: 3}, func(t *tree.Tree) bool { return t.Depth() == 3 }},
		// At most 64/16 = 4 leaves of 16 or more samples.
		{"min_samples_leaf", tree.Params{MinSamplesLeaf: 16}, func(t *tree.Tree) bool { return t.NumNodes() > 1 && t.NumNodes() <= 7 }},
		{"min_samples_split", tree.Params{MinSamplesSplit: 65}, func(t *tree.Tree) bool { return t.NumNodes() == 1 }},
		{"min_impurity_decrease", tree.Params{MinImpurityDecrease: 1e9}, func(t *tree.Tree) bool { return t.NumNodes() == 1 }},
	} {
		tr, err := tree.FitRegressor(X, y, nil, tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.ok(tr) {
			t.Errorf("%s: %d nodes, depth %d", tt.name, tr.NumNodes(), tr.Depth())
		}
	}
	// The root of a stump predicts each side's mean.
	stump, err := tree.FitRegressor(X, y, nil, tree.Params{MaxDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := stump.Leaf([]float64{0})[0]; got <= 0 || got >= 64*64 || math.IsNaN(got) {
		t.Errorf("stump leaf = %v", got)
	}
}

func TestWeightsActAsCounts(t *testing.T) {
	t.Parallel()
	// Weight 2 on a row is the same as the row twice.
	X := [][]float64{{1}, {2}, {3}, {4}}
	y := []float64{1, 2, 10, 20}
	a, err := tree.FitRegressor(X, y, []float64{2, 1, 0, 1}, tree.Params{MaxDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tree.FitRegressor([][]float64{{1}, {1}, {2}, {4}}, []float64{1, 1, 2, 20}, nil, tree.Params{MaxDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{1, 2, 3, 4} {
		if a.Leaf([]float64{x})[0] != b.Leaf([]float64{x})[0] {
			t.Errorf("x=%v: weighted %v, repeated %v", x, a.Leaf([]float64{x}), b.Leaf([]float64{x}))
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	X := [][]float64{{1}, {2}}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"bad criterion", fitC(X, []int{0, 1}, tree.Params{Criterion: "mse"}), "criterion"},
		{"class out of range", fitC(X, []int{0, 2}, tree.Params{}), "class 2"},
		{"ragged", fitC([][]float64{{1}, {1, 2}}, []int{0, 1}, tree.Params{}), "row 1"},
		{"NaN feature", fitC([][]float64{{math.NaN()}, {1}}, []int{0, 1}, tree.Params{}), "finite"},
		{"no rows", fitC(nil, nil, tree.Params{}), "no training rows"},
		{"negative depth", fitC(X, []int{0, 1}, tree.Params{MaxDepth: -1}), "max_depth"},
		{"min_samples_split 1", fitC(X, []int{0, 1}, tree.Params{MinSamplesSplit: 1}), "min_samples_split"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %q", tt.name, tt.err, tt.want)
		}
	}
	if _, err := tree.FitRegressor(X, []float64{1, math.Inf(1)}, nil, tree.Params{}); err == nil {
		t.Error("infinite target: no error")
	}
}

func fitC(X [][]float64, y []int, p tree.Params) error {
	_, err := tree.FitClassifier(X, y, 2, nil, p)
	return err
}

func TestValidateRejectsCycles(t *testing.T) {
	t.Parallel()
	bad := &tree.Tree{NumFeatures: 1, NumOutputs: 1, Feature: []int32{0, -1}, Threshold: []float64{0, 0},
		Left: []int32{0, -1}, Right: []int32{1, -1}, Value: []float64{0, 0}}
	if err := bad.Validate(); err == nil {
		t.Error("Validate of a self-loop: no error")
	}
}
