package executor

import (
	"context"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/joule-dev/joule"
)

// modes are the two ways jobs are accounted and killed: in a cgroup where
// this machine allows one, and by process group only.
var modes = []struct {
	name    string
	disable bool
}{{"auto", false}, {"pgrp", true}}

func mustNew(t *testing.T, cfg Config) *Executor {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.SampleInterval == 0 {
		cfg.SampleInterval = 100 * time.Millisecond
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func request(t *testing.T, command ...string) joule.RunRequest {
	t.Helper()
	dir := t.TempDir()
	return joule.RunRequest{
		JobID:       strings.NewReplacer("/", "_", "#", "_").Replace(t.Name()),
		Attempt:     1,
		Command:     command,
		Env:         map[string]string{"JOULE_JOB_ID": "job_test"},
		OutputDir:   filepath.Join(dir, "out"),
		LogPath:     filepath.Join(dir, "logs", "1.log"),
		MetricsFile: filepath.Join(dir, "out", "metrics.json"),
	}
}

func mustStart(t *testing.T, e *Executor, req joule.RunRequest) joule.Run {
	t.Helper()
	r, err := e.Start(t.Context(), req)
	if err != nil {
		t.Fatalf("Start(%q): %v", req.Command, err)
	}
	return r
}

// mustWait waits up to limit for r's result.
func mustWait(t *testing.T, r joule.Run, limit time.Duration) joule.RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	res, err := r.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v (the job did not end within %v)", err, limit)
	}
	return res
}

func runToEnd(t *testing.T, e *Executor, req joule.RunRequest) joule.RunResult {
	t.Helper()
	return mustWait(t, mustStart(t, e, req), 20*time.Second)
}

func readLog(t *testing.T, req joule.RunRequest) string {
	t.Helper()
	b, err := os.ReadFile(req.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGroupGone fails if any process of the group pgid is alive.
func checkGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if pids := liveMembers(procRoot, pgid, -1); len(pids) > 0 {
		t.Errorf("processes %v of group %d survive", pids, pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// waitProcesses waits until r's group has at least n live processes.
func waitProcesses(t *testing.T, r joule.Run, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(liveMembers(procRoot, r.PID(), -1)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("group %d never had %d processes", r.PID(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	tests := []struct {
		cmd    string
		state  joule.JobState
		code   int
		reason string
		signal string
	}{
		{"exit 0", joule.JobSucceeded, 0, "exit code 0", ""},
		{"exit 3", joule.JobFailed, 3, "exit code 3", ""},
		{"kill -9 $$", joule.JobFailed, 137, "killed by SIGKILL", "SIGKILL"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			req := request(t, "sh", "-c", tt.cmd)
			res := runToEnd(t, e, req)
			if res.State != tt.state || res.ExitCode != tt.code || res.Reason != tt.reason || res.Signal != tt.signal {
				t.Errorf("sh -c %q = %s, code %d, reason %q, signal %q; want %s, %d, %q, %q",
					tt.cmd, res.State, res.ExitCode, res.Reason, res.Signal, tt.state, tt.code, tt.reason, tt.signal)
			}
			if res.StartedAt.Before(before.Add(-time.Second)) || res.FinishedAt.Before(res.StartedAt) {
				t.Errorf("StartedAt %v, FinishedAt %v are out of order", res.StartedAt, res.FinishedAt)
			}
			if !strings.HasPrefix(res.Limits, "none:") && !strings.HasPrefix(res.Limits, "cgroup v2:") {
				t.Errorf("Limits = %q, want it to start with none: or cgroup v2:", res.Limits)
			}
		})
	}
}

func TestLogHasStdoutAndStderr(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	req := request(t, "sh", "-c", "echo to-stdout; echo to-stderr >&2; echo again")
	if res := runToEnd(t, e, req); res.State != joule.JobSucceeded {
		t.Fatalf("state = %s (%s), want succeeded", res.State, res.Reason)
	}
	if got, want := readLog(t, req), "to-stdout\nto-stderr\nagain\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func TestLogCap(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	req := request(t, "sh", "-c", "yes 0123456789abcdef | head -c 1048576; echo; echo joule:metric after=1")
	req.LogLimit = 10 << 10
	res := runToEnd(t, e, req)
	if res.State != joule.JobSucceeded {
		t.Fatalf("state = %s (%s), want succeeded", res.State, res.Reason)
	}
	log := readLog(t, req)
	marker := "[joule: log truncated at 10240 bytes]\n"
	if !strings.HasSuffix(log, marker) || strings.Count(log, "[joule:") != 1 {
		t.Errorf("log ends %q, want one %q at the end", log[max(0, len(log)-80):], marker)
	}
	if body := strings.TrimSuffix(log, marker); len(body) != 10240 && len(body) != 10241 {
		t.Errorf("log holds %d bytes before the marker, want 10240 (+1 newline)", len(body))
	}
	if len(res.Metrics) != 1 || res.Metrics[0].Name != "after" {
		t.Errorf("metrics = %v, want the one printed past the cap", res.Metrics)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	script := `echo 'joule:metric loss=0.25 step=3'
echo 'joule:metric loss=oops'
echo 'not a metric loss=1'
echo 'joule:metric acc=0.5 f1=0.75 step=4' >&2
printf '{"loss":0.125,"step":5}\n{"val_loss":0.5}\n' > "$JOULE_METRICS_FILE"`
	req := request(t, "sh", "-c", script)
	res := runToEnd(t, e, req)
	want := []joule.Metric{
		{Name: "loss", Value: 0.25, Step: step(3)},
		{Name: "acc", Value: 0.5, Step: step(4)},
		{Name: "f1", Value: 0.75, Step: step(4)},
		{Name: "loss", Value: 0.125, Step: step(5)},
		{Name: "val_loss", Value: 0.5},
	}
	if diff := cmp.Diff(want, res.Metrics, cmpopts.IgnoreFields(joule.Metric{}, "Time")); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	for _, m := range res.Metrics {
		if m.Time.IsZero() {
			t.Errorf("metric %s has no time", m.Name)
		}
	}
	if log := readLog(t, req); !strings.Contains(log, "joule:metric loss=oops") {
		t.Errorf("log %q lost the bad metric line", log)
	}

	// A bad metrics file records nothing from it and does not fail the job.
	req = request(t, "sh", "-c", `echo 'joule:metric ok=1'; echo '{"loss":"high"}' > "$JOULE_METRICS_FILE"`)
	res = runToEnd(t, e, req)
	if res.State != joule.JobSucceeded || len(res.Metrics) != 1 || res.Metrics[0].Name != "ok" {
		t.Errorf("with a bad metrics file: state %s, metrics %v; want succeeded with only ok", res.State, res.Metrics)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	env := func(t *testing.T, gpus []int) map[string]string {
		req := request(t, "env")
		req.GPUIndices = gpus
		if res := runToEnd(t, e, req); res.State != joule.JobSucceeded {
			t.Fatalf("env: %s (%s)", res.State, res.Reason)
		}
		m := map[string]string{}
		for line := range strings.Lines(readLog(t, req)) {
			k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
			m[k] = v
		}
		if m["JOULE_OUTPUT_DIR"] != req.OutputDir || m["JOULE_METRICS_FILE"] != req.MetricsFile || m["JOULE_JOB_ID"] != "job_test" || m["PATH"] == "" {
			t.Errorf("env %v lacks JOULE_OUTPUT_DIR=%s, JOULE_METRICS_FILE, JOULE_JOB_ID or PATH", m, req.OutputDir)
		}
		return m
	}
	t.Run("one GPU", func(t *testing.T) {
		t.Parallel()
		m := env(t, []int{1})
		if m["CUDA_VISIBLE_DEVICES"] != "1" || m["NVIDIA_VISIBLE_DEVICES"] != "1" {
			t.Errorf("CUDA_VISIBLE_DEVICES=%q NVIDIA_VISIBLE_DEVICES=%q, want 1 and 1", m["CUDA_VISIBLE_DEVICES"], m["NVIDIA_VISIBLE_DEVICES"])
		}
	})
	t.Run("two jobs see different GPUs", func(t *testing.T) {
		t.Parallel()
		a, b := env(t, []int{0}), env(t, []int{1})
		if a["CUDA_VISIBLE_DEVICES"] != "0" || b["CUDA_VISIBLE_DEVICES"] != "1" {
			t.Errorf("CUDA_VISIBLE_DEVICES = %q and %q, want 0 and 1", a["CUDA_VISIBLE_DEVICES"], b["CUDA_VISIBLE_DEVICES"])
		}
	})
	t.Run("no GPUs", func(t *testing.T) {
		t.Parallel()
		m := env(t, nil)
		if v, ok := m["CUDA_VISIBLE_DEVICES"]; !ok || v != "" || m["NVIDIA_VISIBLE_DEVICES"] != "void" {
			t.Errorf("CUDA_VISIBLE_DEVICES=%q (set %v) NVIDIA_VISIBLE_DEVICES=%q, want empty and void", v, ok, m["NVIDIA_VISIBLE_DEVICES"])
		}
	})
	t.Run("work dir", func(t *testing.T) {
		t.Parallel()
		req := request(t, "pwd")
		req.WorkDir = t.TempDir()
		runToEnd(t, e, req)
		if got := strings.TrimSpace(readLog(t, req)); got != req.WorkDir {
			t.Errorf("pwd = %q, want %q", got, req.WorkDir)
		}
	})
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := mustNew(t, Config{DisableCgroups: m.disable, Grace: 2 * time.Second})
			req := request(t, "sleep", "30")
			req.Timeout = time.Second
			start := time.Now()
			r := mustStart(t, e, req)
			res := mustWait(t, r, 10*time.Second)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("timed out after %v, want within 5s", d)
			}
			if res.State != joule.JobTimedOut || res.Reason != "timed out after 1s" || res.Signal != "SIGTERM" {
				t.Errorf("result = %s %q signal %q, want timed_out \"timed out after 1s\" SIGTERM", res.State, res.Reason, res.Signal)
			}
			checkGroupGone(t, r.PID())
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := mustNew(t, Config{DisableCgroups: m.disable})
			t.Run("background children", func(t *testing.T) {
				t.Parallel()
				r := mustStart(t, e, request(t, "sh", "-c", "sleep 100 & sleep 100"))
				waitProcesses(t, r, 3)
				if err := r.Stop(joule.JobCancelled, 5*time.Second); err != nil {
					t.Fatal(err)
				}
				res := mustWait(t, r, 10*time.Second)
				if res.State != joule.JobCancelled || res.Reason != "cancelled" {
					t.Errorf("result = %s %q, want cancelled", res.State, res.Reason)
				}
				checkGroupGone(t, r.PID())
				if err := r.Stop(joule.JobCancelled, 0); err != nil {
					t.Errorf("Stop after the end = %v, want nil", err)
				}
			})
			t.Run("ignores SIGTERM", func(t *testing.T) {
				t.Parallel()
				r := mustStart(t, e, request(t, "sh", "-c", `trap "" TERM; sleep 100 & sleep 100; echo not reached`))
				waitProcesses(t, r, 3)
				time.Sleep(100 * time.Millisecond) // let the trap be set in the children too
				r.Stop(joule.JobCancelled, 500*time.Millisecond)
				res := mustWait(t, r, 10*time.Second)
				if res.State != joule.JobCancelled || res.Signal != "SIGKILL" {
					t.Errorf("result = %s signal %q, want cancelled by SIGKILL", res.State, res.Signal)
				}
				checkGroupGone(t, r.PID())
			})
			t.Run("orphans after a normal exit", func(t *testing.T) {
				t.Parallel()
				r := mustStart(t, e, request(t, "sh", "-c", "sleep 100 & sleep 100 & exit 0"))
				res := mustWait(t, r, 10*time.Second)
				if res.State != joule.JobSucceeded {
					t.Errorf("result = %s %q, want succeeded", res.State, res.Reason)
				}
				checkGroupGone(t, r.PID())
			})
		})
	}
}

func TestStopBadReason(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	r := mustStart(t, e, request(t, "sleep", "100"))
	if err := r.Stop(joule.JobFailed, 0); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("Stop(failed) = %v, want EINVALID", err)
	}
	r.Stop(joule.JobCancelled, 0)
	mustWait(t, r, 10*time.Second)
}

func TestWaitConcurrent(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	r := mustStart(t, e, request(t, "sh", "-c", "sleep 0.2; echo joule:metric x=1; exit 4"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Wait(ctx); err == nil {
		t.Error("Wait with a cancelled context returned no error")
	}
	var wg sync.WaitGroup
	results := make([]joule.RunResult, 4)
	for i := range results {
		wg.Go(func() { results[i] = mustWait(t, r, 10*time.Second) })
	}
	wg.Wait()
	for i := range results {
		if diff := cmp.Diff(results[0], results[i]); diff != "" || results[i].ExitCode != 4 {
			t.Errorf("Wait %d (-first +this), exit code %d:\n%s", i, results[i].ExitCode, diff)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := mustNew(t, Config{DisableCgroups: m.disable, SampleInterval: 50 * time.Millisecond})
			req := request(t, "sh", "-c", `i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done`)
			r := mustStart(t, e, req)
			res := mustWait(t, r, 60*time.Second)
			if res.State != joule.JobSucceeded {
				t.Fatalf("state = %s (%s)", res.State, res.Reason)
			}
			if res.CPUUserSec <= 0 || res.PeakMemory <= 0 {
				t.Errorf("CPUUserSec = %v, PeakMemory = %v, want both > 0", res.CPUUserSec, res.PeakMemory)
			}
			u := r.Usage()
			if len(u) < 2 {
				t.Fatalf("Usage() has %d samples, want at least 2", len(u))
			}
			last := u[len(u)-1]
			if last.CPUUserSec != res.CPUUserSec || last.Processes != 0 {
				t.Errorf("last sample %+v, want CPU %v and no processes", last, res.CPUUserSec)
			}
			for i := 1; i < len(u); i++ {
				if u[i].CPUUserSec < u[i-1].CPUUserSec || u[i].Time.Before(u[i-1].Time) {
					t.Errorf("sample %d goes back: %+v after %+v", i, u[i], u[i-1])
				}
			}
			if !slicesAnyRunning(u) {
				t.Errorf("no sample saw a running process: %+v", u)
			}
			u[0].CPUUserSec = -1
			if r.Usage()[0].CPUUserSec == -1 {
				t.Error("Usage() returned its own slice, want a copy")
			}
		})
	}
}

func slicesAnyRunning(u []joule.UsageSample) bool {
	for _, s := range u {
		if s.Processes > 0 && s.MemoryBytes > 0 {
			return true
		}
	}
	return false
}

func TestGPUProcessesHook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var target int
	e := mustNew(t, Config{SampleInterval: 20 * time.Millisecond, GPUProcesses: func() (map[int]bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return map[int]bool{target: true, 1: true}, nil
	}})
	r := mustStart(t, e, request(t, "sleep", "100"))
	mu.Lock()
	target = r.PID()
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for found := false; !found; {
		for _, s := range r.Usage() {
			if len(s.GPUPIDs) == 1 && s.GPUPIDs[0] == r.PID() {
				found = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample lists the job's pid as a GPU process: %+v", r.Usage())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Stop(joule.JobCancelled, 0)
	mustWait(t, r, 10*time.Second)
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	tests := []struct {
		name string
		edit func(*joule.RunRequest)
		msg  string
	}{
		{"not in PATH", func(r *joule.RunRequest) { r.Command = []string{"no-such-command-xyz"} }, `command: "no-such-command-xyz" not found in PATH`},
		{"job PATH", func(r *joule.RunRequest) { r.Env["PATH"] = "/nonexistent"; r.Command = []string{"sh"} }, `command: "sh" not found in PATH`},
		{"missing path", func(r *joule.RunRequest) { r.Command = []string{"./nope"} }, `command: "./nope" not found or not executable`},
		{"empty", func(r *joule.RunRequest) { r.Command = nil }, "command: must not be empty"},
		{"work dir", func(r *joule.RunRequest) { r.WorkDir = "/nonexistent/dir" }, `work_dir: "/nonexistent/dir" is not a directory`},
		{"no log path", func(r *joule.RunRequest) { r.LogPath = "" }, "log_path: must be set"},
		{"bad GPU", func(r *joule.RunRequest) { r.GPUIndices = []int{-1} }, "gpu_indices: -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(t, "true")
			tt.edit(&req)
			_, err := e.Start(t.Context(), req)
			if joule.ErrorCode(err) != joule.EINVALID || joule.ErrorMessage(err) != tt.msg {
				t.Errorf("Start = %v, want EINVALID %q", err, tt.msg)
			}
		})
	}
}

func TestLimitsOnThisMachine(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	l := e.Layout()
	t.Logf("cgroup layout: %+v; limits: %s", l, e.Limits())
	req := request(t, "true")
	req.Resources = joule.Resources{CPUMillis: 1000, MemoryBytes: 512 << 20}
	res := runToEnd(t, e, req)
	switch {
	case e.cg.mode == cgroupLimit:
		if want := "cgroup v2: cpu.max=100000 100000, memory.max=536870912"; res.Limits != want {
			t.Errorf("Limits = %q, want %q", res.Limits, want)
		}
	case l.Version == LayoutHybrid || l.Version == LayoutV1:
		if want := "none: cgroup v2 cpu/memory controllers are not available here"; l.Version == LayoutHybrid && !strings.HasPrefix(res.Limits, want) {
			t.Errorf("Limits = %q, want it to start with %q", res.Limits, want)
		}
		fallthrough
	default:
		if !strings.HasPrefix(res.Limits, "none:") || !strings.HasSuffix(res.Limits, "the job ran without CPU or memory limits") {
			t.Errorf("Limits = %q, want none: … without CPU or memory limits", res.Limits)
		}
	}
	// The job's cgroup is gone once the run has ended.
	if e.cg.parent != "" {
		if _, err := os.Stat(filepath.Join(e.cg.parent, cgroupName(req.JobID, req.Attempt))); !os.IsNotExist(err) {
			t.Errorf("the job's cgroup is still there: %v", err)
		}
	}
	d := mustNew(t, Config{DisableCgroups: true})
	if res := runToEnd(t, d, request(t, "true")); !strings.HasPrefix(res.Limits, "none: cgroups are disabled") {
		t.Errorf("Limits with cgroups disabled = %q", res.Limits)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if c.Grace != DefaultGrace || c.SampleInterval != DefaultSampleInterval || c.LogLimit != DefaultLogLimit || c.Now == nil || c.Logger == nil {
		t.Errorf("WithDefaults() = %+v", c)
	}
	for _, tt := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Grace = -1 }, "Grace"},
		{func(c *Config) { c.SampleInterval = time.Millisecond }, "SampleInterval"},
		{func(c *Config) { c.LogLimit = -1 }, "LogLimit"},
		{func(c *Config) { c.CgroupRoot = "rel" }, "CgroupRoot"},
		{func(c *Config) { c.Now = nil }, "Now"},
		{func(c *Config) { c.Logger = nil }, "Logger"},
	} {
		c := Config{}.WithDefaults()
		tt.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
}

// startGroup starts a process group that this test owns, as a server that
// crashed would have left it, and reaps its leader in the background (a
// restarted server is not the parent; init reaps).
func startGroup(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-reaped
	})
	return cmd
}

func TestAdopt(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{SampleInterval: 50 * time.Millisecond})
	t.Run("live, then cancelled", func(t *testing.T) {
		t.Parallel()
		cmd := startGroup(t, "sh", "-c", "sleep 100 & sleep 100")
		pid := cmd.Process.Pid
		waitFor(t, func() bool { return len(liveMembers(procRoot, pid, -1)) == 3 })
		req := request(t, "sh", "-c", "sleep 100 & sleep 100")
		r, err := e.Adopt(t.Context(), pid, req)
		if err != nil {
			t.Fatalf("Adopt: %v", err)
		}
		if r.PID() != pid {
			t.Errorf("PID() = %d, want %d", r.PID(), pid)
		}
		waitFor(t, func() bool { u := r.Usage(); return len(u) > 0 && u[len(u)-1].Processes == 3 })
		r.Stop(joule.JobCancelled, time.Second)
		res := mustWait(t, r, 10*time.Second)
		if res.State != joule.JobCancelled {
			t.Errorf("state = %s (%s), want cancelled", res.State, res.Reason)
		}
		if time.Since(res.StartedAt) > time.Minute || res.StartedAt.After(time.Now()) {
			t.Errorf("StartedAt = %v, want the process's start", res.StartedAt)
		}
		checkGroupGone(t, pid)
		if log := readLog(t, req); !strings.Contains(log, "adopted after a server restart") {
			t.Errorf("log = %q, want the adoption note", log)
		}
	})
	t.Run("live, exits on its own", func(t *testing.T) {
		t.Parallel()
		cmd := startGroup(t, "sleep", "0.5")
		r, err := e.Adopt(t.Context(), cmd.Process.Pid, request(t, "/bin/sleep", "0.5"))
		if err != nil {
			t.Fatalf("Adopt: %v", err)
		}
		res := mustWait(t, r, 10*time.Second)
		if res.State != joule.JobFailed || res.Reason != "exit status unknown after restart" || res.ExitCode != -1 {
			t.Errorf("result = %s %q code %d, want failed \"exit status unknown after restart\" -1", res.State, res.Reason, res.ExitCode)
		}
	})
	t.Run("started by another executor", func(t *testing.T) {
		t.Parallel()
		// The first executor stands for the server before its crash; the
		// job's cgroup, where it has one, is found and used again.
		old := mustNew(t, Config{})
		req := request(t, "sh", "-c", "sleep 100 & sleep 100")
		first := mustStart(t, old, req)
		waitProcesses(t, first, 3)
		r, err := e.Adopt(t.Context(), first.PID(), req)
		if err != nil {
			t.Fatalf("Adopt: %v", err)
		}
		if got, want := r.(*run).cg != nil, e.cg.mode != cgroupOff; got != want {
			t.Errorf("adopted run in a cgroup: %v, want %v", got, want)
		}
		r.Stop(joule.JobCancelled, time.Second)
		if res := mustWait(t, r, 10*time.Second); res.State != joule.JobCancelled {
			t.Errorf("state = %s (%s), want cancelled", res.State, res.Reason)
		}
		mustWait(t, first, 10*time.Second)
		checkGroupGone(t, first.PID())
	})
	t.Run("dead", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		_, err := e.Adopt(t.Context(), cmd.Process.Pid, request(t, "true"))
		if joule.ErrorCode(err) != joule.ENOTFOUND {
			t.Errorf("Adopt of a dead pid = %v, want ENOTFOUND", err)
		}
	})
	t.Run("other command", func(t *testing.T) {
		t.Parallel()
		cmd := startGroup(t, "sleep", "100")
		_, err := e.Adopt(t.Context(), cmd.Process.Pid, request(t, "python3", "train.py"))
		if joule.ErrorCode(err) != joule.ENOTFOUND {
			t.Errorf("Adopt of another command = %v, want ENOTFOUND", err)
		}
	})
	t.Run("not a group leader", func(t *testing.T) {
		t.Parallel()
		_, err := e.Adopt(t.Context(), os.Getpid(), request(t, filepath.Base(os.Args[0])))
		if joule.ErrorCode(err) != joule.ENOTFOUND && os.Getpid() != syscall.Getpgrp() {
			t.Errorf("Adopt of a non-leader = %v, want ENOTFOUND", err)
		}
		if _, err := e.Adopt(t.Context(), 0, request(t, "x")); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("Adopt(0) = %v, want EINVALID", err)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKeepSamples: a long-lived process keeps only its latest samples, and
// the last one still holds the cumulative CPU time.
func TestKeepSamples(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{DisableCgroups: true, SampleInterval: 20 * time.Millisecond})
	req := request(t, "sh", "-c", `i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done`)
	req.KeepSamples = 3
	r := mustStart(t, e, req)
	res := mustWait(t, r, 60*time.Second)
	u := r.Usage()
	if len(u) == 0 || len(u) > 3 {
		t.Fatalf("Usage() has %d samples, want 1 to 3", len(u))
	}
	if last := u[len(u)-1]; last.CPUUserSec != res.CPUUserSec || res.CPUUserSec <= 0 {
		t.Errorf("last sample %+v, want the cumulative CPU %v", last, res.CPUUserSec)
	}
}

// TestAdvanceKeepsTheTotal: readings of one job's CPU time that split it
// differently between user and system time (as the group's /proc scan and
// the reaped leader's rusage do for a shell loop that forks $(date))
// advance the total to the larger reading's, never to the larger user
// time plus the larger system time, and neither part goes down.
func TestAdvanceKeepsTheTotal(t *testing.T) {
	var r run
	check := func(step string, user, sys float64) {
		t.Helper()
		if math.Abs(r.user-user) > 1e-9 || math.Abs(r.sys-sys) > 1e-9 {
			t.Errorf("%s: user %.4f sys %.4f, want %.4f and %.4f", step, r.user, r.sys, user, sys)
		}
	}
	r.advance(0.71, 1.52) // the /proc scan before the exit
	check("first reading", 0.71, 1.52)
	r.advance(1.64, 0.53) // the rusage: a smaller total, split the other way
	check("a smaller total", 0.71, 1.52)
	r.advance(1.01, 1.42) // 0.2 s more, all of the increase in user time
	check("more user, less system", 0.91, 1.52)
	r.advance(1.01, 1.72) // both up: the reading itself
	check("both up", 1.01, 1.72)
}

// TestForkingJobCPU: a shell loop that runs one $(date) after another is
// on at most one core at a time, so its CPU time is at most its wall time
// (with 10 % for the overlap of each fork). Taking the larger user and the
// larger system time of differently split readings counted up to 1.4
// times its wall time.
func TestForkingJobCPU(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			e := mustNew(t, Config{DisableCgroups: m.disable, SampleInterval: 50 * time.Millisecond})
			req := request(t, "sh", "-c", `end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done`)
			res := mustWait(t, mustStart(t, e, req), 60*time.Second)
			if res.State != joule.JobSucceeded {
				t.Fatalf("state = %s (%s)", res.State, res.Reason)
			}
			cpu, wall := res.CPUUserSec+res.CPUSystemSec, res.FinishedAt.Sub(res.StartedAt).Seconds()
			t.Logf("CPU %.2f s (user %.2f, system %.2f) in %.2f s", cpu, res.CPUUserSec, res.CPUSystemSec, wall)
			if cpu <= 0 || cpu > 1.1*wall {
				t.Errorf("CPU %.2f s (user %.2f, system %.2f) in %.2f s of wall time; want over 0 and at most 1.1 times the wall time", cpu, res.CPUUserSec, res.CPUSystemSec, wall)
			}
		})
	}
}
