package dataset

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/joule-dev/joule"
)

// Database sources.
const (
	FormatPostgres = "postgres"
	FormatMySQL    = "mysql"
)

// Source is a database URL with its password hidden: what a version records
// and what errors show.
func Source(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an invalid URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	u.RawQuery = ""
	return u.String()
}

// openSource opens a database/sql handle for a postgres:// or mysql://
// (also mariadb://) URL.
func openSource(rawURL string) (*sql.DB, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, "", joule.Errorf(joule.EINVALID, "from: not a database URL (postgres://USER@HOST:5432/DB or mysql://USER@HOST:3306/DB)")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, "", joule.Errorf(joule.EINVALID, "from: %s: %s", Source(rawURL), redactErr(err, u))
		}
		return db, FormatPostgres, nil
	case "mysql", "mariadb":
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr = "tcp", u.Host
		if u.Port() == "" {
			cfg.Addr = u.Host + ":3306"
		}
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, "", joule.Errorf(joule.EINVALID, "from: %s: %s", Source(rawURL), redactErr(err, u))
		}
		return sql.OpenDB(conn), FormatMySQL, nil
	}
	return nil, "", joule.Errorf(joule.EINVALID, "from: %q is not postgres:// or mysql://", u.Scheme+"://")
}

// redactErr is err's text with the URL's password, if any, replaced.
func redactErr(err error, u *url.URL) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if u != nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(p), "xxxxx")
		}
	}
	return msg
}

// sqlType maps a database column type name to a joule type.
func sqlType(name string) string {
	t := strings.ToUpper(name)
	t = strings.TrimPrefix(t, "UNSIGNED ")
	switch {
	case t == "BOOL", t == "BOOLEAN":
		return joule.TypeBoolean
	case t == "INT2", t == "INT4", t == "INT8", t == "TINYINT", t == "SMALLINT", t == "MEDIUMINT", t == "INT", t == "INTEGER", t == "BIGINT", t == "YEAR":
		return joule.TypeInteger
	case t == "FLOAT4", t == "FLOAT8", t == "NUMERIC", t == "FLOAT", t == "DOUBLE", t == "DECIMAL", t == "REAL":
		return joule.TypeFloat
	case t == "DATE":
		return joule.TypeDate
	case t == "TIMESTAMP", t == "TIMESTAMPTZ", t == "DATETIME":
		return joule.TypeTimestamp
	}
	return joule.TypeString
}

// ImportQuery runs query on the database at rawURL and writes its rows to
// dir as a version would be (data.parquet), with the hash and profile. Types
// map onto joule's six, so the same table from PostgreSQL and from MariaDB
// gives the same version. Errors never show the password.
func ImportQuery(ctx context.Context, cfg EngineConfig, rawURL, query, dir string, roles map[string]string) (IngestResult, error) {
	if strings.TrimSpace(query) == "" {
		return IngestResult{}, joule.Errorf(joule.EINVALID, "query: required")
	}
	u, _ := url.Parse(rawURL)
	src, format, err := openSource(rawURL)
	if err != nil {
		return IngestResult{}, err
	}
	defer src.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = src.PingContext(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return IngestResult{}, ctx.Err()
		}
		return IngestResult{}, &joule.Error{Code: joule.EINVALID, Message: fmt.Sprintf("cannot connect to %s: %s", Source(rawURL), redactErr(err, u))}
	}
	rows, err := src.QueryContext(ctx, query)
	if err != nil {
		return IngestResult{}, &joule.Error{Code: joule.EINVALID, Message: fmt.Sprintf("query on %s failed: %s", Source(rawURL), redactErr(err, u))}
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return IngestResult{}, fmt.Errorf("import: %w", err)
	}
	names := make([]string, len(cts))
	types := make([]string, len(cts))
	for i, ct := range cts {
		names[i], types[i] = ct.Name(), sqlType(ct.DatabaseTypeName())
	}
	if err := checkColumns(names, IngestOptions{Roles: roles}); err != nil {
		return IngestResult{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return IngestResult{}, fmt.Errorf("import: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return IngestResult{}, err
	}
	defer d.close()
	defs := make([]string, len(names))
	for i := range names {
		defs[i] = ident(names[i]) + " " + duckType(types[i])
	}
	if _, err := d.exec(ctx, "CREATE TABLE imported ("+strings.Join(defs, ", ")+")"); err != nil {
		return IngestResult{}, fmt.Errorf("import: %w", err)
	}
	var n int64
	err = d.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("duckdb connection is not a driver.Conn")
		}
		app, err := duckdb.NewAppenderFromConn(conn, "", "imported")
		if err != nil {
			return err
		}
		holders := make([]any, len(types))
		for i, t := range types {
			switch t {
			case joule.TypeInteger:
				holders[i] = new(sql.NullInt64)
			case joule.TypeFloat:
				holders[i] = new(sql.NullFloat64)
			case joule.TypeBoolean:
				holders[i] = new(sql.NullBool)
			case joule.TypeDate, joule.TypeTimestamp:
				holders[i] = new(sql.NullTime)
			default:
				holders[i] = new(sql.NullString)
			}
		}
		vals := make([]driver.Value, len(types))
		for rows.Next() {
			if err := rows.Scan(holders...); err != nil {
				app.Close()
				return joule.Errorf(joule.EINVALID, "row %d: %v", n+1, err)
			}
			for i, h := range holders {
				v, _ := h.(driver.Valuer).Value()
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC()
				}
				vals[i] = v
			}
			if err := app.AppendRow(vals...); err != nil {
				app.Close()
				return err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			app.Close()
			return &joule.Error{Code: joule.EINVALID, Message: fmt.Sprintf("query on %s failed: %s", Source(rawURL), redactErr(err, u))}
		}
		return app.Close()
	})
	if err != nil {
		if joule.ErrorCode(err) == joule.EINVALID {
			return IngestResult{}, err
		}
		return IngestResult{}, fmt.Errorf("import: %w", err)
	}
	out := filepath.Join(dir, DataFile)
	if _, err := d.exec(ctx, "COPY imported TO "+lit(out)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		return IngestResult{}, fmt.Errorf("import: %w", err)
	}
	res := IngestResult{Format: format, Rows: n, Columns: columnsWithRoles(names, types, roles)}
	if res.Hash, err = hashParquet(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	if res.Profile, err = profile(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	res.Bytes = fi.Size()
	ok = true
	return res, nil
}
