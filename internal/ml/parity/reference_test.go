package parity_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// section is one table of REFERENCE.md.
type section struct {
	kind    string // classification, regression or ratings
	heading string // the text after "### "
	file    string // the dataset path under examples/data
	target  string // ENB's Y1 or Y2; the ratings column
	chrono  bool   // the chronological split
	columns []string
	rows    []refRow
}

type refRow struct {
	model  string
	values []float64 // one per metric column; NaN for "-"
}

// readReference parses the tables of examples/data/REFERENCE.md.
func readReference() ([]*section, error) {
	f, err := os.Open(filepath.Join(dataDir, "REFERENCE.md"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out  []*section
		kind string
		cur  *section
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			kind = strings.ToLower(strings.Fields(line[3:])[0])
		case strings.HasPrefix(line, "### "):
			h := line[4:]
			file, rest, _ := strings.Cut(h, " — ")
			cur = &section{kind: kind, heading: h, file: file, chrono: strings.HasSuffix(h, "split: chrono")}
			switch {
			case kind == "ratings":
				_, t, _ := strings.Cut(rest, "`")
				cur.target, _, _ = strings.Cut(t, "`")
			case strings.Contains(rest, " Y1 "):
				cur.target = "Y1"
			case strings.Contains(rest, " Y2 "):
				cur.target = "Y2"
			}
			out = append(out, cur)
		case cur != nil && strings.HasPrefix(line, "|---"):
		case cur != nil && strings.HasPrefix(line, "| model |"), cur != nil && strings.HasPrefix(line, "| predictor |"):
			cells := splitRow(line)
			cur.columns = cells[1:]
		case cur != nil && strings.HasPrefix(line, "| "):
			cells := splitRow(line)
			r := refRow{model: cells[0]}
			for _, c := range cells[1:] {
				v, err := strconv.ParseFloat(c, 64)
				if err != nil {
					v = nan
				}
				r.values = append(r.values, v)
			}
			cur.rows = append(cur.rows, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, s := range out {
		if len(s.rows) == 0 || len(s.columns) == 0 {
			return nil, fmt.Errorf("REFERENCE.md: section %q has no table", s.heading)
		}
	}
	return out, nil
}

func splitRow(line string) []string {
	cells := strings.Split(strings.Trim(line, "|"), "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// value returns the reference value of the named metric column.
func (s *section) value(r refRow, col string) float64 {
	for i, c := range s.columns {
		if c == col && i < len(r.values) {
			return r.values[i]
		}
	}
	return nan
}
