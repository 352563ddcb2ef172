package dataset

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-dev/joule"
)

// examples is the project's shipped showcase data.
const examples = "../../examples/data"

func mustIngest(t *testing.T, src string, opt IngestOptions) IngestResult {
	t.Helper()
	res, err := Ingest(t.Context(), EngineConfig{Threads: 2}, src, filepath.Join(t.TempDir(), "v"), opt)
	if err != nil {
		t.Fatalf("Ingest(%s): %v", src, err)
	}
	return res
}

// TestIngestRowCounts is the acceptance check that every shipped file reads
// with the right number of rows and none rejected.
func TestIngestRowCounts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file    string
		rows    int64
		columns int
	}{
		{"finance/german.data", 1000, 21},
		{"finance/german.data-numeric", 1000, 25}, // space-aligned
		{"finance/UCI_Credit_Card.csv", 30000, 25},
		{"healthcare/wdbc.data", 569, 32},
		{"healthcare/processed.cleveland.data", 303, 14},
		{"energy/ENB2012_data.csv", 768, 10},
		{"energy/ETTh1.csv", 17420, 8},
		{"energy/tetuan_city_power_consumption.csv", 52416, 7},
		{"retail/rating_final.csv", 1161, 5},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			res := mustIngest(t, filepath.Join(examples, tt.file), IngestOptions{})
			if res.Rows != tt.rows || res.RejectedRows != 0 || len(res.Columns) != tt.columns {
				t.Errorf("Ingest(%s) = %d rows, %d rejected, %d columns; want %d, 0, %d (first rejects %v, columns %v)",
					tt.file, res.Rows, res.RejectedRows, len(res.Columns), tt.rows, tt.columns, res.FirstRejects, res.Columns)
			}
			if res.Profile == nil || res.Profile.Rows != tt.rows {
				t.Errorf("Ingest(%s): profile %+v, want %d rows", tt.file, res.Profile, tt.rows)
			}
			if len(res.Hash) != len(HashV3Prefix)+64 {
				t.Errorf("Ingest(%s): hash %q", tt.file, res.Hash)
			}
			for _, c := range res.Columns {
				if c.Role != joule.RoleFeature {
					t.Errorf("column %s role %q, want feature", c.Name, c.Role)
				}
			}
			t.Logf("%s: %s %+v", tt.file, res.Hash, res.CSV)
		})
	}
}

// rejectsCSV builds the acceptance file: 40 good rows, 3 ragged rows, 2
// lines of invalid UTF-8 and one text value in a numeric column. It returns
// the file and the line numbers that must be rejected, with their reasons.
func rejectsCSV(t *testing.T) (string, map[int64]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,amount,city\n")
	want := map[int64]string{}
	line := int64(1)
	add := func(s, reason string) {
		line++
		b.WriteString(s + "\n")
		if reason != "" {
			want[line] = reason
		}
	}
	for i := range 40 {
		add(fmt.Sprintf("%d,%d.%d,city-%d", i, i*3, i%10, i%4), "")
		switch i {
		case 5:
			add("100,1.5", "ragged row")
		case 12:
			add("101,2.5,x,extra", "ragged row")
		case 20:
			add("102", "ragged row")
		case 25:
			add("103,4.5,caf\xe9", "invalid UTF-8")
		case 30:
			add("104,\xff\xfe,ok", "invalid UTF-8")
		case 35:
			add("105,lots,ok", "unparsable value")
		}
	}
	path := filepath.Join(t.TempDir(), "rejects.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, want
}

func TestIngestRejects(t *testing.T) {
	t.Parallel()
	src, want := rejectsCSV(t)
	dir := filepath.Join(t.TempDir(), "v")
	res, err := Ingest(t.Context(), EngineConfig{}, src, dir, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 40 || res.RejectedRows != 6 {
		t.Errorf("Ingest = %d rows, %d rejected; want 40 and 6", res.Rows, res.RejectedRows)
	}
	wantTypes := []string{joule.TypeInteger, joule.TypeFloat, joule.TypeString}
	for i, c := range res.Columns {
		if c.Type != wantTypes[i] {
			t.Errorf("column %s has type %s, want %s", c.Name, c.Type, wantTypes[i])
		}
	}
	svc := &Service{DataDir: t.TempDir()}
	rejects, err := svc.readRejects(t.Context(), filepath.Join(dir, RejectsFile), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, r := range rejects {
		got[r.Line] = r.Reason
		t.Logf("line %d: %s (%s)", r.Line, r.Reason, r.Text)
	}
	if len(got) != len(want) {
		t.Errorf("rejected lines %v, want %v", got, want)
	}
	for line, reason := range want {
		if !strings.HasPrefix(got[line], reason) {
			t.Errorf("line %d rejected as %q, want %q…", line, got[line], reason)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RejectsFile)); err != nil {
		t.Errorf("rejects table: %v", err)
	}

	zero := 0.0
	dir2 := filepath.Join(t.TempDir(), "v")
	_, err = Ingest(t.Context(), EngineConfig{}, src, dir2, IngestOptions{MaxRejectRatio: &zero})
	if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "6 of 46 rows rejected") {
		t.Errorf("Ingest with max reject ratio 0: %v, want invalid naming 6 of 46 rows", err)
	}
	if _, err := os.Stat(dir2); !os.IsNotExist(err) {
		t.Errorf("Ingest with max reject ratio 0 left %s: %v", dir2, err)
	}
}

// TestIngestNullTokensAfterSample checks that reading a CSV file with only
// the empty field as NULL, when the type inference sample holds no other
// null token, gives the version that reading with every token gives,
// whatever column a token first shows up in after the sample, and that the
// file is read a second time only when it must be.
func TestIngestNullTokensAfterSample(t *testing.T) {
	t.Parallel()
	row := func(k int) string {
		return fmt.Sprintf("%d,%d,%d.5,%t,2024-01-%02d,2024-01-%02d 10:00:00,name-%d", k, k*10, k, k%2 == 0, k, k, k)
	}
	// rowWith is row k with field j (0 id, 1 i, 2 f, 3 b, 4 d, 5 ts, 6 s)
	// set to v.
	rowWith := func(k, j int, v string) string {
		f := strings.Split(row(k), ",")
		f[j] = v
		return strings.Join(f, ",")
	}
	field := func(j int, v string) string { return rowWith(9, j, v) }
	type tc struct {
		name, line string
		nulls      string // how the last read read the tokens; "" when either may do
		sample     bool   // the token is on line 3, inside the sample
		tsv        bool   // tabs between the fields instead of commas
	}
	cases := []tc{
		{name: "clean", line: row(9), nulls: nullsEmpty},
		{name: "text in an integer column", line: field(1, "abc"), nulls: nullsEmpty},
		{name: "one field too many", line: row(9) + ",x", nulls: nullsEmpty},
		{name: "string with a space", line: field(6, " NA"), nulls: nullsEmpty},
		{name: "quoted string token", line: field(6, `"NA"`), nulls: nullsEmpty},
		{name: "quoted integer token", line: field(1, `"NA"`), nulls: nullsAll},
		{name: "quoted token too many", line: row(9) + `,"NA"`, nulls: nullsAll},
		{name: "float NAN", line: field(2, "NAN"), nulls: nullsAll},
		{name: "float -nan", line: field(2, "-nan")},
		{name: "float inf", line: field(2, "inf"), nulls: nullsEmpty},
		{name: "token in the sample", line: row(9), nulls: nullsAll, sample: true},
		{name: "tsv clean", line: row(9), nulls: nullsEmpty, tsv: true},
		{name: "tsv i NA", line: field(1, "NA"), nulls: nullsAll, tsv: true},
		{name: "tsv too many NA", line: row(9) + ",NA", nulls: nullsAll, tsv: true},
		{name: "tsv one field too many", line: row(9) + ",x", nulls: nullsEmpty, tsv: true},
	}
	for _, tok := range nullTokens[1:] {
		for j, col := range []string{"i", "f", "b", "d", "ts"} {
			cases = append(cases, tc{name: col + " " + tok, line: field(j+1, tok), nulls: nullsAll})
		}
		cases = append(cases,
			tc{name: "s " + tok, line: field(6, tok), nulls: nullsEmpty},
			tc{name: "too many " + tok, line: row(9) + "," + tok, nulls: nullsAll})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lines := []string{"id,i,f,b,d,ts,s"}
			for k := 1; k <= 8; k++ {
				lines = append(lines, row(k))
			}
			if c.sample {
				lines[2] = rowWith(2, 1, "NA")
			}
			lines = append(lines, c.line, row(10), row(11))
			src := filepath.Join(t.TempDir(), "t.csv")
			text := strings.Join(lines, "\n") + "\n"
			if c.tsv {
				text = strings.ReplaceAll(text, ",", "\t")
			}
			if err := os.WriteFile(src, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			opt := IngestOptions{InferRows: 5}
			cfg := EngineConfig{Threads: 1}
			got, err := ingest(t.Context(), cfg, src, filepath.Join(t.TempDir(), "v"), opt, false, false)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ingest(t.Context(), cfg, src, filepath.Join(t.TempDir(), "v"), opt, false, true)
			if err != nil {
				t.Fatal(err)
			}
			if want.nulls != nullsAll {
				t.Fatalf("with allNulls the read was %q", want.nulls)
			}
			if c.nulls != "" && got.nulls != c.nulls {
				t.Errorf("the last read was %q, want %q", got.nulls, c.nulls)
			}
			if wantReads := 1; c.nulls != "" {
				if c.nulls == nullsAll && !c.sample {
					wantReads = 2
				}
				if got.reads != wantReads {
					t.Errorf("the file was read %d times, want %d", got.reads, wantReads)
				}
			}
			if got.Hash != want.Hash || got.Rows != want.Rows || got.RejectedRows != want.RejectedRows {
				t.Errorf("read %q: %s, %d rows, %d rejected; with every token: %s, %d rows, %d rejected",
					got.nulls, got.Hash, got.Rows, got.RejectedRows, want.Hash, want.Rows, want.RejectedRows)
			}
			if fmt.Sprint(got.FirstRejects) != fmt.Sprint(want.FirstRejects) {
				t.Errorf("rejects %v, with every token %v", got.FirstRejects, want.FirstRejects)
			}
			if fmt.Sprint(got.Columns) != fmt.Sprint(want.Columns) {
				t.Errorf("columns %v, with every token %v", got.Columns, want.Columns)
			}
		})
	}
}

// TestIngestKeepsRowOrder ingests a CSV file large enough for DuckDB to
// read in parallel (30 MB, two threads), both ways of reading null tokens,
// and checks that every row lands at its place: the id column is the row
// number.
func TestIngestKeepsRowOrder(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "rows.csv")
	rows, _, err := writeScaleCSV(src, 30_000_000)
	if err != nil {
		t.Fatal(err)
	}
	cfg := EngineConfig{Threads: 2}
	var hashes []string
	for _, allNulls := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "v")
		res, err := ingest(t.Context(), cfg, src, dir, IngestOptions{}, false, allNulls)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != rows || res.RejectedRows != 0 {
			t.Fatalf("allNulls %t: %d rows, %d rejected; want %d and 0", allNulls, res.Rows, res.RejectedRows, rows)
		}
		d, err := openDuck(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var misplaced int64
		var first sql.NullInt64
		err = d.queryRow(t.Context(), "SELECT count(*) FILTER (id <> file_row_number), min(file_row_number) FILTER (id <> file_row_number) FROM read_parquet("+
			lit(filepath.Join(dir, DataFile))+", file_row_number = true)").Scan(&misplaced, &first)
		d.close()
		if err != nil {
			t.Fatal(err)
		}
		if misplaced != 0 {
			t.Errorf("allNulls %t (read %q): %d of %d rows out of place, the first at row %d", allNulls, res.nulls, misplaced, rows, first.Int64)
		}
		hashes = append(hashes, res.Hash)
	}
	if hashes[0] != hashes[1] {
		t.Errorf("hash %s, with every null token %s", hashes[0], hashes[1])
	}
}
