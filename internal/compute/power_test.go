package compute_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/scheduler"
	"github.com/joule-dev/joule/internal/sqlite"
)

// TestPowerHooksFireWithHysteresis drives the dispatcher round by round on a
// fake clock, with real shell hooks that write to a file: idle nodes sleep
// only after IdleAfter idle and MinDwell awake, one node stays awake, queued
// work that does not fit wakes a node at once, and a woken node is not put
// back to sleep before its dwell.
func TestPowerHooksFireWithHysteresis(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	now := t0
	ws := joule.Workspace{ID: joule.NewID("ws", t0), Name: "team", CreatedAt: t0}
	if err := store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := store.UpsertNode(ctx, joule.Node{ID: "node_" + name, Name: name, CPUCores: 4, MemoryBytes: 8 << 30,
			State: joule.NodeReady, CreatedAt: t0, LastHeartbeat: t0}); err != nil {
			t.Fatal(err)
		}
	}
	hooks := filepath.Join(dir, "hooks")
	d, err := compute.NewDispatcher(compute.DispatcherConfig{
		Store: store, Now: func() time.Time { return now },
		Enqueue: func(context.Context, any, joule.Job) error { return nil },
		Power: &compute.PowerConfig{
			Policy: scheduler.PowerPolicy{IdleAfter: 10 * time.Minute, MinDwell: 30 * time.Minute, MinAwake: 1},
			OnIdle: `echo "sleep $JOULE_NODE_NAME" >> ` + hooks,
			OnWake: `echo "wake $JOULE_NODE_NAME" >> ` + hooks,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fired := func() []string {
		b, err := os.ReadFile(hooks)
		if os.IsNotExist(err) {
			return nil
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	at := func(d time.Duration) { now = t0.Add(d) }
	round := func() {
		t.Helper()
		if err := d.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []time.Duration{0, 9 * time.Minute, 29 * time.Minute} {
		at(m)
		round()
		if f := fired(); f != nil {
			t.Fatalf("at +%s: hooks fired %v, want none (idle-after 10m, dwell 30m)", m, f)
		}
	}
	at(30 * time.Minute)
	round()
	if f := fired(); strings.Join(f, ",") != "sleep a,sleep b" {
		t.Fatalf("at +30m: hooks %v, want a and b asleep, c kept awake", f)
	}
	svc := &compute.Service{Store: store, Now: func() time.Time { return now }}
	submit := func(name string) joule.Job {
		j, err := svc.Submit(ctx, ws.ID, joule.JobSpec{Name: name, Command: []string{"true"}, Resources: joule.Resources{CPUMillis: 4000}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// One 4-CPU job fills c; a second one wakes a node at once.
	at(31 * time.Minute)
	first := submit("first")
	at(31*time.Minute + 100*time.Millisecond)
	second := submit("second")
	round()
	if got, _ := store.GetJob(ctx, ws.ID, first.ID); got.NodeID != "node_c" {
		t.Fatalf("first job on %q (%s %s), want c (the only awake node)", got.NodeID, got.State, got.Reason)
	}
	if f := fired(); len(f) != 3 || f[2] != "wake a" {
		t.Fatalf("hooks %v, want a woken for the second job", f)
	}
	at(31*time.Minute + time.Second)
	round()
	if got, _ := store.GetJob(ctx, ws.ID, second.ID); got.NodeID != "node_a" {
		t.Fatalf("second job on %q (%s), want a, just woken", got.NodeID, got.Reason)
	}
	// a's job ends at +35m: a is idle from then, but it woke at +31m
	// (and 0.1 s), so it may not sleep before +61m.
	at(35 * time.Minute)
	if _, err := store.UpdateJob(ctx, second.ID, nil, "done", func(j *joule.Job) error {
		j.State, j.FinishedAt = joule.JobSucceeded, &now
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []time.Duration{35, 50, 61} {
		at(m * time.Minute)
		round()
		if f := fired(); len(f) != 3 {
			t.Fatalf("at +%dm: hooks %v, want no more (a's dwell runs past +61m)", m, f)
		}
	}
	at(62 * time.Minute)
	round()
	if f := fired(); len(f) != 4 || f[3] != "sleep a" {
		t.Fatalf("at +62m: hooks %v, want a asleep again", f)
	}
	evs, _, err := store.ListEvents(ctx, "", joule.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		if strings.HasPrefix(e.Kind, "node.") {
			kinds = append(kinds, e.Kind+" "+e.Subject)
		}
	}
	slices.Sort(kinds) // events of one round share a millisecond, so their IDs do not order them
	if strings.Join(kinds, ",") != "node.sleep node_a,node.sleep node_a,node.sleep node_b,node.wake node_a" {
		t.Errorf("events %v", kinds)
	}
}

// TestPowerHookFailureKeepsState: a failing hook leaves the node awake and
// records why.
func TestPowerHookFailureKeepsState(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	now := t0
	for _, name := range []string{"a", "b"} {
		if _, err := store.UpsertNode(ctx, joule.Node{ID: "node_" + name, Name: name, CPUCores: 4, State: joule.NodeReady, CreatedAt: t0, LastHeartbeat: t0}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := compute.NewDispatcher(compute.DispatcherConfig{
		Store: store, Now: func() time.Time { return now },
		Enqueue: func(context.Context, any, joule.Job) error { return nil },
		Power:   &compute.PowerConfig{OnIdle: "echo cannot suspend >&2; exit 3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []time.Duration{0, time.Hour, 2 * time.Hour} {
		now = t0.Add(m)
		if err := d.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs, _, _ := store.ListEvents(ctx, "", joule.ListOptions{Limit: 100})
	if len(evs) == 0 || evs[0].Kind != "node.power_hook_failed" || !strings.Contains(evs[0].Message, "cannot suspend") {
		t.Fatalf("events %+v, want a failed hook with its output", evs)
	}
}

// TestDispatcherPrefersGreenNodes: with NodeCarbon set, the dispatcher
// places a job on the node with the fewest grams per CPU-second, not the
// fullest one that fits.
func TestDispatcherPrefersGreenNodes(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", t0), Name: "team", CreatedAt: t0}
	if err := store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	zones := map[string]string{"node_de": "DE", "node_no": "NO"}
	for id, zone := range zones {
		if _, err := store.UpsertNode(ctx, joule.Node{ID: id, Name: id, CPUCores: 4, MemoryBytes: 8 << 30, State: joule.NodeReady,
			Labels: map[string]string{"joule.dev/carbon-zone": zone}, CreatedAt: t0, LastHeartbeat: t0}); err != nil {
			t.Fatal(err)
		}
	}
	intensity := map[string]float64{"DE": 380, "NO": 30}
	var placed joule.Job
	d, err := compute.NewDispatcher(compute.DispatcherConfig{
		Store: store, Now: func() time.Time { return t0 },
		Enqueue:  func(context.Context, any, joule.Job) error { return nil },
		OnPlaced: func(j joule.Job) { placed = j },
		NodeCarbon: func(_ context.Context, n joule.Node) float64 {
			return intensity[n.Labels["joule.dev/carbon-zone"]] * 10 / 3.6e6 // 10 J per CPU-second
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := &compute.Service{Store: store, Now: func() time.Time { return t0 }}
	if _, err := svc.Submit(ctx, ws.ID, joule.JobSpec{Name: "train", Command: []string{"true"}}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := d.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if placed.NodeID != "node_no" {
		t.Errorf("placed on %q, want node_no (30 g/kWh against 380)", placed.NodeID)
	}
}

// TestLiveShiftCapacity is the capacity acceptance case in the live
// dispatcher: 50 flexible 1-CPU jobs that all prefer the same green hour on
// an installation of 2 CPUs are planned at most 2 per hour, each within its
// deadline, instead of stampeding into that hour.
func TestLiveShiftCapacity(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", t0), Name: "team", CreatedAt: t0}
	if err := store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertNode(ctx, joule.Node{ID: "node_a", Name: "a", CPUCores: 2, MemoryBytes: 8 << 30, State: joule.NodeReady, CreatedAt: t0, LastHeartbeat: t0}); err != nil {
		t.Fatal(err)
	}
	vs := make([]float64, 72)
	for i := range vs {
		vs[i] = 400 - float64(i) // slowly greener, then:
	}
	vs[6] = 50 // everyone's favourite hour
	f := compute.Forecast{Start: t0, Step: time.Hour, Values: vs, Source: "test"}
	d, err := compute.NewDispatcher(compute.DispatcherConfig{
		Store: store, Now: func() time.Time { return t0 },
		Enqueue: func(context.Context, any, joule.Job) error { return nil },
		Shift:   compute.ShiftConfig{Forecast: func(context.Context, time.Time, time.Time) (compute.Forecast, error) { return f, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := &compute.Service{Store: store, Now: func() time.Time { return t0 }}
	deadline := t0.Add(60 * time.Hour)
	for i := range 50 {
		if _, err := svc.Submit(ctx, ws.ID, joule.JobSpec{Name: fmt.Sprintf("j%02d", i), Command: []string{"true"},
			Deadline: &deadline, ExpectedDuration: joule.Duration(time.Hour)}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Round(ctx); err != nil {
		t.Fatal(err)
	}
	js, _, err := store.ListJobs(ctx, joule.JobFilter{WorkspaceID: ws.ID, ListOptions: joule.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	perHour := map[time.Time]int{}
	for _, j := range js {
		if j.Shift == nil || j.Shift.Fallback != "" {
			t.Fatalf("job %s not planned: %+v", j.Spec.Name, j.Shift)
		}
		if end := j.Shift.Start.Add(time.Hour); end.After(deadline) {
			t.Errorf("job %s planned to end %s, after its deadline", j.Spec.Name, end)
		}
		perHour[j.Shift.Start.Truncate(time.Hour)]++
	}
	for h, n := range perHour {
		if n > 2 {
			t.Errorf("%d jobs planned in the hour from %s, more than the 2 CPUs", n, h.Format("15:04"))
		}
	}
	if perHour[t0.Add(6*time.Hour)] != 2 {
		t.Errorf("the green hour holds %d jobs, want it full (2)", perHour[t0.Add(6*time.Hour)])
	}
}
