package dataset

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
)

// referenceSplits reads the first 10 test row indices of every dataset that
// examples/data/REFERENCE.md covers, with the split method.
func referenceSplits(t *testing.T) map[string][]int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, "REFERENCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`^### (\S+/[^—]+?) — .*?(?:— split: (\w+))?$`)
	idx := regexp.MustCompile(`first 10 test row indices: \[([0-9, ]+)\]`)
	out := map[string][]int64{}
	var key string
	for _, line := range strings.Split(string(b), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			method := "random"
			if m[2] == "chrono" {
				method = "chronological"
			}
			key = strings.TrimSpace(m[1]) + " " + method
			continue
		}
		if m := idx.FindStringSubmatch(line); m != nil && key != "" {
			var xs []int64
			for _, f := range strings.Split(m[1], ",") {
				x, _ := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
				xs = append(xs, x)
			}
			out[key] = xs
			key = ""
		}
	}
	return out
}

func mustApply(t *testing.T, src string, cols []joule.DatasetColumn, rec Recipe) ApplyResult {
	t.Helper()
	res, err := Apply(t.Context(), EngineConfig{}, src, cols, rec, filepath.Join(t.TempDir(), "v2"))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// TestSplitMatchesReference is the acceptance check: a seed-42 80/20 split
// reproduces the first 10 test indices REFERENCE.md lists for every
// dataset it covers.
func TestSplitMatchesReference(t *testing.T) {
	t.Parallel()
	ref := referenceSplits(t)
	files := map[string]struct {
		file   string
		filter string // rows the reference drops first
	}{
		"finance/german.data-numeric":              {"finance/german.data-numeric", ""},
		"finance/UCI_Credit_Card.csv":              {"finance/UCI_Credit_Card.csv", ""},
		"healthcare/processed.cleveland.data":      {"healthcare/processed.cleveland.data", "column11 IS NOT NULL AND column12 IS NOT NULL"},
		"healthcare/wdbc.data":                     {"healthcare/wdbc.data", ""},
		"energy/ENB2012_data.csv":                  {"energy/ENB2012_data.csv", ""},
		"energy/ETTh1.csv":                         {"energy/ETTh1.csv", ""},
		"energy/Tetuan City power consumption.csv": {"energy/tetuan_city_power_consumption.csv", ""},
		"retail/rating_final.csv":                  {"retail/rating_final.csv", ""},
	}
	if len(ref) < 10 {
		t.Fatalf("REFERENCE.md: found %d splits, want at least 10", len(ref))
	}
	for key, want := range ref {
		sp := strings.LastIndex(key, " ")
		name, method := key[:sp], key[sp+1:]
		f, ok := files[name]
		if !ok {
			t.Errorf("REFERENCE.md covers %s, which this test does not know", name)
			continue
		}
		t.Run(strings.ReplaceAll(key, " ", "_"), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "v1")
			in, err := Ingest(t.Context(), EngineConfig{}, filepath.Join(examples, f.file), dir, IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var rec Recipe
			if f.filter != "" {
				rec.Steps = append(rec.Steps, Step{Filter: f.filter})
			}
			rec.Steps = append(rec.Steps, Step{Split: &SplitStep{Method: method, Seed: 42, TestSize: 0.2}})
			res := mustApply(t, filepath.Join(dir, DataFile), in.Columns, rec)
			if got := res.Split.FirstTest; !slices.Equal(got, want) {
				t.Errorf("%s: first test indices %v, want %v", key, got, want)
			}
			n := res.Split.Train + res.Split.Test
			if res.Split.Train != n*8/10 {
				t.Errorf("%s: %d train of %d, want %d", key, res.Split.Train, n, n*8/10)
			}
		})
	}
}

func readFloats(t *testing.T, path, query string) [][]float64 {
	t.Helper()
	d, err := openDuck(t.Context(), EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	rows, err := d.query(t.Context(), strings.ReplaceAll(query, "$file", "read_parquet("+lit(path)+")"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]float64
	for rows.Next() {
		vals, err := scanAny(rows, len(cols))
		if err != nil {
			t.Fatal(err)
		}
		row := make([]float64, len(vals))
		for i, v := range vals {
			f, _ := toFloat(v)
			row[i] = f
		}
		out = append(out, row)
	}
	return out
}

// TestStandardize is the acceptance check: fitted on the train split, the
// train columns have mean 0 and std 1, the test rows use the train
// statistics, and the fitted recipe gives the same numbers on one JSON row.
func TestStandardize(t *testing.T) {
	t.Parallel()
	src := filepath.Join(examples, "energy/ENB2012_data.csv")
	dir := filepath.Join(t.TempDir(), "v1")
	in, err := Ingest(t.Context(), EngineConfig{}, src, dir, IngestOptions{Roles: map[string]string{"Y1": joule.RoleTarget}})
	if err != nil {
		t.Fatal(err)
	}
	feats := []string{"X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8"}
	rec, err := ParseRecipe([]byte(`
steps:
  - split: {method: random, seed: 42, test_size: 0.2}
  - standardize: {columns: [X1, X2, X3, X4, X5, X6, X7, X8]}
`))
	if err != nil {
		t.Fatal(err)
	}
	v2dir := filepath.Join(t.TempDir(), "v2")
	res, err := Apply(t.Context(), EngineConfig{}, filepath.Join(dir, DataFile), in.Columns, rec, v2dir)
	if err != nil {
		t.Fatal(err)
	}
	raw := readFloats(t, filepath.Join(dir, DataFile), "SELECT "+identList(feats)+" FROM $file")
	scaled := readFloats(t, filepath.Join(v2dir, DataFile), "SELECT "+identList(feats)+", (split = 'train')::INTEGER FROM $file")
	if len(raw) != 768 || len(scaled) != 768 {
		t.Fatalf("rows: %d raw, %d scaled; want 768", len(raw), len(scaled))
	}
	for j, name := range feats {
		// Train statistics computed here, independently of DuckDB.
		var sum, n float64
		for i := range raw {
			if scaled[i][8] == 1 {
				sum += raw[i][j]
				n++
			}
		}
		mean := sum / n
		var ss float64
		for i := range raw {
			if scaled[i][8] == 1 {
				ss += (raw[i][j] - mean) * (raw[i][j] - mean)
			}
		}
		std := math.Sqrt(ss / n)
		var tm, tn float64
		for i := range scaled {
			if scaled[i][8] == 1 {
				tm += scaled[i][j]
				tn++
			}
		}
		tm /= tn
		var tss float64
		for i := range scaled {
			if scaled[i][8] == 1 {
				tss += (scaled[i][j] - tm) * (scaled[i][j] - tm)
			}
		}
		tstd := math.Sqrt(tss / tn)
		if math.Abs(tm) > 1e-9 || math.Abs(tstd-1) > 1e-9 {
			t.Errorf("%s: train mean %g, std %.12f; want 0 and 1 within 1e-9", name, tm, tstd)
		}
		for i := range scaled {
			if scaled[i][8] == 0 {
				want := (raw[i][j] - mean) / std
				if math.Abs(scaled[i][j]-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("%s row %d (test): %g, want %g from the train statistics", name, i, scaled[i][j], want)
					break
				}
			}
		}
		f := res.Fitted.Steps[1].Fitted[name]
		if f == nil || math.Abs(*f.Mean-mean) > 1e-9*math.Abs(mean) {
			t.Errorf("%s: fitted %+v, want mean %g", name, f, mean)
		}
	}
	if res.Split == nil || res.Split.Train != 614 || res.Split.Test != 154 {
		t.Errorf("split %+v, want 614 train and 154 test", res.Split)
	}

	// One JSON row through the fitted recipe gives the batch numbers exactly.
	fitted, err := json.Marshal(res.Fitted)
	if err != nil {
		t.Fatal(err)
	}
	var stored Recipe
	if err := json.Unmarshal(fitted, &stored); err != nil {
		t.Fatal(err)
	}
	rawRows := readFloats(t, filepath.Join(dir, DataFile), "SELECT * FROM $file")
	for _, i := range []int{0, 1, 409, 767} {
		obj := map[string]any{}
		for k, c := range in.Columns {
			obj[c.Name] = rawRows[i][k]
		}
		b, _ := json.Marshal(obj)
		got, err := TransformRow(t.Context(), EngineConfig{}, in.Columns, stored, b)
		if err != nil {
			t.Fatalf("TransformRow(row %d): %v", i, err)
		}
		for j, name := range feats {
			if g, _ := toFloat(got[name]); g != scaled[i][j] {
				t.Errorf("row %d %s: one-row %v, batch %v; want them equal", i, name, g, scaled[i][j])
			}
		}
		if _, ok := got[SplitColumn]; ok {
			t.Errorf("row %d: one-row output has a split column", i)
		}
	}
}

// TestRecipeSteps runs each step kind on a small table and checks a value.
func TestRecipeSteps(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "s.csv")
	data := "id,city,amount,day,store\n1,oslo,10,2024-01-01,a\n2,rome,,2024-01-02,a\n3,oslo,30,2024-01-03,b\n3,oslo,30,2024-01-03,b\n4,nice,1000,2024-01-04,b\n5,rome,50,2024-01-05,a\n"
	if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v1")
	in, err := Ingest(t.Context(), EngineConfig{}, src, dir, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ParseRecipe([]byte(`{"steps": [
		{"dedupe": {}},
		{"impute": {"columns": ["amount"], "strategy": "median"}},
		{"clip": {"columns": ["amount"], "method": "iqr"}},
		{"lag": {"column": "amount", "periods": [1], "by": "store", "order": "day"}},
		{"rolling": {"column": "amount", "window": 2, "fn": "sum"}},
		{"date_parts": {"column": "day", "parts": ["month", "dow"]}},
		{"onehot": {"columns": ["city"]}},
		{"bucketize": {"column": "id", "edges": [2, 4]}},
		{"log": {"columns": ["amount_rolling_sum_2"]}},
		{"rename": {"store": "shop"}},
		{"sql": "SELECT *, amount * 2 AS double_amount FROM input"},
		{"filter": "amount > 0"},
		{"drop": ["day"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(t.TempDir(), "v2")
	res, err := Apply(t.Context(), EngineConfig{}, filepath.Join(dir, DataFile), in.Columns, rec, v2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 5 {
		t.Errorf("rows %d, want 5 (one duplicate removed)", res.Rows)
	}
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	want := []string{"id", "amount", "shop", "amount_lag_1", "amount_rolling_sum_2", "day_month", "day_dow", "city_nice", "city_oslo", "city_rome", "double_amount"}
	if !slices.Equal(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
	got := readFloats(t, filepath.Join(v2, DataFile), `SELECT id, amount, coalesce(amount_lag_1, -1), city_oslo, double_amount FROM $file`)
	// amount after dedupe: 10, missing → the median 40, 30, 1000 clipped to
	// Q3+1.5·IQR = 80 (Q1 30, Q3 50 over 10 40 30 1000 50), 50. Lags follow
	// each store in day order; id is bucketized by edges 2 and 4.
	wantRows := [][]float64{{0, 10, -1, 1, 20}, {1, 40, 10, 0, 80}, {1, 30, -1, 1, 60}, {2, 80, 30, 0, 160}, {2, 50, 40, 0, 100}}
	for i := range wantRows {
		if i >= len(got) || !slices.Equal(got[i], wantRows[i]) {
			t.Errorf("row %d = %v, want %v", i, got, wantRows[i])
			break
		}
	}
}

// TestRecipeErrors checks that a recipe naming an unknown column, or a cast
// that cannot hold, fails with EINVALID naming the step and the column.
func TestRecipeErrors(t *testing.T) {
	t.Parallel()
	src, _ := rejectsCSV(t)
	dir := filepath.Join(t.TempDir(), "v1")
	in, err := Ingest(context.Background(), EngineConfig{}, src, dir, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ recipe, want string }{
		{`steps: [{select: [id]}, {standardize: {columns: [amont]}}]`, `step 2 (standardize): column "amont" not found`},
		{`steps: [{cast: {city: integer}}]`, `step 1 (cast): column "city": 40 values cannot be cast to integer, e.g.`},
		{`steps: [{standardize: {columns: [city]}}]`, `step 1 (standardize): column "city" is string, not numeric`},
		{`steps: [{filter: "nope > 1"}]`, `step 1 (filter):`},
		// The recipe's SQL cannot reach the server's files.
		{`steps: [{sql: "SELECT * FROM read_csv('/etc/passwd')"}]`, `step 1 (sql): Permission Error`},
		{`steps: [{filter: "true; COPY (SELECT 1) TO '/tmp/joule-escape.csv'"}]`, `step 1 (filter):`},
		{`steps: [{impute: {columns: [amount], strategy: mode}}, {rename: {id: city}}]`, `step 2 (rename): column "id": "city" is taken`},
		{`steps: [{drop: [city]}, {onehot: {columns: [city]}}]`, `step 2 (onehot): column "city" not found`},
	} {
		rec, err := ParseRecipe([]byte(tt.recipe))
		if err != nil {
			t.Fatalf("ParseRecipe(%q): %v", tt.recipe, err)
		}
		_, err = Apply(t.Context(), EngineConfig{}, filepath.Join(dir, DataFile), in.Columns, rec, filepath.Join(t.TempDir(), "v"))
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), tt.want) {
			t.Errorf("Apply(%s) = %v, want invalid containing %q", tt.recipe, err, tt.want)
		}
	}
	for _, tt := range []struct{ recipe, want string }{
		{``, "recipe: empty"},
		{`steps: []`, "at least one step"},
		{`steps: [{}]`, "step 1: no operation"},
		{`steps: [{select: [a], drop: [b]}]`, "step 1: sets select+drop"},
		{`steps: [{impute: {columns: [a], strategy: average}}]`, `step 1 (impute): strategy: "average"`},
		{`steps: [{split: {test_size: 1.5}}]`, "step 1 (split): test_size"},
		{`steps: [{cast: {a: decimal}}]`, `step 1 (cast): column "a": "decimal" is not one of`},
		{`steps: [{standardise: {columns: [a]}}]`, "standardise"},
		{`{"steps": [{"select": ["a"]}], "extra": 1}`, "unknown field"},
	} {
		_, err := ParseRecipe([]byte(tt.recipe))
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), tt.want) {
			t.Errorf("ParseRecipe(%q) = %v, want invalid containing %q", tt.recipe, err, tt.want)
		}
	}
}

// TestLineage is the acceptance check: applying a recipe to v1 makes v2
// with parent v1, and v1's hash is unchanged.
func TestLineage(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ws := joule.Workspace{CreatedAt: time.Now(), ID: joule.NewID("ws", time.Now()), Name: "data"}
	if err := store.CreateWorkspace(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	svc := &Service{Store: store, DataDir: t.TempDir()}
	v1, _, err := svc.IngestFile(t.Context(), ws.ID, "heart", filepath.Join(examples, "healthcare/processed.cleveland.data"), "path", IngestOptions{}, "tok_1")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ParseRecipe([]byte("steps:\n  - impute: {columns: [column11, column12], strategy: median}\n  - split: {seed: 42}\n  - standardize: {columns: [column0, column3, column4]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := svc.ApplyRecipe(t.Context(), ws.ID, "heart", 0, rec, "tok_1", "")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.ParentID != v1.ID || v2.ParentVersion != 1 || v2.Split == nil || v2.Rows != 303 {
		t.Errorf("v2 = version %d parent %s@%d split %+v rows %d; want 2, %s@1, a split, 303", v2.Version, v2.ParentID, v2.ParentVersion, v2.Split, v2.Rows, v1.ID)
	}
	again, err := store.GetDatasetVersion(t.Context(), v1.DatasetID, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDuck(t.Context(), EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	h, err := hashParquet(t.Context(), d, filepath.Join(svc.DataDir, again.Path), again.Columns)
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash != v1.Hash || h != v1.Hash {
		t.Errorf("v1 hash after the recipe: stored %s, recomputed %s; want %s", again.Hash, h, v1.Hash)
	}
	var stored Recipe
	if err := json.Unmarshal(v2.Recipe, &stored); err != nil || stored.Steps[2].Fitted["column0"] == nil {
		t.Errorf("v2 recipe %s: want the fitted standardize parameters (%v)", v2.Recipe, err)
	}
	row, err := svc.Transform(t.Context(), ws.ID, "heart", 2, json.RawMessage(`{"column0": 63, "column3": 145, "column4": 233, "column11": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if row["column11"] == nil {
		t.Errorf("Transform: column11 not imputed: %v", row)
	}
}

// FuzzParseRecipe checks that the recipe parser never panics, and that what
// it accepts validates and survives a JSON round trip.
func FuzzParseRecipe(f *testing.F) {
	for _, s := range []string{
		"steps: [{select: [a]}]", `{"steps":[{"split":{"seed":42}}]}`, "steps:\n  - impute: {columns: [a], strategy: constant, value: '0'}\n",
		"steps: [{bucketize: {column: a, edges: [1, 0]}}]", "steps: [{lag: {column: a, periods: [0]}}]", "- a\n- b", "steps: {a: 1}", "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecipe(b)
		if err != nil {
			if joule.ErrorCode(err) != joule.EINVALID {
				t.Fatalf("ParseRecipe(%q): %v is not EINVALID", b, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRecipe(%q) accepted a recipe that does not validate: %v", b, err)
		}
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := ParseRecipe(j); err != nil {
			t.Fatalf("ParseRecipe(%s) of an accepted recipe: %v", j, err)
		}
	})
}
