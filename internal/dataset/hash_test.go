package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/joule-dev/joule"
)

// writeParquet has DuckDB write the query's rows to a Parquet file with the
// given COPY options.
func writeParquet(t *testing.T, d *duck, query, opts string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.parquet")
	if _, err := d.exec(t.Context(), "COPY ("+query+") TO "+lit(path)+" (FORMAT parquet"+opts+")"); err != nil {
		t.Fatal(err)
	}
	return path
}

// digestV2 is a column's digest in the v2 definition: the SHA-256 of its
// encoded values in row order.
func digestV2(vals ...[]byte) []byte {
	h := sha256.New()
	for _, v := range vals {
		h.Write(v)
	}
	return h.Sum(nil)
}

// hashV2 is the v2 definition written out: header (the "joule table hash
// v2" line, the columns and the row count), then the column digests.
func hashV2(header string, digests ...[]byte) string {
	h := sha256.New()
	h.Write([]byte(header))
	for _, d := range digests {
		h.Write(d)
	}
	return HashV2Prefix + hex.EncodeToString(h.Sum(nil))
}

// TestHashDefinition checks the hash against the definition in
// docs/datasets.md, written out here by hand.
func TestHashDefinition(t *testing.T) {
	d := testDuck(t)
	cols := []joule.DatasetColumn{
		{Name: "i", Type: joule.TypeInteger}, {Name: "f", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeBoolean},
		{Name: "d", Type: joule.TypeDate}, {Name: "ts", Type: joule.TypeTimestamp}, {Name: "s", Type: joule.TypeString},
	}
	path := writeParquet(t, d, `SELECT * FROM (VALUES
		(1::INTEGER, -0.0::DOUBLE, true, DATE '1970-01-02', TIMESTAMP '1970-01-01 00:00:01', 'short'),
		(NULL, 'NaN'::DOUBLE, false, DATE '1969-12-31', NULL, 'a string longer than twelve bytes'),
		(-2, 1.5, NULL, NULL, TIMESTAMP '2024-01-01 00:00:00.000001', ''),
		(9007199254740993, NULL, true, DATE '2024-02-29', TIMESTAMP '1969-12-31 23:59:59', NULL)
	) AS t(i, f, b, d, ts, s)`, "")
	got, err := hashParquet(t.Context(), d, path, cols)
	if err != nil {
		t.Fatal(err)
	}

	null := []byte{0}
	i64 := func(v int64) []byte { return binary.LittleEndian.AppendUint64([]byte{1}, uint64(v)) }
	f64 := func(bits uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{1}, bits) }
	i32 := func(v int32) []byte { return binary.LittleEndian.AppendUint32([]byte{1}, uint32(v)) }
	str := func(s string) []byte {
		return append(binary.LittleEndian.AppendUint32([]byte{1}, uint32(len(s))), s...)
	}
	want := hashV2("joule table hash v2\ni\x1finteger\nf\x1ffloat\nb\x1fboolean\nd\x1fdate\nts\x1ftimestamp\ns\x1fstring\nrows 4\n",
		digestV2(i64(1), null, i64(-2), i64(9007199254740993)),
		digestV2(f64(0), f64(0x7FF8000000000000), f64(math.Float64bits(1.5)), null),
		digestV2([]byte{1, 1}, []byte{1, 0}, null, []byte{1, 1}),
		digestV2(i32(1), i32(-1), null, i32(19782)),
		digestV2(i64(1e6), null, i64(1704067200000001), i64(-1e6)),
		digestV2(str("short"), str("a string longer than twelve bytes"), str(""), null))
	if got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
}

// testDuck opens a DuckDB with the default limits, closed when tb ends.
func testDuck(tb testing.TB) *duck {
	tb.Helper()
	d, err := openDuck(tb.Context(), EngineConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.close)
	return d
}

// TestHashLogical checks that the hash is of the table, not of the file:
// stored types, compression and row groups do not change it; a value or the
// row order does.
func TestHashLogical(t *testing.T) {
	d := testDuck(t)
	cols := []joule.DatasetColumn{{Name: "id", Type: joule.TypeInteger}, {Name: "x", Type: joule.TypeFloat}, {Name: "s", Type: joule.TypeString}}
	hashOf := func(query, opts string) string {
		t.Helper()
		h, err := hashParquet(t.Context(), d, writeParquet(t, d, query, opts), cols)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	const rows = " FROM range(10000) r(i)" // several 2,048-row chunks
	base := hashOf("SELECT i AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS s"+rows+" ORDER BY i", "")
	// The same table written out by hand: each column's values in row
	// order across the chunks, whichever worker hashed them.
	cs := [3]hash.Hash{sha256.New(), sha256.New(), sha256.New()}
	for i := range 10000 {
		cs[0].Write(binary.LittleEndian.AppendUint64([]byte{1}, uint64(i)))
		cs[1].Write(binary.LittleEndian.AppendUint64([]byte{1}, math.Float64bits(float64(i)/7)))
		if i%5 == 0 {
			cs[2].Write([]byte{0})
		} else {
			s := "v" + strconv.Itoa(i)
			cs[2].Write(append(binary.LittleEndian.AppendUint32([]byte{1}, uint32(len(s))), s...))
		}
	}
	if want := hashV2("joule table hash v2\nid\x1finteger\nx\x1ffloat\ns\x1fstring\nrows 10000\n", cs[0].Sum(nil), cs[1].Sum(nil), cs[2].Sum(nil)); base != want {
		t.Errorf("hash of 10,000 rows = %s, want %s", base, want)
	}
	for _, tt := range []struct {
		name, query, opts string
		same              bool
	}{
		{"zstd, small row groups", "SELECT i AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS s" + rows + " ORDER BY i", ", COMPRESSION zstd, ROW_GROUP_SIZE 1000", true},
		{"narrower stored types", "SELECT i::INTEGER AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS s" + rows + " ORDER BY i", ", COMPRESSION uncompressed", true},
		{"one value changed", "SELECT i AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN NULL WHEN i = 9999 THEN 'w' ELSE 'v' || i END AS s" + rows + " ORDER BY i", "", false},
		{"NULL as empty string", "SELECT i AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN '' ELSE 'v' || i END AS s" + rows + " ORDER BY i", "", false},
		{"rows reordered", "SELECT i AS id, i / 7 AS x, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END AS s" + rows + " ORDER BY i DESC", "", false},
	} {
		if got := hashOf(tt.query, tt.opts); (got == base) != tt.same {
			t.Errorf("%s: hash %s, base %s; want same %v", tt.name, got, base, tt.same)
		}
	}
}

// TestHashWithoutNulls checks columns without a NULL against the definition
// (TestHashDefinition's columns each have one): -0 and NaN are canonical
// there too.
func TestHashWithoutNulls(t *testing.T) {
	d := testDuck(t)
	cols := []joule.DatasetColumn{{Name: "f", Type: joule.TypeFloat}, {Name: "ts", Type: joule.TypeTimestamp}}
	got, err := hashParquet(t.Context(), d, writeParquet(t, d, `SELECT * FROM (VALUES
		(-0.0::DOUBLE, TIMESTAMP '1970-01-01 00:00:01'),
		('NaN'::DOUBLE, TIMESTAMP '1969-12-31 23:59:59'),
		(1.5, TIMESTAMP '2024-01-01 00:00:00.000001')
	) AS t(f, ts)`, ""), cols)
	if err != nil {
		t.Fatal(err)
	}
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{1}, v) }
	want := hashV2("joule table hash v2\nf\x1ffloat\nts\x1ftimestamp\nrows 3\n",
		digestV2(u64(0), u64(0x7FF8000000000000), u64(math.Float64bits(1.5))),
		digestV2(u64(1e6), u64(1<<64-1e6), u64(1704067200000001)))
	if got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
}

// BenchmarkHashParquet hashes a Parquet file of a million rows of the
// columns of the scale benchmark's generated CSV (scripts/bench_ingest.sh):
// an id, a timestamp, a category, six floats, a count and a short note.
func BenchmarkHashParquet(b *testing.B) {
	d := testDuck(b)
	path := filepath.Join(b.TempDir(), "t.parquet")
	if _, err := d.exec(b.Context(), `COPY (SELECT i AS id, TIMESTAMP '2024-01-01' + to_seconds(i) AS ts,
		['alpha', 'beta', 'gamma', 'delta'][i % 4 + 1] AS category,
		sin(i) * 100 AS x1, cos(i) * 100 AS x2, sin(i / 3) AS x3, cos(i / 7) * 300 AS x4, sqrt(i) AS x5, ln(i + 1) AS x6,
		i % 1000 AS count, 'note ' || (i % 9973) AS note
		FROM range(1000000) r(i) ORDER BY i) TO `+lit(path)+` (FORMAT parquet, COMPRESSION zstd)`); err != nil {
		b.Fatal(err)
	}
	cols := []joule.DatasetColumn{{Name: "id", Type: joule.TypeInteger}, {Name: "ts", Type: joule.TypeTimestamp}, {Name: "category", Type: joule.TypeString}}
	for _, x := range []string{"x1", "x2", "x3", "x4", "x5", "x6"} {
		cols = append(cols, joule.DatasetColumn{Name: x, Type: joule.TypeFloat})
	}
	cols = append(cols, joule.DatasetColumn{Name: "count", Type: joule.TypeInteger}, joule.DatasetColumn{Name: "note", Type: joule.TypeString})
	for b.Loop() {
		if _, err := hashParquet(b.Context(), d, path, cols); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1e6*b.N)/b.Elapsed().Seconds(), "rows/s")
}
