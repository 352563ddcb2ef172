// Package xgb reads XGBoost's JSON model format (Booster.save_model with
// a .json name, XGBoost 1.0 and later) and predicts with it exactly as
// XGBoost's CPU predictor does: features and thresholds are float32, a
// row goes left when x < threshold, a missing value (NaN) takes the
// node's default direction, and each output's margin is the float32 sum,
// in tree order, of the base margin and one leaf per tree.
//
// It reads tree ensembles (the gbtree booster) with the objectives
// binary:logistic, multi:softprob, multi:softmax and reg:squarederror.
// Other boosters (gblinear, dart), other objectives and categorical
// splits are refused with an error that names them. The fixtures in
// testdata were made by scripts/make-xgb-fixtures.py with XGBoost 1.7.4.
package xgb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Objectives the reader supports.
const (
	BinaryLogistic = "binary:logistic"
	MultiSoftprob  = "multi:softprob"
	MultiSoftmax   = "multi:softmax"
	SquaredError   = "reg:squarederror"
)

// Limits a model must stay within.
const (
	MaxFeatures = 1 << 16
	MaxClasses  = 1 << 16
	MaxNodes    = 1 << 24 // summed over every tree
)

// ErrInvalid is wrapped by every error Parse and Validate return.
var ErrInvalid = errors.New("invalid XGBoost model")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Model is a tree ensemble read from an XGBoost JSON model.
type Model struct {
	Objective    string
	NumFeatures  int
	NumClasses   int      // 0 for binary:logistic and regression
	BaseScore    float32  // learner_model_param.base_score, as stored
	FeatureNames []string // empty when the model was trained without names
	Trees        []Tree
	Group        []int32 // output (class) of each tree; all 0 with one output
}

// Tree is one regression tree in XGBoost's node layout. Node 0 is the
// root; a node whose Left is -1 is a leaf, and its Value is the leaf
// value; for a split node Value is the threshold.
type Tree struct {
	Left, Right []int32
	Feature     []int32
	Value       []float32
	DefaultLeft []bool
}

// NumOutputs returns the number of margins per row: the classes of a
// multi:* model, else 1.
func (m *Model) NumOutputs() int {
	if m.NumClasses > 0 {
		return m.NumClasses
	}
	return 1
}

// IsClassifier reports whether the objective is a classification one.
func (m *Model) IsClassifier() bool { return m.Objective != SquaredError }

// BaseMargin returns the starting margin of every output: base_score
// turned into margin space by the objective, in float32 as XGBoost does.
func (m *Model) BaseMargin() float32 {
	if m.Objective == BinaryLogistic {
		return -float32(math.Log(float64(1/m.BaseScore - 1)))
	}
	return m.BaseScore
}

// leaf returns the leaf value x falls in.
func (t *Tree) leaf(x []float64) float32 {
	n := int32(0)
	for t.Left[n] >= 0 {
		v := x[t.Feature[n]]
		switch {
		case math.IsNaN(v):
			if t.DefaultLeft[n] {
				n = t.Left[n]
			} else {
				n = t.Right[n]
			}
		case float32(v) < t.Value[n]:
			n = t.Left[n]
		default:
			n = t.Right[n]
		}
	}
	return t.Value[n]
}

// Margin writes the raw scores of x (NumFeatures values, NaN for missing)
// into out (NumOutputs values), before the objective's transformation.
func (m *Model) Margin(x []float64, out []float32) {
	b := m.BaseMargin()
	for k := range out {
		out[k] = b
	}
	for i := range m.Trees {
		out[m.Group[i]] += m.Trees[i].leaf(x)
	}
}

// Transform applies the objective to margins in place: the sigmoid for
// binary:logistic, the softmax for multi:softprob and multi:softmax (the
// class probabilities; XGBoost's multi:softmax prediction is their
// argmax), nothing for regression.
func (m *Model) Transform(margin []float32) {
	switch m.Objective {
	case BinaryLogistic:
		margin[0] = float32(1 / (1 + math.Exp(-float64(margin[0]))))
	case MultiSoftprob, MultiSoftmax:
		top := margin[0]
		for _, v := range margin {
			top = max(top, v)
		}
		var sum float64
		for _, v := range margin {
			sum += math.Exp(float64(v - top))
		}
		for k, v := range margin {
			margin[k] = float32(math.Exp(float64(v-top)) / sum)
		}
	}
}

// Validate checks that m is well formed, so that predicting can neither
// panic nor loop: its objective is supported, every tree is a tree (each
// node reached once from the root), every split feature is in range,
// and every leaf value is finite. Parse calls it; so do decoders of
// stored copies.
func (m *Model) Validate() error {
	switch m.Objective {
	case BinaryLogistic, SquaredError:
		if m.NumClasses != 0 {
			return invalid("objective %s with %d classes", m.Objective, m.NumClasses)
		}
	case MultiSoftprob, MultiSoftmax:
		if m.NumClasses < 2 || m.NumClasses > MaxClasses {
			return invalid("objective %s with %d classes", m.Objective, m.NumClasses)
		}
	default:
		return invalid("objective %q is not supported (joule reads %s, %s, %s and %s)",
			m.Objective, BinaryLogistic, MultiSoftprob, MultiSoftmax, SquaredError)
	}
	if m.NumFeatures < 1 || m.NumFeatures > MaxFeatures {
		return invalid("%d features", m.NumFeatures)
	}
	if math.IsNaN(float64(m.BaseScore)) || math.IsInf(float64(m.BaseScore), 0) {
		return invalid("base_score %v", m.BaseScore)
	}
	if m.Objective == BinaryLogistic && !(m.BaseScore > 0 && m.BaseScore < 1) {
		return invalid("base_score %v: binary:logistic needs a probability in (0, 1)", m.BaseScore)
	}
	if bm := m.BaseMargin(); math.IsNaN(float64(bm)) || math.IsInf(float64(bm), 0) {
		return invalid("base margin %v", bm)
	}
	if len(m.FeatureNames) != 0 && len(m.FeatureNames) != m.NumFeatures {
		return invalid("%d feature names for %d features", len(m.FeatureNames), m.NumFeatures)
	}
	if len(m.Trees) == 0 {
		return invalid("no trees")
	}
	if len(m.Group) != len(m.Trees) {
		return invalid("tree_info has %d entries for %d trees", len(m.Group), len(m.Trees))
	}
	nodes := 0
	for i := range m.Trees {
		if g := m.Group[i]; g < 0 || int(g) >= m.NumOutputs() {
			return invalid("tree %d belongs to output %d of %d", i, g, m.NumOutputs())
		}
		nodes += len(m.Trees[i].Left)
		if nodes > MaxNodes {
			return invalid("more than %d nodes", MaxNodes)
		}
		if err := m.Trees[i].validate(m.NumFeatures); err != nil {
			return invalid("tree %d: %v", i, err)
		}
	}
	return nil
}

func (t *Tree) validate(nf int) error {
	n := len(t.Left)
	if n == 0 {
		return errors.New("no nodes")
	}
	if len(t.Right) != n || len(t.Feature) != n || len(t.Value) != n || len(t.DefaultLeft) != n {
		return errors.New("node arrays differ in length")
	}
	// Walk from the root: every child in range and reached once, so the
	// nodes form a tree and every walk ends at a leaf.
	seen := make([]bool, n)
	seen[0] = true
	stack := []int32{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := float64(t.Value[i])
		if t.Left[i] == -1 {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("leaf %d has value %v", i, v)
			}
			continue
		}
		if f := t.Feature[i]; f < 0 || int(f) >= nf {
			return fmt.Errorf("node %d splits on feature %d of %d", i, f, nf)
		}
		if math.IsNaN(v) {
			return fmt.Errorf("node %d has a NaN threshold", i)
		}
		for _, c := range [2]int32{t.Left[i], t.Right[i]} {
			if c < 0 || int(c) >= n {
				return fmt.Errorf("node %d has child %d of %d nodes", i, c, n)
			}
			if seen[c] {
				return fmt.Errorf("node %d is reached twice", c)
			}
			seen[c] = true
			stack = append(stack, c)
		}
	}
	return nil
}

// The JSON layout, as XGBoost 1.x writes it (only what is read).
type jsonModel struct {
	Learner *struct {
		FeatureNames []string `json:"feature_names"`
		Booster      *struct {
			Name  string `json:"name"`
			Model *struct {
				Param *struct {
					NumTrees string `json:"num_trees"`
				} `json:"gbtree_model_param"`
				TreeInfo []int32    `json:"tree_info"`
				Trees    []jsonTree `json:"trees"`
			} `json:"model"`
		} `json:"gradient_booster"`
		Param *struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective *struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
	Version []int `json:"version"`
}

type jsonTree struct {
	Left        []int32   `json:"left_children"`
	Right       []int32   `json:"right_children"`
	Feature     []int32   `json:"split_indices"`
	Value       []float32 `json:"split_conditions"`
	DefaultLeft []flag    `json:"default_left"`
	SplitType   []int     `json:"split_type"`
	Categories  []int     `json:"categories_nodes"`
}

// flag reads XGBoost's default_left entries: 0/1 or false/true.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "0", "false":
		*f = false
	case "1", "true":
		*f = true
	default:
		return fmt.Errorf("default_left entry %s, want 0 or 1", b)
	}
	return nil
}

// Parse reads an XGBoost JSON model. Anything it cannot read exactly
// (malformed or truncated JSON, a missing field, an index out of range,
// an unsupported booster, objective or split type) gets an error
// wrapping ErrInvalid that says what is wrong.
func Parse(data []byte) (*Model, error) {
	var j jsonModel
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, invalid("data after the model")
	}
	if len(j.Version) > 0 && j.Version[0] < 1 {
		return nil, invalid("version %v: joule reads the JSON format of XGBoost 1.0 and later", j.Version)
	}
	l := j.Learner
	if l == nil {
		return nil, invalid("no learner (is this an XGBoost JSON model?)")
	}
	if l.Param == nil || l.Objective == nil || l.Booster == nil {
		return nil, invalid("learner lacks learner_model_param, objective or gradient_booster")
	}
	if l.Booster.Name != "gbtree" {
		return nil, invalid("booster %q is not supported (joule reads gbtree)", l.Booster.Name)
	}
	bm := l.Booster.Model
	if bm == nil {
		return nil, invalid("gradient_booster has no model")
	}
	m := &Model{Objective: l.Objective.Name, FeatureNames: l.FeatureNames}
	var err error
	num := func(name, s string, lo, hi int) int {
		if err != nil {
			return 0
		}
		v, perr := strconv.Atoi(s)
		if perr != nil || v < lo || v > hi {
			err = invalid("%s %q: want an integer in %d..%d", name, s, lo, hi)
		}
		return v
	}
	m.NumFeatures = num("num_feature", l.Param.NumFeature, 1, MaxFeatures)
	m.NumClasses = num("num_class", l.Param.NumClass, 0, MaxClasses)
	if l.Param.NumTarget != "" {
		if t := num("num_target", l.Param.NumTarget, 1, 1); t != 1 && err == nil {
			err = invalid("num_target %d", t)
		}
	}
	if err != nil {
		return nil, err
	}
	bs, perr := strconv.ParseFloat(l.Param.BaseScore, 32)
	if perr != nil {
		return nil, invalid("base_score %q", l.Param.BaseScore)
	}
	m.BaseScore = float32(bs)
	if bm.Param != nil {
		if n := num("num_trees", bm.Param.NumTrees, 0, MaxNodes); err == nil && n != len(bm.Trees) {
			return nil, invalid("num_trees says %d, the model has %d", n, len(bm.Trees))
		}
		if err != nil {
			return nil, err
		}
	}
	m.Group = bm.TreeInfo
	m.Trees = make([]Tree, len(bm.Trees))
	for i, jt := range bm.Trees {
		for k, st := range jt.SplitType {
			if st != 0 {
				return nil, invalid("tree %d node %d is a categorical split; joule reads numerical splits only", i, k)
			}
		}
		if len(jt.Categories) > 0 {
			return nil, invalid("tree %d has categorical splits; joule reads numerical splits only", i)
		}
		t := Tree{Left: jt.Left, Right: jt.Right, Feature: jt.Feature, Value: jt.Value,
			DefaultLeft: make([]bool, len(jt.DefaultLeft))}
		for k, f := range jt.DefaultLeft {
			t.DefaultLeft[k] = bool(f)
		}
		m.Trees[i] = t
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}
