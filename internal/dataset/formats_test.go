package dataset

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-dev/joule"
)

// TestIngestFormats reads the same small table from JSON, JSON Lines,
// Parquet, TSV, a semicolon file, Latin-1 and UTF-16: every one gives the
// same schema and hash.
func TestIngestFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csv := write("t.csv", []byte("id,name,score,day\n1,café,1.5,2024-01-02\n2,naïve,,2024-01-03\n3,x,-2.25,2024-01-04\n"))
	base := mustIngest(t, csv, IngestOptions{})
	want := []joule.DatasetColumn{{Name: "id", Type: "integer", Role: "feature"}, {Name: "name", Type: "string", Role: "feature"},
		{Name: "score", Type: "float", Role: "feature"}, {Name: "day", Type: "date", Role: "feature"}}
	if !slices.Equal(base.Columns, want) || base.Rows != 3 {
		t.Fatalf("CSV: %d rows, columns %v; want 3 and %v", base.Rows, base.Columns, want)
	}
	// Parquet written by an export of the CSV's version.
	pq := filepath.Join(dir, "t.parquet")
	v := filepath.Join(t.TempDir(), "v")
	if _, err := Ingest(t.Context(), EngineConfig{}, csv, v, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(v, DataFile))
	if err != nil {
		t.Fatal(err)
	}
	write("t.parquet", b)

	latin1 := []byte("id,name,score,day\n1,caf\xe9,1.5,2024-01-02\n2,na\xefve,,2024-01-03\n3,x,-2.25,2024-01-04\n")
	var utf16 []byte
	utf16 = append(utf16, 0xff, 0xfe)
	for _, r := range "id,name,score,day\n1,café,1.5,2024-01-02\n2,naïve,,2024-01-03\n3,x,-2.25,2024-01-04\n" {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	for _, tt := range []struct {
		name string
		path string
		opt  IngestOptions
	}{
		{"json", write("t.json", []byte(`[{"id":1,"name":"café","score":1.5,"day":"2024-01-02"},{"id":2,"name":"naïve","score":null,"day":"2024-01-03"},{"id":3,"name":"x","score":-2.25,"day":"2024-01-04"}]`)), IngestOptions{}},
		{"jsonl", write("t.jsonl", []byte("{\"id\":1,\"name\":\"café\",\"score\":1.5,\"day\":\"2024-01-02\"}\n{\"id\":2,\"name\":\"naïve\",\"score\":null,\"day\":\"2024-01-03\"}\n{\"id\":3,\"name\":\"x\",\"score\":-2.25,\"day\":\"2024-01-04\"}\n")), IngestOptions{}},
		{"parquet", pq, IngestOptions{}},
		{"tsv", write("t.tsv", []byte("id\tname\tscore\tday\n1\tcafé\t1.5\t2024-01-02\n2\tnaïve\t\t2024-01-03\n3\tx\t-2.25\t2024-01-04\n")), IngestOptions{}},
		{"semicolon", write("t.txt", []byte("id;name;score;day\n1;café;1.5;2024-01-02\n2;naïve;;2024-01-03\n3;x;-2.25;2024-01-04\n")), IngestOptions{}},
		{"latin-1", write("l1.csv", latin1), IngestOptions{}},
		{"utf-16", write("u16.csv", utf16), IngestOptions{}},
		{"no extension", write("noext", []byte(`[{"id":1,"name":"café","score":1.5,"day":"2024-01-02"},{"id":2,"name":"naïve","score":null,"day":"2024-01-03"},{"id":3,"name":"x","score":-2.25,"day":"2024-01-04"}]`)), IngestOptions{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mustIngest(t, tt.path, tt.opt)
			if got.Hash != base.Hash || !slices.Equal(got.Columns, want) {
				t.Errorf("%s: hash %s columns %v; want the CSV's %s and %v (rejects %v)", tt.name, got.Hash, got.Columns, base.Hash, want, got.FirstRejects)
			}
		})
	}
	// A type override and a role.
	got := mustIngest(t, csv, IngestOptions{Types: map[string]string{"id": "string", "day": "string"}, Roles: map[string]string{"score": "target"}})
	if got.Columns[0].Type != "string" || got.Columns[3].Type != "string" || got.Columns[2].Role != "target" {
		t.Errorf("overrides: %v", got.Columns)
	}
	_, err = Ingest(t.Context(), EngineConfig{}, csv, filepath.Join(t.TempDir(), "x"), IngestOptions{Types: map[string]string{"nope": "integer"}})
	if joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("override of a missing column: %v, want invalid", err)
	}
	_, err = Ingest(t.Context(), EngineConfig{}, write("bad.json", []byte(`[{"a": 1}, {"a": `)), filepath.Join(t.TempDir(), "x"), IngestOptions{})
	if joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("broken JSON: %v, want invalid", err)
	}
}
