package web

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/dataset"
)

// TestDatasetPages ingests a file with rejects and applies a recipe with the
// real data layer, then checks the datasets list and the version page:
// schema, profile with SVG histograms, rejects, lineage and preview.
func TestDatasetPages(t *testing.T) {
	t.Parallel()
	var svc *dataset.Service
	dir := t.TempDir()
	f := newFixture(t, func(c *Config) {
		svc = &dataset.Service{Store: c.Store, DataDir: dir}
		c.Datasets = svc
	})
	var b strings.Builder
	b.WriteString("id,amount,city\n")
	for i := range 30 {
		fmt.Fprintf(&b, "%d,%d.5,<b>city-%d</b>\n", i, i*2, i%3)
	}
	b.WriteString("30,1.5\n31,lots,x\n") // lines 32 and 33
	src := filepath.Join(t.TempDir(), "sales.csv")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v1, _, err := svc.IngestFile(ctx, f.acme.ID, "sales", src, "upload:sales.csv", dataset.IngestOptions{Roles: map[string]string{"city": "target"}}, f.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dataset.ParseRecipe([]byte("steps: [{split: {seed: 42}}, {standardize: {columns: [amount]}}]"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ApplyRecipe(ctx, f.acme.ID, "sales", 1, rec, f.admin.ID, ""); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	c.mustLogin(f.viewerSecret)

	res := c.get("/datasets")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `href="/datasets/sales"`) || !strings.Contains(res.body, `aria-current="page"`) {
		t.Errorf("GET /datasets: %d\n%s\n%s", res.StatusCode, res.body, f.logs.String())
	}
	res = c.get("/datasets/sales?v=1")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /datasets/sales?v=1: %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{
		"sales", "version 1", `id="ds-rows">30<`, `id="ds-rejected">2<`, v1.Hash, "upload:sales.csv",
		// schema and profile
		"<strong>amount</strong></td><td>float</td><td>feature</td>", "<td>target</td>", `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`,
		"Target balance: city", "&lt;b&gt;city-0&lt;/b&gt;", "Correlations",
		// rejects, lineage, preview
		"<td class=\"num\">32</td><td>ragged row: expected 3 fields, found 2</td>", `unparsable value: column amount: &#34;lots&#34; is not a valid float`,
		`href="/datasets/sales?v=2">v2</a></td>`, "<td>v1</td>", "The first 20 of 30 rows.", "<td>38.5</td>",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("version page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "<b>city") {
		t.Error("cell values are not escaped")
	}
	res = c.get("/datasets/sales")
	for _, want := range []string{"version 2", `href="/datasets/sales?v=1">version 1</a>`, "random, seed 42: 24 train, 6 test", "standardize", "No rows were rejected."} {
		if !strings.Contains(res.body, want) {
			t.Errorf("latest version page lacks %q", want)
		}
	}
	for path, status := range map[string]int{"/datasets/nope": 404, "/datasets/sales?v=9": 404, "/datasets/sales?v=x": 400} {
		if res := c.get(path); res.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, status)
		}
	}
}
