package ml

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Dataset is a binary classification dataset: one feature row per example
// and a 0/1 label for each.
type Dataset struct {
	X [][]float64
	Y []int
}

// Subset returns the rows at idx, in that order. The rows are shared, not
// copied.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{X: make([][]float64, len(idx)), Y: make([]int, len(idx))}
	for k, i := range idx {
		s.X[k], s.Y[k] = d.X[i], d.Y[i]
	}
	return s
}

// ParseError reports a malformed input line. Its text reads
// "file:line: message".
type ParseError struct {
	File string // the name the caller gave the input
	Line int    // 1-based line number; 0 when the error concerns the whole input
	Err  error
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// maxLine bounds one input line; the reference datasets' lines are under
// 400 bytes.
const maxLine = 1 << 20

// readRecords splits r into records of fields. With comma set, fields are
// separated by commas and trimmed of spaces; otherwise by runs of white
// space. Blank lines are skipped, as pandas does. fn sees each record with
// its 1-based line number.
func readRecords(r io.Reader, name string, comma bool, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line, rows := 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var fields []string
		if comma {
			fields = strings.Split(text, ",")
			for i := range fields {
				fields[i] = strings.TrimSpace(fields[i])
			}
		} else {
			fields = strings.Fields(text)
		}
		if err := fn(line, fields); err != nil {
			return &ParseError{File: name, Line: line, Err: err}
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		return &ParseError{File: name, Line: line + 1, Err: err}
	}
	if rows == 0 {
		return &ParseError{File: name, Err: errors.New("no rows")}
	}
	return nil
}

// parseFloats parses fields as finite numbers into a new row.
func parseFloats(fields []string, first int) ([]float64, error) {
	row := make([]float64, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("column %d: %q is not a finite number", first+i+1, f)
		}
		row[i] = v
	}
	return row, nil
}

func wantFields(fields []string, n int) error {
	if len(fields) != n {
		return fmt.Errorf("%d fields, want %d", len(fields), n)
	}
	return nil
}

// LoadGermanNumeric reads UCI's Statlog German credit data in its numeric
// encoding (german.data-numeric): 25 white-space separated numbers per row,
// 24 features and the class, 1 (good) or 2 (bad). The label is 1 for bad.
// name labels errors.
func LoadGermanNumeric(r io.Reader, name string) (*Dataset, error) {
	d := &Dataset{}
	err := readRecords(r, name, false, func(_ int, f []string) error {
		if err := wantFields(f, 25); err != nil {
			return err
		}
		row, err := parseFloats(f, 0)
		if err != nil {
			return err
		}
		var y int
		switch row[24] {
		case 1:
		case 2:
			y = 1
		default:
			return fmt.Errorf("column 25: class %q, want 1 or 2", f[24])
		}
		d.X, d.Y = append(d.X, row[:24:24]), append(d.Y, y)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// LoadCleveland reads UCI's processed Cleveland heart disease data
// (processed.cleveland.data): 14 comma-separated numbers per row, 13
// features and num (0..4). Rows with a missing value ("?") are dropped, as
// the reference does; the label is 1 when num > 0. name labels errors.
func LoadCleveland(r io.Reader, name string) (*Dataset, error) {
	d := &Dataset{}
	err := readRecords(r, name, true, func(_ int, f []string) error {
		if err := wantFields(f, 14); err != nil {
			return err
		}
		for _, s := range f {
			if s == "?" {
				return nil
			}
		}
		row, err := parseFloats(f, 0)
		if err != nil {
			return err
		}
		var y int
		if row[13] > 0 {
			y = 1
		}
		d.X, d.Y = append(d.X, row[:13:13]), append(d.Y, y)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.Y) == 0 {
		return nil, &ParseError{File: name, Err: errors.New("no complete rows")}
	}
	return d, nil
}

// LoadWDBC reads UCI's Wisconsin diagnostic breast cancer data (wdbc.data):
// per row an ID, the diagnosis M or B and 30 real features, comma
// separated. The label is 1 for M (malignant). name labels errors.
func LoadWDBC(r io.Reader, name string) (*Dataset, error) {
	d := &Dataset{}
	err := readRecords(r, name, true, func(_ int, f []string) error {
		if err := wantFields(f, 32); err != nil {
			return err
		}
		var y int
		switch f[1] {
		case "M":
			y = 1
		case "B":
		default:
			return fmt.Errorf("column 2: diagnosis %q, want M or B", f[1])
		}
		row, err := parseFloats(f[2:], 2)
		if err != nil {
			return err
		}
		d.X, d.Y = append(d.X, row), append(d.Y, y)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
