// Package queue is joule's durable job queue: a thin adapter over River
// (github.com/riverqueue/river) on SQLite (riversqlite, over modernc.org/sqlite's
// database/sql driver) or PostgreSQL (riverpgxv5).
//
// The queue holds one River job per attempt-to-run of a joule job; the job's
// own row, states and history stay in joule's store. A job is enqueued in the
// same transaction that writes its row ([Queue.EnqueueSQLTx] or
// [Queue.EnqueuePgxTx]), so a job row never exists without its queue entry, nor
// the reverse. River then hands the job to [Config.Handler] in some process:
// exactly one at a time, retrying failures with a doubling backoff up to
// [EnqueueOpts.MaxAttempts].
//
// River's tables (river_job, river_leader, river_queue, ...) live beside
// joule's in the same SQLite file or the same PostgreSQL schema (the pool's
// search_path); Open runs River's migrations.
//
// On PostgreSQL any number of processes may each run a Queue on the same
// schema; each job is worked exactly once. On SQLite every Queue on a file
// must be on the same host, and all share SQLite's single writer lock: run
// one per process (two on one file also work exactly once, but gain nothing).
//
// Latency: on PostgreSQL an insert wakes workers through LISTEN/NOTIFY; on
// SQLite River polls a notification table every 50ms. Either way a worker
// also looks for jobs every [Config.PollInterval]. Scheduled jobs and retries
// are made available by the leader's scheduler, which looks 5s ahead every
// 5s, so they start on time once a leader has been elected (a few seconds
// after the first Start).
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/joule-dev/joule"
)

// Job is what the handler is given: one attempt at running a joule job.
type Job struct {
	ID          string // the joule job ID
	Attempt     int    // 1 for the first attempt
	MaxAttempts int    // the attempt after which a failure is final
	QueueID     int64  // River's ID for this queue entry
}

// Last reports whether a failure of this attempt is final.
func (j Job) Last() bool { return j.Attempt >= j.MaxAttempts }

// Handler runs one attempt of a job. Returning nil completes it. Returning
// [Snooze] puts it back for the given time without counting an attempt;
// returning [Cancel] ends it without retrying. Any other error fails the
// attempt: the job runs again after its backoff while attempts are left.
type Handler func(ctx context.Context, j Job) error

// Config configures a Queue.
type Config struct {
	// Workers is how many jobs this process runs at once (default 10).
	Workers int
	// Handler runs jobs (required).
	Handler Handler
	// Logger receives River's logs (default: discard).
	Logger *slog.Logger
	// PollInterval is how often the queue looks for new jobs when no
	// notification wakes it (default 1s; at least 1ms).
	PollInterval time.Duration
	// MaxRunTime is how long an attempt may stay running before the queue
	// takes its process for dead and makes the job available again (default
	// 7 days). The handler enforces a job's own timeout; this is only the
	// backstop for a worker that vanished.
	MaxRunTime time.Duration
	// ID names this process among the queue's clients (default: River
	// generates one from the host name and time).
	ID string
	// Queue is the named queue this process works (default "default").
	// joule gives each node its own queue, so that a worker only receives
	// the jobs placed on its node. Names are lowercase letters, digits, '_'
	// and '-'.
	Queue string
}

// Defaults.
const (
	DefaultWorkers      = 10
	DefaultPollInterval = time.Second
	DefaultMaxRunTime   = 7 * 24 * time.Hour
	DefaultBackoff      = time.Second
	maxBackoff          = 24 * time.Hour

	// fetchCooldown is the least time between two fetches of jobs. River's
	// default, 100ms, caps a process at Workers jobs per 100ms and adds
	// up to 100ms to every job's start.
	fetchCooldown = 10 * time.Millisecond
)

// WithDefaults returns c with defaults filled in.
func (c Config) WithDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxRunTime == 0 {
		c.MaxRunTime = DefaultMaxRunTime
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Queue == "" {
		c.Queue = river.QueueDefault
	}
	return c
}

// Validate checks c after WithDefaults.
func (c Config) Validate() error {
	switch {
	case c.Handler == nil:
		return joule.Errorf(joule.EINVALID, "queue handler: must be set")
	case c.Workers < 1 || c.Workers > 10000:
		return joule.Errorf(joule.EINVALID, "queue workers: %d is outside 1 to 10000", c.Workers)
	case c.PollInterval < time.Millisecond:
		return joule.Errorf(joule.EINVALID, "queue poll interval: %v is under 1ms", c.PollInterval)
	case c.MaxRunTime < time.Minute:
		return joule.Errorf(joule.EINVALID, "queue max run time: %v is under 1m", c.MaxRunTime)
	}
	return nil
}

// EnqueueOpts says when and how a job runs.
type EnqueueOpts struct {
	Queue       string        // the named queue; "" means "default"
	Attempt     int           // with the job ID, what makes an entry unique: a job may be enqueued again for a later attempt
	RunAt       time.Time     // zero: now
	Priority    int           // joule priority, 1 (lowest) to 9; 0 means joule.DefaultPriority
	MaxAttempts int           // 1 + retries; 0 means 1
	Backoff     time.Duration // wait before the first retry, doubling; 0 means 1s
}

// Queue is a durable job queue on one database. It is safe for concurrent
// use.
type Queue struct {
	kind   string
	cfg    Config
	client client
	sqlc   *river.Client[*sql.Tx] // set on SQLite
	pgc    *river.Client[pgx.Tx]  // set on PostgreSQL
}

// client is what Queue uses of a river.Client whatever its driver.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// OpenSQLite returns a queue on the SQLite database db, after running River's
// migrations. db must be opened with modernc.org/sqlite (driver name
// "sqlite") on a file in WAL mode with a busy timeout, with one connection
// (SetMaxOpenConns(1)) and _txlock=immediate, as River's SQLite driver asks:
// the queue's background work shares that connection. Jobs may be enqueued
// through a transaction of any pool on the same file.
func OpenSQLite(ctx context.Context, db *sql.DB, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	driver := riversqlite.New(db)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("queue: migrate: %w", err)
	}
	q := &Queue{kind: "sqlite", cfg: cfg}
	c, err := river.NewClient(driver, q.riverConfig())
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.sqlc, q.client = c, c
	return q, nil
}

// migrateLock is the PostgreSQL advisory lock key that serialises River's
// migrations between processes opening the queue at once.
var migrateLock = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("joule.queue.migrate"))
	return int64(h.Sum64())
}()

// OpenPostgres returns a queue on the PostgreSQL pool, after running River's
// migrations. River's tables go in the pool's current schema (its
// search_path).
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	driver := riverpgxv5.New(pool)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	// rivermigrate takes no lock of its own: two processes migrating at once
	// would race on CREATE TABLE.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return nil, fmt.Errorf("queue: migrate: lock: %w", err)
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock); uerr != nil {
		conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session drops the lock
	}
	if err != nil {
		return nil, fmt.Errorf("queue: migrate: %w", err)
	}
	q := &Queue{kind: "postgres", cfg: cfg}
	c, err := river.NewClient(driver, q.riverConfig())
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.pgc, q.client = c, c
	return q, nil
}

func (q *Queue) riverConfig() *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{q: q})
	return &river.Config{
		ID:                   q.cfg.ID,
		Logger:               q.cfg.Logger,
		FetchPollInterval:    q.cfg.PollInterval,
		FetchCooldown:        min(q.cfg.PollInterval, fetchCooldown),
		JobTimeout:           -1, // the handler enforces each job's own timeout
		RescueStuckJobsAfter: q.cfg.MaxRunTime,
		MaxAttempts:          1,
		Queues:               map[string]river.QueueConfig{q.cfg.Queue: {MaxWorkers: q.cfg.Workers}},
		Workers:              workers,
	}
}

// Kind names the database: "sqlite" or "postgres".
func (q *Queue) Kind() string { return q.kind }

// Start starts fetching and working jobs. Work stops when ctx is cancelled or Stop is
// called.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to return, or for ctx
// to end. It is idempotent and safe before Start.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// runArgs is the River job that runs a joule job.
type runArgs struct {
	JobID   string        `json:"job_id" river:"unique"`
	Attempt int           `json:"attempt,omitempty" river:"unique"`
	Backoff time.Duration `json:"backoff,omitempty"`
}

func (runArgs) Kind() string { return "joule_job" }

func (o EnqueueOpts) insertOpts(jobID string) (runArgs, *river.InsertOpts, error) {
	if jobID == "" {
		return runArgs{}, nil, joule.Errorf(joule.EINVALID, "queue: job ID must not be empty")
	}
	p := o.Priority
	if p == 0 {
		p = joule.DefaultPriority
	}
	if p < 1 || p > 9 {
		return runArgs{}, nil, joule.Errorf(joule.EINVALID, "queue: priority %d is outside 1 to 9", p)
	}
	if o.MaxAttempts < 0 || o.MaxAttempts > joule.MaxRetries+1 {
		return runArgs{}, nil, joule.Errorf(joule.EINVALID, "queue: max attempts %d is outside 1 to %d", o.MaxAttempts, joule.MaxRetries+1)
	}
	if o.Backoff < 0 {
		return runArgs{}, nil, joule.Errorf(joule.EINVALID, "queue: backoff must not be negative")
	}
	return runArgs{JobID: jobID, Attempt: o.Attempt, Backoff: o.Backoff}, &river.InsertOpts{
		Queue:       o.Queue,
		MaxAttempts: max(1, o.MaxAttempts),
		Priority:    riverPriority(p),
		ScheduledAt: o.RunAt,
		// One live entry per job: enqueueing a job that is already waiting
		// or running is a no-op. Cancelled and discarded entries do not
		// count, so a failed job can be enqueued again.
		UniqueOpts: river.UniqueOpts{ByArgs: true},
	}, nil
}

// riverPriority maps joule's priority (9 highest) to River's (1 highest, 4
// lowest): 8–9 → 1, 6–7 → 2, 4–5 → 3, 1–3 → 4.
func riverPriority(p int) int {
	return 4 - (p-1)*4/9
}

// Enqueued is the result of an enqueue.
type Enqueued struct {
	QueueID   int64 // River's ID for the entry, for Cancel
	Duplicate bool  // the job already had a live entry; nothing was added
}

func enqueued(r *rivertype.JobInsertResult) Enqueued {
	return Enqueued{QueueID: r.Job.ID, Duplicate: r.UniqueSkippedAsDuplicate}
}

// EnqueueSQLTx enqueues job jobID in tx, a transaction on the queue's SQLite
// file (from any pool on it). It is visible to workers when tx commits, and
// gone if it rolls back.
func (q *Queue) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, jobID string, opts EnqueueOpts) (Enqueued, error) {
	if q.sqlc == nil {
		return Enqueued{}, joule.Errorf(joule.EINVALID, "queue: EnqueueSQLTx on a %s queue", q.kind)
	}
	args, io, err := opts.insertOpts(jobID)
	if err != nil {
		return Enqueued{}, err
	}
	r, err := q.sqlc.InsertTx(ctx, tx, args, io)
	if err != nil {
		return Enqueued{}, fmt.Errorf("queue: enqueue %s: %w", jobID, err)
	}
	return enqueued(r), nil
}

// EnqueuePgxTx enqueues job jobID in tx, a transaction on the queue's
// PostgreSQL database and schema. It is visible to workers when tx commits,
// and gone if it rolls back.
func (q *Queue) EnqueuePgxTx(ctx context.Context, tx pgx.Tx, jobID string, opts EnqueueOpts) (Enqueued, error) {
	if q.pgc == nil {
		return Enqueued{}, joule.Errorf(joule.EINVALID, "queue: EnqueuePgxTx on a %s queue", q.kind)
	}
	args, io, err := opts.insertOpts(jobID)
	if err != nil {
		return Enqueued{}, err
	}
	r, err := q.pgc.InsertTx(ctx, tx, args, io)
	if err != nil {
		return Enqueued{}, fmt.Errorf("queue: enqueue %s: %w", jobID, err)
	}
	return enqueued(r), nil
}

// EnqueueTx enqueues in a store transaction of either kind: *sql.Tx on
// SQLite, pgx.Tx on PostgreSQL (EINVALID for anything else).
func (q *Queue) EnqueueTx(ctx context.Context, tx any, jobID string, opts EnqueueOpts) (Enqueued, error) {
	switch t := tx.(type) {
	case *sql.Tx:
		return q.EnqueueSQLTx(ctx, t, jobID, opts)
	case pgx.Tx:
		return q.EnqueuePgxTx(ctx, t, jobID, opts)
	}
	return Enqueued{}, joule.Errorf(joule.EINVALID, "queue: cannot enqueue in a transaction of type %T", tx)
}

// Enqueue enqueues job jobID in its own transaction.
func (q *Queue) Enqueue(ctx context.Context, jobID string, opts EnqueueOpts) (Enqueued, error) {
	args, io, err := opts.insertOpts(jobID)
	if err != nil {
		return Enqueued{}, err
	}
	r, err := q.client.Insert(ctx, args, io)
	if err != nil {
		return Enqueued{}, fmt.Errorf("queue: enqueue %s: %w", jobID, err)
	}
	return enqueued(r), nil
}

// Cancel cancels the queue entry with River's ID id: a waiting entry never
// runs, and a running one has its context cancelled (at once in this
// process; on PostgreSQL, other processes hear of it by notification). It
// returns ENOTFOUND for an unknown ID.
func (q *Queue) Cancel(ctx context.Context, queueID int64) error {
	if _, err := q.client.JobCancel(ctx, queueID); err != nil {
		if errors.Is(err, rivertype.ErrNotFound) {
			return joule.Errorf(joule.ENOTFOUND, "queue entry %d not found", queueID)
		}
		return fmt.Errorf("queue: cancel %d: %w", queueID, err)
	}
	return nil
}

// Snooze returns an error that tells the queue to run the job again after d
// without counting an attempt.
func Snooze(d time.Duration) error { return river.JobSnooze(d) }

// Cancel returns an error that ends the job without retrying, wrapping err.
func Cancel(err error) error { return river.JobCancel(err) }

type runWorker struct {
	river.WorkerDefaults[runArgs]
	q *Queue
}

func (w *runWorker) Work(ctx context.Context, j *river.Job[runArgs]) error {
	return w.q.cfg.Handler(ctx, Job{ID: j.Args.JobID, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, QueueID: j.ID})
}

// NextRetry doubles the job's backoff with each failed attempt.
func (w *runWorker) NextRetry(j *river.Job[runArgs]) time.Time {
	return time.Now().Add(backoff(j.Args.Backoff, j.Attempt))
}

// backoff returns the wait after failed attempt n (1-based): base·2^(n−1),
// capped at a day.
func backoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		base = DefaultBackoff
	}
	d := base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}
