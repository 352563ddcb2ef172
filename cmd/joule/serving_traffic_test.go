package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCanaryPromoteRollbackEndToEnd drives traffic changes through the CLI
// against the real binary: two versions trained on german.data-numeric, a
// 10% canary over 1,000 requests (the split is exact: 100), rollback in
// effect for the very next request, promote, the history, and the audit.
func TestCanaryPromoteRollbackEndToEnd(t *testing.T) {
	t.Parallel()
	b := startBinary(t)
	base, token, stderr, s := b.base, b.token, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }

	if out, err := cli("dataset", "upload", "german", "../../examples/data/finance/german.data-numeric", "-q"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	for _, seed := range []string{"1", "2"} {
		if out, err := cli("train", "--dataset", "german", "--target", "column24", "--algorithm", "logistic_regression", "--split-seed", seed, "--wait"); err != nil {
			t.Fatalf("train: %v\n%s\nserver stderr:\n%s", err, out, stderr.String())
		}
	}
	if out, err := cli("deploy", "german@1", "--name", "credit", "--min", "1", "--public"); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	if out, err := cli("deployment", "traffic", "credit", "--canary", "2", "--percent", "10"); err != nil || !strings.Contains(out, "2 canary 10%") {
		t.Fatalf("deployment traffic: %v\n%s", err, out)
	}
	row := `{"instances": [{"column0": 1, "column1": 6, "column2": 4, "column3": 12, "column4": 5, "column5": 5, "column6": 3, "column7": 4, "column8": 1, "column9": 67, "column10": 3, "column11": 2, "column12": 1, "column13": 2, "column14": 1, "column15": 0, "column16": 0, "column17": 1, "column18": 0, "column19": 0, "column20": 1, "column21": 0, "column22": 0, "column23": 1}]}`
	version := func() int {
		t.Helper()
		resp, err := http.Post(base+"/v1/workspaces/default/deployments/credit/predict", "application/json", strings.NewReader(row))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r struct {
			ModelVersion int `json:"model_version"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil {
			t.Fatalf("predict = %d %s", resp.StatusCode, b)
		}
		return r.ModelVersion
	}
	got := map[int]int{}
	for range 1000 {
		got[version()]++
	}
	if got[2] != 100 || got[1] != 900 {
		t.Fatalf("10%% canary over 1,000 requests: %v, want 900 and 100", got)
	}
	out, err := cli("deployment", "get", "credit", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		ModelVersion    int `json:"model_version"`
		PreviousVersion int `json:"previous_version"`
		Status          struct {
			Traffic []struct {
				ModelVersion int    `json:"model_version"`
				Role         string `json:"role"`
				Requests     int    `json:"requests"`
			} `json:"traffic"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || len(d.Status.Traffic) != 2 || d.Status.Traffic[1].Requests != 100 || d.Status.Traffic[1].Role != "canary" {
		t.Fatalf("deployment get: %v %+v\n%s", err, d, out)
	}
	if out, err := cli("deployment", "rollback", "credit", "--reason", "canary under review"); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	for range 20 {
		if v := version(); v != 1 {
			t.Fatalf("a request after rollback went to version %d", v)
		}
	}
	if out, err := cli("deployment", "promote", "credit", "--version", "2", "--reason", "wins on the holdout"); err != nil || !strings.Contains(out, "german@2") || !strings.Contains(out, "version 1 (rollback returns to it)") {
		t.Fatalf("promote: %v\n%s", err, out)
	}
	if v := version(); v != 2 {
		t.Fatalf("after promote: version %d", v)
	}
	if out, err := cli("deployment", "rollback", "credit"); err != nil || !strings.Contains(out, "german@1") {
		t.Fatalf("rollback to the previous version: %v\n%s", err, out)
	}
	if v := version(); v != 1 {
		t.Fatalf("after the second rollback: version %d", v)
	}
	if out, err := cli("deployment", "rollback", "credit"); err == nil || !strings.Contains(errorLine(err), "nothing") && !strings.Contains(errorLine(err), "no canary and no previous version") {
		t.Fatalf("a rollback with nothing to roll back to: %v\n%s", err, out)
	}
	if out, err := cli("deployment", "traffic", "credit", "--canary", "2", "--percent", "150"); err == nil || !strings.Contains(errorLine(err), "canary.percent: 150") {
		t.Fatalf("a 150%% canary: %v\n%s", err, out)
	}
	events, err := cli("deployment", "events", "credit")
	for _, want := range []string{"canary: version 2 takes 10% of requests", "canary version 2 removed", "canary under review", "version 2 promoted to primary", "back to version 1 from version 2"} {
		if err != nil || !strings.Contains(events, want) {
			t.Errorf("deployment events lack %q: %v\n%s", want, err, events)
		}
	}
	time.Sleep(1500 * time.Millisecond) // at least one autoscaler tick
	if out, err := cli("deployment", "history", "credit"); err != nil || !strings.Contains(out, "RPS") || strings.Count(out, "\n") < 2 {
		t.Errorf("deployment history: %v\n%s", err, out)
	}
	// Your own model server: a deployment of kind command runs
	// examples/serving/linear_server.py as its replica's process.
	if py, err := exec.LookPath("python3"); err != nil {
		t.Logf("python3 not found: the command deployment part is skipped")
	} else {
		script, _ := filepath.Abs("../../examples/serving/linear_server.py")
		if out, err := cli("deploy", "--name", "linear", "--public", "--", py, script); err != nil || !strings.Contains(out, "linear_server.py") {
			t.Fatalf("deploy a command: %v\n%s", err, out)
		}
		resp, err := http.Post(base+"/v1/workspaces/default/deployments/linear/predict", "application/json", strings.NewReader(`{"inputs": {"x1": [1, 3], "x2": [2, 0]}}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var pr struct {
			Predictions []float64 `json:"predictions"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &pr) != nil || len(pr.Predictions) != 2 || pr.Predictions[0] != 2 || pr.Predictions[1] != 7 {
			t.Fatalf("predict on the command deployment = %d %s", resp.StatusCode, b)
		}
		resp, err = http.Post(base+"/v1/workspaces/default/deployments/linear/predict", "application/json", strings.NewReader(`{"instances": [{"x1": 1}]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "missing feature") {
			t.Fatalf("a row the server refuses = %d %s, want 400 with its message", resp.StatusCode, b)
		}
		if out, err := cli("deployment", "get", "linear"); err != nil || !strings.Contains(out, "Server:") || !strings.Contains(out, "1 replicas") {
			t.Fatalf("deployment get of a command deployment: %v\n%s", err, out)
		}
	}

	// A deployment's own token calls its predict endpoint and nothing else.
	if out, err := cli("deploy", "german@1", "--name", "private", "--min", "1"); err != nil {
		t.Fatalf("deploy private: %v\n%s", err, out)
	}
	out, err = cli("deployment", "token", "create", "private", "--name", "checkout", "-o", "json")
	var nt struct {
		Token struct {
			ID string `json:"id"`
		} `json:"token"`
		Secret string `json:"secret"`
	}
	if err != nil || json.Unmarshal([]byte(out), &nt) != nil || !strings.HasPrefix(nt.Secret, "joule_") {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	call := func(method, path, secret, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call("POST", "/v1/workspaces/default/deployments/private/predict", nt.Secret, row); code != http.StatusOK {
		t.Errorf("predict with the deployment's token = %d, want 200", code)
	}
	if code := call("POST", "/v1/workspaces/default/deployments/private/predict", "joule_wrong", row); code != http.StatusUnauthorized {
		t.Errorf("predict with a wrong token = %d, want 401", code)
	}
	for _, p := range []string{"/v1/workspaces/default/deployments", "/v1/workspaces/default/deployments/private", "/v1/workspaces/default/deployments/private/tokens", "/v1/workspaces"} {
		if code := call("GET", p, nt.Secret, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a deployment token = %d, want 401", p, code)
		}
	}
	if out, err := cli("deployment", "get", "private", "-o", "json"); err != nil || !strings.Contains(out, "checkout") || strings.Contains(out, `"hash"`) {
		t.Errorf("deployment get shows a token hash or lacks the token: %v\n%s", err, out)
	}
	if out, err := cli("deployment", "token", "revoke", "private", "checkout"); err != nil {
		t.Fatalf("token revoke: %v\n%s", err, out)
	}
	if code := call("POST", "/v1/workspaces/default/deployments/private/predict", nt.Secret, row); code != http.StatusUnauthorized {
		t.Errorf("predict with a revoked deployment token = %d, want 401", code)
	}

	audit, err := cli("audit", "list", "--action", "deployment.", "-o", "json")
	for _, want := range []string{"deployment.traffic", "deployment.promote", "deployment.rollback", "deployment.token.create", "deployment.token.revoke"} {
		if err != nil || !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s: %v", want, err)
		}
	}
}
