package dataset

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Test databases: PostgreSQL from $JOULE_TEST_POSTGRES, MariaDB from
// $JOULE_TEST_MYSQL (mysql://root@127.0.0.1:3306/test on the CI machines).
// Without them the test is skipped, or fails when $CI is set.
func testDB(t *testing.T, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set", env)
		}
		t.Skipf("%s is not set: skipping", env)
	}
	return u
}

func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%.80s: %v", s, err)
		}
	}
}

// fillSales writes the same 10,000 rows to a table in either database.
func fillSales(t *testing.T, db *sql.DB, table string, pg bool) {
	t.Helper()
	dbl, dec := "DOUBLE", "DECIMAL(10,2)"
	if pg {
		dbl, dec = "DOUBLE PRECISION", "NUMERIC(10,2)"
	}
	execAll(t, db, fmt.Sprintf("CREATE TABLE %s (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL, amount %s, qty BIGINT, category VARCHAR(10), created DATE, price %s, seen TIMESTAMP NULL)", table, dbl, dec))
	for lo := 0; lo < 10000; lo += 500 {
		var vals []string
		for i := lo; i < lo+500; i++ {
			cat := fmt.Sprintf("'c%d'", i%5)
			if i%7 == 0 {
				cat = "NULL"
			}
			vals = append(vals, fmt.Sprintf("(%d, 'item %d é', %g, %d, %s, DATE '2024-01-01' + %s, %d.%02d, TIMESTAMP '2024-03-01 10:00:00' + %s)",
				i, i, float64(i)*0.25-100.5, (i*7919)%1000-500, cat, dayInterval(pg, i%365), i%1000, i%100, secInterval(pg, i*37)))
		}
		execAll(t, db, "INSERT INTO "+table+" VALUES "+strings.Join(vals, ", "))
	}
}

func dayInterval(pg bool, n int) string {
	if pg {
		return fmt.Sprintf("%d", n)
	}
	return fmt.Sprintf("INTERVAL %d DAY", n)
}

func secInterval(pg bool, n int) string {
	if pg {
		return fmt.Sprintf("INTERVAL '%d seconds'", n)
	}
	return fmt.Sprintf("INTERVAL %d SECOND", n)
}

func randName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// TestImportPostgresAndMariaDB is the acceptance check: the same
// 10,000-row table imported from PostgreSQL and from MariaDB gives identical
// versions (hash and profile), and bad passwords or SQL get clear errors
// that never show the password.
func TestImportPostgresAndMariaDB(t *testing.T) {
	t.Parallel()
	pgURL := testDB(t, "JOULE_TEST_POSTGRES")
	myURL := testDB(t, "JOULE_TEST_MYSQL")
	table := randName("sales_")

	pg, _, err := openSource(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	my, _, err := openSource(myURL)
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	t.Cleanup(func() {
		ctx := context.Background()
		pg.ExecContext(ctx, "DROP TABLE IF EXISTS "+table)
		my.ExecContext(ctx, "DROP TABLE IF EXISTS "+table)
	})
	fillSales(t, pg, table, true)
	fillSales(t, my, table, false)

	q := "SELECT * FROM " + table + " ORDER BY id"
	roles := map[string]string{"id": "id", "category": "target"}
	a, err := ImportQuery(t.Context(), EngineConfig{}, pgURL, q, filepath.Join(t.TempDir(), "pg"), roles)
	if err != nil {
		t.Fatalf("import from PostgreSQL: %v", err)
	}
	b, err := ImportQuery(t.Context(), EngineConfig{}, myURL, q, filepath.Join(t.TempDir(), "my"), roles)
	if err != nil {
		t.Fatalf("import from MariaDB: %v", err)
	}
	if a.Rows != 10000 || b.Rows != 10000 {
		t.Errorf("rows: %d from PostgreSQL, %d from MariaDB; want 10000", a.Rows, b.Rows)
	}
	if a.Hash != b.Hash {
		t.Errorf("hash: %s from PostgreSQL, %s from MariaDB", a.Hash, b.Hash)
	}
	if diff := cmp.Diff(a.Columns, b.Columns); diff != "" {
		t.Errorf("columns (-postgres +mariadb):\n%s", diff)
	}
	pa, _ := json.Marshal(a.Profile)
	pb, _ := json.Marshal(b.Profile)
	if string(pa) != string(pb) {
		t.Errorf("profiles differ:\n%s\n%s", pa, pb)
	}
	t.Logf("both: %s, columns %v", a.Hash, a.Columns)

	// Wrong password (MariaDB checks it; the PostgreSQL here trusts
	// loopback, so a missing role stands in), and bad SQL.
	secret := "s3cret-Passw0rd"
	badMy := strings.Replace(myURL, "mysql://root@", "mysql://root:"+secret+"@", 1)
	badPG := strings.Replace(pgURL, "://postgres@", "://nobody:"+secret+"@", 1)
	for _, tt := range []struct{ url, query, want string }{
		{badMy, q, "cannot connect to mysql://root:xxxxx@127.0.0.1:3306/test: Error 1045"},
		{badPG, q, "cannot connect to postgres://nobody:xxxxx@127.0.0.1:5432/test"},
		{pgURL, "SELEKT 1", "query on postgres://postgres@127.0.0.1:5432/test failed: ERROR: syntax error"},
		{myURL, "SELECT nope FROM " + table, "query on mysql://root@127.0.0.1:3306/test failed: Error 1054"},
		{"ftp://x@y/z", "SELECT 1", "is not postgres:// or mysql://"},
	} {
		_, err := ImportQuery(t.Context(), EngineConfig{}, tt.url, tt.query, filepath.Join(t.TempDir(), "x"), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("ImportQuery(%s, %q) = %v, want an error containing %q and never the password", Source(tt.url), tt.query, err, tt.want)
		}
	}
}
