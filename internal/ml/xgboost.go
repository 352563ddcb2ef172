package ml

import (
	"fmt"

	"github.com/joule-dev/joule/internal/ml/modelfile"
	"github.com/joule-dev/joule/internal/ml/xgb"
)

// XGBoostAlgorithm is the algorithm name of a model imported from
// XGBoost. It cannot be trained (New refuses it); ImportXGBoost makes
// one, and Save and Load keep it like any other model.
const XGBoostAlgorithm = "xgboost"

// ImportXGBoost reads an XGBoost JSON model (package xgb) and returns it
// as a Classifier (binary:logistic, multi:softprob, multi:softmax; its
// scores are class probabilities) or a Regressor (reg:squarederror),
// with a header naming its features (XGBoost's feature names, or f0, f1,
// … when it has none) and its objective. Predictions equal XGBoost's,
// missing values (NaN) included. A model it cannot read exactly gets an
// error wrapping xgb.ErrInvalid.
func ImportXGBoost(data []byte) (Model, *modelfile.Header, error) {
	m, err := xgb.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("import xgboost model: %w", err)
	}
	model := xgbModel(m)
	h := &modelfile.Header{Algorithm: XGBoostAlgorithm, Task: string(model.Task()),
		Params: map[string]string{"objective": m.Objective, "base_score": fmt.Sprint(m.BaseScore)}}
	for j := range m.NumFeatures {
		name := fmt.Sprintf("f%d", j)
		if len(m.FeatureNames) > 0 {
			name = m.FeatureNames[j]
		}
		h.Features = append(h.Features, modelfile.Feature{Name: name, Type: "float"})
	}
	if m.IsClassifier() {
		for k := range max(m.NumClasses, 2) {
			h.Classes = append(h.Classes, fmt.Sprint(k))
		}
	}
	return model, h, nil
}

func xgbModel(m *xgb.Model) Model {
	enc := func(e *modelfile.Encoder) { encodeXGB(e, m) }
	if !m.IsClassifier() {
		return &regressor{algo: XGBoostAlgorithm, task: Regression, d: m.NumFeatures, enc: enc,
			predict: func(x []float64) float64 {
				var out [1]float32
				m.Margin(x, out[:])
				return float64(out[0])
			}}
	}
	k := max(m.NumClasses, 2)
	return &classifier{algo: XGBoostAlgorithm, d: m.NumFeatures, k: k, prob: true, enc: enc,
		scores: func(x, out []float64) {
			buf := make([]float32, m.NumOutputs())
			m.Margin(x, buf)
			m.Transform(buf)
			if m.NumClasses == 0 {
				out[0], out[1] = 1-float64(buf[0]), float64(buf[0])
				return
			}
			for c, v := range buf {
				out[c] = float64(v)
			}
		}}
}

// The body after the feature (and class) count: objective, classes, base
// score, then per tree its output and node arrays; float32 values are
// stored as float64, exactly.
func encodeXGB(e *modelfile.Encoder, m *xgb.Model) {
	e.String(m.Objective)
	e.Uint(uint64(m.NumClasses))
	e.Float(float64(m.BaseScore))
	e.Uint(uint64(len(m.Trees)))
	for i, t := range m.Trees {
		e.Uint(uint64(m.Group[i]))
		e.Int32s(t.Left)
		e.Int32s(t.Right)
		e.Int32s(t.Feature)
		v := make([]float64, len(t.Value))
		for j, x := range t.Value {
			v[j] = float64(x)
		}
		e.Floats(v)
		dl := make([]int32, len(t.DefaultLeft))
		for j, b := range t.DefaultLeft {
			if b {
				dl[j] = 1
			}
		}
		e.Int32s(dl)
	}
}

func decodeXGB(d *modelfile.Decoder, task Task, nf, k int) (Model, error) {
	m := &xgb.Model{Objective: d.String(), NumFeatures: nf, NumClasses: d.Count("classes", maxClasses)}
	bs := d.Float()
	n := d.Count("trees", maxTrees)
	if d.Err() != nil {
		return nil, d.Err()
	}
	m.BaseScore = float32(bs)
	if float64(m.BaseScore) != bs {
		return nil, corrupt("base score %v is not a float32", bs)
	}
	for range n {
		g := d.Count("output", maxClasses)
		t := xgb.Tree{Left: d.Int32s(), Right: d.Int32s(), Feature: d.Int32s()}
		v, dl := d.Floats(), d.Int32s()
		if d.Err() != nil {
			return nil, d.Err()
		}
		t.Value = make([]float32, len(v))
		for j, x := range v {
			t.Value[j] = float32(x)
			if float64(t.Value[j]) != x {
				return nil, corrupt("node value %v is not a float32", x)
			}
		}
		t.DefaultLeft = make([]bool, len(dl))
		for j, b := range dl {
			if b != 0 && b != 1 {
				return nil, corrupt("default direction %d", b)
			}
			t.DefaultLeft[j] = b == 1
		}
		m.Trees = append(m.Trees, t)
		m.Group = append(m.Group, int32(g))
	}
	if err := m.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	if m.IsClassifier() != (task == Classification) || (task == Classification && max(m.NumClasses, 2) != k) {
		return nil, corrupt("xgboost %s model with %d classes in a %s file of %d classes", m.Objective, m.NumClasses, task, k)
	}
	return xgbModel(m), nil
}
