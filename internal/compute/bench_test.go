package compute_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/executor"
	"github.com/joule-dev/joule/internal/postgres"
	"github.com/joule-dev/joule/internal/queue"
	"github.com/joule-dev/joule/internal/sqlite"
	"github.com/joule-dev/joule/internal/storetest"
)

// Benchmarks of the compute layer on real parts, wired as `joule up` wires
// them (cmd/joule): the store, River beside it (its own one-connection
// pool on the SQLite file, or its own pgxpool on PostgreSQL), the process
// executor with its defaults, a dispatcher at its default interval, and a
// worker whose queue polls every 500 ms (on SQLite River also polls its
// notification table every 50 ms; on PostgreSQL inserts wake it through
// LISTEN/NOTIFY). Run them with
//
//	go test -run '^$' -bench . -benchtime=1x ./internal/compute/
//
// and JOULE_TEST_POSTGRES=postgres://… for the PostgreSQL variants.

// benchHarness is one node's compute layer. finished receives every job
// that leaves running.
type benchHarness struct {
	store    joule.Store
	svc      *compute.Service
	ws       joule.Workspace
	mu       sync.Mutex
	waiters  map[string]chan joule.Job
	finished func(joule.Job)
}

// newBenchHarness builds the compute layer on kind ("sqlite" or
// "postgres") for a node with cpus cores.
func newBenchHarness(b *testing.B, kind string, cpus int) *benchHarness {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	h := &benchHarness{waiters: map[string]chan joule.Job{}}

	var (
		store   joule.Store
		openQ   func(cfg queue.Config) (*queue.Queue, error)
		cleanup []func()
	)
	switch kind {
	case "sqlite":
		path := filepath.Join(dir, "joule.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		store = s
		cleanup = append(cleanup, func() { s.Close() })
		openQ = func(cfg queue.Config) (*queue.Queue, error) {
			db, err := sql.Open("sqlite", sqlite.WriteDSN(path))
			if err != nil {
				return nil, err
			}
			db.SetMaxOpenConns(1)
			cleanup = append(cleanup, func() { db.Close() })
			return queue.OpenSQLite(ctx, db, cfg)
		}
	case "postgres":
		dsn := storetest.PostgresDSN(b)
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		store = s
		cleanup = append(cleanup, func() { s.Close() })
		openQ = func(cfg queue.Config) (*queue.Queue, error) {
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				return nil, err
			}
			cleanup = append(cleanup, pool.Close)
			return queue.OpenPostgres(ctx, pool, cfg)
		}
	default:
		b.Fatalf("unknown store kind %q", kind)
	}
	b.Cleanup(func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	})
	h.store = store

	now := time.Now().UTC().Truncate(time.Microsecond)
	h.ws = joule.Workspace{ID: joule.NewID("ws", now), Name: "bench", CreatedAt: now}
	if err := store.CreateWorkspace(ctx, h.ws); err != nil {
		b.Fatal(err)
	}
	node, err := store.UpsertNode(ctx, joule.Node{ID: joule.NewID("node", now), Name: "bench-node", CPUCores: cpus, MemoryBytes: 64 << 30,
		State: joule.NodeReady, CreatedAt: now, LastHeartbeat: now})
	if err != nil {
		b.Fatal(err)
	}
	exec, err := executor.New(executor.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var disp *compute.Dispatcher
	w, err := compute.NewWorker(compute.WorkerConfig{
		Store: store, Runtime: exec, NodeID: node.ID, DataDir: dir,
		OnFinish: func(j joule.Job) {
			disp.Wake()
			h.mu.Lock()
			ch := h.waiters[j.ID]
			f := h.finished
			h.mu.Unlock()
			if ch != nil {
				ch <- j
			}
			if f != nil {
				f(j)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	q, err := openQ(queue.Config{
		Workers: 256, Queue: strings.ToLower(node.ID), PollInterval: 500 * time.Millisecond,
		Handler: func(ctx context.Context, j queue.Job) error { return w.Handle(ctx, j.ID) },
	})
	if err != nil {
		b.Fatal(err)
	}
	disp, err = compute.NewDispatcher(compute.DispatcherConfig{
		Store: store,
		Enqueue: func(ctx context.Context, tx any, j joule.Job) error {
			_, err := q.EnqueueTx(ctx, tx, j.ID, queue.EnqueueOpts{Queue: strings.ToLower(j.NodeID), Attempt: j.Attempts + 1, Priority: j.Spec.Priority})
			return err
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	if err := q.Start(qctx); err != nil {
		b.Fatal(err)
	}
	if err := disp.Start(qctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		disp.Stop()
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = q.Stop(sctx)
	})
	h.svc = &compute.Service{Store: store, DataDir: dir, Wake: disp.Wake}
	return h
}

var noop = joule.JobSpec{Name: "noop", Command: []string{"true"}, Resources: joule.Resources{CPUMillis: 1000}}

// percentile returns the p-th percentile (0 to 100) of sorted ds, nearest
// rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchLatency: enqueue-to-start latency of sequential no-op jobs, from
// just before Submit to the attempt's recorded start (the worker's move to
// running, just before the process starts).
func benchLatency(b *testing.B, kind string) {
	const jobs = 50
	h := newBenchHarness(b, kind, 4)
	ctx := context.Background()
	// Warm up: River elects its leader and the first fetches run.
	h.runOne(b, ctx)
	var lat []time.Duration
	for b.Loop() {
		for range jobs {
			lat = append(lat, h.runOne(b, ctx))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// runOne submits a no-op job, waits for it to end, and returns Submit to
// attempt start.
func (h *benchHarness) runOne(b *testing.B, ctx context.Context) time.Duration {
	b.Helper()
	spec := noop
	ch := make(chan joule.Job, 1)
	t0 := time.Now()
	j, err := h.svc.Submit(ctx, h.ws.ID, spec, "bench")
	if err != nil {
		b.Fatal(err)
	}
	h.mu.Lock()
	h.waiters[j.ID] = ch
	h.mu.Unlock()
	var end joule.Job
	// The job may have finished before its waiter was registered.
	for end.ID == "" {
		select {
		case end = <-ch:
		case <-time.After(100 * time.Millisecond):
			cur, err := h.store.GetJob(ctx, h.ws.ID, j.ID)
			if err != nil {
				b.Fatal(err)
			}
			if cur.State.Terminal() {
				end = cur
			}
		}
		if time.Since(t0) > time.Minute {
			b.Fatalf("job %s did not end in a minute", j.ID)
		}
	}
	h.mu.Lock()
	delete(h.waiters, j.ID)
	h.mu.Unlock()
	if end.State != joule.JobSucceeded {
		b.Fatalf("job %s: %s (%s)", j.ID, end.State, end.Reason)
	}
	as, err := h.store.ListAttempts(ctx, j.ID)
	if err != nil || len(as) != 1 {
		b.Fatalf("attempts of %s: %v, %v", j.ID, as, err)
	}
	return as[0].StartedAt.Sub(t0)
}

// benchThroughput: wall time from the first Submit of n no-op 1-CPU jobs to
// the last one's success, on a node registered with 64 CPUs (placement
// lets 64 hold a CPU at once).
func benchThroughput(b *testing.B, kind string, n int) {
	h := newBenchHarness(b, kind, 64)
	ctx := context.Background()
	h.runOne(b, ctx) // warm up
	var total time.Duration
	for b.Loop() {
		var mu sync.Mutex
		left := n
		failed := 0
		all := make(chan struct{})
		h.mu.Lock()
		h.finished = func(j joule.Job) {
			mu.Lock()
			defer mu.Unlock()
			if j.State != joule.JobSucceeded {
				failed++
			}
			if left--; left == 0 {
				close(all)
			}
		}
		h.mu.Unlock()
		t0 := time.Now()
		for i := range n {
			spec := noop
			spec.Name = fmt.Sprintf("noop-%d", i)
			if _, err := h.svc.Submit(ctx, h.ws.ID, spec, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		submitted := time.Since(t0)
		select {
		case <-all:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d jobs still open after 10 min", left, n)
		}
		took := time.Since(t0)
		total += took
		h.mu.Lock()
		h.finished = nil
		h.mu.Unlock()
		if failed > 0 {
			b.Fatalf("%d of %d jobs did not succeed", failed, n)
		}
		b.Logf("%s: %d jobs in %v (submitting took %v)", kind, n, took.Round(time.Millisecond), submitted.Round(time.Millisecond))
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "jobs/s")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkEnqueueToStartSQLite(b *testing.B)   { benchLatency(b, "sqlite") }
func BenchmarkEnqueueToStartPostgres(b *testing.B) { benchLatency(b, "postgres") }
func BenchmarkThroughput1000SQLite(b *testing.B)   { benchThroughput(b, "sqlite", 1000) }
func BenchmarkThroughput1000Postgres(b *testing.B) { benchThroughput(b, "postgres", 1000) }
