package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServingEndToEnd is the serving journey on the real binary: a model
// trained on german.data-numeric is deployed with --min 0; the first
// predict wakes a replica (cold start) and succeeds; its 1,000 predictions
// and probabilities equal the batch prediction job's exactly; bad rows get
// 400 naming the field and row; a private deployment refuses a request
// without a token; the scaling decisions are events; /metrics shows the
// deployment; and after enough predictions `deployment get -o json`
// reports energy and emissions per 1,000 predictions with their method.
func TestServingEndToEnd(t *testing.T) {
	t.Parallel()
	b := startBinary(t)
	base, token, stderr, s := b.base, b.token, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }

	if out, err := cli("dataset", "upload", "german", "../../examples/data/finance/german.data-numeric", "-q"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if out, err := cli("train", "--dataset", "german", "--target", "column24", "--algorithm", "logistic_regression", "--split-seed", "42", "--wait"); err != nil {
		t.Fatalf("train: %v\n%s\nserver stderr:\n%s", err, out, stderr.String())
	}
	if out, err := cli("deploy", "german@1", "--name", "credit", "--min", "0", "--max", "2", "--target-concurrency", "4"); err != nil || !strings.Contains(out, "credit") {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	dep := func() deploymentJSON {
		t.Helper()
		out, err := cli("deployment", "get", "credit", "-o", "json")
		if err != nil {
			t.Fatalf("deployment get: %v\n%s", err, out)
		}
		var d deploymentJSON
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("deployment get -o json: %v\n%s", err, out)
		}
		return d
	}
	if d := dep(); d.Status.Replicas != 0 || d.MinReplicas != 0 || d.MaxReplicas != 2 || d.ModelVersion != 1 {
		t.Fatalf("new deployment: %+v; want 0 replicas, min 0, max 2, version 1", d)
	}

	// The batch path's answer for all 1,000 rows, and the same rows as
	// instances for the endpoint.
	if out, err := cli("model", "predict", "german@1", "--dataset", "german", "--into", "german-scored", "--wait"); err != nil {
		t.Fatalf("model predict: %v\n%s", err, out)
	}
	scored, err := cli("dataset", "export", "german-scored", "--format", "jsonl")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var instances []map[string]any
	var batch []map[string]any
	for line := range strings.Lines(scored) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("jsonl: %v: %s", err, line)
		}
		batch = append(batch, r)
		in := map[string]any{}
		for i := range 24 {
			k := fmt.Sprintf("column%d", i)
			in[k] = r[k]
		}
		instances = append(instances, in)
	}
	if len(instances) != 1000 {
		t.Fatalf("%d scored rows, want 1000", len(instances))
	}
	body, _ := json.Marshal(map[string]any{"instances": instances})
	predict := func(body []byte, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/v1/workspaces/default/deployments/credit/predict", bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, out := predict(body, token) // at zero: a cold start
	if code != http.StatusOK {
		t.Fatalf("first predict (cold start) = %d %s", code, out)
	}
	var resp struct {
		Predictions   []string             `json:"predictions"`
		Probabilities []map[string]float64 `json:"probabilities"`
		ModelVersion  int                  `json:"model_version"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Predictions) != 1000 || len(resp.Probabilities) != 1000 {
		t.Fatalf("predict response: %v, %d predictions\n%.300s", err, len(resp.Predictions), out)
	}
	mismatch := 0
	for i, r := range batch {
		if fmt.Sprint(r["prediction"]) != resp.Predictions[i] {
			mismatch++
		}
		for _, c := range []string{"1", "2"} {
			if p, ok := r["probability_"+c].(float64); !ok || p != resp.Probabilities[i][c] {
				mismatch++
			}
		}
	}
	if mismatch > 0 {
		t.Errorf("%d of 3000 predictions and probabilities differ from the batch job's; row 0: batch %v, endpoint %v %v",
			mismatch, batch[0], resp.Predictions[0], resp.Probabilities[0])
	}
	d := dep()
	if d.Status.Replicas != 1 || d.Status.ColdStartMS <= 0 {
		t.Errorf("after the cold start: %d replicas, cold start %v ms; want 1 and a recorded cold start", d.Status.Replicas, d.Status.ColdStartMS)
	}
	t.Logf("cold start %.1f ms; latency %v", d.Status.ColdStartMS, d.Status.LatencyMS)

	// Bad input: 400 naming the field and row; no token: 401.
	wrong := map[string]any{}
	for k, v := range instances[0] {
		wrong[k] = v
	}
	wrong["column3"] = "x"
	wrongBody, _ := json.Marshal(map[string]any{"instances": []any{instances[0], wrong}})
	bad := []struct{ body, want string }{
		{`{"instances": [{"column0": 1}]}`, `instances[0]: missing feature`},
		{string(wrongBody), `instances[1].column3: \"x\" is a string`},
		{`{"instances": []}`, `empty batch`},
	}
	for _, b := range bad {
		if code, out := predict([]byte(b.body), token); code != http.StatusBadRequest || !strings.Contains(out, b.want) {
			t.Errorf("bad predict = %d %.300s; want 400 containing %q", code, out, b.want)
		}
	}
	if code, out := predict(body, ""); code != http.StatusUnauthorized {
		t.Errorf("predict without a token on a private deployment = %d %s, want 401", code, out)
	}
	if out, err := cli("predict", "credit", "-d", `{"inputs": {"column0": [1]}}`); err == nil || !strings.Contains(errorLine(err), "missing feature") {
		t.Errorf("joule predict with a missing feature: %v\n%s", err, out)
	}

	// Enough predictions for the 1 Hz power samples to attribute energy.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, out := predict(body, token); code != http.StatusOK {
			t.Fatalf("predict = %d %.300s", code, out)
		}
		if e := dep().Status.Energy; e != nil && e.JoulesPer1000 > 0 && e.Predictions >= 5000 {
			if e.Method == "" || !strings.Contains(e.Method, "cpu time") || e.EmissionsGPer1000 <= 0 || e.Measured != (e.EstimatedJoules == 0) {
				t.Errorf("energy = %+v; want a method naming the CPU-time attribution, emissions, and measured only without estimates", e)
			}
			t.Logf("energy per 1,000 predictions: %.4g J, %.4g g CO2e (measured %t; %d predictions, %.3g CPU s); method %s",
				e.JoulesPer1000, e.EmissionsGPer1000, e.Measured, e.Predictions, e.CPUSeconds, e.Method)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no energy per 1,000 predictions after 60 s: %+v\nserver stderr:\n%s", dep().Status, stderr.String())
		}
	}

	// A public deployment needs no token, and has its own limits: 413 over
	// its body limit, 429 over its rate limit (1 request per second).
	if out, err := cli("deploy", "german", "--name", "open", "--min", "1", "--public", "--body-limit", "4096"); err != nil {
		t.Fatalf("deploy --public: %v\n%s", err, out)
	}
	if out, err := cli("deploy", "german", "--name", "slow", "--public", "--rate-limit", "0.001"); err != nil {
		t.Fatalf("deploy --rate-limit: %v\n%s", err, out)
	}
	post := func(name string, body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/workspaces/default/deployments/"+name+"/predict", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	one, _ := json.Marshal(map[string]any{"instances": instances[:1]})
	if code, out := post("open", body); code != http.StatusRequestEntityTooLarge || !strings.Contains(out, "4096 bytes") {
		t.Errorf("public predict over the body limit = %d %.300s, want 413", code, out)
	}
	if code, out := post("open", one); code != http.StatusOK {
		t.Errorf("public predict without a token = %d %.300s, want 200", code, out)
	}
	if code, out := post("slow", one); code != http.StatusOK {
		t.Errorf("first predict within the rate limit = %d %.300s, want 200", code, out)
	}
	if code, out := post("slow", one); code != http.StatusTooManyRequests || !strings.Contains(out, "rate_limited") {
		t.Errorf("public predict over the rate limit = %d %.300s, want 429", code, out)
	}

	events, err := cli("deployment", "events", "credit")
	if err != nil || !strings.Contains(events, "a request arrived at zero replicas") || !strings.Contains(events, "created") {
		t.Errorf("deployment events: %v\n%s", err, events)
	}
	if out, err := cli("deployment", "scale", "credit", "--min", "1"); err != nil || !strings.Contains(out, "min 1, max 2") {
		t.Errorf("deployment scale: %v\n%s", err, out)
	}
	if out, err := cli("deployment", "list"); err != nil || !strings.Contains(out, "credit") || !strings.Contains(out, "german@1") {
		t.Errorf("deployment list: %v\n%s", err, out)
	}
	audit, err := cli("audit", "list", "--action", "deployment.", "-o", "json")
	if err != nil || !strings.Contains(audit, "deployment.create") || !strings.Contains(audit, "deployment.scale") || strings.Contains(audit, "predict") {
		t.Errorf("audit of deployments (create and scale, never predict): %v\n%.600s", err, audit)
	}
	if code, m := get(t, base+"/metrics", ""); code != http.StatusOK || !strings.Contains(m, `joule_deployment_replicas{deployment="credit"`) ||
		!strings.Contains(m, `joule_deployment_latency_ms{deployment="credit"`) || !strings.Contains(m, "joule_deployment_joules_per_1000_predictions") {
		t.Errorf("/metrics lacks the deployment's series (%d)", code)
	}
}

type deploymentJSON struct {
	MinReplicas  int `json:"min_replicas"`
	MaxReplicas  int `json:"max_replicas"`
	ModelVersion int `json:"model_version"`
	Status       struct {
		Replicas    int                `json:"replicas"`
		ColdStartMS float64            `json:"cold_start_ms"`
		LatencyMS   map[string]float64 `json:"latency_ms"`
		Energy      *struct {
			Predictions       int64   `json:"predictions"`
			CPUSeconds        float64 `json:"cpu_seconds"`
			Joules            float64 `json:"joules"`
			EstimatedJoules   float64 `json:"estimated_joules"`
			JoulesPer1000     float64 `json:"joules_per_1000"`
			EmissionsGPer1000 float64 `json:"emissions_g_per_1000"`
			Measured          bool    `json:"measured"`
			Method            string  `json:"method"`
		} `json:"energy"`
	} `json:"status"`
}
