package dataset

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// FrameColumn is one column of a Parquet file read into memory, in file
// order: numeric and boolean columns as Num (NaN for a missing value),
// every column as Text ("" for a missing value), with Null marking the
// missing values.
type FrameColumn struct {
	Name string
	Type string // a joule column type
	Num  []float64
	Text []string
	Null []bool
}

// ReadFrame reads the named columns of the Parquet file path, in file
// order. Training and batch prediction read their rows through it.
func ReadFrame(ctx context.Context, cfg EngineConfig, path string, cols []joule.DatasetColumn) ([]FrameColumn, error) {
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.close()
	sel := make([]string, len(cols))
	out := make([]FrameColumn, len(cols))
	for i, c := range cols {
		sel[i] = ident(c.Name)
		out[i] = FrameColumn{Name: c.Name, Type: c.Type}
	}
	rows, err := d.query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM read_parquet("+lit(path)+", file_row_number = true) ORDER BY file_row_number")
	if err != nil {
		return nil, fmt.Errorf("read %s: %s", filepath.Base(path), duckMessage(err))
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := scanAny(rows, len(cols))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
		}
		for i, v := range vals {
			c := &out[i]
			c.Null = append(c.Null, v == nil)
			f, ok := toFloat(v)
			if b, isBool := v.(bool); isBool {
				f, ok = 0, true
				if b {
					f = 1
				}
			}
			if !ok {
				f = math.NaN()
			}
			c.Num = append(c.Num, f)
			c.Text = append(c.Text, textOf(v))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return out, nil
}

func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// AddedColumn is a column to append to a version: one value per row, in
// file order; Num is used for float columns, Text for string ones.
type AddedColumn struct {
	Name string
	Type string // joule.TypeFloat or joule.TypeString
	Num  []float64
	Text []string
}

// AddColumns writes src's rows with cols appended to dir/data.parquet and
// returns the new version's columns (cols as features), row count, size,
// hash and profile, as Apply does.
func AddColumns(ctx context.Context, cfg EngineConfig, src string, in []joule.DatasetColumn, cols []AddedColumn, dir string) (ApplyResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ApplyResult{}, fmt.Errorf("add columns: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	// The values go to DuckDB through a scratch CSV file, with their row
	// positions.
	f, err := os.CreateTemp(dir, "added-*.csv")
	if err != nil {
		return ApplyResult{}, fmt.Errorf("add columns: %w", err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	n := 0
	if len(cols) > 0 {
		n = max(len(cols[0].Num), len(cols[0].Text))
	}
	spec := []string{"'pos': 'BIGINT'"}
	names := make([]string, len(cols))
	for i, c := range cols {
		t := "DOUBLE"
		if c.Type == joule.TypeString {
			t = "VARCHAR"
		}
		spec = append(spec, fmt.Sprintf("%s: '%s'", lit(fmt.Sprintf("c%d", i)), t))
		names[i] = fmt.Sprintf("a.c%d AS %s", i, ident(c.Name))
	}
	for r := range n {
		w.WriteString(strconv.Itoa(r))
		for _, c := range cols {
			w.WriteByte(',')
			if c.Type == joule.TypeString {
				w.WriteString(`"` + strings.ReplaceAll(c.Text[r], `"`, `""`) + `"`)
			} else if !math.IsNaN(c.Num[r]) {
				w.WriteString(strconv.FormatFloat(c.Num[r], 'g', -1, 64))
			}
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return ApplyResult{}, fmt.Errorf("add columns: %w", err)
	}
	f.Close()
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return ApplyResult{}, err
	}
	defer d.close()
	out := filepath.Join(dir, DataFile)
	q := fmt.Sprintf("COPY (SELECT x.* EXCLUDE (file_row_number), %s FROM read_parquet(%s, file_row_number = true) x "+
		"JOIN read_csv(%s, columns = {%s}, header = false, auto_detect = false, quote = '\"', escape = '\"') a ON a.pos = x.file_row_number "+
		"ORDER BY x.file_row_number) TO %s (FORMAT parquet, COMPRESSION zstd)",
		strings.Join(names, ", "), lit(src), lit(f.Name()), strings.Join(spec, ", "), lit(out))
	var rows int64
	if err := d.queryRow(ctx, q).Scan(&rows); err != nil {
		return ApplyResult{}, fmt.Errorf("add columns: %s", duckMessage(err))
	}
	if rows != int64(n) {
		return ApplyResult{}, fmt.Errorf("add columns: wrote %d rows, want %d", rows, n)
	}
	res := ApplyResult{Rows: rows}
	res.Columns = append(res.Columns, in...)
	for _, c := range cols {
		res.Columns = append(res.Columns, joule.DatasetColumn{Name: c.Name, Type: c.Type, Role: joule.RoleFeature})
	}
	if res.Hash, err = hashParquet(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	if res.Profile, err = profile(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return res, fmt.Errorf("add columns: %w", err)
	}
	res.Bytes = fi.Size()
	ok = true
	return res, nil
}
