package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/queue"
	"github.com/joule-dev/joule/internal/sqlite"
)

// nodeQueue is the River queue of a node: one per node, so each worker
// receives only the jobs placed on it.
func nodeQueue(nodeID string) string { return strings.ToLower(nodeID) }

// openQueue opens the River queue beside the store: its own one-connection
// pool on the SQLite file, or its own pool on PostgreSQL. It works the queue
// of nodeID and hands jobs to handle.
func openQueue(ctx context.Context, storeURL, dataDir, nodeID string, handle func(ctx context.Context, jobID string) error, logger *slog.Logger) (*queue.Queue, func(), error) {
	kind, target, err := cli.ParseStore(storeURL)
	if err != nil {
		return nil, nil, err
	}
	cfg := queue.Config{
		Workers:      256, // placement bounds what runs at once; the queue must not
		Queue:        nodeQueue(nodeID),
		Handler:      func(ctx context.Context, j queue.Job) error { return handle(ctx, j.ID) },
		Logger:       logger,
		PollInterval: 500 * time.Millisecond,
	}
	if kind == "postgres" {
		pool, err := pgxpool.New(ctx, target)
		if err != nil {
			return nil, nil, fmt.Errorf("queue: connect to postgres: %w", err)
		}
		q, err := queue.OpenPostgres(ctx, pool, cfg)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return q, pool.Close, nil
	}
	if target == "" {
		target = filepath.Join(dataDir, "joule.db")
	}
	db, err := sql.Open("sqlite", sqlite.WriteDSN(target))
	if err != nil {
		return nil, nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	q, err := queue.OpenSQLite(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return q, func() { db.Close() }, nil
}

// enqueuer returns the dispatcher's EnqueueFunc for q: the River entry for
// the job's next attempt, written in the store's transaction.
func enqueuer(q *queue.Queue) compute.EnqueueFunc {
	return func(ctx context.Context, tx any, j joule.Job) error {
		// Placement happens once a job may start, so the entry is available
		// at once (a RunAt would wait for River's scheduler, up to 5 s).
		// MaxAttempts only covers a handler that could not reach the store:
		// the handler is idempotent (a compare-and-set on the job's state),
		// and job retries go back through placement.
		opts := queue.EnqueueOpts{Queue: nodeQueue(j.NodeID), Attempt: j.Attempts + 1, Priority: j.Spec.Priority, MaxAttempts: 5}
		_, err := q.EnqueueTx(ctx, tx, j.ID, opts)
		return err
	}
}
