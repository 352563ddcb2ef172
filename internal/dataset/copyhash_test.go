package dataset

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/joule-dev/joule"
)

// TestCopyHashed checks that the hash computed while writing is the one
// hashParquet reads back from the written file, and that the file holds the
// query's rows in order, also when DuckDB reads the source in parallel.
func TestCopyHashed(t *testing.T) {
	t.Parallel()
	d, err := openDuck(t.Context(), EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	cols := []joule.DatasetColumn{
		{Name: "id", Type: joule.TypeInteger}, {Name: "x", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeBoolean},
		{Name: "day", Type: joule.TypeDate}, {Name: "ts", Type: joule.TypeTimestamp}, {Name: "s", Type: joule.TypeString},
	}
	// 300,000 rows in row groups of 2,048: a parallel scan hands its chunks
	// out of order unless the order is kept.
	src := writeParquet(t, d, `SELECT i AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE i / 3 END AS x, i % 2 = 0 AS b,
		DATE '2020-01-01' + (i % 1000)::INTEGER AS day, TIMESTAMP '2020-01-01' + to_seconds(i) AS ts,
		CASE WHEN i % 5 = 0 THEN NULL ELSE 'value number ' || i END AS s FROM range(300000) r(i) ORDER BY i`, ", ROW_GROUP_SIZE 2048")
	want, err := hashParquet(t.Context(), d, src, cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, threads := range []int{1, 4} {
		out := filepath.Join(t.TempDir(), "out.parquet")
		rows, got, err := copyHashed(t.Context(), EngineConfig{Threads: threads, TempDir: t.TempDir()}, "SELECT * FROM read_parquet("+lit(src)+")", cols, out, ", COMPRESSION zstd", nil)
		if err != nil {
			t.Fatalf("threads %d: %v", threads, err)
		}
		if rows != 300000 || got != want {
			t.Errorf("threads %d: copyHashed = %d rows, %s; want 300000, %s (the source's hash)", threads, rows, got, want)
		}
		back, err := hashParquet(t.Context(), d, out, cols)
		if err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Errorf("threads %d: the written file hashes %s, want %s", threads, back, want)
		}
		var differ int64
		if err := d.queryRow(t.Context(), "SELECT count(*) FROM (SELECT *, row_number() OVER () AS n FROM read_parquet("+lit(src)+")) a FULL JOIN (SELECT *, row_number() OVER () AS n FROM read_parquet("+lit(out)+")) b USING (n) WHERE a.id IS DISTINCT FROM b.id OR a.s IS DISTINCT FROM b.s").Scan(&differ); err != nil {
			t.Fatal(err)
		}
		if differ != 0 {
			t.Errorf("threads %d: %d rows differ from the source, row for row", threads, differ)
		}
	}
}

// TestCopyHashedOrder checks that the hash computed while writing keeps
// the row order: the same rows in another order hash differently.
func TestCopyHashedOrder(t *testing.T) {
	t.Parallel()
	cols := []joule.DatasetColumn{{Name: "id", Type: joule.TypeInteger}, {Name: "s", Type: joule.TypeString}}
	hash := func(order string) string {
		t.Helper()
		_, h, err := copyHashed(t.Context(), EngineConfig{}, "SELECT i AS id, 'v' || i AS s FROM range(5000) r(i) ORDER BY i "+order, cols, filepath.Join(t.TempDir(), "t.parquet"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if asc, desc := hash("ASC"), hash("DESC"); asc == desc {
		t.Errorf("ascending and descending rows hash alike: %s", asc)
	}
}

// TestCopyHashedErrors checks that a failing query, a failing write and a
// cancelled context end the copy with an error (and do not hang it).
func TestCopyHashedErrors(t *testing.T) {
	t.Parallel()
	cols := []joule.DatasetColumn{{Name: "id", Type: joule.TypeInteger}}
	const rows = "SELECT i AS id FROM range(300000) r(i)"
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name  string
		ctx   context.Context
		query string
		path  string
	}{
		{"query fails midway", t.Context(), "SELECT CAST(CASE WHEN i = 250000 THEN 'x' ELSE i::VARCHAR END AS BIGINT) AS id FROM range(300000) r(i)", filepath.Join(t.TempDir(), "t.parquet")},
		{"write fails", t.Context(), rows, filepath.Join(t.TempDir(), "missing", "dir", "t.parquet")},
		{"canceled", canceled, rows, filepath.Join(t.TempDir(), "t.parquet")},
	} {
		_, h, err := copyHashed(tt.ctx, EngineConfig{}, tt.query, cols, tt.path, "", nil)
		if err == nil {
			t.Errorf("%s: copyHashed = %s, nil; want an error", tt.name, h)
		}
		if tt.name == "canceled" && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", tt.name, err)
		}
	}
}
