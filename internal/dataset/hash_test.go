package dataset

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

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

// digest is the BLAKE3 of one of a column's streams.
func digest(stream ...[]byte) []byte {
	h := blake3.New()
	for _, b := range stream {
		h.Write(b)
	}
	return h.Sum(nil)
}

// hashV3 is the v3 definition written out: the BLAKE3 of the header (the
// "joule table hash v3" line, the columns and the row count), then the
// columns' digests (values, lengths for a string column, nulls).
func hashV3(header string, digests ...[]byte) string {
	h := blake3.New()
	h.Write([]byte(header))
	for _, d := range digests {
		h.Write(d)
	}
	return HashV3Prefix + hex.EncodeToString(h.Sum(nil))
}

func le64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func le32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
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
	minus2, minus1 := int64(-2), int32(-1)
	want := hashV3("joule table hash v3\ni\x1finteger\nf\x1ffloat\nb\x1fboolean\nd\x1fdate\nts\x1ftimestamp\ns\x1fstring\nrows 4\n",
		digest(le64(1, 0, uint64(minus2), 9007199254740993)), digest(le64(1)),
		digest(le64(0, 0x7FF8000000000000, math.Float64bits(1.5), 0)), digest(le64(3)),
		digest([]byte{1, 0, 0, 1}), digest(le64(2)),
		digest(le32(1, uint32(minus1), 0, 19782)), digest(le64(2)),
		digest(le64(1e6, 0, 1704067200000001, 1<<64-1e6)), digest(le64(1)),
		digest([]byte("short"), []byte("a string longer than twelve bytes")), digest(le32(5, 33, 0, 0)), digest(le64(3)))
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
	// The same table written out by hand: each column's streams in row
	// order across the chunks, whichever worker hashed them.
	var ids, xs, strs, lens, nulls []byte
	for i := range 10000 {
		ids = binary.LittleEndian.AppendUint64(ids, uint64(i))
		xs = binary.LittleEndian.AppendUint64(xs, math.Float64bits(float64(i)/7))
		if i%5 == 0 {
			lens = binary.LittleEndian.AppendUint32(lens, 0)
			nulls = binary.LittleEndian.AppendUint64(nulls, uint64(i))
			continue
		}
		s := "v" + strconv.Itoa(i)
		strs = append(strs, s...)
		lens = binary.LittleEndian.AppendUint32(lens, uint32(len(s)))
	}
	if want := hashV3("joule table hash v3\nid\x1finteger\nx\x1ffloat\ns\x1fstring\nrows 10000\n",
		digest(ids), digest(), digest(xs), digest(), digest(strs), digest(lens), digest(nulls)); base != want {
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
// there too, and a string of 4 KiB or more (hashed where it lies, not
// copied) is part of the values stream like any other.
func TestHashWithoutNulls(t *testing.T) {
	d := testDuck(t)
	cols := []joule.DatasetColumn{{Name: "f", Type: joule.TypeFloat}, {Name: "ts", Type: joule.TypeTimestamp}, {Name: "s", Type: joule.TypeString}}
	long := strings.Repeat("0123456789", 500)
	got, err := hashParquet(t.Context(), d, writeParquet(t, d, `SELECT * FROM (VALUES
		(-0.0::DOUBLE, TIMESTAMP '1970-01-01 00:00:01', 'a'),
		('NaN'::DOUBLE, TIMESTAMP '1969-12-31 23:59:59', repeat('0123456789', 500)),
		(1.5, TIMESTAMP '2024-01-01 00:00:00.000001', 'b')
	) AS t(f, ts, s)`, ""), cols)
	if err != nil {
		t.Fatal(err)
	}
	want := hashV3("joule table hash v3\nf\x1ffloat\nts\x1ftimestamp\ns\x1fstring\nrows 3\n",
		digest(le64(0, 0x7FF8000000000000, math.Float64bits(1.5))), digest(),
		digest(le64(1e6, 1<<64-1e6, 1704067200000001)), digest(),
		digest([]byte("a"+long+"b")), digest(le32(1, uint32(len(long)), 1)), digest())
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

// TestHashMatchesReference hashes a generated table of every type, with
// NULLs, -0, NaN, infinities and long strings scattered over several chunks,
// and checks it against the definition computed from the same rows read
// through database/sql instead of DuckDB's chunks.
func TestHashMatchesReference(t *testing.T) {
	d := testDuck(t)
	if _, err := d.exec(t.Context(), "SELECT setseed(0.42)"); err != nil {
		t.Fatal(err)
	}
	cols := []joule.DatasetColumn{
		{Name: "i", Type: joule.TypeInteger}, {Name: "f", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeBoolean},
		{Name: "d", Type: joule.TypeDate}, {Name: "ts", Type: joule.TypeTimestamp}, {Name: "s", Type: joule.TypeString},
	}
	path := writeParquet(t, d, `SELECT
		CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 2e12 - 1e12)::BIGINT END AS i,
		[NULL, -0.0, 'NaN'::DOUBLE, -('NaN'::DOUBLE), 'Infinity'::DOUBLE, '-Infinity'::DOUBLE, 0.0, random() - 0.5, random() * 1e300][(random() * 9)::INTEGER % 9 + 1] AS f,
		CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.5 END AS b,
		CASE WHEN random() < 0.1 THEN NULL ELSE DATE '1970-01-01' + (random() * 40000 - 20000)::INTEGER END AS d,
		CASE WHEN random() < 0.1 THEN NULL ELSE make_timestamp((random() * 4e15 - 2e15)::BIGINT) END AS ts,
		CASE WHEN random() < 0.1 THEN NULL ELSE repeat('x', (random() * 30)::INTEGER) || CASE WHEN random() < 0.01 THEN repeat('y', 5000) ELSE '' END END AS s
		FROM range(7000)`, "")
	got, err := hashParquet(t.Context(), d, path, cols)
	if err != nil {
		t.Fatal(err)
	}

	rows, err := d.query(t.Context(), "SELECT i, f, b, epoch_ms(d::TIMESTAMP) // 86400000, epoch_us(ts), s FROM read_parquet("+lit(path)+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vals [6][]byte
	var lens, nulls [6][]byte
	null := func(c, row int) { nulls[c] = binary.LittleEndian.AppendUint64(nulls[c], uint64(row)) }
	var nans [2]int // NaNs without and with the sign bit
	n := 0
	for ; rows.Next(); n++ {
		var (
			i, day, ts sql.NullInt64
			f          sql.NullFloat64
			b          sql.NullBool
			s          sql.NullString
		)
		if err := rows.Scan(&i, &f, &b, &day, &ts, &s); err != nil {
			t.Fatal(err)
		}
		for col, v := range map[int]sql.NullInt64{0: i, 4: ts} {
			if !v.Valid {
				null(col, n)
			}
			vals[col] = binary.LittleEndian.AppendUint64(vals[col], uint64(v.Int64))
		}
		bits := math.Float64bits(f.Float64)
		nans[bits>>63] += b2i(math.IsNaN(f.Float64))
		switch {
		case !f.Valid:
			null(1, n)
		case f.Float64 == 0:
			bits = 0
		case math.IsNaN(f.Float64):
			bits = 0x7FF8000000000000
		}
		vals[1] = binary.LittleEndian.AppendUint64(vals[1], bits)
		if !b.Valid {
			null(2, n)
		}
		vals[2] = append(vals[2], byte(b2i(b.Bool)))
		if !day.Valid {
			null(3, n)
		}
		vals[3] = binary.LittleEndian.AppendUint32(vals[3], uint32(int32(day.Int64)))
		if !s.Valid {
			null(5, n)
		}
		vals[5] = append(vals[5], s.String...)
		lens[5] = binary.LittleEndian.AppendUint32(lens[5], uint32(len(s.String)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var digests [][]byte
	for c := range cols {
		digests = append(digests, digest(vals[c]))
		if c == 5 {
			digests = append(digests, digest(lens[c]))
		}
		digests = append(digests, digest(nulls[c]))
	}
	want := hashV3("joule table hash v3\ni\x1finteger\nf\x1ffloat\nb\x1fboolean\nd\x1fdate\nts\x1ftimestamp\ns\x1fstring\nrows "+strconv.Itoa(n)+"\n", digests...)
	if n != 7000 || nans[0] == 0 || nans[1] == 0 || got != want {
		t.Errorf("hash of %d rows (NaNs: %d positive, %d negative) = %s, want %s", n, nans[0], nans[1], got, want)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
