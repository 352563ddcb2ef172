package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// signedAlert is one delivery the test's webhook receiver got, with its
// signature checked.
type signedAlert struct {
	alert    sustain.Alert
	verified error
	wrongKey error // the same delivery checked with another secret
}

// TestDeploymentMonitorEndToEnd is the monitoring journey on the real
// binary, started with --alert-webhook pointing at a receiver in the test:
// a logistic regression trained on german.data-numeric is deployed with
// monitor flags; the dataset's own 1,000 rows make a window that does not
// drift; 1,000 rows with the loan duration 24 months longer and the age 20
// years older make the next window drift, and the receiver gets a
// deployment.drift alert whose HMAC verifies with the secret; `deployment
// drift` shows the features; feedback labels give the live accuracy worked
// out here, and accuracy under --min-accuracy sends a deployment.quality
// alert; bad feedback is 400 naming the item.
func TestDeploymentMonitorEndToEnd(t *testing.T) {
	t.Parallel()
	secret := []byte("a-webhook-secret-of-32-bytes-xyz")
	got := make(chan signedAlert, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get(sustain.TimestampHeader), r.Header.Get(sustain.SignatureHeader)
		var a sustain.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		if r.Header.Get(sustain.EventHeader) != a.Kind || r.Header.Get(sustain.DeliveryHeader) != a.ID {
			t.Errorf("webhook headers %v do not match the alert %s %s", r.Header, a.Kind, a.ID)
		}
		got <- signedAlert{alert: a, verified: sustain.VerifySignature(secret, ts, body, sig), wrongKey: sustain.VerifySignature([]byte("another-secret-of-32-bytes-abcde"), ts, body, sig)}
	}))
	t.Cleanup(recv.Close)
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBinary(t, "--alert-webhook", recv.URL, "--alert-secret-file", secretFile)
	base, token, dir, stderr, s := b.base, b.token, b.dir, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }
	if out, err := cli("dataset", "upload", "german", "../../examples/data/finance/german.data-numeric", "-q"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if out, err := cli("train", "--dataset", "german", "--target", "column24", "--algorithm", "logistic_regression", "--split-seed", "42", "--wait"); err != nil {
		t.Fatalf("train: %v\n%s\nserver stderr:\n%s", err, out, stderr.String())
	}
	if out, err := cli("deploy", "german@1", "--name", "credit", "--min", "1", "--window-rows", "1000", "--min-accuracy", "0.95"); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}

	// The rows of the file, as the dataset has them.
	raw, err := os.ReadFile("../../examples/data/finance/german.data-numeric")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	for line := range strings.Lines(string(raw)) {
		var r []float64
		for _, f := range strings.Fields(line) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatal(err)
			}
			r = append(r, v)
		}
		rows = append(rows, r)
	}
	body := func(shift bool) []byte {
		var in []map[string]float64
		for _, r := range rows {
			x := map[string]float64{}
			for j := range 24 {
				x[fmt.Sprintf("column%d", j)] = r[j]
			}
			if shift {
				x["column1"] += 24
				x["column9"] += 20
			}
			in = append(in, x)
		}
		b, _ := json.Marshal(map[string]any{"instances": in})
		return b
	}
	post := func(path string, b []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/v1/workspaces/default/deployments/credit/"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	code, out := post("predict", body(false))
	if code != http.StatusOK {
		t.Fatalf("predict = %d %s", code, out)
	}
	var first joule.PredictResponse
	if err := json.Unmarshal(out, &first); err != nil || !strings.HasPrefix(first.ID, "prd_") || len(first.Predictions) != 1000 {
		t.Fatalf("predict response: %v, id %q, %d predictions", err, first.ID, len(first.Predictions))
	}
	// The unshifted window's report comes before the shifted one's (one
	// evaluation at a time per version), so once the shifted window has
	// alerted, the unshifted one is known not to have.
	if code, out := post("predict", body(true)); code != http.StatusOK {
		t.Fatalf("shifted predict = %d %s", code, out)
	}
	wait := func(kind string) sustain.Alert {
		t.Helper()
		select {
		case a := <-got:
			if a.verified != nil || a.wrongKey == nil {
				t.Fatalf("alert %s: signature with the secret: %v; with another secret: %v", a.alert.ID, a.verified, a.wrongKey)
			}
			if a.alert.Kind != kind {
				t.Fatalf("alert %+v, want kind %s", a.alert, kind)
			}
			return a.alert
		case <-time.After(60 * time.Second):
			t.Fatalf("no %s alert in 60 s; server stderr:\n%s", kind, stderr.String())
		}
		return sustain.Alert{}
	}
	a := wait("deployment.drift")
	if a.Subject != "deployment credit" || !strings.Contains(a.Message, "column1 PSI") || !strings.Contains(a.Message, "column9 PSI") {
		t.Errorf("drift alert %+v; want it to name column1 and column9", a)
	}
	out2, err := cli("deployment", "drift", "credit", "--history")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out2), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "true") || !strings.Contains(lines[2], "false") {
		t.Errorf("deployment drift --history: want the shifted window drifted and the first not:\n%s", out2)
	}
	table, err := cli("deployment", "drift", "credit")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DRIFTED", "training split (800 rows)", "column1 ", "column9 "} {
		if !strings.Contains(table, want) {
			t.Errorf("deployment drift: no %q in\n%s", want, table)
		}
	}
	for line := range strings.Lines(table) {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "column1" || f[0] == "column9") && f[len(f)-1] != "yes" {
			t.Errorf("deployment drift: %s is not drifted: %q", f[0], line)
		}
	}
	var ev struct {
		Items []joule.DeploymentEvent `json:"items"`
	}
	evs, err := cli("deployment", "events", "credit", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(evs), &ev); err != nil {
		if err := json.Unmarshal([]byte(evs), &ev.Items); err != nil {
			t.Fatalf("events -o json: %v\n%s", err, evs)
		}
	}
	var alertIDs []string
	for _, e := range ev.Items {
		if e.Kind == joule.DeploymentAlert {
			alertIDs = append(alertIDs, e.ID)
		}
	}
	if len(alertIDs) != 1 || alertIDs[0] != a.ID {
		t.Errorf("alert events %v, want the one the webhook got (%s)", alertIDs, a.ID)
	}

	// Feedback: the true labels of the first response's rows.
	var req joule.FeedbackRequest
	correct := 0
	for i, r := range rows {
		y := strconv.FormatFloat(r[24], 'g', -1, 64)
		req.Labels = append(req.Labels, joule.FeedbackLabel{ID: first.ID, Row: i, Label: y})
		if first.Predictions[i] == y {
			correct++
		}
	}
	labels, _ := json.Marshal(req)
	lf := filepath.Join(dir, "labels.json")
	if err := os.WriteFile(lf, labels, 0o600); err != nil {
		t.Fatal(err)
	}
	fb, err := cli("deployment", "feedback", "credit", "-d", "@"+lf, "-o", "json")
	if err != nil {
		t.Fatalf("feedback: %v\n%s", err, fb)
	}
	var res joule.FeedbackResult
	if err := json.Unmarshal([]byte(fb), &res); err != nil || res.Accepted != 1000 || len(res.Live) != 1 {
		t.Fatalf("feedback -o json: %v\n%s", err, fb)
	}
	if acc := float64(correct) / 1000; *res.Live[0].Overall.Accuracy != acc || !res.Live[0].Alerting {
		t.Errorf("live accuracy %g (alerting %v), want %g and alerting under 0.95", *res.Live[0].Overall.Accuracy, res.Live[0].Alerting, acc)
	}
	q := wait("deployment.quality")
	if !strings.Contains(q.Message, "below monitor.min_accuracy 0.95") {
		t.Errorf("quality alert %+v", q)
	}
	if out, err := cli("deployment", "get", "credit"); err != nil || !strings.Contains(out, "DRIFTED: column1, column9") || !strings.Contains(out, "1000 of 2000 rows labelled") || !strings.Contains(out, "ALERTING") {
		t.Errorf("deployment get: %v; want the drift and the live quality:\n%s", err, out)
	}
	if _, body := get(t, base+"/metrics", ""); !strings.Contains(body, `joule_deployment_drifted{deployment="credit"`) || !strings.Contains(body, `joule_deployment_live_accuracy{deployment="credit"`) {
		t.Errorf("/metrics lacks the drift and live accuracy of credit")
	}

	// Bad feedback: 400 naming the item.
	for _, c := range []struct{ body, want string }{
		{`{"labels": [{"id": "prd_unknown", "label": "1"}]}`, `labels[0].id: prediction \"prd_unknown\" is unknown`},
		{fmt.Sprintf(`{"labels": [{"id": %q, "row": 1000, "label": "1"}]}`, first.ID), "labels[0].row: 1000 is out of range"},
		{fmt.Sprintf(`{"labels": [{"id": %q, "row": 0, "label": "3"}]}`, first.ID), `labels[0].label: \"3\" is not a class of model version 1 (its classes: 1, 2)`},
		{`{"labels": []}`, "labels: empty"},
	} {
		code, out := post("feedback", []byte(c.body))
		if code != http.StatusBadRequest || !strings.Contains(string(out), c.want) {
			t.Errorf("feedback %s = %d %s; want 400 naming %s", c.body, code, out, c.want)
		}
	}

	// Settings change through the CLI; unknown settings are 400.
	if out, err := cli("deployment", "monitor", "credit", "--psi-threshold", "0.3"); err != nil || !strings.Contains(out, "PSI ≥ 0.3 or KS ≥ 0.1") || !strings.Contains(out, "accuracy < 0.95") {
		t.Errorf("deployment monitor: %v\n%s", err, out)
	}
	if code, out := post("monitor", []byte(`{"psi_threshold": -1}`)); code != http.StatusBadRequest || !strings.Contains(string(out), "monitor.psi_threshold") {
		t.Errorf("monitor psi -1 = %d %s", code, out)
	}
}
