package dataset

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/joule-dev/joule"
)

// CSVOptions says how to read a delimited text file (see joule.CSVOptions).
type CSVOptions = joule.CSVOptions

// Whitespace is the delimiter of space-aligned files: runs of spaces and
// tabs. Such a file is rewritten with one tab between fields before DuckDB
// reads it, line for line, so line numbers stay right.
const Whitespace = "whitespace"

// whitespaceAligned reports whether most lines start with a space or hold
// runs of spaces: a space-aligned table rather than single-space fields.
func whitespaceAligned(lines []string) bool {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, " ") || strings.Contains(l, "  ") {
			n++
		}
	}
	return len(lines) > 0 && n*2 >= len(lines)
}

// delimOf is the one-byte delimiter DuckDB reads o's file with.
func delimOf(o CSVOptions) string {
	if o.Delimiter == Whitespace {
		return "\t"
	}
	return o.Delimiter
}

// normalizeLines joins each line's whitespace-separated fields with tabs.
func normalizeLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.Join(strings.Fields(l), "\t")
	}
	return out
}

// sniffDelimiters are the delimiters the sniffer tries, in order of
// preference when they fit equally well.
var sniffDelimiters = []byte{',', '\t', ';', '|', ' '}

// Sniff guesses how to read a delimited text file from its first bytes and
// fills the fields of o that are empty. It never fails: a sample it cannot
// make sense of gives comma, double quote, UTF-8 and a header.
func Sniff(sample []byte, o CSVOptions) CSVOptions {
	if o.Encoding == "" {
		o.Encoding = sniffEncoding(sample)
	}
	text := sample
	switch {
	case o.Encoding == "latin-1":
		text = latin1ToUTF8(sample)
	case o.Encoding == "utf-16":
		text = utf16ToUTF8(sample)
	}
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	lines := sampleLines(text)
	if o.Quote == "" {
		o.Quote = `"`
		if countFieldStarts(lines, '\'') > 0 && countFieldStarts(lines, '"') == 0 {
			o.Quote = "'"
		}
	}
	if o.Delimiter == "" {
		o.Delimiter = string(sniffDelimiter(lines, o.Quote[0]))
		if o.Delimiter == " " && whitespaceAligned(lines) {
			o.Delimiter = Whitespace
		}
	}
	if o.Header == "" {
		if o.Delimiter == Whitespace {
			lines = normalizeLines(lines)
		}
		o.Header = strconv.FormatBool(sniffHeader(lines, delimOf(o), o.Quote[0]))
	}
	return o
}

// sniffEncoding reads a byte-order mark, else takes UTF-8 unless a quarter or
// more of the sample's lines are not valid UTF-8 (then Latin-1). A few bad
// lines stay UTF-8 so that they are rejected rather than misread.
func sniffEncoding(sample []byte) string {
	switch {
	case bytes.HasPrefix(sample, []byte{0xff, 0xfe}), bytes.HasPrefix(sample, []byte{0xfe, 0xff}):
		return "utf-16"
	case bytes.HasPrefix(sample, []byte("\xef\xbb\xbf")):
		return "utf-8"
	}
	lines := bytes.Split(sample, []byte{'\n'})
	if len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last may be cut off mid-character
	}
	bad, n := 0, 0
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		n++
		if !utf8.Valid(l) {
			bad++
		}
	}
	if n > 0 && bad*4 >= n {
		return "latin-1"
	}
	return "utf-8"
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func utf16ToUTF8(b []byte) []byte {
	le := true
	if bytes.HasPrefix(b, []byte{0xfe, 0xff}) {
		le = false
	}
	if len(b) >= 2 {
		b = b[2:]
	}
	out := make([]byte, 0, len(b))
	for i := 0; i+1 < len(b); i += 2 {
		var r rune
		if le {
			r = rune(b[i]) | rune(b[i+1])<<8
		} else {
			r = rune(b[i])<<8 | rune(b[i+1])
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// sampleLines returns up to 200 complete, non-empty lines of the sample
// (the last line is dropped when the sample may have cut it).
func sampleLines(text []byte) []string {
	s := strings.ReplaceAll(string(text), "\r\n", "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > 1 {
		lines = lines[:len(lines)-1]
	}
	out := make([]string, 0, min(len(lines), 200))
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
		if len(out) == 200 {
			break
		}
	}
	return out
}

// splitLine splits one line on delim, honouring quote characters (a doubled
// quote inside quotes is one quote). It does not join lines.
func splitLine(line string, delim, quote byte) []string {
	var fields []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == quote && i+1 < len(line) && line[i+1] == quote:
			cur.WriteByte(quote)
			i++
		case c == quote && (inQuote || cur.Len() == 0):
			inQuote = !inQuote
		case c == delim && !inQuote:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(fields, cur.String())
}

func countFieldStarts(lines []string, q byte) int {
	n := 0
	for _, l := range lines {
		if len(l) > 0 && l[0] == q {
			n++
		}
		for i := 0; i+1 < len(l); i++ {
			if (l[i] == ',' || l[i] == ';' || l[i] == '\t' || l[i] == '|') && l[i+1] == q {
				n++
			}
		}
	}
	return n
}

// sniffDelimiter picks the candidate that splits the most lines into the
// same number (two or more) of fields.
func sniffDelimiter(lines []string, quote byte) byte {
	best, bestScore := byte(','), 0.0
	for _, d := range sniffDelimiters {
		counts := map[int]int{}
		for _, l := range lines {
			counts[len(splitLine(l, d, quote))]++
		}
		mode, modeN := 0, 0
		for fields, n := range counts {
			if n > modeN || n == modeN && fields > mode {
				mode, modeN = fields, n
			}
		}
		if mode < 2 || len(lines) == 0 {
			continue
		}
		score := float64(modeN) / float64(len(lines))
		if score > bestScore+1e-9 {
			best, bestScore = d, score
		}
	}
	return best
}

// looksNumeric reports whether a field reads as a number or is empty.
func looksNumeric(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || isNullToken(s) {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// sniffHeader says whether the first line names the columns: it does when a
// column is numeric below the first line but not on it, and it does not when
// the first line has a number where the rest do too. A file of text only is
// taken to have a header.
func sniffHeader(lines []string, delim string, quote byte) bool {
	if len(lines) < 2 {
		return true
	}
	first := splitLine(lines[0], delim[0], quote)
	rest := lines[1:]
	anyNumeric := false
	for col, name := range first {
		numeric, n := 0, 0
		for _, l := range rest {
			f := splitLine(l, delim[0], quote)
			if col >= len(f) {
				continue
			}
			n++
			if looksNumeric(f[col]) {
				numeric++
			}
		}
		if n == 0 || numeric*10 < n*9 {
			continue
		}
		anyNumeric = true
		if !looksNumeric(name) {
			return true
		}
	}
	return !anyNumeric
}

// nullTokens are read as missing values in delimited files.
var nullTokens = []string{"", "NA", "N/A", "NULL", "null", "NaN", "nan", "?"}

func isNullToken(s string) bool {
	for _, t := range nullTokens {
		if s == t {
			return true
		}
	}
	return false
}
