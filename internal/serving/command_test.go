package serving

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/executor"
)

// TestMain doubles as the model server of the command tests: run with
// JOULE_TEST_MODEL_SERVER set, the test binary serves a toy model (the
// prediction is twice the feature x) on 127.0.0.1:$PORT.
func TestMain(m *testing.M) {
	if os.Getenv("JOULE_TEST_MODEL_SERVER") != "" {
		testModelServer()
		return
	}
	os.Exit(m.Run())
}

func testModelServer() {
	if ms, _ := time.ParseDuration(os.Getenv("START_DELAY")); ms > 0 {
		time.Sleep(ms)
	}
	if os.Getenv("NEVER_READY") != "" {
		http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "loading", http.StatusServiceUnavailable) })
	} else {
		http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	}
	http.HandleFunc("/predict", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Instances []map[string]float64 `json:"instances"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error": "bad body"}`, http.StatusBadRequest)
			return
		}
		out := []float64{}
		for _, in := range req.Instances {
			if in["x"] < 0 {
				fmt.Println("asked to crash")
				os.Exit(3)
			}
			out = append(out, 2*in["x"])
		}
		if len(req.Instances) > 0 && req.Instances[0]["x"] == 99 {
			out = out[1:] // a wrong answer: one prediction short
		}
		json.NewEncoder(w).Encode(map[string]any{"predictions": out})
	})
	fmt.Println("toy model server listening on", os.Getenv("PORT"))
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

func commandManager(t *testing.T, f *fixture) *Manager {
	t.Helper()
	exe, err := executor.New(executor.Config{DisableCgroups: true, SampleInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{Store: f.store, DataDir: f.dir, Runtime: exe})
	t.Cleanup(m.Stop)
	return m
}

func serverSpec(name string, env map[string]string) joule.Deployment {
	bin, _ := os.Executable()
	e := map[string]string{"JOULE_TEST_MODEL_SERVER": "1"}
	for k, v := range env {
		e[k] = v
	}
	return joule.Deployment{Name: name, Kind: joule.DeploymentCommand, MinReplicas: 0, MaxReplicas: 2,
		ColdStartTimeout: joule.Duration(20 * time.Second), Command: &joule.DeploymentServer{Args: []string{bin}, Env: e}}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// TestCommandDeployment runs the user's own model server as a deployment
// of kind command: the first request starts its process (cold start) and
// is answered through joule's endpoint; its CPU time is the replica's; a
// server that dies is replaced at the next health check; scaling to zero
// ends the process; a wrong answer and a refused body are errors naming
// the problem.
func TestCommandDeployment(t *testing.T) {
	f := newFixture(t)
	m := commandManager(t, f)
	ctx := t.Context()
	spec := serverSpec("toy", map[string]string{"START_DELAY": "150ms"})
	spec.IdleTimeout = joule.Duration(time.Millisecond)
	d, err := m.Create(ctx, f.ws.ID, spec, "tok_test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if d.Kind != joule.DeploymentCommand || d.Command.HealthPath != "/healthz" || d.Command.PredictPath != "/predict" || d.Status.Replicas != 0 {
		t.Fatalf("created: %+v", d)
	}
	resp, err := predict(t, m, f.ws.ID, "toy", `{"instances": [{"x": 1.5}, {"x": 4}]}`)
	if err != nil {
		t.Fatalf("first predict (cold start): %v", err)
	}
	if fmt.Sprint(resp.Predictions) != "[3 8]" || resp.Deployment != "toy" {
		t.Fatalf("predictions = %+v", resp)
	}
	got, _ := m.Get(ctx, f.ws.ID, "toy")
	if got.Status.Replicas != 1 || got.Status.ColdStartMS < 150 {
		t.Fatalf("after the cold start: %d replicas, cold start %.1f ms (the server sleeps 150 ms before it listens)", got.Status.Replicas, got.Status.ColdStartMS)
	}
	t.Logf("cold start of a command replica: %.1f ms", got.Status.ColdStartMS)
	rt, _ := m.lookup(f.ws.ID, "toy")
	rt.mu.Lock()
	first := rt.tracks[0].replicas[0]
	rt.mu.Unlock()
	pid := first.proc.run.PID()
	if !alive(pid) {
		t.Fatalf("model server pid %d not running", pid)
	}

	// Errors: a body the server refuses, an answer one row short, a
	// batch over the limit (checked before forwarding).
	if _, err := predict(t, m, f.ws.ID, "toy", `{"instances": [{"x": "a"}]}`); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(err.Error(), "the model server refused the request (400)") {
		t.Errorf("refused body: %v", err)
	}
	if _, err := predict(t, m, f.ws.ID, "toy", `{"instances": [{"x": 99}, {"x": 1}]}`); joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(err.Error(), "answered 1 predictions for 2 rows") {
		t.Errorf("short answer: %v", err)
	}
	if _, err := predict(t, m, f.ws.ID, "toy", `{"instances": []}`); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(err.Error(), "empty batch") {
		t.Errorf("empty batch: %v", err)
	}

	// The process's CPU time is the replica's.
	var cpu float64
	for range 100 {
		for _, u := range m.Usage() {
			if u.DeploymentID == d.ID {
				cpu = u.CPUSeconds
			}
		}
		if cpu > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cpu <= 0 {
		t.Errorf("no CPU time for the command replica")
	}

	// A crash: the request fails, the health check removes the replica,
	// and the next request starts another.
	if _, err := predict(t, m, f.ws.ID, "toy", `{"instances": [{"x": -1}]}`); joule.ErrorCode(err) != joule.EUNAVAILABLE {
		t.Errorf("a request that crashes the server: %v, want unavailable", err)
	}
	<-first.proc.exited
	m.Tick(ctx)
	var removed *joule.DeploymentEvent
	for _, e := range events(t, m, f.ws.ID, "toy") {
		if strings.Contains(e.Reason, "removed: its model server exited") {
			removed = &e
		}
	}
	if removed == nil || removed.From != 1 || removed.To != 0 || !strings.Contains(removed.Reason, "exit code 3") || !strings.Contains(removed.Reason, "asked to crash") {
		t.Fatalf("no event for the crashed server with its exit and log: %+v", removed)
	}
	if resp, err := predict(t, m, f.ws.ID, "toy", `{"instances": [{"x": 2}]}`); err != nil || fmt.Sprint(resp.Predictions) != "[4]" {
		t.Fatalf("after the crash: %+v, %v", resp, err)
	}

	// Idle: scale to zero ends the process.
	rt.mu.Lock()
	second := rt.tracks[0].replicas[0]
	rt.mu.Unlock()
	m.Tick(ctx) // closes the window that saw the last request
	time.Sleep(5 * time.Millisecond)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "toy"); n != 0 {
		t.Fatalf("idle: %d replicas, want 0", n)
	}
	select {
	case <-second.proc.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the model server still runs after scaling to zero")
	}
}

// TestCommandDeploymentNotReady: a server that never becomes healthy, or
// a command that does not exist, fails the request with 503 and says why
// (the log's end included); bad specs are refused naming the field.
func TestCommandDeploymentNotReady(t *testing.T) {
	f := newFixture(t)
	m := commandManager(t, f)
	ctx := t.Context()
	spec := serverSpec("slow", map[string]string{"NEVER_READY": "1"})
	spec.ColdStartTimeout = joule.Duration(time.Second)
	if _, err := m.Create(ctx, f.ws.ID, spec, "t"); err != nil {
		t.Fatal(err)
	}
	_, err := predict(t, m, f.ws.ID, "slow", `{"instances": [{"x": 1}]}`)
	if joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(err.Error(), "could not start a replica") && !strings.Contains(err.Error(), "cold-start timeout") {
		t.Fatalf("never ready: %v", err)
	}
	missing := joule.Deployment{Name: "missing", Kind: joule.DeploymentCommand, Command: &joule.DeploymentServer{Args: []string{"no-such-model-server-xyz"}}}
	if _, err := m.Create(ctx, f.ws.ID, missing, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := predict(t, m, f.ws.ID, "missing", `{"instances": [{"x": 1}]}`); joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(err.Error(), "no-such-model-server-xyz") {
		t.Fatalf("missing command: %v", err)
	}
	for _, c := range []struct {
		d    joule.Deployment
		want string
	}{
		{joule.Deployment{Name: "a", Kind: joule.DeploymentCommand}, "command.args: required"},
		{joule.Deployment{Name: "b", Kind: "docker", Command: &joule.DeploymentServer{Args: []string{"x"}}}, `kind: "docker"`},
		{joule.Deployment{Name: "c", Kind: joule.DeploymentCommand, Command: &joule.DeploymentServer{Args: []string{"x"}, HealthPath: "health"}}, "command.health_path"},
		{joule.Deployment{Name: "d", Model: "credit", Command: &joule.DeploymentServer{Args: []string{"x"}}}, "command: only a deployment of kind"},
	} {
		if _, err := m.Create(ctx, f.ws.ID, c.d, "t"); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.d, err, c.want)
		}
	}
	if _, err := m.Traffic(ctx, f.ws.ID, "slow", joule.TrafficRequest{ClearCanary: true}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("traffic on a command deployment: %v", err)
	}
}

// TestStopEndsModelServers: stopping the manager (the server shutting
// down) leaves no model server process behind.
func TestStopEndsModelServers(t *testing.T) {
	f := newFixture(t)
	m := commandManager(t, f)
	ctx := t.Context()
	spec := serverSpec("toy", nil)
	spec.MinReplicas = 2
	if _, err := m.Create(ctx, f.ws.ID, spec, "t"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	rt, _ := m.lookup(f.ws.ID, "toy")
	rt.mu.Lock()
	var pids []int
	for _, r := range rt.tracks[0].replicas {
		pids = append(pids, r.proc.run.PID())
	}
	rt.mu.Unlock()
	if len(pids) != 2 {
		t.Fatalf("%d model servers at min 2", len(pids))
	}
	m.Stop()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("model server %d still runs after Stop", pid)
		}
	}
}
