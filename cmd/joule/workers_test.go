package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/storetest"
)

// TestWorkersSharePostgres is the PostgreSQL acceptance line: two `joule
// worker` processes with different node names share 50 jobs; each job runs
// exactly once, and both workers get work.
//
// The server (`joule up` on the same store) has a node of its own; the
// jobs select pool=workers, a label only the two workers carry, so all 50
// must go to them. "Exactly once" is checked in the store (one attempt per
// job, on w1 or w2) and by the jobs themselves: each appends its ID and
// attempt to one shared file, which must hold 50 lines, one per job.
//
// Needs JOULE_TEST_POSTGRES (a postgres:// DSN; the test works in a fresh
// schema of its own); skipped without it, and failed without it under CI.
func TestWorkersSharePostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	bin := joulebin(t)
	dir := t.TempDir()
	ctx := t.Context()

	srv := startProc(t, bin, filepath.Join(dir, "up.log"),
		"up", "--store", dsn, "--data-dir", filepath.Join(dir, "d0"), "--node-name", "srv", "--listen", "127.0.0.1:0")
	base := srv.waitURL(t)
	tok, err := os.ReadFile(filepath.Join(dir, "d0", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	c := httpapi.NewClient(base, token)

	var workers []*proc
	for _, name := range []string{"w1", "w2"} {
		workers = append(workers, startProc(t, bin, filepath.Join(dir, name+".log"),
			"worker", "--server", base, "--token", token, "--store", dsn,
			"--data-dir", filepath.Join(dir, name), "--node-name", name, "--label", "pool=workers"))
	}
	// Wait until both workers' nodes are registered and ready.
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := c.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, n := range p.Items {
			if (n.Name == "w1" || n.Name == "w2") && n.State == joule.NodeReady && n.Labels["pool"] == "workers" {
				ready++
			}
		}
		if ready == 2 {
			break
		}
		for _, w := range workers {
			select {
			case <-w.done:
				t.Fatalf("worker exited early: %v\n%s", w.err, w.output())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers not ready after 60 s:\nw1:\n%s\nw2:\n%s", workers[0].output(), workers[1].output())
		}
		time.Sleep(100 * time.Millisecond)
	}

	runs := filepath.Join(dir, "runs")
	const n = 50
	var ids []string
	for i := range n {
		j, err := c.SubmitJob(ctx, joule.DefaultWorkspace, joule.JobSpec{
			Name:      fmt.Sprintf("share-%02d", i),
			Command:   []string{"sh", "-c", `echo "$JOULE_JOB_ID $JOULE_ATTEMPT" >> "$RUNS"; sleep 0.3`},
			Env:       map[string]string{"RUNS": runs},
			Resources: joule.Resources{CPUMillis: 1000},
			Selector:  map[string]string{"pool": "workers"},
		})
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids = append(ids, j.ID)
	}
	start := time.Now()

	deadline = time.Now().Add(3 * time.Minute)
	for {
		p, err := c.ListJobs(ctx, joule.DefaultWorkspace, httpapi.JobQuery{ListOptions: joule.ListOptions{Limit: joule.MaxLimit}})
		if err != nil {
			t.Fatal(err)
		}
		ended, bad := 0, []string{}
		for _, j := range p.Items {
			if j.State.Terminal() {
				ended++
				if j.State != joule.JobSucceeded {
					bad = append(bad, fmt.Sprintf("%s %s (%s)", j.Spec.Name, j.State, j.Reason))
				}
			}
		}
		if len(bad) > 0 {
			t.Fatalf("jobs did not succeed: %v", bad)
		}
		if ended == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs ended after 3 min\nw1:\n%s\nw2:\n%s", ended, n, workers[0].output(), workers[1].output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)

	perNode := map[string]int{}
	for _, id := range ids {
		d, err := c.GetJob(ctx, joule.DefaultWorkspace, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Attempts != 1 || len(d.History) != 1 {
			t.Errorf("%s: %d attempts (%d recorded), want exactly 1", d.Name, d.Attempts, len(d.History))
		}
		if d.Node != "w1" && d.Node != "w2" {
			t.Errorf("%s ran on node %q, want w1 or w2", d.Name, d.Node)
		}
		perNode[d.Node]++
	}
	if perNode["w1"] < 1 || perNode["w2"] < 1 {
		t.Errorf("jobs per node = %v, want both workers to get work", perNode)
	}
	t.Logf("50 jobs in %v: %v", took.Round(time.Millisecond), perNode)

	// Each job's own record of its runs: one line per job, attempt 1.
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	seen := map[string]int{}
	for _, l := range lines {
		id, att, _ := strings.Cut(l, " ")
		seen[id]++
		if att != "1" {
			t.Errorf("run line %q: attempt %s, want 1", l, att)
		}
	}
	if len(lines) != n {
		t.Errorf("jobs ran %d times in all, want %d", len(lines), n)
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("job %s ran %d times, want once", id, seen[id])
		}
	}
	if extra := len(seen) - n; extra > 0 {
		keys := slices.Collect(func(yield func(string) bool) {
			for k := range seen {
				if !slices.Contains(ids, k) && !yield(k) {
					return
				}
			}
		})
		t.Errorf("%d unknown jobs ran: %v", extra, keys)
	}

	for _, w := range workers {
		w.terminate(t)
	}
	srv.terminate(t)
}
