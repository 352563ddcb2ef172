package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRecipeJob runs the real binary as the server, so that a recipe runs as
// a job of kind recipe (the job's command is the same binary's `dataset
// recipe-run`): the new version has the parent, the job and the fitted
// recipe, the job is audited, and one row through the fitted recipe matches
// the batch. A recipe naming an unknown column gets 400 at once.
func TestRecipeJob(t *testing.T) {
	t.Parallel()
	b := startBinary(t)
	base, token, stderr, s := b.base, b.token, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }

	if out, err := cli("dataset", "upload", "enb", "../../examples/data/energy/ENB2012_data.csv", "--target", "Y1", "-q"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	v1, err := cli("dataset", "get", "enb", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		ID   string `json:"id"`
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal([]byte(v1), &first); err != nil {
		t.Fatal(err)
	}

	out, err := cli("dataset", "recipe", "apply", "enb", "-f", "../../examples/recipes/enb-standardize.yaml", "--wait")
	if err != nil {
		t.Fatalf("recipe apply --wait: %v\n%s\nserver stderr:\n%s", err, out, stderr.String())
	}
	if !strings.Contains(out, "Made") || !strings.Contains(out, "enb version 2") || !strings.Contains(out, "random seed 42: 614 train, 154 test") {
		t.Errorf("recipe apply output:\n%s", out)
	}
	got, err := cli("dataset", "get", "enb", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		Version       int             `json:"version"`
		ParentID      string          `json:"parent_id"`
		ParentVersion int             `json:"parent_version"`
		JobID         string          `json:"job_id"`
		Recipe        json.RawMessage `json:"recipe"`
	}
	if err := json.Unmarshal([]byte(got), &v2); err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.ParentID != first.ID || v2.ParentVersion != 1 || !strings.HasPrefix(v2.JobID, "job_") || !strings.Contains(string(v2.Recipe), `"fitted"`) {
		t.Errorf("v2 = %+v, want version 2, parent %s@1, a job and a fitted recipe", v2, first.ID)
	}
	again, err := cli("dataset", "get", "enb@1", "-o", "json")
	if err != nil || !strings.Contains(again, first.Hash) {
		t.Errorf("v1 after the recipe: %v, want hash %s unchanged", err, first.Hash)
	}
	job, err := cli("job", "get", v2.JobID, "-o", "json")
	if err != nil || !strings.Contains(job, `"kind": "recipe"`) || !strings.Contains(job, `"state": "succeeded"`) {
		t.Errorf("job get %s: %v\n%.800s", v2.JobID, err, job)
	}
	if audit, err := cli("audit", "list", "--action", "dataset."); err != nil || !strings.Contains(audit, "dataset.recipe") || !strings.Contains(audit, "dataset.version.create") {
		t.Errorf("audit: %v\n%s", err, audit)
	}

	// Row 0 of ENB2012 through the fitted recipe equals row 0 of version 2.
	row, err := cli("dataset", "transform", "enb", "-o", "json", "--row",
		`{"X1": 0.98, "X2": 514.5, "X3": 294, "X4": 110.25, "X5": 7, "X6": 2, "X7": 0, "X8": 0, "Y1": 15.55, "Y2": 21.33}`)
	if err != nil {
		t.Fatalf("transform: %v\n%s", err, row)
	}
	preview, err := cli("dataset", "preview", "enb", "--limit", "1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var one map[string]any
	var page struct {
		Columns []struct{ Name string } `json:"columns"`
		Rows    [][]any                 `json:"rows"`
	}
	if json.Unmarshal([]byte(row), &one) != nil || json.Unmarshal([]byte(preview), &page) != nil || len(page.Rows) != 1 {
		t.Fatalf("transform %s / preview %s", row, preview)
	}
	for i, c := range page.Columns {
		if c.Name == "split" {
			continue
		}
		if one[c.Name] != page.Rows[0][i] {
			t.Errorf("column %s: one row %v, batch %v", c.Name, one[c.Name], page.Rows[0][i])
		}
	}

	// A recipe that names an unknown column is refused with 400.
	req, _ := http.NewRequest("POST", base+"/v1/workspaces/default/datasets/enb/recipes",
		strings.NewReader(`{"recipe": {"steps": [{"split": {"seed": 1}}, {"standardize": {"columns": ["X9"]}}]}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(body.String(), `step 2 (standardize): column \"X9\" not found`) {
		t.Errorf("bad recipe: %d %s", resp.StatusCode, body.String())
	}
	if out, err := cli("dataset", "split", "enb@1", "--method", "stratified"); err == nil || !strings.Contains(errorLine(err), "stratified needs by") {
		t.Errorf("split --method stratified without --by: %v\n%s", err, out)
	}
}
