package dataset

import (
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
