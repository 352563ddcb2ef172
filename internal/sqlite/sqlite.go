package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/joule-dev/joule"
)

// FileName is the name of the database file the server keeps in its data
// directory: it opens <data-dir>/joule.db. Open itself takes any path.
const FileName = "joule.db"

// busyTimeout is how long a connection waits for a lock held by another
// connection or process before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

//go:embed migration/*.sql
var migrationFS embed.FS

func commonParams() string {
	return "?_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")&_pragma=foreign_keys(1)"
}

// WriteDSN is the modernc.org/sqlite data source name the store writes
// through: WAL, a busy timeout, foreign keys, and transactions that take the
// write lock when they begin. Other writers on the same file (the job
// queue's own pool) open it with this DSN and one connection.
func WriteDSN(path string) string {
	return path + commonParams() + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// DB is a joule.Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	write *sql.DB // one connection; transactions BEGIN IMMEDIATE
	read  *sql.DB // query-only connections
}

var _ joule.Store = (*DB)(nil)

// Open opens (creating it if needed) the SQLite database at path, applies
// pending migrations and returns the store. path must name a file; ":memory:"
// and paths containing '?' are refused, because the store opens the file
// more than once. A database whose schema is newer than this binary gives an
// EUNAVAILABLE error.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, joule.Errorf(joule.EINVALID, "sqlite path: %q must be a file path without '?'", path)
	}
	write, err := sql.Open("sqlite", WriteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", path+commonParams()+"&_pragma=synchronous(NORMAL)&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{write: write, read: read}, nil
}

// Kind returns "sqlite".
func (db *DB) Kind() string { return "sqlite" }

// Ping checks that the database answers; it returns an EUNAVAILABLE error
// otherwise.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return &joule.Error{Code: joule.EUNAVAILABLE, Message: "sqlite database is not answering", Err: err}
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.write.Close())
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

// migrate applies the pending migrations, each in its own write transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	latest := ms[len(ms)-1].version
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for {
		done, err := migrateOne(ctx, db, ms, latest)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next pending migration in a transaction, and
// reports done when there is none.
func migrateOne(ctx context.Context, db *sql.DB, ms []migration, latest int64) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var current int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > latest {
		return false, joule.Errorf(joule.EUNAVAILABLE, "database schema version %d is newer than this joule binary supports (%d): upgrade joule", current, latest)
	}
	// Every migration not yet recorded is applied, in version order, even
	// one numbered below the newest applied (versions may land out of
	// order between releases).
	applied := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return false, fmt.Errorf("migrate: read schema versions: %w", err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return false, fmt.Errorf("migrate: read schema versions: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("migrate: read schema versions: %w", err)
	}
	rows.Close()
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return false, fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.version, time.Now().UnixMicro()); err != nil {
			return false, fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("migrate: commit %s: %w", m.name, err)
		}
		return false, nil
	}
	return true, nil
}

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE on the single
// write connection) and commits it if fn returns nil.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Times are INTEGER unix microseconds, UTC.

var zeroMicros = time.Time{}.UnixMicro()

// micros returns t as unix microseconds, truncating.
func micros(t time.Time) int64 { return t.UnixMicro() }

// ceilMicros returns t as unix microseconds, rounding up, so that comparing
// stored microseconds with it gives the same answer as comparing the times.
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time {
	if us == zeroMicros {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// utcMicro truncates t to the microsecond in UTC, as stored.
func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
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

// constraint returns the SQLite constraint violation code of err and its
// message, or 0.
func constraint(err error) (code int, msg string) {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		switch c := e.Code(); c {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return c, e.Error()
		}
	}
	return 0, ""
}

// isUnique reports whether err violates the unique constraint or primary
// key on column (as SQLite names it, "table.column").
func isUnique(err error, column string) bool {
	code, msg := constraint(err)
	return (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) &&
		strings.Contains(msg, column)
}

func isForeignKey(err error) bool {
	code, _ := constraint(err)
	return code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
