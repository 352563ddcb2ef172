package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/joule-dev/joule"
)

// EngineConfig bounds what DuckDB may use.
type EngineConfig struct {
	// MemoryLimit is DuckDB's memory_limit, e.g. "512MB" (default 512MB):
	// larger work spills to TempDir. It bounds each DuckDB an operation
	// opens.
	MemoryLimit string
	// Threads is DuckDB's thread count (0: one per core).
	Threads int
	// TempDir is where DuckDB spills (default: its own choice).
	TempDir string
}

// duck is one in-memory DuckDB database with one pinned connection, so
// that temporary tables (such as the CSV reader's rejects) stay visible.
type duck struct {
	db   *sql.DB
	conn *sql.Conn
	cfg  EngineConfig
}

// openDuck opens an in-memory DuckDB with cfg's limits.
func openDuck(ctx context.Context, cfg EngineConfig) (*duck, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	d := &duck{db: db, conn: conn, cfg: cfg}
	var stmts []string
	for _, kv := range engineSettings(cfg) {
		stmts = append(stmts, "SET "+kv[0]+" = "+lit(kv[1]))
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			d.close()
			return nil, fmt.Errorf("duckdb %s: %w", s, err)
		}
	}
	return d, nil
}

// engineSettings are the DuckDB settings that carry cfg's limits, as
// name and value.
func engineSettings(cfg EngineConfig) [][2]string {
	mem := cfg.MemoryLimit
	if mem == "" {
		mem = "512MB"
	}
	set := [][2]string{{"memory_limit", mem}, {"preserve_insertion_order", "true"},
		// Extensions are never downloaded at run time.
		{"autoinstall_known_extensions", "false"}, {"autoload_known_extensions", "true"}}
	if cfg.Threads > 0 {
		set = append(set, [2]string{"threads", strconv.Itoa(cfg.Threads)})
	}
	if cfg.TempDir != "" {
		set = append(set, [2]string{"temp_directory", cfg.TempDir})
	}
	return set
}

func (d *duck) close() {
	d.conn.Close()
	d.db.Close()
}

func (d *duck) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.conn.ExecContext(ctx, q, args...)
}

func (d *duck) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.conn.QueryContext(ctx, q, args...)
}

func (d *duck) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.conn.QueryRowContext(ctx, q, args...)
}

// ident quotes a column or table name for DuckDB.
func ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// lit quotes a string literal for DuckDB.
func lit(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// duckType is the DuckDB type that stores a joule column type.
func duckType(t string) string {
	switch t {
	case joule.TypeInteger:
		return "BIGINT"
	case joule.TypeFloat:
		return "DOUBLE"
	case joule.TypeBoolean:
		return "BOOLEAN"
	case joule.TypeDate:
		return "DATE"
	case joule.TypeTimestamp:
		return "TIMESTAMP"
	}
	return "VARCHAR"
}

// jouleType maps a DuckDB type name to a joule column type.
func jouleType(duckName string) string {
	t := strings.ToUpper(duckName)
	switch {
	case t == "BOOLEAN":
		return joule.TypeBoolean
	case t == "TINYINT", t == "SMALLINT", t == "INTEGER", t == "BIGINT", t == "UTINYINT", t == "USMALLINT", t == "UINTEGER", t == "HUGEINT", t == "UBIGINT":
		return joule.TypeInteger
	case t == "FLOAT", t == "DOUBLE", strings.HasPrefix(t, "DECIMAL"):
		return joule.TypeFloat
	case t == "DATE":
		return joule.TypeDate
	case strings.HasPrefix(t, "TIMESTAMP"):
		return joule.TypeTimestamp
	}
	return joule.TypeString
}

func isNumeric(t string) bool { return t == joule.TypeInteger || t == joule.TypeFloat }

// describe returns the names and DuckDB types of a query's columns.
func (d *duck) describe(ctx context.Context, from string) (names, types []string, err error) {
	rows, err := d.query(ctx, "DESCRIBE SELECT * FROM "+from)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		names = append(names, vals[0].String)
		types = append(types, vals[1].String)
	}
	return names, types, rows.Err()
}
