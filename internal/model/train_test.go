package model_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/model"
)

// mustVersion ingests csv into a version under dir.
func mustVersion(t *testing.T, dir, csv string) joule.DatasetVersion {
	t.Helper()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := dataset.Ingest(t.Context(), dataset.EngineConfig{}, src, filepath.Join(dir, "v1"), dataset.IngestOptions{})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return joule.DatasetVersion{ID: "dsv_1", Version: 1, Columns: res.Columns, Rows: res.Rows, Path: filepath.Join("v1", dataset.DataFile)}
}

// TestBadInput checks that the problems a training spec can have are
// EINVALID errors that name them.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,colour,y,label,rare\n")
	for i := range 50 {
		rare := "a"
		if i == 3 { // one row of class b, which a seed-42 split may put in test
			rare = "b"
		}
		b.WriteString(strings.Join([]string{itoa(i), []string{"red", "blue"}[i%2], itoa(i * 2), []string{"p", "q"}[i%2], rare}, ",") + "\n")
	}
	v := mustVersion(t, dir, b.String())
	for _, c := range []struct {
		name string
		spec joule.TrainSpec
		want string
	}{
		{"unknown target", joule.TrainSpec{Target: "nope", Algorithm: "logistic_regression"}, `target: unknown column "nope"`},
		{"unknown feature", joule.TrainSpec{Target: "y", Features: []string{"x", "z"}, Algorithm: "ridge"}, `features: unknown column "z"`},
		{"string feature", joule.TrainSpec{Target: "y", Features: []string{"colour"}, Algorithm: "ridge"}, `column "colour" is string, not numeric`},
		{"regression on text", joule.TrainSpec{Target: "label", Algorithm: "ridge", Features: []string{"x"}}, `target: column "label" is string, not numeric: regression needs a numeric target`},
		{"unknown algorithm", joule.TrainSpec{Target: "y", Algorithm: "warp"}, `unknown algorithm "warp"`},
		{"bad param", joule.TrainSpec{Target: "y", Algorithm: "ridge", Params: map[string]string{"alpha": "x"}, Features: []string{"x"}}, `alpha`},
		{"bad split", joule.TrainSpec{Target: "y", Algorithm: "ridge", Features: []string{"x"}, Split: &joule.TrainSplit{Method: "halves"}}, `split: method "halves"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := model.Resolve(c.spec, v)
			if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
				t.Errorf("Resolve(%+v) = %v, want invalid naming %s", c.spec, err, c.want)
			}
		})
	}

	// A training split that holds a single class: every row but the test
	// ones is class a when the only b row is drawn for test; find a seed
	// where that happens by running the split itself.
	found := false
	for seed := range uint64(200) {
		spec, err := model.Resolve(joule.TrainSpec{Target: "rare", Features: []string{"x"}, Algorithm: "logistic_regression",
			Split: &joule.TrainSplit{Seed: &seed}}, v)
		if err != nil {
			t.Fatal(err)
		}
		_, err = model.Load(t.Context(), dataset.EngineConfig{TempDir: dir}, dir, v, spec, dir, true)
		if err == nil {
			continue
		}
		found = true
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "the training split holds a single class (a of column \"rare\")") {
			t.Errorf("Load with seed %d = %v, want invalid naming the single class", seed, err)
		}
		break
	}
	if !found {
		t.Error("no seed in 0..199 put the only b row in test")
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
