package compute_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/executor"
	"github.com/joule-dev/joule/internal/nodeinfo"
	"github.com/joule-dev/joule/internal/queue"
	"github.com/joule-dev/joule/internal/sqlite"
)

// harness is the compute layer on real parts: a SQLite store, River on the
// same file, the process executor, one dispatcher and one worker for a node
// registered with the capacity the test chooses.
type harness struct {
	store   joule.Store
	svc     *compute.Service
	disp    *compute.Dispatcher
	ws      joule.Workspace
	node    joule.Node
	dataDir string
}

func newHarness(t *testing.T, cpus, gpus int) *harness {
	t.Helper()
	return newHarnessWith(t, cpus, gpus, nil)
}

// newHarnessWith is newHarness with a hook that may change the dispatcher's
// and the worker's configuration before they are made.
func newHarnessWith(t *testing.T, cpus, gpus int, configure func(*compute.DispatcherConfig, *compute.WorkerConfig)) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "joule.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := &harness{store: store, dataDir: dir}
	h.ws = joule.Workspace{ID: joule.NewID("ws", now), Name: "team", CreatedAt: now}
	if err := store.CreateWorkspace(ctx, h.ws); err != nil {
		t.Fatal(err)
	}
	// The node's inventory comes from the real detection, with a fake at
	// the NVML boundary reporting the GPUs; CPU and memory are then set to
	// the capacity the test wants.
	n, err := nodeinfo.Detect(ctx, nodeinfo.Config{Name: "node-a", GPUs: fakeNVML{n: gpus}})
	if err != nil {
		t.Fatal(err)
	}
	n.ID, n.CPUCores, n.MemoryBytes, n.State, n.CreatedAt, n.LastHeartbeat = joule.NewID("node", now), cpus, 8<<30, joule.NodeReady, now, now
	if h.node, err = store.UpsertNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(executor.Config{Grace: 2 * time.Second, SampleInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var disp *compute.Dispatcher
	wcfg := compute.WorkerConfig{
		Store: store, Runtime: exec, NodeID: h.node.ID, DataDir: dir, Poll: 100 * time.Millisecond, Grace: 2 * time.Second,
		OnFinish: func(joule.Job) { disp.Wake() },
	}
	var q *queue.Queue
	dcfg := compute.DispatcherConfig{
		Store: store, Interval: 100 * time.Millisecond,
		Enqueue: func(ctx context.Context, tx any, j joule.Job) error {
			_, err := q.EnqueueTx(ctx, tx, j.ID, queue.EnqueueOpts{Queue: strings.ToLower(j.NodeID), Attempt: j.Attempts + 1})
			return err
		},
	}
	if configure != nil {
		configure(&dcfg, &wcfg)
	}
	w, err := compute.NewWorker(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqlite.WriteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	q, err = queue.OpenSQLite(ctx, db, queue.Config{
		Workers: 64, Queue: strings.ToLower(h.node.ID), PollInterval: 50 * time.Millisecond,
		Handler: func(ctx context.Context, j queue.Job) error { return w.Handle(ctx, j.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	disp, err = compute.NewDispatcher(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	h.disp = disp
	qctx, cancel := context.WithCancel(ctx)
	if err := q.Start(qctx); err != nil {
		t.Fatal(err)
	}
	if err := disp.Start(qctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		disp.Stop()
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = q.Stop(sctx)
	})
	h.svc = &compute.Service{Store: store, DataDir: dir, Wake: disp.Wake}
	return h
}

// fakeNVML stands in for NVML: n GPUs, idle.
type fakeNVML struct{ n int }

var _ nodeinfo.GPUSource = fakeNVML{}

func (f fakeNVML) GPUs() ([]joule.GPU, error) {
	var gs []joule.GPU
	for i := range f.n {
		gs = append(gs, joule.GPU{Index: i, UUID: fmt.Sprintf("GPU-fake-%d", i), Name: "Fake H100", MemoryBytes: 80 << 30})
	}
	return gs, nil
}

func (f fakeNVML) Utilization() ([]float64, error) { return make([]float64, f.n), nil }

func (h *harness) submit(t *testing.T, spec joule.JobSpec) joule.Job {
	t.Helper()
	j, err := h.svc.Submit(context.Background(), h.ws.ID, spec, "test")
	if err != nil {
		t.Fatalf("Submit(%s): %v", spec.Name, err)
	}
	return j
}

// wait polls until the job is in one of the states, or fails after 60 s.
func (h *harness) wait(t *testing.T, id string, states ...joule.JobState) joule.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := h.store.GetJob(context.Background(), h.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(states, j.State) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s) after 60 s, want %v", id, j.State, j.Reason, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) attempts(t *testing.T, id string) []joule.Attempt {
	t.Helper()
	as, err := h.store.ListAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// groupAlive reports whether any process of process group pgid exists.
func groupAlive(pgid int) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			_ = pid
			return true
		}
	}
	return false
}

var done = []joule.JobState{joule.JobSucceeded, joule.JobFailed, joule.JobCancelled, joule.JobTimedOut}

// TestNeverOvercommits: twenty 1-CPU jobs on a 2-core node never run more
// than two at once, and all succeed.
func TestNeverOvercommits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	var ids []string
	for i := range 20 {
		ids = append(ids, h.submit(t, joule.JobSpec{Name: fmt.Sprintf("s%d", i), Command: []string{"sleep", "1"}, Resources: joule.Resources{CPUMillis: 1000}}).ID)
	}
	type span struct{ start, end time.Time }
	var spans []span
	for _, id := range ids {
		j := h.wait(t, id, done...)
		if j.State != joule.JobSucceeded {
			t.Errorf("job %s: %s (%s)", id, j.State, j.Reason)
		}
		for _, a := range h.attempts(t, id) {
			spans = append(spans, span{a.StartedAt, *a.FinishedAt})
		}
	}
	most := 0
	for _, s := range spans {
		at := 0
		for _, o := range spans {
			if !o.start.After(s.start) && o.end.After(s.start) {
				at++
			}
		}
		most = max(most, at)
	}
	if most > 2 || most < 1 {
		t.Errorf("at most %d jobs ran at once, want 2", most)
	}
	t.Logf("20 jobs, at most %d at once", most)
}

// TestRetriesThenFails: exit 3 with two retries makes three attempts, ends
// failed with exit code 3, and each attempt's log is kept.
func TestRetriesThenFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	j := h.submit(t, joule.JobSpec{Name: "three", Command: []string{"sh", "-c", "echo attempt $JOULE_ATTEMPT; exit 3"}, Retries: 2, Backoff: joule.Duration(10 * time.Millisecond)})
	j = h.wait(t, j.ID, done...)
	if j.State != joule.JobFailed || j.ExitCode == nil || *j.ExitCode != 3 || j.Attempts != 3 {
		t.Fatalf("job = %s exit %v after %d attempts, want failed exit 3 after 3", j.State, j.ExitCode, j.Attempts)
	}
	as := h.attempts(t, j.ID)
	if len(as) != 3 {
		t.Fatalf("%d attempts recorded, want 3", len(as))
	}
	for _, a := range as {
		b, err := os.ReadFile(h.svc.LogPath(j.ID, a.N))
		if err != nil || strings.TrimSpace(string(b)) != fmt.Sprintf("attempt %d", a.N) {
			t.Errorf("log of attempt %d = %q, %v", a.N, b, err)
		}
	}
}

// TestTimeoutLeavesNothing: a 1 s timeout ends `sleep 30` as timed_out, and
// no process of its group is left.
func TestTimeoutLeavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	j := h.submit(t, joule.JobSpec{Name: "slow", Command: []string{"sleep", "30"}, Timeout: joule.Duration(time.Second)})
	j = h.wait(t, j.ID, done...)
	a := h.attempts(t, j.ID)[0]
	if j.State != joule.JobTimedOut {
		t.Fatalf("job = %s (%s), want timed_out", j.State, j.Reason)
	}
	if took := a.FinishedAt.Sub(a.StartedAt); took > 5*time.Second {
		t.Errorf("timed out after %v, want within 5 s", took)
	}
	if groupAlive(a.PID) {
		t.Errorf("a process of group %d survived the timeout", a.PID)
	}
}

// TestCancelLeavesNothing: cancelling a running shell with a background
// child leaves no process behind.
func TestCancelLeavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	j := h.submit(t, joule.JobSpec{Name: "two-sleeps", Command: []string{"sh", "-c", "sleep 100 & sleep 100"}})
	h.wait(t, j.ID, joule.JobRunning)
	var pid int
	for pid == 0 {
		if as := h.attempts(t, j.ID); len(as) > 0 {
			pid = as[0].PID
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := h.svc.Cancel(context.Background(), h.ws.ID, j.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		as := h.attempts(t, j.ID)
		if as[0].FinishedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cancelled attempt did not end in 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if j := h.wait(t, j.ID, done...); j.State != joule.JobCancelled {
		t.Errorf("job = %s, want cancelled", j.State)
	}
	if groupAlive(pid) {
		t.Errorf("a process of group %d survived the cancel", pid)
	}
}

// TestGPUIsolation: on a node with two GPUs, two 1-GPU jobs each see
// exactly one, and not the same one.
func TestGPUIsolation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 4, 2)
	var ids []string
	for i := range 2 {
		ids = append(ids, h.submit(t, joule.JobSpec{Name: fmt.Sprintf("gpu%d", i), Resources: joule.Resources{CPUMillis: 1000, GPUs: 1},
			Command: []string{"sh", "-c", `printf %s "$CUDA_VISIBLE_DEVICES" > "$JOULE_OUTPUT_DIR/gpus"; sleep 1`}}).ID)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if j := h.wait(t, id, done...); j.State != joule.JobSucceeded {
			t.Fatalf("job %s: %s (%s)", id, j.State, j.Reason)
		}
		b, err := os.ReadFile(filepath.Join(h.svc.OutputDir(id), "gpus"))
		if err != nil {
			t.Fatal(err)
		}
		if v := string(b); v != "0" && v != "1" {
			t.Errorf("CUDA_VISIBLE_DEVICES = %q, want one index", v)
		}
		seen[string(b)] = true
	}
	if len(seen) != 2 {
		t.Errorf("the two jobs saw %v, want different GPUs", seen)
	}
}

// TestMetricsAndArtifacts: printed metrics and files in JOULE_OUTPUT_DIR
// are recorded.
func TestMetricsAndArtifacts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	j := h.submit(t, joule.JobSpec{Name: "train", Command: []string{"sh", "-c", `echo weights > "$JOULE_OUTPUT_DIR/model.bin"; echo "joule:metric loss=0.25 step=3"`}})
	if j = h.wait(t, j.ID, done...); j.State != joule.JobSucceeded {
		t.Fatalf("job: %s (%s)", j.State, j.Reason)
	}
	ms, err := h.store.ListJobMetrics(context.Background(), j.ID)
	if err != nil || len(ms) != 1 || ms[0].Name != "loss" || ms[0].Value != 0.25 || ms[0].Step == nil || *ms[0].Step != 3 {
		t.Errorf("metrics = %+v, %v; want loss=0.25 step=3", ms, err)
	}
	if _, err := os.Stat(filepath.Join(h.svc.OutputDir(j.ID), "model.bin")); err != nil {
		t.Errorf("artifact: %v", err)
	}
}

// TestDependencies: B waits for A to succeed, and fails with "dependency
// failed" when A fails.
func TestDependencies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, 0)
	a := h.submit(t, joule.JobSpec{Name: "prep", Command: []string{"sleep", "1"}})
	b := h.submit(t, joule.JobSpec{Name: "train", Command: []string{"true"}, DependsOn: []string{"prep"}})
	a = h.wait(t, a.ID, done...)
	b = h.wait(t, b.ID, done...)
	if b.State != joule.JobSucceeded || b.StartedAt.Before(*a.FinishedAt) {
		t.Errorf("B %s started %v, A finished %v: want B after A", b.State, b.StartedAt, a.FinishedAt)
	}
	a2 := h.submit(t, joule.JobSpec{Name: "prep2", Command: []string{"false"}})
	b2 := h.submit(t, joule.JobSpec{Name: "train2", Command: []string{"true"}, DependsOn: []string{a2.ID}})
	b2 = h.wait(t, b2.ID, done...)
	if b2.State != joule.JobFailed || !strings.Contains(b2.Reason, "dependency failed") || b2.Attempts != 0 {
		t.Errorf("B2 = %s (%s) after %d attempts, want failed 'dependency failed' without running", b2.State, b2.Reason, b2.Attempts)
	}
	if _, err := h.svc.Submit(context.Background(), h.ws.ID, joule.JobSpec{Name: "x", Command: []string{"true"}, DependsOn: []string{"nope"}}, "t"); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("unknown dependency: %v, want invalid", err)
	}
}

// TestCronCreatesOneJobAMinute drives the dispatcher with a fake clock.
func TestCronCreatesOneJobAMinute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", t0), Name: "team", CreatedAt: t0}
	if err := store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	now := t0
	clock := func() time.Time { return now }
	svc := &compute.Service{Store: store, DataDir: dir, Now: clock}
	if _, err := svc.CreateSchedule(ctx, ws.ID, "tick", "* * * * *", joule.JobSpec{Command: []string{"true"}}, "t"); err != nil {
		t.Fatal(err)
	}
	d, err := compute.NewDispatcher(compute.DispatcherConfig{Store: store, Now: clock,
		Enqueue: func(context.Context, any, joule.Job) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		js, _, err := store.ListJobs(ctx, joule.JobFilter{WorkspaceID: ws.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(js)
	}
	for _, step := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {20 * time.Second, 0}, {30 * time.Second, 1}, {50 * time.Second, 1}, {90 * time.Second, 2}, {10 * time.Minute, 3}} {
		now = t0.Add(step.at)
		if err := d.Round(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != step.want {
			t.Errorf("at +%v: %d jobs, want %d", step.at, got, step.want)
		}
	}
	if _, err := svc.CreateSchedule(ctx, ws.ID, "bad", "61 * * * *", joule.JobSpec{Command: []string{"true"}}, "t"); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("bad cron: %v, want invalid", err)
	}
}

func TestAddEnergy(t *testing.T) {
	t.Parallel()
	a := &joule.JobEnergy{Joules: 10, EstimatedJoules: 10, Method: "estimated:tdp-curve@1", EmissionsG: 2, IntensityGPerKWh: 400, IntensitySource: "s1", PUE: 1.5}
	b := &joule.JobEnergy{Joules: 30, MeasuredJoules: 30, Method: "measured:rapl", EmissionsG: 3, IntensityGPerKWh: 200, IntensitySource: "s1", PUE: 1.1}
	if compute.AddEnergy(nil, nil) != nil || compute.AddEnergy(a, nil) != a {
		t.Error("AddEnergy with nils")
	}
	s := compute.AddEnergy(a, b)
	if s.Joules != 40 || s.MeasuredJoules != 30 || s.EstimatedJoules != 10 || s.EmissionsG != 5 {
		t.Errorf("sum = %+v", s)
	}
	if s.IntensityGPerKWh != 250 || s.PUE != 1.2 || s.Method != "estimated:tdp-curve@1 | measured:rapl" || s.IntensitySource != "s1" {
		t.Errorf("weighted fields = %+v", s)
	}
	if a.Joules != 10 {
		t.Error("AddEnergy changed its input")
	}
}
