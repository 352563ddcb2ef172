package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// seededModels are the fixture's models: a classifier with three versions
// (the newest in production, trained by a job whose energy the registry row
// does not carry yet), a regressor with residuals, and an imported model.
type seededModels struct {
	job1, job2, job3 joule.Job
}

func seedModels(t testing.TB, f *fixture) seededModels {
	t.Helper()
	ctx := t.Context()
	s := f.store
	var sm seededModels
	done := func(name string, at time.Time, e *joule.JobEnergy) joule.Job {
		j := mustCreateJob(t, s, f.acme, name, at, func(j *joule.Job) { j.Spec.Command = []string{"joule", "train-run"} })
		return mustMoveJob(t, s, j.ID, joule.JobSucceeded, "exited with status 0", at.Add(2*time.Minute), func(j *joule.Job) {
			j.ExitCode, j.FinishedAt, j.Energy = ptr(0), ptr(at.Add(2*time.Minute)), e
		})
	}
	sm.job1 = done("train-credit-1", now.Add(-3*time.Hour), nil)
	sm.job2 = done("train-credit-2", now.Add(-2*time.Hour), &joule.JobEnergy{
		Joules: 5400, MeasuredJoules: 5400, Method: "measured:rapl", EmissionsG: 0.66, IntensityGPerKWh: 400, IntensitySource: "static: world average", PUE: 1.1, Cost: 0.00045, Currency: "EUR",
	})
	sm.job3 = done("train-enb", now.Add(-90*time.Minute), nil)

	mustModel := func(name, desc string, at time.Time) joule.Model {
		m := joule.Model{ID: joule.NewID("mdl", at), WorkspaceID: f.acme.ID, Name: name, Description: desc, CreatedAt: at, CreatedBy: f.admin.ID}
		if err := s.CreateModel(ctx, m); err != nil {
			t.Fatalf("create model: %v", err)
		}
		return m
	}
	mustVersion := func(m joule.Model, v joule.ModelVersion) joule.ModelVersion {
		v.ID, v.ModelID, v.WorkspaceID = joule.NewID("mdv", v.CreatedAt), m.ID, m.WorkspaceID
		v.Path, v.Bytes, v.Hash = fmt.Sprintf("models/%s/%s.jmdl", m.ID, v.ID), 2048, "sha256:0123456789abcdef"
		if v.Source == "" {
			v.Source = "train"
		}
		out, err := s.CreateModelVersion(ctx, v)
		if err != nil {
			t.Fatalf("create model version: %v", err)
		}
		return out
	}
	features := []joule.ModelFeature{{Name: "LIMIT_BAL", Type: "float"}, {Name: "AGE", Type: "int"}, {Name: "PAY_0", Type: "int"}}
	split := &joule.DatasetSplit{Method: "stratified", Seed: 42, TestSize: 0.2, By: "default", Train: 800, Test: 200}
	credit := mustModel("credit-risk", "Default risk of <card> holders", now.Add(-3*time.Hour))
	mustVersion(credit, joule.ModelVersion{
		Algorithm: "logistic_regression", Task: "classification", Params: map[string]string{"C": "1.0", "max_iter": "100"},
		Features: features, Target: "default", Classes: []string{"no", "yes"},
		Metrics:    map[string]float64{"accuracy": 0.78, "f1": 0.41, "roc_auc": 0.72, "log_loss": 0.51},
		Evaluation: &joule.ModelEvaluation{Confusion: [][]int{{140, 16}, {28, 16}}},
		DatasetID:  "ds_1", DatasetName: "credit", DatasetVersion: 1, DatasetVersionID: "dsv_1", Split: split, JobID: sm.job1.ID, TrainRows: 800, TestRows: 200,
		Energy:    &joule.JobEnergy{Joules: 1200, EstimatedJoules: 1200, Method: "estimated:tdp-curve@1", EmissionsG: 0.15, IntensityGPerKWh: 400, IntensitySource: "static: world average", PUE: 1.1},
		CreatedAt: now.Add(-3 * time.Hour), CreatedBy: f.admin.ID,
	})
	mustVersion(credit, joule.ModelVersion{
		Algorithm: "random_forest", Task: "classification", Params: map[string]string{"n_estimators": "100", "max_depth": "8"},
		Features: features, Target: "default", Classes: []string{"no", "yes"},
		Metrics: map[string]float64{"accuracy": 0.82, "f1": 0.47, "roc_auc": 0.77, "log_loss": 0.44},
		Evaluation: &joule.ModelEvaluation{Confusion: [][]int{{148, 8}, {28, 16}}, Search: &joule.SearchResult{Method: "grid", Folds: 3, Metric: "roc_auc", Candidates: []joule.SearchCandidate{
			{Params: map[string]string{"max_depth": "4"}, Score: 0.74}, {Params: map[string]string{"max_depth": "8"}, Score: 0.76}}}},
		DatasetID: "ds_1", DatasetName: "credit", DatasetVersion: 2, DatasetVersionID: "dsv_2", Split: split, JobID: sm.job2.ID, TrainRows: 800, TestRows: 200,
		CreatedAt: now.Add(-2 * time.Hour), CreatedBy: f.admin.ID,
	})
	mustVersion(credit, joule.ModelVersion{
		Algorithm: "xgboost", Task: "classification", Features: features, Classes: []string{"no", "yes"}, Source: "import:xgboost",
		CreatedAt: now.Add(-time.Hour), CreatedBy: f.admin.ID,
	})
	if _, _, err := s.SetModelStage(ctx, credit.ID, 2, joule.StageProduction, now.Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetModelStage(ctx, credit.ID, 1, joule.StageArchived, now.Add(-29*time.Minute)); err != nil {
		t.Fatal(err)
	}

	enb := mustModel("heating-load", "", now.Add(-90*time.Minute))
	var res []joule.Residual
	for i := range 120 {
		y := 10 + float64(i%40)
		res = append(res, joule.Residual{Actual: y, Predicted: y + 2*math.Sin(float64(i))})
	}
	mustVersion(enb, joule.ModelVersion{
		Algorithm: "ridge", Task: "regression", Params: map[string]string{"alpha": "1.0"},
		Features: []joule.ModelFeature{{Name: "X1", Type: "float"}, {Name: "X2", Type: "float"}}, Target: "Y1", Recipe: true,
		Metrics:    map[string]float64{"rmse": 1.42, "mae": 1.27, "r2": 0.98, "mape": 0.06},
		Evaluation: &joule.ModelEvaluation{Residuals: res},
		DatasetID:  "ds_2", DatasetName: "enb", DatasetVersion: 2, DatasetVersionID: "dsv_3", JobID: sm.job3.ID, TrainRows: 614, TestRows: 154,
		Energy:    &joule.JobEnergy{Joules: 3.9e6, MeasuredJoules: 3e6, EstimatedJoules: 0.9e6, Method: "measured:rapl+estimated:tdp-curve@1", EmissionsG: 1430, IntensityGPerKWh: 400, IntensitySource: "static: world average", PUE: 1.1, Cost: 0.32, Currency: "EUR"},
		CreatedAt: now.Add(-90 * time.Minute), CreatedBy: f.admin.ID,
	})
	mustModel("empty-model", "", now.Add(-10*time.Minute))
	return sm
}

// fakeCard stands in for internal/model's card.
func fakeCard(_ context.Context, _, model string, n int) (string, error) {
	return fmt.Sprintf("<h1>Model card: %s, version %d</h1>\n<h2>Training energy and emissions</h2>", model, n), nil
}

// TestModelPages checks the models list, a model's versions and comparison,
// the version pages of a classifier and a regressor, and the error pages.
func TestModelPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.ModelCard = fakeCard })
	sm := seedModels(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)

	res := c.get("/models")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /models: %d\n%s\n%s", res.StatusCode, res.body, f.logs.String())
	}
	for _, want := range []string{
		`<a href="/models" class="active" aria-current="page">Models</a>`,
		`href="/models/credit-risk"`, `href="/models/credit-risk/versions/3">v3</a>`, "Default risk of &lt;card&gt; holders",
		`href="/models/heating-load/versions/1">v1</a>`, `<span class="metric-name">rmse</span> 1.4200`,
		`1.08 kWh <span class="badge kind-measured-estimated"`, `href="/models/empty-model"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("models list lacks %q", want)
		}
	}

	res = c.get("/models/credit-risk")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /models/credit-risk: %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{
		// versions, stages, lineage
		`<span class="badge stage-production">production</span>`, `<span class="badge stage-archived">archived</span>`,
		`href="/datasets/credit?v=1">credit v1</a>`, `href="/datasets/credit?v=2">credit v2</a>`,
		`href="/jobs/` + sm.job1.ID + `"`, `href="/jobs/` + sm.job2.ID + `"`,
		// energy: v1 on the row (estimated), v2 from its job (measured), v3 imported
		`1.2 kJ <span class="badge kind-estimated">estimated</span>`, "model tdp-curve@1 from CPU TDP and utilisation",
		`5.4 kJ <span class="badge kind-measured">measured</span>`, "RAPL energy counters (powercap)",
		`0.00045 EUR`, "no price configured", "not known: imported, not trained by joule",
		// default comparison: the newest two
		`name="cmp" value="3" id="cmp-3" aria-label="Compare version 3" checked`, `name="cmp" value="2" id="cmp-2" aria-label="Compare version 2" checked`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("model page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "joule model promote") {
		t.Error("a viewer sees the stage commands")
	}

	res = c.get("/models/credit-risk?cmp=1&cmp=2")
	for _, want := range []string{
		`<th class="num"><a href="/models/credit-risk/versions/1">v1</a></th><th class="num"><a href="/models/credit-risk/versions/2">v2</a></th>`,
		// metrics side by side, the best marked (log loss: lower is better)
		`<tr class="differs"><th scope="row">accuracy</th><td class="num">0.7800</td><td class="num best">0.8200 ★</td></tr>`,
		`<tr class="differs"><th scope="row">log_loss</th><td class="num">0.5100</td><td class="num best">0.4400 ★</td></tr>`,
		// params diff
		`<tr class="differs"><th scope="row">C ≠</th><td class="num"><code>1.0</code></td><td class="num"><code>(default)</code></td></tr>`,
		`<th scope="row">max_depth ≠</th>`,
		`<th scope="row">algorithm ≠</th><td class="num">logistic_regression (classification)</td><td class="num">random_forest (classification)</td>`,
		`<th scope="row">rows (train / test)</th><td class="num">800 / 200</td>`,
		`<td class="num">1.2 kJ (estimated)</td><td class="num">5.4 kJ (measured)</td>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
	if res := c.get("/models/credit-risk?cmp=2"); !strings.Contains(res.body, "Select two or more versions to compare.") {
		t.Error("one selected version: no hint")
	}
	if res := c.get("/models/heating-load"); !strings.Contains(res.body, "A comparison needs two or more versions.") {
		t.Error("one version: no hint")
	}

	res = c.get("/models/credit-risk/versions/2")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET version 2: %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{
		"version 2", `<th scope="row">roc_auc</th><td class="num">0.7700</td>`,
		// confusion matrix with shading, recall and precision
		"Confusion matrix", "164 of 200 test rows correct",
		`<tr><th scope="row">no</th><td class="num cm-9 cm-diag">148</td><td class="num cm-0">8</td><td class="num">156</td><td class="num">0.9487</td><td class="num">0.8409</td></tr>`,
		`<tr><th scope="row">yes</th><td class="num cm-6">28</td><td class="num cm-3 cm-diag">16</td><td class="num">44</td><td class="num">0.3636</td><td class="num">0.6667</td></tr>`,
		// energy from the job, lineage, search, card
		`id="mv-energy">5.4 kJ<`, "read from the training job", "0.00045 EUR", "location-based: energy × PUE 1.10 × 400 gCO2e/kWh (static: world average)",
		`href="/datasets/credit?v=2">credit version 2</a>`, `href="/jobs/` + sm.job2.ID + `"`, "stratified, seed 42, by default, test size 0.2",
		"grid search, 3-fold cross-validation on the training rows, by roc_auc.", "<code>max_depth=8</code>",
		`<article class="model-card"><h1>Model card: credit-risk, version 2</h1>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("classifier version page lacks %q", want)
		}
	}
	res = c.get("/models/heating-load/versions/1")
	for _, want := range []string{
		"Residuals", "From a sample of 120 test rows", `<th class="num">median</th>`, `<th class="num">mean |residual|</th>`,
		"Test residuals (actual − predicted), by lower bin edge", "Actual and predicted Y1, test rows sorted by actual",
		`<span class="badge kind-measured-estimated">measured &#43; estimated</span>`, "measured 3000 kJ, estimated 900 kJ", "RAPL energy counters (powercap); model tdp-curve@1",
		"1.43 kg CO2e", "0.32 EUR", "a recipe fitted on the training rows",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("regressor version page lacks %q", want)
		}
	}
	if n := strings.Count(res.body, `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`); n != 2 {
		t.Errorf("regressor version page: %d charts, want 2", n)
	}
	res = c.get("/models/credit-risk/versions/3")
	for _, want := range []string{"No test metrics: an imported model.", "No confusion matrix is stored for this version.", "Training energy: not known: imported, not trained by joule.", "not known: import:xgboost"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("imported version page lacks %q", want)
		}
	}
	if res := c.get("/models/empty-model"); res.StatusCode != 200 || !strings.Contains(res.body, "No versions yet.") {
		t.Errorf("GET /models/empty-model: %d", res.StatusCode)
	}

	for path, status := range map[string]int{
		"/models/nope": 404, "/models/nope/versions/1": 404, "/models/credit-risk/versions/9": 404,
		"/models/credit-risk/versions/x": 400, "/models/credit-risk/versions/0": 400, "/models/credit-risk/versions/-1": 400,
		"/models/credit-risk?cmp=x": 400, "/models/credit-risk?cmp=7&cmp=1": 404, "/models/credit-risk/versions/1/extra": 404,
	} {
		res := c.get(path)
		if res.StatusCode != status || !strings.Contains(res.body, `<nav class="sidenav"`) {
			t.Errorf("GET %s: %d, want %d with the error page", path, res.StatusCode, status)
		}
	}
	if res := c.get("/models/credit-risk/versions/x"); !strings.Contains(res.body, "&#34;x&#34; is not a version number") {
		t.Errorf("bad version: no clear message\n%s", res.body)
	}

	// The populated pages use no inline script or style (the CSP blocks
	// them) and refer to no external URL.
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/models", "/models/credit-risk", "/models/credit-risk?cmp=1&cmp=2&cmp=3", "/models/credit-risk/versions/1", "/models/credit-risk/versions/2", "/models/heating-load/versions/1"} {
		body := c.get(path).body
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s has inline script or style (%q)", path, m)
		}
		if body = strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, ""); strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s refers to an external URL", path)
		}
	}

	// Editors see how to change stages; another workspace sees nothing.
	_, editorSecret := mustCreateToken(t, f.store, f.acme, "eddie", joule.RoleEditor)
	ce := f.client(t)
	ce.mustLogin(editorSecret)
	if res := ce.get("/models/credit-risk/versions/2"); !strings.Contains(res.body, "joule model promote credit-risk@2 --stage production") {
		t.Error("an editor does not see the promote command")
	}
	_, otherSecret := mustCreateToken(t, f.store, f.other, "olga", joule.RoleAdmin)
	co := f.client(t)
	co.mustLogin(otherSecret)
	if res := co.get("/models/credit-risk"); res.StatusCode != 404 {
		t.Errorf("another workspace: GET /models/credit-risk: %d, want 404", res.StatusCode)
	}
	if res := co.get("/models"); strings.Contains(res.body, "credit-risk") || !strings.Contains(res.body, "No models yet.") {
		t.Error("another workspace sees acme's models")
	}

	// Without a card function the page says where to get the card.
	f2 := newFixture(t, nil)
	seedModels(t, f2)
	c2 := f2.client(t)
	c2.mustLogin(f2.viewerSecret)
	if res := c2.get("/models/credit-risk/versions/1"); !strings.Contains(res.body, "Model cards are not available on this server.") {
		t.Error("no card note")
	}
}
