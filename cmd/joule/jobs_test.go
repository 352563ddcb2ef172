package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/httpapi"
)

// The job and schedule commands end to end: `joule up` in process, the CLI
// through run(...), real processes run by the server's own worker.

// jobClient is an API client for s in the default workspace.
func jobClient(s *server) *httpapi.Client { return httpapi.NewClient(s.base, s.token) }

// waitJobState polls job ref until its state is one of states, failing
// after limit.
func waitJobState(t *testing.T, c *httpapi.Client, ref string, limit time.Duration, states ...joule.JobState) httpapi.JobDetail {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		d, err := c.GetJob(t.Context(), joule.DefaultWorkspace, ref)
		if err != nil {
			t.Fatalf("get job %s: %v", ref, err)
		}
		for _, st := range states {
			if d.State == st {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s) after %v, want one of %v", ref, d.State, d.Reason, limit, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endJobsAtCleanup cancels whatever job of s has not ended and waits for
// its processes to be stopped. It must be registered after startServer, so
// that it runs before the server shuts down: a server that stops leaves its
// jobs running for the next start to adopt.
func endJobsAtCleanup(t *testing.T, s *server) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := jobClient(s)
		p, err := c.ListJobs(ctx, joule.DefaultWorkspace, httpapi.JobQuery{
			States:      []joule.JobState{joule.JobQueued, joule.JobScheduled, joule.JobRunning},
			ListOptions: joule.ListOptions{Limit: joule.MaxLimit},
		})
		if err != nil {
			t.Errorf("cleanup: list jobs: %v", err)
			return
		}
		for _, j := range p.Items {
			if _, err := c.CancelJob(ctx, joule.DefaultWorkspace, j.ID); err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
				t.Errorf("cleanup: cancel %s: %v", j.ID, err)
			}
		}
		// A cancelled job's attempt is recorded once its processes are gone.
		for _, j := range p.Items {
			for ctx.Err() == nil {
				d, err := c.GetJob(ctx, joule.DefaultWorkspace, j.ID)
				if err != nil {
					break
				}
				open := false
				for _, a := range d.History {
					open = open || a.FinishedAt == nil
				}
				if !open {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}

// TestJobRunWaitMetricsArtifactsLogs: a script that prints a line and a
// metric and writes model.bin; run --wait returns nil, and get, artifacts,
// download and logs show what it did.
func TestJobRunWaitMetricsArtifactsLogs(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)

	out, err := s.cli(t, s.token, nil, "job", "run", "--name", "hello", "--cpu", "1", "--wait", "--",
		"sh", "-c", `echo hi; echo "joule:metric loss=0.25 step=3"; echo w > "$JOULE_OUTPUT_DIR/model.bin"`)
	if err != nil {
		t.Fatalf("job run --wait: %v\n%s", err, out)
	}

	out, err = s.cli(t, s.token, nil, "job", "get", "hello", "-o", "json")
	if err != nil {
		t.Fatalf("job get: %v\n%s", err, out)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatalf("job get -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"id", "name", "state", "reason", "exit_code", "attempts", "node", "created_at", "started_at", "finished_at", "resources"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("job get -o json lacks %q:\n%s", k, out)
		}
	}
	var d httpapi.JobDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "hello" || d.State != joule.JobSucceeded || d.ExitCode == nil || *d.ExitCode != 0 || d.Attempts != 1 || d.Node != "test-node" || d.Resources.CPUMillis != 1000 {
		t.Errorf("job = name %q state %s exit %v attempts %d node %q cpu %d; want hello succeeded 0, 1 attempt, test-node, 1000m",
			d.Name, d.State, d.ExitCode, d.Attempts, d.Node, d.Resources.CPUMillis)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != "loss" || d.Metrics[0].Value != 0.25 || d.Metrics[0].Step == nil || *d.Metrics[0].Step != 3 {
		t.Errorf("metrics = %+v, want loss=0.25 at step 3", d.Metrics)
	}
	if len(d.Artifacts) != 1 || d.Artifacts[0].Path != "model.bin" || d.Artifacts[0].Size != 2 {
		t.Errorf("artifacts = %+v, want model.bin (2 B)", d.Artifacts)
	}
	// The table form shows both too.
	if out, err := s.cli(t, s.token, nil, "job", "get", "hello"); err != nil || !strings.Contains(out, "loss") || !strings.Contains(out, "model.bin") {
		t.Errorf("job get (table) = %v, want loss and model.bin:\n%s", err, out)
	}

	if out, err := s.cli(t, s.token, nil, "job", "artifacts", "hello"); err != nil || !strings.Contains(out, "model.bin") {
		t.Errorf("job artifacts = %v, want model.bin listed:\n%s", err, out)
	}
	if out, err := s.cli(t, s.token, nil, "job", "artifacts", "hello", "--download", "model.bin"); err != nil || out != "w\n" {
		t.Errorf("job artifacts --download model.bin = %q, %v; want \"w\\n\"", out, err)
	}
	if out, err := s.cli(t, s.token, nil, "job", "logs", "hello"); err != nil || !strings.Contains(out, "hi\n") {
		t.Errorf("job logs = %v, want hi:\n%s", err, out)
	}
}

// TestJobRunWaitExitCode: run --wait of a job that exits 3 returns an
// ExitError with code 3, which main turns into the process's exit status.
func TestJobRunWaitExitCode(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)
	out, err := s.cli(t, s.token, nil, "job", "run", "--wait", "--", "sh", "-c", "exit 3")
	ee, ok := errors.AsType[*cli.ExitError](err)
	if !ok || ee.Code != 3 {
		t.Fatalf("job run --wait -- sh -c 'exit 3' = %v (%T), want *cli.ExitError with code 3\n%s", err, err, out)
	}
	t.Logf("exit 3: %s", cli.ErrorText(err))
}

// TestJobBadSpecs: the API answers 400 in the JSON error shape naming the
// field, and the CLI prints a message naming the flag or field.
func TestJobBadSpecs(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)

	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown field", `{"name":"x","command":["true"],"gpu_count":1}`, `unknown field "gpu_count"`},
		{"negative cpu", `{"name":"x","command":["true"],"resources":{"cpu_millis":-1}}`, "resources.cpu_millis"},
		{"empty command", `{"name":"x","command":[]}`, "command"},
		{"priority 12", `{"name":"x","command":["true"],"priority":12}`, "priority"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), "POST", s.base+"/v1/workspaces/default/jobs", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s: body %s is not the JSON error shape: %v", tc.name, b, err)
			continue
		}
		if resp.StatusCode != http.StatusBadRequest || e.Error.Code != joule.EINVALID || !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s: POST = %d %s, want 400 invalid naming %q", tc.name, resp.StatusCode, b, tc.want)
		} else {
			t.Logf("%s: 400 %q", tc.name, e.Error.Message)
		}
	}

	bad := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ncommand: [\"true\"]\ngpus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"--cpu -1", []string{"--cpu", "-1", "--", "true"}, "--cpu"},
		{"--memory 12XB", []string{"--memory", "12XB", "--", "true"}, "--memory"},
		{"no command", []string{"--name", "x"}, "command"},
		{"--priority 12", []string{"--priority", "12", "--", "true"}, "priority"},
		{"unknown key in -f", []string{"-f", bad}, `unknown key "gpus"`},
	} {
		out, err := s.cli(t, s.token, nil, append([]string{"job", "run"}, tc.args...)...)
		if err == nil {
			t.Errorf("job run %s succeeded, want an error\n%s", tc.name, out)
			continue
		}
		msg := cli.ErrorText(err)
		if !strings.Contains(msg, tc.want) || joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("job run %s: %q (%s), want an invalid error naming %q", tc.name, msg, joule.ErrorCode(err), tc.want)
		} else {
			t.Logf("%s: %q", tc.name, msg)
		}
	}
	// Nothing was submitted.
	p, err := jobClient(s).ListJobs(t.Context(), joule.DefaultWorkspace, httpapi.JobQuery{})
	if err != nil || len(p.Items) != 0 {
		t.Errorf("after bad specs: %d jobs, %v; want none", len(p.Items), err)
	}
}

// TestJobCancelRetry: cancelling a running `sleep 100` ends it cancelled and
// stops its process; retry submits a new job with the same spec.
func TestJobCancelRetry(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)
	c := jobClient(s)
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "sleeper", "--", "sleep", "100"); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	d := waitJobState(t, c, "sleeper", 30*time.Second, joule.JobRunning)
	if out, err := s.cli(t, s.token, nil, "job", "cancel", "sleeper"); err != nil {
		t.Fatalf("job cancel: %v\n%s", err, out)
	}
	out, err := s.cli(t, s.token, nil, "job", "get", "sleeper", "-o", "json")
	var got httpapi.JobDetail
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.State != joule.JobCancelled {
		t.Fatalf("job get after cancel = %v, state %q; want cancelled\n%s", err, got.State, out)
	}
	// The worker stops the process within a poll interval plus its grace;
	// sleep dies on SIGTERM.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err = c.GetJob(t.Context(), joule.DefaultWorkspace, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.History) == 1 && got.History[0].FinishedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled attempt still open after 20 s: %+v", got.History)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid := got.History[0].PID; pid <= 0 || processGroupAlive(pid) {
		t.Errorf("process group %d of the cancelled job is still alive", pid)
	}
	if cancelling := got.History[0].State; cancelling != joule.JobCancelled {
		t.Errorf("cancelled attempt ended %s, want cancelled", cancelling)
	}

	out, err = s.cli(t, s.token, nil, "job", "retry", "sleeper", "-o", "json")
	var retried joule.Job
	if err != nil || json.Unmarshal([]byte(out), &retried) != nil {
		t.Fatalf("job retry: %v\n%s", err, out)
	}
	if retried.ID == d.ID || retried.Spec.Name != "sleeper" || strings.Join(retried.Spec.Command, " ") != "sleep 100" || retried.State.Terminal() {
		t.Errorf("retry = %s %q %v %s; want a new, live job running sleep 100", retried.ID, retried.Spec.Name, retried.Spec.Command, retried.State)
	}
	// The old one keeps its state.
	if old, err := c.GetJob(t.Context(), joule.DefaultWorkspace, d.ID); err != nil || old.State != joule.JobCancelled {
		t.Errorf("original after retry: %v %v, want cancelled", old.State, err)
	}
	// Retrying a job that has not ended is refused.
	if _, err := s.cli(t, s.token, nil, "job", "retry", retried.ID); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("retry of a live job: %v, want conflict", err)
	}
	if _, err := s.cli(t, s.token, nil, "job", "cancel", retried.ID); err != nil {
		t.Errorf("cancel the retry: %v", err)
	}
}

// TestJobScheduleCreateListPauseResume: a `* * * * *` schedule is listed with
// its next run, and can be paused and resumed.
func TestJobScheduleCreateListPauseResume(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)
	if out, err := s.cli(t, s.token, nil, "schedule", "create", "--cron", "* * * * *", "--name", "tick", "--", "true"); err != nil || !strings.Contains(out, "Next run:") {
		t.Fatalf("schedule create = %v\n%s", err, out)
	}
	list := func() joule.Schedule {
		t.Helper()
		out, err := s.cli(t, s.token, nil, "schedule", "list", "-o", "json")
		var ss []joule.Schedule
		if err != nil || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 1 || ss[0].Name != "tick" {
			t.Fatalf("schedule list = %v\n%s\nwant one schedule named tick", err, out)
		}
		return ss[0]
	}
	sc := list()
	if sc.Cron != "* * * * *" || sc.Paused || sc.NextRunAt.IsZero() || sc.NextRunAt.Before(time.Now().Add(-time.Minute)) || sc.NextRunAt.After(time.Now().Add(2*time.Minute)) {
		t.Errorf("schedule = cron %q paused %v next %v, want * * * * *, active, next run within a minute", sc.Cron, sc.Paused, sc.NextRunAt)
	}
	if out, err := s.cli(t, s.token, nil, "schedule", "list"); err != nil || !strings.Contains(out, "tick") || !strings.Contains(out, "NEXT RUN") {
		t.Errorf("schedule list (table) = %v\n%s", err, out)
	}
	if out, err := s.cli(t, s.token, nil, "schedule", "pause", "tick"); err != nil || !strings.Contains(out, "paused") {
		t.Errorf("schedule pause = %v\n%s", err, out)
	}
	if sc := list(); !sc.Paused {
		t.Errorf("after pause, schedule paused = false")
	}
	if out, err := s.cli(t, s.token, nil, "schedule", "resume", "tick"); err != nil || !strings.Contains(out, "resumed") {
		t.Errorf("schedule resume = %v\n%s", err, out)
	}
	if sc := list(); sc.Paused || !sc.NextRunAt.After(time.Now().Add(-time.Second)) {
		t.Errorf("after resume, schedule paused = %v next %v, want active with a next run from now", sc.Paused, sc.NextRunAt)
	}
	if _, err := s.cli(t, s.token, nil, "schedule", "pause", "nope"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("pause of an unknown schedule: %v, want not found", err)
	}
}

// TestJobNodeTopOnce: node top --once prints the node and returns.
func TestJobNodeTopOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"--server", s.base, "--token", s.token, "node", "top", "--once"}, strings.NewReader(""), &out, &out, func(string) string { return "" })
	if err != nil || !strings.Contains(out.String(), "test-node") || !strings.Contains(out.String(), "NODE") {
		t.Errorf("node top --once = %v\n%s\nwant a table with test-node", err, out.String())
	}
}

// TestJobLogsFollow: logs -f on a job that prints a line every 200 ms for
// a second prints every line and ends by itself when the job ends.
func TestJobLogsFollow(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	endJobsAtCleanup(t, s)
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "ticker", "--",
		"sh", "-c", "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done"); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var out syncBuffer
		err := run(t.Context(), []string{"--server", s.base, "--token", s.token, "job", "logs", "ticker", "-f"}, strings.NewReader(""), &out, &out, func(string) string { return "" })
		done <- result{out.String(), err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("job logs -f: %v\n%s", r.err, r.out)
		}
		if want := "line1\nline2\nline3\nline4\nline5\n"; r.out != want {
			t.Errorf("job logs -f printed %q, want %q", r.out, want)
		}
		t.Logf("logs -f ended %v after it began", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("job logs -f did not end within 30 s of a 1 s job")
	}
	if d := waitJobState(t, jobClient(s), "ticker", 10*time.Second, joule.JobSucceeded, joule.JobFailed); d.State != joule.JobSucceeded {
		t.Errorf("ticker = %s (%s)", d.State, d.Reason)
	}
}
