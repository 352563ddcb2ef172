package dataset

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExampleRecipes applies every recipe in examples/recipes to the data
// it names.
func TestExampleRecipes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ recipe, data string }{
		{"credit.yaml", "finance/UCI_Credit_Card.csv"},
		{"enb-standardize.yaml", "energy/ENB2012_data.csv"},
		{"ett-features.json", "energy/ETTh1.csv"},
	} {
		t.Run(tt.recipe, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("../../examples/recipes", tt.recipe))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ParseRecipe(b)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "v1")
			in, err := Ingest(t.Context(), EngineConfig{}, filepath.Join(examples, tt.data), dir, IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res := mustApply(t, filepath.Join(dir, DataFile), in.Columns, rec)
			if res.Rows == 0 || res.Split == nil {
				t.Errorf("%s: %d rows, split %+v", tt.recipe, res.Rows, res.Split)
			}
			t.Logf("%s: %d rows, %d columns, split %+v", tt.recipe, res.Rows, len(res.Columns), res.Split)
		})
	}
}
