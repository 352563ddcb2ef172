package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// germanVariant writes rows of german.data-numeric as CSV: keep picks the
// rows, flip those whose class is swapped.
func germanVariant(t *testing.T, keep, flip func(i int) bool) string {
	t.Helper()
	raw, err := os.ReadFile("../../examples/data/finance/german.data-numeric")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !keep(i) {
			continue
		}
		f := strings.Fields(line)
		if flip(i) {
			f[24] = map[string]string{"1": "2", "2": "1"}[f[24]]
		}
		b.WriteString(strings.Join(f, ",") + "\n")
	}
	path := filepath.Join(t.TempDir(), "german.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRetrainEndToEnd is the retraining journey on the real binary, both
// outcomes: production (version 1) was trained on 150 rows of german with
// 40 % of the labels flipped and is deployed with a retrain policy set by
// `joule deploy --retrain-*`; all 1,000 clean rows arrive as dataset version
// 2; a window of drifted requests raises the monitor's drift alert, which
// triggers the retrain: a train job through the queue, the candidate wins on
// its holdout rows and is promoted in the registry and served. A second,
// manual retrain (`joule deployment retrain --wait`) on the same newest
// version makes a candidate that
// cannot win by the margin: it stays in staging and the deployment keeps
// version 2. `joule deployment lifecycle` shows every step with its reason.
func TestRetrainEndToEnd(t *testing.T) {
	t.Parallel()
	b := startBinary(t)
	token, stderr, s := b.token, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("joule %s: %v\n%s\nserver stderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return out
	}

	must("dataset", "upload", "german", germanVariant(t, func(i int) bool { return i < 150 }, func(i int) bool { return i%5 < 2 }), "-q")
	must("train", "--dataset", "german", "--target", "column24", "--algorithm", "logistic_regression", "--split-seed", "42", "--wait")
	must("model", "promote", "german@1", "--stage", "production")
	must("deploy", "german@1", "--name", "credit", "--min", "1", "--retrain-on-drift", "--retrain-margin", "0.01", "--retrain-every", "24h", "--window-rows", "200")
	var d joule.Deployment
	if err := json.Unmarshal([]byte(must("deployment", "get", "credit", "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if p := d.Retrain; p == nil || !p.OnDrift || p.Margin != 0.01 || time.Duration(p.Every) != 24*time.Hour || time.Duration(p.Cooldown) != time.Hour {
		t.Fatalf("deployed policy %+v; want on drift, margin 0.01, every 24h, the default cooldown", d.Retrain)
	}
	must("dataset", "upload", "german", germanVariant(t, func(int) bool { return true }, func(int) bool { return false }), "-q")

	// Promote: drift in the live requests triggers the retrain, and the
	// newest version makes a clearly better model. 200 rows whose
	// duration (column1) and credit amount (column4) are far above
	// anything in training fill one drift window.
	var shifted []string
	for i := range 200 {
		shifted = append(shifted, fmt.Sprintf(`{"column0": 1, "column1": %d, "column2": 4, "column3": 12, "column4": %d, "column5": 5, "column6": 3, "column7": 4, "column8": 1, "column9": 67, "column10": 3, "column11": 2, "column12": 1, "column13": 2, "column14": 1, "column15": 0, "column16": 0, "column17": 1, "column18": 0, "column19": 0, "column20": 1, "column21": 0, "column22": 0, "column23": 1}`, 200+i, 900+i))
	}
	must("predict", "credit", "-d", `{"instances": [`+strings.Join(shifted, ",")+`]}`)
	var st joule.LifecycleStatus
	for deadline := time.Now().Add(3 * time.Minute); ; {
		var dl joule.DeploymentLifecycle
		if err := json.Unmarshal([]byte(jsonPart(must("deployment", "lifecycle", "credit", "-o", "json"))), &dl); err != nil {
			t.Fatal(err)
		}
		if st = dl.Status; st.LastOutcome != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retrain outcome 3 minutes after a drifted window: %+v\n%s", st, must("deployment", "events", "credit"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if st.LastTrigger == nil || st.LastTrigger.Kind != joule.TriggerDrift || !strings.Contains(st.LastTrigger.Reason, "column1") {
		t.Fatalf("the first retrain's trigger = %+v; want the drift alert naming column1", st.LastTrigger)
	}
	c := st.LastComparison
	if st.LastOutcome != joule.RetrainPromoted || c == nil || !c.Wins || c.Rows != 200 || c.DatasetVersion != 2 || c.Candidate != 2 || c.Production != 1 {
		t.Fatalf("first retrain: %+v, comparison %+v; want version 2 promoted after winning on 200 holdout rows", st, c)
	}
	if c.CandidateScore < c.ProductionScore+0.01 {
		t.Errorf("accuracy %.4f vs %.4f: not a win by 0.01", c.CandidateScore, c.ProductionScore)
	}
	job := must("job", "get", st.LastJob, "-o", "json")
	if !strings.Contains(job, `"kind": "train"`) || !strings.Contains(job, `"state": "succeeded"`) || !strings.Contains(job, `"dataset_version": "2"`) {
		t.Errorf("the retrain's job:\n%.800s", job)
	}
	if err := json.Unmarshal([]byte(must("deployment", "get", "credit", "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.ModelVersion != 2 || d.PreviousVersion != 1 || d.Status == nil || d.Status.Lifecycle == nil || d.Status.Lifecycle.LastOutcome != joule.RetrainPromoted {
		t.Errorf("after the promote: version %d (previous %d), status %+v; want 2, previous 1, lifecycle promoted", d.ModelVersion, d.PreviousVersion, d.Status)
	}
	row := `{"instances": [{"column0": 1, "column1": 6, "column2": 4, "column3": 12, "column4": 5, "column5": 5, "column6": 3, "column7": 4, "column8": 1, "column9": 67, "column10": 3, "column11": 2, "column12": 1, "column13": 2, "column14": 1, "column15": 0, "column16": 0, "column17": 1, "column18": 0, "column19": 0, "column20": 1, "column21": 0, "column22": 0, "column23": 1}]}`
	if out := must("predict", "credit", "-d", row, "-o", "json"); !strings.Contains(out, `"model_version": 2`) {
		t.Errorf("predict after the promote:\n%s", out)
	}

	// Keep: the same newest version again cannot beat version 2 by the
	// margin (the same spec on the same rows).
	if err := json.Unmarshal([]byte(jsonPart(must("deployment", "retrain", "credit", "--wait", "-o", "json"))), &st); err != nil {
		t.Fatal(err)
	}
	c = st.LastComparison
	if st.LastOutcome != joule.RetrainKept || c == nil || c.Wins || c.Candidate != 3 || c.Production != 2 || c.Gain >= 0.01 {
		t.Fatalf("second retrain: %+v, comparison %+v; want version 3 kept", st, c)
	}
	if !strings.Contains(st.LastReason, "kept version 3 in staging") || !strings.Contains(st.LastReason, "margin 0.0100") {
		t.Errorf("reason %q", st.LastReason)
	}
	versions := must("model", "versions", "german", "-o", "json")
	var vs struct {
		Items []joule.ModelVersion `json:"items"`
	}
	if err := json.Unmarshal([]byte(versions), &vs); err != nil {
		t.Fatalf("model versions: %v\n%s", err, versions)
	}
	stages := map[int]string{}
	for _, v := range vs.Items {
		stages[v.Version] = v.Stage
	}
	if stages[1] != joule.StageArchived || stages[2] != joule.StageProduction || stages[3] != joule.StageStaging {
		t.Errorf("stages %v; want 1 archived, 2 production, 3 staging", stages)
	}

	// The history, as a user reads it.
	out := must("deployment", "lifecycle", "credit")
	for _, want := range []string{
		"Policy:", "retrains on drift, every 24h0m0s; promotes a candidate that beats the served version by 0.01",
		"triggered (drift): drift: version 1: window of 200 rows", "the deployment serves version 1",
		"started: logistic_regression on dataset german version 2 (the newest), with the training spec of version 1",
		"made version 2 (dataset german version 2, 800 training rows)",
		"evaluated: accuracy", "on 200 holdout rows of dataset german version 2",
		"promote ", "promoted version 2: registry stage production",
		"kept version 3 in staging: it does not beat version 2 by the margin",
		"Last outcome:", "kept:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deployment lifecycle lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "version 2 promoted to primary, replacing version 1"), strings.Index(out, "promoted version 2:"); i < 0 || j < i {
		t.Errorf("the promote event should come before the retrain outcome that caused it:\n%s", out)
	}
	// Policy flags change the policy and keep the rest; the retrains and
	// the policy change are audited.
	must("deployment", "retrain", "credit", "--margin", "0.05")
	if out := must("deployment", "get", "credit", "-o", "json"); !strings.Contains(out, `"margin": 0.05`) || !strings.Contains(out, `"on_drift": true`) {
		t.Errorf("after --margin 0.05 the policy is:\n%s", out)
	}
	for _, args := range [][]string{{"deployment", "retrain", "nosuch"}, {"deployment", "lifecycle", "nosuch"}} {
		if out, err := cli(args...); err == nil || !strings.Contains(errorLine(err), `deployment "nosuch" not found`) {
			t.Errorf("joule %s = %v\n%s; want not found", strings.Join(args, " "), err, out)
		}
	}
	if out, err := cli("deployment", "retrain", "credit", "--metric", "rmse"); err == nil || !strings.Contains(errorLine(err), `retrain.metric: "rmse" is not one of accuracy`) {
		t.Errorf("a regression metric on a classifier = %v\n%s; want invalid", err, out)
	}
	audit := must("audit", "list", "-o", "json")
	if n := strings.Count(audit, `"deployment.retrain"`); n != 1 || !strings.Contains(audit, `"deployment.retrain_policy"`) {
		t.Errorf("audit log: %d deployment.retrain entries, want 1 (the manual one; drift's is an event), and a deployment.retrain_policy one", n)
	}
}
