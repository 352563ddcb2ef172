package dataset

import (
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, sample string
		want         CSVOptions
	}{
		{"comma header", "a,b,c\n1,2,x\n3,4,y\n", CSVOptions{Delimiter: ",", Quote: `"`, Header: "true", Encoding: "utf-8"}},
		{"comma no header", "63.0,1.0,?\n67.0,1.0,3.0\n", CSVOptions{Delimiter: ",", Quote: `"`, Header: "false", Encoding: "utf-8"}},
		{"tab", "x\ty\n1\t2\n3\t4\n", CSVOptions{Delimiter: "\t", Quote: `"`, Header: "true", Encoding: "utf-8"}},
		{"semicolon with decimal commas", "a;b\n1,5;2\n3,5;4\n", CSVOptions{Delimiter: ";", Quote: `"`, Header: "true", Encoding: "utf-8"}},
		{"space-aligned", "   1   6   4  12\n   2  48   2  60\n", CSVOptions{Delimiter: "whitespace", Quote: `"`, Header: "false", Encoding: "utf-8"}},
		{"space", "A11 6 A34\nA12 48 A32\n", CSVOptions{Delimiter: " ", Quote: `"`, Header: "false", Encoding: "utf-8"}},
		{"quoted commas", "name,city\n\"Smith, J\",Oslo\n\"Doe, A\",Rome\n", CSVOptions{Delimiter: ",", Quote: `"`, Header: "true", Encoding: "utf-8"}},
		{"text only", "a,b\nx,y\n", CSVOptions{Delimiter: ",", Quote: `"`, Header: "true", Encoding: "utf-8"}},
		{"latin-1", "a,b\ncaf\xe9,1\nna\xefve,2\n", CSVOptions{Delimiter: ",", Quote: `"`, Header: "true", Encoding: "latin-1"}},
		{"utf-16 BOM", "\xff\xfea\x00,\x00b\x00\n\x001\x00,\x002\x00\n\x00", CSVOptions{Delimiter: ",", Quote: `"`, Header: "true", Encoding: "utf-16"}},
		{"override", "a;b\n1;2\n", CSVOptions{Delimiter: "|", Quote: `"`, Header: "false", Encoding: "utf-8"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := CSVOptions{}
			if tt.name == "override" {
				in = CSVOptions{Delimiter: "|", Header: "false"}
			}
			if got := Sniff([]byte(tt.sample), in); got != tt.want {
				t.Errorf("Sniff(%q) = %+v, want %+v", tt.sample, got, tt.want)
			}
		})
	}
}

// FuzzSniff checks that the sniffer never panics and always returns options
// that validate.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\xff\xfe\x00", "\"unterminated,\n", "   1   2\n", "a;b;c\r\n1;2;3\r\n", "", "\n\n\n", "x\t'y'\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Sniff(b, CSVOptions{})
		if err := o.Validate(); err != nil {
			t.Fatalf("Sniff(%q) = %+v: %v", b, o, err)
		}
		if o.Delimiter == "" || o.Quote == "" || o.Header == "" || o.Encoding == "" {
			t.Fatalf("Sniff(%q) left a field empty: %+v", b, o)
		}
		_ = splitLine(strings.ToValidUTF8(string(b), ""), o.Delimiter[0], o.Quote[0])
	})
}
