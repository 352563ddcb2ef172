package ml_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
)

var loaders = []struct {
	name string
	load func(io.Reader, string) (*ml.Dataset, error)
}{
	{"german.data-numeric", ml.LoadGermanNumeric},
	{"processed.cleveland.data", ml.LoadCleveland},
	{"wdbc.data", ml.LoadWDBC},
}

func TestLoaderErrors(t *testing.T) {
	t.Parallel()
	german := strings.Repeat("1 ", 24) + "2\n"
	tests := []struct {
		name, input string
		load        func(io.Reader, string) (*ml.Dataset, error)
		wantLine    int
		wantText    string
	}{
		{"german short row", german + "1 2 3\n", ml.LoadGermanNumeric, 2, "3 fields, want 25"},
		{"german bad class", strings.Repeat("1 ", 24) + "3\n", ml.LoadGermanNumeric, 1, "class"},
		{"german not a number", "\n" + strings.Repeat("x ", 25) + "\n", ml.LoadGermanNumeric, 2, "not a finite number"},
		{"german NaN", strings.Repeat("NaN ", 24) + "1\n", ml.LoadGermanNumeric, 1, "not a finite number"},
		{"empty", "", ml.LoadGermanNumeric, 0, "no rows"},
		{"cleveland all missing", strings.Repeat("?,", 13) + "0\n", ml.LoadCleveland, 0, "no complete rows"},
		{"wdbc bad diagnosis", "1,X" + strings.Repeat(",1", 30) + "\n", ml.LoadWDBC, 1, "diagnosis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.load(strings.NewReader(tt.input), "in.txt")
			pe, ok := errors.AsType[*ml.ParseError](err)
			if !ok {
				t.Fatalf("load(%q) = %v, want a *ParseError", tt.input, err)
			}
			if pe.File != "in.txt" || pe.Line != tt.wantLine || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("load(%q) = %v, want in.txt line %d with %q", tt.input, err, tt.wantLine, tt.wantText)
			}
		})
	}
}

func TestLoadClevelandDropsMissing(t *testing.T) {
	t.Parallel()
	in := "1,2,3,4,5,6,7,8,9,10,11,?,3,2\n1,2,3,4,5,6,7,8,9,10,11,0,3,0\r\n"
	d, err := ml.LoadCleveland(strings.NewReader(in), "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Y) != 1 || d.Y[0] != 0 || len(d.X[0]) != 13 {
		t.Errorf("LoadCleveland(%q) = %v, want one row labelled 0", in, d)
	}
}

// FuzzLoaders checks that no input makes a loader panic, and that every
// error names the file, and a line within the input when it names one.
func FuzzLoaders(f *testing.F) {
	for _, l := range loaders {
		b, err := os.ReadFile(filepath.Join("testdata", l.name))
		if err != nil {
			f.Fatal(err)
		}
		lines := bytes.SplitAfter(b, []byte("\n"))
		f.Add(bytes.Join(lines[:min(3, len(lines))], nil))
	}
	f.Add([]byte("1,M,?,,\n\n  \t\r\n"))
	f.Add([]byte(strings.Repeat("?,", 13) + "0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nLines := bytes.Count(data, []byte("\n")) + 1
		for _, l := range loaders {
			d, err := l.load(bytes.NewReader(data), l.name)
			if err != nil {
				pe, ok := errors.AsType[*ml.ParseError](err)
				if !ok || pe.File != l.name || pe.Line < 0 || pe.Line > nLines ||
					!strings.HasPrefix(err.Error(), l.name+":") {
					t.Errorf("%s: error %v does not name file:line", l.name, err)
				}
				continue
			}
			if len(d.X) == 0 || len(d.X) != len(d.Y) {
				t.Errorf("%s: %d rows and %d labels without an error", l.name, len(d.X), len(d.Y))
			}
		}
	})
}
