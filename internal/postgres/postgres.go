package postgres

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/joule-dev/joule"
)

// DefaultConnectTimeout bounds connecting to the server when the DSN has no
// connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

//go:embed migration/*.sql
var migrationFS embed.FS

// DB is a joule.Store on a PostgreSQL database. It is safe for concurrent
// use.
type DB struct {
	pool *pgxpool.Pool
}

var _ joule.Store = (*DB)(nil)

// Open connects to the PostgreSQL server named by dsn, checks that it
// answers, applies pending migrations and returns the store. An unreachable
// server fails within the connect timeout (DefaultConnectTimeout unless the
// DSN sets connect_timeout). A database whose schema is newer than this
// binary gives an EUNAVAILABLE error.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("connect to postgres: invalid DSN")
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnConfig.ConnectTimeout+time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Kind returns "postgres".
func (db *DB) Kind() string { return "postgres" }

// Ping checks that the server answers; it returns an EUNAVAILABLE error
// otherwise.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return &joule.Error{Code: joule.EUNAVAILABLE, Message: "postgres database is not answering", Err: err}
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migration is one embedded schema file.
type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies the pending migrations, each in its own transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	latest := ms[len(ms)-1].version
	for {
		done, err := migrateOne(ctx, pool, ms, latest)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next pending migration in a transaction that holds
// the schema's migration lock, and reports done when there is none.
func migrateOne(ctx context.Context, pool *pgxpool.Pool, ms []migration, latest int64) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('joule.migrate:' || coalesce(current_schema(), '')))"); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT      NOT NULL PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int64
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > latest {
		return false, joule.Errorf(joule.EUNAVAILABLE, "database schema version %d is newer than this joule binary supports (%d): upgrade joule", current, latest)
	}
	// Every migration not yet recorded is applied, in version order, even
	// one numbered below the newest applied (versions may land out of
	// order between releases).
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return false, fmt.Errorf("migrate: read schema versions: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return false, fmt.Errorf("migrate: read schema versions: %w", err)
	}
	for _, m := range ms {
		if slices.Contains(applied, m.version) {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return false, fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", m.version); err != nil {
			return false, fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("migrate: commit %s: %w", m.name, err)
		}
		return false, nil
	}
	return true, tx.Commit(ctx)
}

// inTx runs fn in a transaction and commits it if fn returns nil.
func (db *DB) inTx(ctx context.Context, opt pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opt)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// utcMicro truncates t to the microsecond in UTC, as stored.
func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ceilMicro rounds t up to the microsecond, so that comparing stored times
// with it gives the same answer as comparing with t.
func ceilMicro(t time.Time) time.Time {
	c := t.UTC().Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

// fromDB returns a time read from the database in UTC.
func fromDB(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func fromDBPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := fromDB(*t)
	return &u
}

func utcMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utcMicro(*t)
	return &u
}

// Cursors are "c1:" and the last key of the page, base64url-encoded.

const cursorPrefix = "c1:"

func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", joule.Errorf(joule.EINVALID, "cursor: invalid")
	}
	return string(b[len(cursorPrefix):]), nil
}

func decodeSeqCursor(c string) (int64, error) {
	s, err := decodeCursor(c)
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, joule.Errorf(joule.EINVALID, "cursor: invalid")
	}
	return n, nil
}

// page cuts rows, fetched with limit+1, to one page and returns the cursor of
// the next.
func page[T any](rows []T, limit int, key func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(key(rows[limit-1]))
}

// SQLSTATE codes.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// violates reports whether err violates the named constraint with the given
// SQLSTATE code.
func violates(err error, code, constraint string) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && e.Code == code && e.ConstraintName == constraint
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
