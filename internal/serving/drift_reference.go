package serving

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
)

// reference is what a served version's live rows are compared with: its
// training rows, binned and sampled per feature, and the version's own
// predictions on them.
type reference struct {
	source   string // "training split" or "whole dataset version"
	rows     int
	features []refFeature
	pred     refFeature
	classes  bool // pred is over class labels
}

// trainingRows reads the rows version mv was fitted on, as model inputs in
// its feature order. The training split is reproduced as training drew it:
// the version's recorded split (method, seed, test size, by) is replayed on
// its dataset version, unless the dataset version carries that very split
// already, then the model's fitted recipe, if any, is replayed on them
// (dataset.ApplyFitted, the batch path's SQL). Rows with a missing target
// are dropped, as training dropped them. Without a recorded split the
// whole dataset version is used, and source says so.
func trainingRows(ctx context.Context, store joule.Store, engine dataset.EngineConfig, dataDir string, mv joule.ModelVersion, p *Predictor) ([][]float64, string, error) {
	if mv.DatasetID == "" {
		return nil, "", fmt.Errorf("model version %d has no training data on record (it was imported): drift needs the dataset version it was trained on", mv.Version)
	}
	dv, err := store.GetDatasetVersion(ctx, mv.DatasetID, mv.DatasetVersion)
	if err != nil {
		return nil, "", fmt.Errorf("the dataset version model version %d was trained on: %s", mv.Version, joule.ErrorMessage(err))
	}
	src, cols := filepath.Join(dataDir, dv.Path), dv.Columns
	var steps []dataset.Step
	if sp := mv.Split; sp != nil && !sameSplit(dv.Split, sp) {
		steps = append(steps, dataset.Step{Split: &dataset.SplitStep{Method: sp.Method, Seed: sp.Seed, TestSize: sp.TestSize, By: sp.By}})
	}
	if p.recipe != nil {
		steps = append(steps, p.recipe.Steps...)
	}
	if len(steps) > 0 {
		if engine.TempDir != "" {
			if err := os.MkdirAll(engine.TempDir, 0o700); err != nil {
				return nil, "", fmt.Errorf("drift reference: %w", err)
			}
		}
		dir, err := os.MkdirTemp(engine.TempDir, "drift-")
		if err != nil {
			return nil, "", fmt.Errorf("drift reference: %w", err)
		}
		defer os.RemoveAll(dir)
		res, err := dataset.ApplyFitted(ctx, engine, src, cols, dataset.Recipe{Steps: steps}, filepath.Join(dir, "t"))
		if err != nil {
			return nil, "", fmt.Errorf("replaying model version %d's split and recipe on its dataset version: %s", mv.Version, joule.ErrorMessage(err))
		}
		src, cols = filepath.Join(dir, "t", dataset.DataFile), res.Columns
	}
	byName := map[string]joule.DatasetColumn{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	var read []joule.DatasetColumn
	for _, f := range mv.Features {
		c, ok := byName[f.Name]
		if !ok {
			return nil, "", fmt.Errorf("feature %q of model version %d is not a column of its training data", f.Name, mv.Version)
		}
		read = append(read, c)
	}
	nf := len(read)
	target, hasTarget := byName[mv.Target]
	if hasTarget {
		read = append(read, target)
	}
	split, hasSplit := byName[dataset.SplitColumn]
	if hasSplit && mv.Split != nil {
		read = append(read, split)
	} else {
		hasSplit = false
	}
	frame, err := dataset.ReadFrame(ctx, engine, src, read)
	if err != nil {
		return nil, "", fmt.Errorf("reading model version %d's training data: %s", mv.Version, joule.ErrorMessage(err))
	}
	n := 0
	if len(frame) > 0 {
		n = len(frame[0].Null)
	}
	var x [][]float64
rows:
	for i := range n {
		if hasTarget && frame[nf].Null[i] {
			continue
		}
		if hasSplit && frame[len(frame)-1].Text[i] == "test" {
			continue
		}
		r := make([]float64, nf)
		for j := range nf {
			if frame[j].Null[i] {
				continue rows
			}
			r[j] = frame[j].Num[i]
		}
		x = append(x, r)
	}
	if len(x) == 0 {
		return nil, "", fmt.Errorf("model version %d's training data has no complete rows", mv.Version)
	}
	source := "whole dataset version"
	if hasSplit {
		source = "training split"
	}
	return x, source, nil
}

func sameSplit(a, b *joule.DatasetSplit) bool {
	return a != nil && b != nil && a.Method == b.Method && a.Seed == b.Seed && a.TestSize == b.TestSize && a.By == b.By && a.Train == b.Train && a.Test == b.Test
}

// newReference bins and samples training rows x and the predictor's
// predictions on them.
func newReference(mv joule.ModelVersion, p *Predictor, x [][]float64, source string) *reference {
	ref := &reference{source: source, rows: len(x)}
	col := make([]float64, len(x))
	for j, f := range mv.Features {
		for i := range x {
			col[i] = x[i][j]
		}
		ref.features = append(ref.features, newRefFeature(f.Name, col))
	}
	labels, values := p.predictRows(x)
	if labels != nil {
		ref.classes = true
		ref.pred = refFeature{name: "prediction", bins: labelBinning(labels)}
	} else {
		ref.pred = newRefFeature("prediction", values)
	}
	return ref
}

// predictRows predicts model-input rows: class labels for a classifier,
// values for a regressor.
func (p *Predictor) predictRows(x [][]float64) ([]string, []float64) {
	if p.reg != nil {
		out := make([]float64, len(x))
		for i, r := range x {
			out[i] = p.reg.Predict(r)
		}
		return nil, out
	}
	out := make([]string, len(x))
	scores := make([]float64, p.clf.NumClasses())
	for i, r := range x {
		p.clf.Scores(r, scores)
		best := 0
		for c := range scores {
			if scores[c] > scores[best] {
				best = c
			}
		}
		out[i] = p.label(best)
	}
	return out, nil
}
