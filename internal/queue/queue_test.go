package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/storetest"
)

// sqliteDSN is how internal/sqlite opens its write pool.
const sqliteDSN = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// testEnv is one fresh database with a joule-like "jobs" table and a queue
// on it.
type testEnv struct {
	q *Queue
	// createJob writes a jobs row and enqueues the job in one transaction,
	// committing or rolling back.
	createJob func(ctx context.Context, id string, opts EnqueueOpts, commit bool) (Enqueued, error)
	// count runs a SELECT count(*) query without arguments.
	count func(query string) int
	// another opens a second queue on the same database (PostgreSQL only).
	another func(t testing.TB, cfg Config) *Queue
}

type backend struct {
	name string
	open func(t testing.TB, cfg Config) *testEnv
}

var backends = []backend{{"sqlite", openSQLiteEnv}, {"postgres", openPostgresEnv}}

// mustOpenSQLite opens a pool on a SQLite file as internal/sqlite opens its
// write pool: WAL, a busy timeout, BEGIN IMMEDIATE and one connection.
func mustOpenSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+sqliteDSN)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE IF NOT EXISTS jobs (id TEXT NOT NULL PRIMARY KEY) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustStart(t testing.TB, q *Queue) {
	t.Helper()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func openSQLiteEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	db := mustOpenSQLite(t, filepath.Join(t.TempDir(), "joule.db"))
	q, err := OpenSQLite(t.Context(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, q)
	return &testEnv{
		q: q,
		createJob: func(ctx context.Context, id string, opts EnqueueOpts, commit bool) (Enqueued, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return Enqueued{}, err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id) VALUES (?)`, id); err != nil {
				return Enqueued{}, err
			}
			e, err := q.EnqueueSQLTx(ctx, tx, id, opts)
			if err != nil || !commit {
				return e, err
			}
			return e, tx.Commit()
		},
		count: func(query string) int {
			var n int
			if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		},
	}
}

func mustOpenPostgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(t.Context(), `CREATE TABLE jobs (id text NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func openPostgresEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	pool := mustOpenPostgres(t)
	q, err := OpenPostgres(t.Context(), pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, q)
	return &testEnv{
		q: q,
		createJob: func(ctx context.Context, id string, opts EnqueueOpts, commit bool) (Enqueued, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return Enqueued{}, err
			}
			defer tx.Rollback(context.WithoutCancel(ctx))
			if _, err := tx.Exec(ctx, `INSERT INTO jobs (id) VALUES ($1)`, id); err != nil {
				return Enqueued{}, err
			}
			e, err := q.EnqueuePgxTx(ctx, tx, id, opts)
			if err != nil || !commit {
				return e, err
			}
			return e, tx.Commit(ctx)
		},
		count: func(query string) int {
			var n int
			if err := pool.QueryRow(t.Context(), query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		},
		another: func(t testing.TB, cfg Config) *Queue {
			q, err := OpenPostgres(t.Context(), pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			mustStart(t, q)
			return q
		},
	}
}

// recorder is a Handler that records every attempt.
type recorder struct {
	mu       sync.Mutex
	attempts map[string][]Job
	started  map[string]time.Time
	by       map[string]string // job ID → worker name, for shared recorders
	fn       func(ctx context.Context, j Job) error
}

func newRecorder(fn func(ctx context.Context, j Job) error) *recorder {
	return &recorder{attempts: map[string][]Job{}, started: map[string]time.Time{}, by: map[string]string{}, fn: fn}
}

func (r *recorder) handler(name string) Handler {
	return func(ctx context.Context, j Job) error {
		r.mu.Lock()
		r.attempts[j.ID] = append(r.attempts[j.ID], j)
		if _, ok := r.started[j.ID]; !ok {
			r.started[j.ID] = time.Now()
		}
		r.by[j.ID] = name
		r.mu.Unlock()
		if r.fn == nil {
			return nil
		}
		return r.fn(ctx, j)
	}
}

func (r *recorder) get(id string) []Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts[id])
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func riverState(e *testEnv, state string) int {
	return e.count(fmt.Sprintf(`SELECT count(*) FROM river_job WHERE kind = 'joule_job' AND state = '%s'`, state))
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func TestWorkAndComplete(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(nil)
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		ids := []string{"job_a", "job_b", "job_c"}
		for _, id := range ids {
			if _, err := e.createJob(t.Context(), id, EnqueueOpts{}, true); err != nil {
				t.Fatalf("createJob(%q) = %v", id, err)
			}
		}
		waitFor(t, 20*time.Second, "three completed jobs", func() bool { return riverState(e, "completed") == 3 })
		for _, id := range ids {
			got := rec.get(id)
			if len(got) != 1 || got[0].Attempt != 1 || got[0].MaxAttempts != 1 {
				t.Errorf("%s: attempts = %+v, want one attempt 1 of 1", id, got)
			}
		}
	})
}

func TestTransactionalEnqueue(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(nil)
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		rows := func(id string) (jobs, river int) {
			return e.count(`SELECT count(*) FROM jobs WHERE id = '` + id + `'`),
				e.count(`SELECT count(*) FROM river_job WHERE args->>'job_id' = '` + id + `'`)
		}
		if _, err := e.createJob(t.Context(), "rolled_back", EnqueueOpts{}, false); err != nil {
			t.Fatal(err)
		}
		if j, r := rows("rolled_back"); j != 0 || r != 0 {
			t.Errorf("after rollback: jobs rows = %d, river rows = %d, want 0 and 0", j, r)
		}
		if _, err := e.createJob(t.Context(), "committed", EnqueueOpts{RunAt: time.Now().Add(time.Hour)}, true); err != nil {
			t.Fatal(err)
		}
		if j, r := rows("committed"); j != 1 || r != 1 {
			t.Errorf("after commit: jobs rows = %d, river rows = %d, want 1 and 1", j, r)
		}
		time.Sleep(200 * time.Millisecond)
		if got := rec.get("rolled_back"); len(got) != 0 {
			t.Errorf("a rolled-back job ran: %+v", got)
		}
	})
}

func TestRetryThenSucceed(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(func(ctx context.Context, j Job) error {
			if j.Attempt < 3 {
				return fmt.Errorf("attempt %d fails", j.Attempt)
			}
			return nil
		})
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		start := time.Now()
		if _, err := e.createJob(t.Context(), "flaky", EnqueueOpts{MaxAttempts: 3, Backoff: 10 * time.Millisecond}, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the third attempt to complete", func() bool { return riverState(e, "completed") == 1 })
		got := rec.get("flaky")
		var attempts []int
		for _, j := range got {
			attempts = append(attempts, j.Attempt)
		}
		if !slices.Equal(attempts, []int{1, 2, 3}) || !got[2].Last() {
			t.Errorf("attempts = %v (last %v), want [1 2 3] ending on the last", attempts, got[len(got)-1].Last())
		}
		t.Logf("%s: 3 attempts with 10ms, 20ms backoff took %v", b.name, time.Since(start).Round(time.Millisecond))
	})
}

func TestRetryExhaustedAndCancel(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(func(ctx context.Context, j Job) error {
			if j.ID == "doomed" {
				return Cancel(errors.New("bad spec"))
			}
			return errors.New("always fails")
		})
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		for _, id := range []string{"failing", "doomed"} {
			if _, err := e.createJob(t.Context(), id, EnqueueOpts{MaxAttempts: 2, Backoff: time.Millisecond}, true); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 30*time.Second, "a discarded and a cancelled job", func() bool {
			return riverState(e, "discarded") == 1 && riverState(e, "cancelled") == 1
		})
		if n := len(rec.get("failing")); n != 2 {
			t.Errorf("failing job ran %d times, want 2", n)
		}
		if n := len(rec.get("doomed")); n != 1 {
			t.Errorf("cancelled job ran %d times, want 1", n)
		}
		// A finished entry does not block enqueueing the job again.
		r, err := e.q.Enqueue(t.Context(), "failing", EnqueueOpts{RunAt: time.Now().Add(time.Hour)})
		if err != nil || r.Duplicate {
			t.Errorf("Enqueue after discard = %+v, %v; want a new entry", r, err)
		}
	})
}

func TestSnooze(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		var once sync.Once
		rec := newRecorder(func(ctx context.Context, j Job) error {
			var err error
			once.Do(func() { err = Snooze(100 * time.Millisecond) })
			return err
		})
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		if _, err := e.createJob(t.Context(), "sleepy", EnqueueOpts{}, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the snoozed job to complete", func() bool { return riverState(e, "completed") == 1 })
		got := rec.get("sleepy")
		if len(got) != 2 {
			t.Fatalf("ran %d times, want 2 (snoozed once)", len(got))
		}
		// A snooze does not use up an attempt.
		if got[1].Attempt != got[0].Attempt || got[1].MaxAttempts != got[0].MaxAttempts {
			t.Errorf("attempts: %+v then %+v, want a snooze not to count one", got[0], got[1])
		}
		t.Logf("%s: snooze: first %+v, then %+v", b.name, got[0], got[1])
	})
}

func TestScheduledAt(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(nil)
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		runAt := time.Now().Add(2 * time.Second)
		if _, err := e.createJob(t.Context(), "later", EnqueueOpts{RunAt: runAt}, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.createJob(t.Context(), "much_later", EnqueueOpts{RunAt: time.Now().Add(time.Hour)}, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the scheduled job to start", func() bool { return len(rec.get("later")) == 1 })
		rec.mu.Lock()
		started := rec.started["later"]
		rec.mu.Unlock()
		if started.Before(runAt) {
			t.Errorf("started at %v, before its run time %v", started, runAt)
		}
		if n := len(rec.get("much_later")); n != 0 {
			t.Errorf("a job scheduled in an hour ran %d times", n)
		}
		t.Logf("%s: a job scheduled at T started at T+%v", b.name, started.Sub(runAt).Round(time.Millisecond))
	})
}

func TestUniqueEnqueue(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(nil)
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		first, err := e.createJob(t.Context(), "once", EnqueueOpts{RunAt: time.Now().Add(300 * time.Millisecond)}, true)
		if err != nil || first.Duplicate {
			t.Fatalf("first enqueue = %+v, %v", first, err)
		}
		again, err := e.q.Enqueue(t.Context(), "once", EnqueueOpts{})
		if err != nil || !again.Duplicate || again.QueueID != first.QueueID {
			t.Fatalf("second enqueue = %+v, %v; want a duplicate of %d", again, err, first.QueueID)
		}
		waitFor(t, 20*time.Second, "the job to complete", func() bool { return riverState(e, "completed") == 1 })
		if n := len(rec.get("once")); n != 1 {
			t.Errorf("ran %d times, want 1", n)
		}
	})
}

func TestCancelQueued(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		rec := newRecorder(nil)
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		r, err := e.createJob(t.Context(), "unwanted", EnqueueOpts{RunAt: time.Now().Add(time.Hour)}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.q.Cancel(t.Context(), r.QueueID); err != nil {
			t.Fatalf("Cancel = %v", err)
		}
		if n := riverState(e, "cancelled"); n != 1 {
			t.Errorf("cancelled entries = %d, want 1", n)
		}
		if err := e.q.Cancel(t.Context(), r.QueueID+1000); joule.ErrorCode(err) != joule.ENOTFOUND {
			t.Errorf("Cancel(unknown) = %v, want ENOTFOUND", err)
		}
	})
}

func TestCancelRunning(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		running := make(chan int64, 1)
		rec := newRecorder(func(ctx context.Context, j Job) error {
			running <- j.QueueID
			<-ctx.Done()
			return ctx.Err()
		})
		e := b.open(t, Config{Handler: rec.handler("w"), PollInterval: 50 * time.Millisecond})
		if _, err := e.createJob(t.Context(), "long", EnqueueOpts{MaxAttempts: 5}, true); err != nil {
			t.Fatal(err)
		}
		id := <-running
		if err := e.q.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the running job to be cancelled", func() bool { return riverState(e, "cancelled") == 1 })
		if n := len(rec.get("long")); n != 1 {
			t.Errorf("ran %d times, want 1", n)
		}
	})
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	db := mustOpenSQLite(t, filepath.Join(t.TempDir(), "joule.db"))
	q, err := OpenSQLite(t.Context(), db, Config{Handler: func(context.Context, Job) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Stop(t.Context()); err != nil {
		t.Errorf("Stop before Start = %v", err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := q.Stop(t.Context()); err != nil {
			t.Errorf("Stop #%d = %v", i+1, err)
		}
	}
	if q.Kind() != "sqlite" {
		t.Errorf("Kind() = %q, want sqlite", q.Kind())
	}
	// Open on a database that already has River's tables: migrations are a
	// no-op.
	if _, err := OpenSQLite(t.Context(), db, Config{Handler: func(context.Context, Job) error { return nil }}); err != nil {
		t.Errorf("second OpenSQLite = %v", err)
	}
	// The typed enqueue refuses the other database's transaction type.
	if _, err := q.EnqueuePgxTx(t.Context(), nil, "x", EnqueueOpts{}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("EnqueuePgxTx on sqlite = %v, want EINVALID", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	h := func(context.Context, Job) error { return nil }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Handler: h}, true},
		{"no handler", Config{}, false},
		{"negative workers", Config{Handler: h, Workers: -1}, false},
		{"tiny poll", Config{Handler: h, PollInterval: time.Microsecond}, false},
		{"short max run", Config{Handler: h, MaxRunTime: time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
	d := Config{Handler: h}.WithDefaults()
	if d.Workers != DefaultWorkers || d.PollInterval != DefaultPollInterval || d.MaxRunTime != DefaultMaxRunTime || d.Logger == nil {
		t.Errorf("WithDefaults() = %+v", d)
	}
}

func TestEnqueueOptsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		opts EnqueueOpts
	}{
		{"", EnqueueOpts{}},
		{"j", EnqueueOpts{Priority: 10}},
		{"j", EnqueueOpts{Priority: -1}},
		{"j", EnqueueOpts{MaxAttempts: -1}},
		{"j", EnqueueOpts{MaxAttempts: joule.MaxRetries + 2}},
		{"j", EnqueueOpts{Backoff: -time.Second}},
	}
	for _, tt := range tests {
		if _, _, err := tt.opts.insertOpts(tt.id); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("insertOpts(%q, %+v) = %v, want EINVALID", tt.id, tt.opts, err)
		}
	}
}

func TestRiverPriority(t *testing.T) {
	t.Parallel()
	want := map[int]int{1: 4, 2: 4, 3: 4, 4: 3, 5: 3, 6: 2, 7: 2, 8: 1, 9: 1}
	for p, w := range want {
		if got := riverPriority(p); got != w {
			t.Errorf("riverPriority(%d) = %d, want %d", p, got, w)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base time.Duration
		n    int
		want time.Duration
	}{
		{0, 1, time.Second},
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Hour, 10, 24 * time.Hour},
		{time.Second, 1000, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := backoff(tt.base, tt.n); got != tt.want {
			t.Errorf("backoff(%v, %d) = %v, want %v", tt.base, tt.n, got, tt.want)
		}
	}
}

// TestPostgresTwoWorkers runs two queues on one schema, as two worker
// processes would: every job runs exactly once and both take work.
func TestPostgresTwoWorkers(t *testing.T) {
	t.Parallel()
	const n = 50
	rec := newRecorder(func(ctx context.Context, j Job) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	e := openPostgresEnv(t, Config{Handler: rec.handler("one"), Workers: 4, PollInterval: 50 * time.Millisecond, ID: "worker_one"})
	e.another(t, Config{Handler: rec.handler("two"), Workers: 4, PollInterval: 50 * time.Millisecond, ID: "worker_two"})
	for i := range n {
		if _, err := e.createJob(t.Context(), fmt.Sprintf("job_%02d", i), EnqueueOpts{}, true); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, "all jobs to complete", func() bool { return riverState(e, "completed") == n })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	per := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("job_%02d", i)
		if k := len(rec.attempts[id]); k != 1 {
			t.Errorf("%s ran %d times, want 1", id, k)
		}
		per[rec.by[id]]++
	}
	if per["one"] == 0 || per["two"] == 0 {
		t.Errorf("jobs per worker = %v, want both to work", per)
	}
	t.Logf("jobs per worker: %v", per)
}

// TestSQLiteSecondWriter enqueues through the transactions of another pool
// on the same file (as the store's write pool would) while the queue's own
// pool works jobs and other transactions write: WAL, busy_timeout and BEGIN
// IMMEDIATE keep both writers free of SQLITE_BUSY.
func TestSQLiteSecondWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "joule.db")
	riverDB := mustOpenSQLite(t, path)
	storeDB := mustOpenSQLite(t, path)
	rec := newRecorder(func(ctx context.Context, j Job) error {
		// The handler writes through the store's pool too.
		_, err := storeDB.ExecContext(ctx, `INSERT INTO jobs (id) VALUES (?)`, j.ID+"_done")
		return err
	})
	q, err := OpenSQLite(t.Context(), riverDB, Config{Handler: rec.handler("w"), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, q)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("job_%03d", i)
			tx, err := storeDB.BeginTx(t.Context(), nil)
			if err != nil {
				errs <- err
				return
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO jobs (id) VALUES (?)`, id); err != nil {
				errs <- err
				return
			}
			if _, err := q.EnqueueSQLTx(t.Context(), tx, id, EnqueueOpts{}); err != nil {
				errs <- err
				return
			}
			errs <- tx.Commit()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("enqueue through the store's pool: %v", err)
		}
	}
	var done int
	waitFor(t, 60*time.Second, "all jobs to run", func() bool {
		if err := storeDB.QueryRowContext(t.Context(), `SELECT count(*) FROM jobs WHERE id LIKE '%_done'`).Scan(&done); err != nil {
			t.Fatal(err)
		}
		return done == n
	})
}

// TestPostgresSearchPath checks that River's tables land in the schema the
// DSN's search_path names, beside joule's, and nowhere else.
func TestPostgresSearchPath(t *testing.T) {
	t.Parallel()
	pool := mustOpenPostgres(t)
	if _, err := OpenPostgres(t.Context(), pool, Config{Handler: func(context.Context, Job) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	var schema string
	var tables []string
	if err := pool.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jobs", "river_job", "river_leader", "river_migration", "river_queue"} {
		if !slices.Contains(tables, want) {
			t.Errorf("schema %s has tables %v: want %s among them", schema, tables, want)
		}
	}
	t.Logf("schema %s: %v", schema, tables)
}

// TestSQLiteTwoClients runs two queues on one SQLite file through two pools,
// as two processes on one host would: every job runs exactly once.
func TestSQLiteTwoClients(t *testing.T) {
	t.Parallel()
	const n = 50
	path := filepath.Join(t.TempDir(), "joule.db")
	rec := newRecorder(func(ctx context.Context, j Job) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	var qs []*Queue
	for _, name := range []string{"one", "two"} {
		q, err := OpenSQLite(t.Context(), mustOpenSQLite(t, path), Config{Handler: rec.handler(name), Workers: 4, PollInterval: 50 * time.Millisecond, ID: "worker_" + name})
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, q)
		qs = append(qs, q)
	}
	for i := range n {
		if _, err := qs[i%2].Enqueue(t.Context(), fmt.Sprintf("job_%02d", i), EnqueueOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.attempts)
	}
	waitFor(t, 60*time.Second, "all jobs to run", func() bool { return count() == n })
	time.Sleep(200 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	per := map[string]int{}
	for id, a := range rec.attempts {
		if len(a) != 1 {
			t.Errorf("%s ran %d times, want 1", id, len(a))
		}
		per[rec.by[id]]++
	}
	t.Logf("jobs per worker: %v", per)
}
