package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatasetJourney uploads showcase data through the real server and CLI:
// the upload summary, -o json fields, rejects with line numbers, the max
// reject ratio writing nothing, preview, export and delete.
func TestDatasetJourney(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	t.Cleanup(func() { s.shutdown(t) })
	cli := func(args ...string) (string, error) { return s.cli(t, s.token, nil, args...) }

	out, err := cli("dataset", "upload", "credit", "../../examples/data/finance/UCI_Credit_Card.csv", "--target", "Y", "-o", "json")
	if err != nil {
		t.Fatalf("dataset upload: %v\n%s", err, out)
	}
	var up struct {
		Name         string `json:"name"`
		Version      int    `json:"version"`
		Hash         string `json:"hash"`
		Rows         int64  `json:"rows"`
		RejectedRows int64  `json:"rejected_rows"`
		Columns      []struct {
			Name, Type string
		} `json:"columns"`
	}
	if i := strings.Index(out, "{"); i >= 0 {
		out = out[i:] // after the progress bar
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("upload -o json: %v\n%s", err, out)
	}
	if up.Rows != 30000 || up.RejectedRows != 0 || up.Version != 1 || len(up.Columns) != 25 || !strings.HasPrefix(up.Hash, "blake3:v3:") {
		t.Errorf("upload = %+v, want 30000 rows, 0 rejected, version 1, 25 columns, a hash", up)
	}
	if up.Columns[0].Name != "ID" || up.Columns[0].Type != "integer" || up.Columns[1].Type != "float" {
		t.Errorf("columns %+v: want ID integer, LIMIT_BAL float", up.Columns[:2])
	}
	got, err := cli("dataset", "get", "credit", "-o", "json")
	if err != nil || !strings.Contains(got, `"hash": "`+up.Hash+`"`) || !strings.Contains(got, `"rows": 30000`) || !strings.Contains(got, `"rejected_rows": 0`) {
		t.Errorf("dataset get -o json = %v\n%.400s", err, got)
	}

	src := filepath.Join(t.TempDir(), "sales.csv")
	var b strings.Builder
	b.WriteString("id,amount\n")
	for i := range 20 {
		fmt.Fprintf(&b, "%d,%d.5\n", i, i)
	}
	b.WriteString("20,1.5,extra\n21,caf\xe9\n22,lots\n") // lines 22, 23, 24
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = cli("dataset", "upload", "sales", src, "--max-reject-ratio", "0")
	if err == nil || !strings.Contains(out+err.Error(), "3 of 23 rows rejected") {
		t.Errorf("upload over the reject ratio: %v\n%s", err, out)
	}
	if out, err := cli("dataset", "get", "sales"); err == nil {
		t.Errorf("dataset get after a refused upload: %s", out)
	}
	out, err = cli("dataset", "upload", "sales", src, "-q")
	if err != nil || !strings.Contains(out, "rows rejected:     3") || !strings.Contains(out, "rejected line 22:") {
		t.Errorf("upload with rejects: %v\n%s", err, out)
	}
	out, err = cli("dataset", "rejects", "sales")
	for _, want := range []string{"22    ragged row", "23    invalid UTF-8", "24    unparsable value"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("dataset rejects: %v\n%s\nwant %q", err, out, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dataset", "list"}, "sales"},
		{[]string{"dataset", "versions", "credit"}, "upload:UCI_Credit_Card.csv"},
		{[]string{"dataset", "profile", "credit"}, "TARGET Y"},
		{[]string{"dataset", "preview", "sales", "--limit", "2"}, "1.5"},
		{[]string{"dataset", "export", "sales@1", "--format", "csv"}, "id,amount\n0,0.5\n"},
		{[]string{"dataset", "delete", "sales"}, "Deleted dataset"},
	} {
		got, err := cli(tc.args...)
		if err != nil || !strings.Contains(got, tc.want) {
			t.Errorf("joule %s = %v\n%.600s\nwant it to contain %q", strings.Join(tc.args, " "), err, got, tc.want)
		}
	}
}
