package dataset

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/ml"
)

// rowCol is the hidden column that carries each row's position in the
// input, so that every step keeps file order.
const rowCol = "__row"

// lockDown stops the DuckDB database from touching any file outside dir
// ("" for none), and its configuration from changing: filter and sql steps
// run the recipe author's SQL, which must not read or write the server's
// files.
func lockDown(ctx context.Context, d *duck, dir string) error {
	var stmts []string
	if dir != "" {
		stmts = append(stmts, "SET allowed_directories = ["+lit(dir)+"]")
	}
	stmts = append(stmts, "SET enable_external_access = false", "SET lock_configuration = true")
	for _, q := range stmts {
		if _, err := d.exec(ctx, q); err != nil {
			return fmt.Errorf("lock down duckdb: %w", err)
		}
	}
	return nil
}

// runner applies a recipe's steps to temporary tables t0, t1, … in d.
type runner struct {
	d   *duck
	fit bool // learn parameters (batch) or use the fitted ones (one row)
	one bool // transforming a single row
	// tmp is a directory for scratch files (split indices).
	tmp   string
	table string
	names []string // current columns, without rowCol
	types []string // their DuckDB types
	n     int
	split *joule.DatasetSplit
}

func (r *runner) next() string {
	r.n++
	return fmt.Sprintf("t%d", r.n)
}

// refresh reads the current table's columns.
func (r *runner) refresh(ctx context.Context) error {
	names, types, err := r.d.describe(ctx, r.table)
	if err != nil {
		return err
	}
	r.names, r.types = r.names[:0], r.types[:0]
	for i, n := range names {
		if n == rowCol {
			continue
		}
		r.names = append(r.names, n)
		r.types = append(r.types, types[i])
	}
	return nil
}

func (r *runner) colType(name string) (string, bool) {
	i := slices.Index(r.names, name)
	if i < 0 {
		return "", false
	}
	return jouleType(r.types[i]), true
}

// need checks that the columns exist (and are numeric when numeric is set).
func (r *runner) need(i int, s *Step, numeric bool, cols ...string) error {
	for _, c := range cols {
		t, ok := r.colType(c)
		if !ok {
			return stepError(i, s, "column %q not found (columns: %s)", c, strings.Join(r.names, ", "))
		}
		if numeric && !isNumeric(t) {
			return stepError(i, s, "column %q is %s, not numeric", c, t)
		}
	}
	return nil
}

// create makes the next table from a SELECT and makes it current.
func (r *runner) create(ctx context.Context, i int, s *Step, sel string) error {
	t := r.next()
	if _, err := r.d.exec(ctx, "CREATE TEMP TABLE "+t+" AS "+sel); err != nil {
		return stepError(i, s, "%s", duckMessage(err))
	}
	r.table = t
	return r.refresh(ctx)
}

// duckMessage is the first line of a DuckDB error.
func duckMessage(err error) string {
	msg := err.Error()
	if j := strings.IndexByte(msg, '\n'); j > 0 {
		msg = msg[:j]
	}
	return strings.TrimSpace(msg)
}

// train is the WHERE clause that selects the rows parameters are fitted on:
// the train split when there is one, else every row.
func (r *runner) train() string {
	if slices.Contains(r.names, SplitColumn) {
		return " WHERE " + ident(SplitColumn) + " = 'train'"
	}
	return ""
}

func dbl(f float64) string {
	return "'" + strconv.FormatFloat(f, 'g', -1, 64) + "'::DOUBLE"
}

func ptrF(f float64) *float64 { return &f }

func (r *runner) fitted(i int, s *Step, col string) (*Fitted, error) {
	if r.fit {
		if s.Fitted == nil {
			s.Fitted = map[string]*Fitted{}
		}
		f := &Fitted{}
		s.Fitted[col] = f
		return f, nil
	}
	f, ok := s.Fitted[col]
	if !ok || f == nil {
		return nil, stepError(i, s, "column %q: the recipe is not fitted (apply it to a version first)", col)
	}
	return f, nil
}

func (r *runner) queryFloats(ctx context.Context, i int, s *Step, q string, out ...*sql.NullFloat64) error {
	ptrs := make([]any, len(out))
	for k := range out {
		ptrs[k] = out[k]
	}
	if err := r.d.queryRow(ctx, q).Scan(ptrs...); err != nil {
		return stepError(i, s, "%s", duckMessage(err))
	}
	return nil
}

// run applies the steps in order.
func (r *runner) run(ctx context.Context, rec *Recipe) error {
	if err := r.refresh(ctx); err != nil {
		return err
	}
	for i := range rec.Steps {
		if err := r.step(ctx, i, &rec.Steps[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) step(ctx context.Context, i int, s *Step) error {
	p := r.table
	switch s.name() {
	case "select":
		if err := r.need(i, s, false, s.Select...); err != nil {
			return err
		}
		cols := []string{rowCol}
		if slices.Contains(r.names, SplitColumn) && !slices.Contains(s.Select, SplitColumn) {
			cols = append(cols, SplitColumn)
		}
		cols = append(cols, s.Select...)
		return r.create(ctx, i, s, "SELECT "+identList(cols)+" FROM "+p+" ORDER BY "+rowCol)
	case "drop":
		if err := r.need(i, s, false, s.Drop...); err != nil {
			return err
		}
		return r.create(ctx, i, s, "SELECT * EXCLUDE ("+identList(s.Drop)+") FROM "+p+" ORDER BY "+rowCol)
	case "rename":
		var parts []string
		for _, from := range sortedKeys(s.Rename) {
			to := s.Rename[from]
			if err := r.need(i, s, false, from); err != nil {
				return err
			}
			if slices.Contains(r.names, to) {
				return stepError(i, s, "column %q: %q is taken", from, to)
			}
			parts = append(parts, ident(from)+" AS "+ident(to))
		}
		return r.create(ctx, i, s, "SELECT * RENAME ("+strings.Join(parts, ", ")+") FROM "+p+" ORDER BY "+rowCol)
	case "cast":
		var parts []string
		for _, c := range sortedKeys(s.Cast) {
			t := duckType(s.Cast[c])
			if err := r.need(i, s, false, c); err != nil {
				return err
			}
			var bad int64
			var example sql.NullString
			q := fmt.Sprintf("SELECT count(*), any_value(%s::VARCHAR) FROM %s WHERE %s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL", ident(c), p, ident(c), ident(c), t)
			if err := r.d.queryRow(ctx, q).Scan(&bad, &example); err != nil {
				return stepError(i, s, "%s", duckMessage(err))
			}
			if bad > 0 {
				return stepError(i, s, "column %q: %d values cannot be cast to %s, e.g. %q", c, bad, s.Cast[c], example.String)
			}
			parts = append(parts, fmt.Sprintf("CAST(%s AS %s) AS %s", ident(c), t, ident(c)))
		}
		return r.create(ctx, i, s, "SELECT * REPLACE ("+strings.Join(parts, ", ")+") FROM "+p+" ORDER BY "+rowCol)
	case "filter":
		return r.create(ctx, i, s, "SELECT * FROM "+p+" WHERE ("+s.Filter+") ORDER BY "+rowCol)
	case "dedupe":
		cols := s.Dedupe.Columns
		if err := r.need(i, s, false, cols...); err != nil {
			return err
		}
		if len(cols) == 0 {
			for _, n := range r.names {
				if n != SplitColumn {
					cols = append(cols, n)
				}
			}
		}
		return r.create(ctx, i, s, "SELECT * FROM "+p+" QUALIFY row_number() OVER (PARTITION BY "+identList(cols)+" ORDER BY "+rowCol+") = 1 ORDER BY "+rowCol)
	case "impute":
		return r.impute(ctx, i, s)
	case "clip":
		return r.bounded(ctx, i, s, s.Clip.Columns)
	case "winsorize":
		return r.bounded(ctx, i, s, s.Winsorize.Columns)
	case "normalize", "standardize":
		return r.scale(ctx, i, s)
	case "onehot", "ordinal":
		return r.categorical(ctx, i, s)
	case "bucketize":
		b := s.Bucketize
		if err := r.need(i, s, true, b.Column); err != nil {
			return err
		}
		x := ident(b.Column)
		var cases []string
		for k, e := range b.Edges {
			cases = append(cases, fmt.Sprintf("WHEN %s < %s THEN %d", x, dbl(e), k))
		}
		expr := fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL %s ELSE %d END::BIGINT AS %s", x, strings.Join(cases, " "), len(b.Edges), x)
		return r.create(ctx, i, s, "SELECT * REPLACE ("+expr+") FROM "+p+" ORDER BY "+rowCol)
	case "log":
		if err := r.need(i, s, true, s.Log.Columns...); err != nil {
			return err
		}
		var parts []string
		for _, c := range s.Log.Columns {
			x := ident(c)
			parts = append(parts, fmt.Sprintf("CASE WHEN %s > -1 THEN ln(%s::DOUBLE + 1) END AS %s", x, x, x))
		}
		return r.create(ctx, i, s, "SELECT * REPLACE ("+strings.Join(parts, ", ")+") FROM "+p+" ORDER BY "+rowCol)
	case "date_parts":
		dp := s.DateParts
		t, ok := r.colType(dp.Column)
		if !ok {
			return r.need(i, s, false, dp.Column)
		}
		if t != joule.TypeDate && t != joule.TypeTimestamp {
			return stepError(i, s, "column %q is %s, not a date or timestamp", dp.Column, t)
		}
		fn := map[string]string{"year": "year", "month": "month", "day": "day", "dow": "isodow", "hour": "hour", "dayofyear": "dayofyear"}
		var parts []string
		for _, part := range dp.Parts {
			parts = append(parts, fmt.Sprintf("%s(%s)::BIGINT AS %s", fn[part], ident(dp.Column), ident(dp.Column+"_"+part)))
		}
		return r.create(ctx, i, s, "SELECT *, "+strings.Join(parts, ", ")+" FROM "+p+" ORDER BY "+rowCol)
	case "lag", "rolling":
		if r.one {
			return stepError(i, s, "needs the rows before it: a single row cannot be transformed by this recipe")
		}
		return r.window(ctx, i, s)
	case "sql":
		if r.one && !r.fit {
			// Raw SQL may aggregate or join; on one row it gives what the
			// SQL gives on one row, which is not in general the batch answer.
			return stepError(i, s, "raw SQL cannot be replayed on a single row")
		}
		if _, err := r.d.exec(ctx, "CREATE OR REPLACE TEMP VIEW input AS SELECT * EXCLUDE ("+rowCol+") FROM "+p+" ORDER BY "+rowCol); err != nil {
			return stepError(i, s, "%s", duckMessage(err))
		}
		defer r.d.exec(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS input")
		q := strings.TrimRight(strings.TrimSpace(s.SQL), ";")
		return r.create(ctx, i, s, "SELECT (row_number() OVER ()) - 1 AS "+rowCol+", * FROM ("+q+")")
	case "split":
		if r.one {
			return nil // a serving row belongs to no split
		}
		return r.splitStep(ctx, i, s)
	}
	return stepError(i, s, "unknown operation")
}

func identList(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = ident(c)
	}
	return strings.Join(out, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *runner) impute(ctx context.Context, i int, s *Step) error {
	im := s.Impute
	numeric := im.Strategy == "mean" || im.Strategy == "median"
	if err := r.need(i, s, numeric, im.Columns...); err != nil {
		return err
	}
	var parts []string
	for _, c := range im.Columns {
		f, err := r.fitted(i, s, c)
		if err != nil {
			return err
		}
		x := ident(c)
		t, _ := r.colType(c)
		if r.fit {
			switch im.Strategy {
			case "mean", "median":
				agg := "fsum(" + x + "::DOUBLE) / count(" + x + ")"
				if im.Strategy == "median" {
					agg = "quantile_cont(" + x + "::DOUBLE, 0.5)"
				}
				var v sql.NullFloat64
				if err := r.queryFloats(ctx, i, s, "SELECT "+agg+" FROM "+r.table+r.train(), &v); err != nil {
					return err
				}
				if !v.Valid {
					return stepError(i, s, "column %q has no values to take the %s of", c, im.Strategy)
				}
				f.Value = new(strconv.FormatFloat(v.Float64, 'g', -1, 64))
			case "mode":
				var v sql.NullString
				q := "SELECT " + x + "::VARCHAR FROM " + r.table + r.train() + andNotNull(r.train(), x) + " GROUP BY " + x + " ORDER BY count(*) DESC, " + x + " LIMIT 1"
				if err := r.d.queryRow(ctx, q).Scan(&v); err != nil && err != sql.ErrNoRows {
					return stepError(i, s, "%s", duckMessage(err))
				}
				if !v.Valid {
					return stepError(i, s, "column %q has no values to take the mode of", c)
				}
				f.Value = &v.String
			case "constant":
				f.Value = im.Value
			}
		}
		if f.Value == nil {
			return stepError(i, s, "column %q: no fitted value", c)
		}
		if numeric {
			parts = append(parts, fmt.Sprintf("coalesce(%s::DOUBLE, %s::DOUBLE) AS %s", x, lit(*f.Value), x))
			continue
		}
		dt := duckType(t)
		var ok bool
		if err := r.d.queryRow(ctx, fmt.Sprintf("SELECT TRY_CAST(%s AS %s) IS NOT NULL", lit(*f.Value), dt)).Scan(&ok); err != nil || !ok {
			return stepError(i, s, "column %q: value %q is not a valid %s", c, *f.Value, t)
		}
		parts = append(parts, fmt.Sprintf("coalesce(%s, CAST(%s AS %s)) AS %s", x, lit(*f.Value), dt, x))
	}
	return r.create(ctx, i, s, "SELECT * REPLACE ("+strings.Join(parts, ", ")+") FROM "+r.table+" ORDER BY "+rowCol)
}

func andNotNull(where, x string) string {
	if where == "" {
		return " WHERE " + x + " IS NOT NULL"
	}
	return " AND " + x + " IS NOT NULL"
}

// bounded clips or winsorizes columns to fitted bounds.
func (r *runner) bounded(ctx context.Context, i int, s *Step, cols []string) error {
	if err := r.need(i, s, true, cols...); err != nil {
		return err
	}
	var parts []string
	for _, c := range cols {
		f, err := r.fitted(i, s, c)
		if err != nil {
			return err
		}
		x := ident(c) + "::DOUBLE"
		if r.fit {
			var a, b sql.NullFloat64
			switch {
			case s.Clip != nil && s.Clip.Method == "iqr":
				k := s.Clip.K
				if k == 0 {
					k = 1.5
				}
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT quantile_cont(%s, 0.25), quantile_cont(%s, 0.75) FROM %s%s", x, x, r.table, r.train()), &a, &b); err != nil {
					return err
				}
				if a.Valid {
					iqr := b.Float64 - a.Float64
					f.Lo, f.Hi = ptrF(a.Float64-k*iqr), ptrF(b.Float64+k*iqr)
				}
			case s.Clip != nil:
				k := s.Clip.K
				if k == 0 {
					k = 3
				}
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT avg(%s), stddev_pop(%s) FROM %s%s", x, x, r.table, r.train()), &a, &b); err != nil {
					return err
				}
				if a.Valid && b.Valid {
					f.Mean, f.Std = ptrF(a.Float64), ptrF(b.Float64)
					f.Lo, f.Hi = ptrF(a.Float64-k*b.Float64), ptrF(a.Float64+k*b.Float64)
				}
			default:
				lo, hi := s.Winsorize.bounds()
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT quantile_cont(%s, %v), quantile_cont(%s, %v) FROM %s%s", x, lo, x, hi, r.table, r.train()), &a, &b); err != nil {
					return err
				}
				if a.Valid {
					f.Lo, f.Hi = ptrF(a.Float64), ptrF(b.Float64)
				}
			}
			if f.Lo == nil {
				return stepError(i, s, "column %q has no values to fit bounds on", c)
			}
		}
		if f.Lo == nil || f.Hi == nil {
			return stepError(i, s, "column %q: no fitted bounds", c)
		}
		parts = append(parts, fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE least(greatest(%s, %s), %s) END AS %s", ident(c), x, dbl(*f.Lo), dbl(*f.Hi), ident(c)))
	}
	return r.create(ctx, i, s, "SELECT * REPLACE ("+strings.Join(parts, ", ")+") FROM "+r.table+" ORDER BY "+rowCol)
}

// scale min-max normalizes or z-score standardizes columns with parameters
// fitted on the training rows. Standardizing divides by the population
// standard deviation (as scikit-learn's StandardScaler); a constant column
// is divided by 1.
func (r *runner) scale(ctx context.Context, i int, s *Step) error {
	cols := s.Standardize
	if s.Normalize != nil {
		cols = s.Normalize
	}
	if err := r.need(i, s, true, cols.Columns...); err != nil {
		return err
	}
	var parts []string
	for _, c := range cols.Columns {
		f, err := r.fitted(i, s, c)
		if err != nil {
			return err
		}
		x := ident(c) + "::DOUBLE"
		if r.fit {
			if s.Standardize != nil {
				var mean, std sql.NullFloat64
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT fsum(%s) / count(%s) FROM %s%s", x, x, r.table, r.train()), &mean); err != nil {
					return err
				}
				if !mean.Valid {
					return stepError(i, s, "column %q has no values to fit on", c)
				}
				m := dbl(mean.Float64)
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT sqrt(fsum((%s - %s) * (%s - %s)) / count(%s)) FROM %s%s", x, m, x, m, x, r.table, r.train()), &std); err != nil {
					return err
				}
				f.Mean, f.Std = ptrF(mean.Float64), ptrF(std.Float64)
			} else {
				var lo, hi sql.NullFloat64
				if err := r.queryFloats(ctx, i, s, fmt.Sprintf("SELECT min(%s), max(%s) FROM %s%s", x, x, r.table, r.train()), &lo, &hi); err != nil {
					return err
				}
				if !lo.Valid {
					return stepError(i, s, "column %q has no values to fit on", c)
				}
				f.Min, f.Max = ptrF(lo.Float64), ptrF(hi.Float64)
			}
		}
		var expr string
		if s.Standardize != nil {
			if f.Mean == nil || f.Std == nil {
				return stepError(i, s, "column %q: no fitted mean and std", c)
			}
			std := *f.Std
			if std == 0 || math.IsNaN(std) {
				std = 1
			}
			expr = fmt.Sprintf("(%s - %s) / %s", x, dbl(*f.Mean), dbl(std))
		} else {
			if f.Min == nil || f.Max == nil {
				return stepError(i, s, "column %q: no fitted min and max", c)
			}
			span := *f.Max - *f.Min
			if span == 0 {
				span = 1
			}
			expr = fmt.Sprintf("(%s - %s) / %s", x, dbl(*f.Min), dbl(span))
		}
		parts = append(parts, expr+" AS "+ident(c))
	}
	return r.create(ctx, i, s, "SELECT * REPLACE ("+strings.Join(parts, ", ")+") FROM "+r.table+" ORDER BY "+rowCol)
}

// maxCategories bounds one-hot and ordinal encodings.
const maxCategories = 100

func (r *runner) categorical(ctx context.Context, i int, s *Step) error {
	cols := s.OneHot
	if s.Ordinal != nil {
		cols = s.Ordinal
	}
	if err := r.need(i, s, false, cols.Columns...); err != nil {
		return err
	}
	var replace, add, drop []string
	for _, c := range cols.Columns {
		f, err := r.fitted(i, s, c)
		if err != nil {
			return err
		}
		x := ident(c)
		if r.fit {
			rows, err := r.d.query(ctx, fmt.Sprintf("SELECT DISTINCT %s::VARCHAR FROM %s%s%s ORDER BY 1 LIMIT %d", x, r.table, r.train(), andNotNull(r.train(), x), maxCategories+1))
			if err != nil {
				return stepError(i, s, "%s", duckMessage(err))
			}
			f.Categories = []string{}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					rows.Close()
					return stepError(i, s, "%s", duckMessage(err))
				}
				f.Categories = append(f.Categories, v)
			}
			rows.Close()
			if len(f.Categories) > maxCategories {
				return stepError(i, s, "column %q has more than %d categories", c, maxCategories)
			}
		}
		if s.OneHot != nil {
			drop = append(drop, c)
			for _, cat := range f.Categories {
				name := c + "_" + cat
				if slices.Contains(r.names, name) {
					return stepError(i, s, "column %q: %q is taken", c, name)
				}
				add = append(add, fmt.Sprintf("coalesce((%s::VARCHAR = %s)::BIGINT, 0) AS %s", x, lit(cat), ident(name)))
			}
			continue
		}
		var cases []string
		for k, cat := range f.Categories {
			cases = append(cases, fmt.Sprintf("WHEN %s THEN %d", lit(cat), k))
		}
		expr := fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE CASE %s::VARCHAR %s ELSE -1 END END::BIGINT AS %s", x, x, strings.Join(cases, " "), x)
		if len(cases) == 0 {
			expr = fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE -1 END::BIGINT AS %s", x, x)
		}
		replace = append(replace, expr)
	}
	sel := "SELECT *"
	if len(replace) > 0 {
		sel += " REPLACE (" + strings.Join(replace, ", ") + ")"
	}
	if len(drop) > 0 {
		sel = "SELECT * EXCLUDE (" + identList(drop) + ")"
	}
	if len(add) > 0 {
		sel += ", " + strings.Join(add, ", ")
	}
	return r.create(ctx, i, s, sel+" FROM "+r.table+" ORDER BY "+rowCol)
}

func (r *runner) window(ctx context.Context, i int, s *Step) error {
	var col, by, order string
	if s.Lag != nil {
		col, by, order = s.Lag.Column, s.Lag.By, s.Lag.Order
	} else {
		col, by, order = s.Rolling.Column, s.Rolling.By, s.Rolling.Order
	}
	need := []string{col}
	if by != "" {
		need = append(need, by)
	}
	if order != "" {
		need = append(need, order)
	}
	if err := r.need(i, s, false, need...); err != nil {
		return err
	}
	over := "OVER ("
	if by != "" {
		over += "PARTITION BY " + ident(by) + " "
	}
	over += "ORDER BY "
	if order != "" {
		over += ident(order) + ", "
	}
	over += rowCol
	var parts []string
	x := ident(col)
	if s.Lag != nil {
		for _, p := range s.Lag.Periods {
			parts = append(parts, fmt.Sprintf("lag(%s, %d) %s) AS %s", x, p, over, ident(fmt.Sprintf("%s_lag_%d", col, p))))
		}
	} else {
		if err := r.need(i, s, true, col); err != nil {
			return err
		}
		fn := s.Rolling.Fn
		if fn == "" {
			fn = "mean"
		}
		agg := map[string]string{"mean": "avg", "sum": "sum", "min": "min", "max": "max", "std": "stddev_samp"}[fn]
		parts = append(parts, fmt.Sprintf("%s(%s::DOUBLE) %s ROWS BETWEEN %d PRECEDING AND CURRENT ROW) AS %s", agg, x, over, s.Rolling.Window-1,
			ident(fmt.Sprintf("%s_rolling_%s_%d", col, fn, s.Rolling.Window))))
	}
	return r.create(ctx, i, s, "SELECT *, "+strings.Join(parts, ", ")+" FROM "+r.table+" ORDER BY "+rowCol)
}

// testCount is ⌈n·size⌉, as scikit-learn sizes a test set.
func testCount(n int, size float64) int {
	return min(n, int(math.Ceil(float64(n)*size-1e-9)))
}

func (r *runner) splitStep(ctx context.Context, i int, s *Step) error {
	sp := *s.Split
	if sp.Method == "" {
		sp.Method = "random"
	}
	if sp.TestSize == 0 {
		sp.TestSize = 0.2
	}
	if sp.By != "" {
		if err := r.need(i, s, false, sp.By); err != nil {
			return err
		}
	}
	var n int
	if err := r.d.queryRow(ctx, "SELECT count(*) FROM "+r.table).Scan(&n); err != nil {
		return stepError(i, s, "%s", duckMessage(err))
	}
	base := "SELECT *"
	if slices.Contains(r.names, SplitColumn) {
		base = "SELECT * EXCLUDE (" + ident(SplitColumn) + ")"
	}
	info := &joule.DatasetSplit{Method: sp.Method, Seed: sp.Seed, TestSize: sp.TestSize, By: sp.By}
	var test []int // positions in file order, for random and stratified
	switch sp.Method {
	case "chronological":
		nTest := testCount(n, sp.TestSize)
		order := rowCol
		if sp.By != "" {
			order = ident(sp.By) + ", " + rowCol
		}
		sel := fmt.Sprintf("%s, CASE WHEN row_number() OVER (ORDER BY %s) > %d THEN 'test' ELSE 'train' END AS %s FROM %s ORDER BY %s",
			base, order, n-nTest, ident(SplitColumn), r.table, rowCol)
		if err := r.create(ctx, i, s, sel); err != nil {
			return err
		}
		rows, err := r.d.query(ctx, fmt.Sprintf("SELECT pos FROM (SELECT row_number() OVER (ORDER BY %s) - 1 AS pos, row_number() OVER (ORDER BY %s) AS k FROM %s) WHERE k > %d ORDER BY k LIMIT 10",
			rowCol, order, r.table, n-nTest))
		if err == nil {
			for rows.Next() {
				var p int64
				if rows.Scan(&p) == nil {
					info.FirstTest = append(info.FirstTest, p)
				}
			}
			rows.Close()
		}
		info.Train, info.Test = int64(n-nTest), int64(nTest)
		r.split = info
		return nil
	case "random":
		perm := ml.NewSplitMix64(sp.Seed).Permutation(n)
		nTest := testCount(n, sp.TestSize)
		test = perm[n-nTest:]
	case "stratified":
		rows, err := r.d.query(ctx, fmt.Sprintf("SELECT list(pos ORDER BY pos) FROM (SELECT row_number() OVER (ORDER BY %s) - 1 AS pos, %s::VARCHAR AS c FROM %s) GROUP BY c ORDER BY c NULLS LAST",
			rowCol, ident(sp.By), r.table))
		if err != nil {
			return stepError(i, s, "%s", duckMessage(err))
		}
		g := ml.NewSplitMix64(sp.Seed)
		for rows.Next() {
			var list []any
			if err := rows.Scan(&list); err != nil {
				rows.Close()
				return stepError(i, s, "%s", duckMessage(err))
			}
			perm := g.Permutation(len(list))
			k := testCount(len(list), sp.TestSize)
			for _, j := range perm[len(list)-k:] {
				if v, ok := list[j].(int64); ok {
					test = append(test, int(v))
				}
			}
		}
		rows.Close()
	}
	for _, p := range test[:min(10, len(test))] {
		info.FirstTest = append(info.FirstTest, int64(p))
	}
	// The test positions go to DuckDB through a scratch file.
	f, err := os.CreateTemp(r.tmp, "split-*.csv")
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	for _, p := range test {
		w.WriteString(strconv.Itoa(p))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("split: %w", err)
	}
	f.Close()
	if _, err := r.d.exec(ctx, "CREATE OR REPLACE TEMP TABLE split_test AS SELECT * FROM read_csv("+lit(f.Name())+", columns = {'pos': 'BIGINT'}, header = false, auto_detect = false)"); err != nil {
		return stepError(i, s, "%s", duckMessage(err))
	}
	exclude := "__pos"
	if slices.Contains(r.names, SplitColumn) {
		exclude += ", " + ident(SplitColumn)
	}
	sel := fmt.Sprintf("SELECT x.* EXCLUDE (%s), CASE WHEN t.pos IS NULL THEN 'train' ELSE 'test' END AS %s FROM (SELECT *, row_number() OVER (ORDER BY %s) - 1 AS __pos FROM %s) x LEFT JOIN split_test t ON t.pos = x.__pos ORDER BY %s",
		exclude, ident(SplitColumn), rowCol, r.table, rowCol)
	if err := r.create(ctx, i, s, sel); err != nil {
		return err
	}
	info.Train, info.Test = int64(n-len(test)), int64(len(test))
	r.split = info
	return nil
}

// ApplyResult is what applying a recipe wrote.
type ApplyResult struct {
	Columns []joule.DatasetColumn
	Rows    int64
	Bytes   int64
	Hash    string
	Profile *joule.DatasetProfile
	Split   *joule.DatasetSplit
	// Fitted is the recipe with what it learned.
	Fitted Recipe
}

// Apply runs rec on the Parquet file src (whose columns are cols) and
// writes the result to dir/data.parquet. Roles carry over by column name
// (and through renames); new columns are features, and the split column is
// ignored by training and profiling.
func Apply(ctx context.Context, cfg EngineConfig, src string, cols []joule.DatasetColumn, rec Recipe, dir string) (ApplyResult, error) {
	return apply(ctx, cfg, src, cols, rec, dir, true)
}

// ApplyFitted is Apply with a fitted recipe: it replays what the recipe
// learned instead of learning again, as batch prediction needs.
func ApplyFitted(ctx context.Context, cfg EngineConfig, src string, cols []joule.DatasetColumn, rec Recipe, dir string) (ApplyResult, error) {
	return apply(ctx, cfg, src, cols, rec, dir, false)
}

func apply(ctx context.Context, cfg EngineConfig, src string, cols []joule.DatasetColumn, rec Recipe, dir string, fit bool) (ApplyResult, error) {
	if err := rec.Validate(); err != nil {
		return ApplyResult{}, err
	}
	rec = cloneRecipe(rec)
	for k := range rec.Steps {
		if fit {
			rec.Steps[k].Fitted = nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ApplyResult{}, fmt.Errorf("apply recipe: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return ApplyResult{}, err
	}
	defer d.close()
	if _, err := d.exec(ctx, "CREATE TEMP TABLE t0 AS SELECT file_row_number AS "+rowCol+", * EXCLUDE (file_row_number) FROM read_parquet("+lit(src)+", file_row_number = true) ORDER BY "+rowCol); err != nil {
		return ApplyResult{}, fmt.Errorf("apply recipe: %w", err)
	}
	if err := lockDown(ctx, d, dir); err != nil {
		return ApplyResult{}, err
	}
	r := &runner{d: d, fit: fit, table: "t0", tmp: dir}
	if err := r.run(ctx, &rec); err != nil {
		return ApplyResult{}, err
	}
	out := filepath.Join(dir, DataFile)
	var rows int64
	if err := d.queryRow(ctx, "COPY (SELECT * EXCLUDE ("+rowCol+") FROM "+r.table+" ORDER BY "+rowCol+") TO "+lit(out)+" (FORMAT parquet, COMPRESSION zstd)").Scan(&rows); err != nil {
		return ApplyResult{}, fmt.Errorf("apply recipe: %w", err)
	}
	res := ApplyResult{Rows: rows, Split: r.split, Fitted: rec}
	res.Columns = carryRoles(cols, rec, r.names, r.types)
	if res.Hash, err = hashParquet(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	if res.Profile, err = profile(ctx, d, out, res.Columns); err != nil {
		return res, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return res, fmt.Errorf("apply recipe: %w", err)
	}
	res.Bytes = fi.Size()
	ok = true
	return res, nil
}

// CheckRows is how many rows Check runs a recipe on.
const CheckRows = 100_000

// Check runs rec on the first CheckRows rows of the Parquet file src and
// writes nothing: unknown columns, wrong types and casts that cannot hold in
// those rows fail here, with EINVALID naming the step and the column, before
// a recipe job is queued.
func Check(ctx context.Context, cfg EngineConfig, src string, rec Recipe) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	rec = cloneRecipe(rec)
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	if _, err := d.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE t0 AS SELECT file_row_number AS %s, * EXCLUDE (file_row_number) FROM read_parquet(%s, file_row_number = true) ORDER BY %s LIMIT %d",
		rowCol, lit(src), rowCol, CheckRows)); err != nil {
		return fmt.Errorf("check recipe: %w", err)
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "check-")
	if err != nil {
		return fmt.Errorf("check recipe: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := lockDown(ctx, d, tmp); err != nil {
		return err
	}
	r := &runner{d: d, fit: true, table: "t0", tmp: tmp}
	return r.run(ctx, &rec)
}

func cloneRecipe(r Recipe) Recipe {
	b, _ := json.Marshal(r)
	var c Recipe
	_ = json.Unmarshal(b, &c)
	return c
}

// carryRoles gives the output columns the roles of the input columns of the
// same name, following renames.
func carryRoles(in []joule.DatasetColumn, rec Recipe, names, types []string) []joule.DatasetColumn {
	role := map[string]string{}
	for _, c := range in {
		role[c.Name] = c.Role
	}
	for _, s := range rec.Steps {
		for from, to := range s.Rename {
			if r, ok := role[from]; ok {
				role[to] = r
			}
		}
	}
	out := make([]joule.DatasetColumn, len(names))
	for i, n := range names {
		r := role[n]
		if r == "" {
			r = joule.RoleFeature
		}
		if n == SplitColumn {
			r = joule.RoleIgnore
		}
		out[i] = joule.DatasetColumn{Name: n, Type: jouleType(types[i]), Role: r}
	}
	return out
}

// TransformRow applies a fitted recipe to one row given as a JSON object of
// the input version's columns (missing ones are null), with the same SQL
// and parameters as the batch path, so the numbers are the same. It returns
// the output row, or nil when a filter drops it. Steps that need other rows
// (lag, rolling, raw SQL) make it fail with EINVALID.
func TransformRow(ctx context.Context, cfg EngineConfig, cols []joule.DatasetColumn, rec Recipe, row json.RawMessage) (map[string]any, error) {
	var in map[string]any
	dec := json.NewDecoder(strings.NewReader(string(row)))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, joule.Errorf(joule.EINVALID, "row: not a JSON object: %v", err)
	}
	known := map[string]bool{}
	for _, c := range cols {
		known[c.Name] = true
	}
	for k := range in {
		if !known[k] {
			return nil, joule.Errorf(joule.EINVALID, "row: no column %q in the input schema", k)
		}
	}
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.close()
	sel := []string{"0::BIGINT AS " + rowCol}
	for _, c := range cols {
		v, ok := in[c.Name]
		var text string
		switch x := v.(type) {
		case nil:
			sel = append(sel, "NULL::"+duckType(c.Type)+" AS "+ident(c.Name))
			continue
		case json.Number:
			text = x.String()
		case string:
			text = x
		case bool:
			text = strconv.FormatBool(x)
		default:
			return nil, joule.Errorf(joule.EINVALID, "row: column %q: a %T is not a %s value", c.Name, x, c.Type)
		}
		_ = ok
		var valid bool
		if err := d.queryRow(ctx, fmt.Sprintf("SELECT TRY_CAST(%s AS %s) IS NOT NULL", lit(text), duckType(c.Type))).Scan(&valid); err != nil || !valid {
			return nil, joule.Errorf(joule.EINVALID, "row: column %q: %q is not a valid %s", c.Name, text, c.Type)
		}
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", lit(text), duckType(c.Type), ident(c.Name)))
	}
	if _, err := d.exec(ctx, "CREATE TEMP TABLE t0 AS SELECT "+strings.Join(sel, ", ")); err != nil {
		return nil, fmt.Errorf("transform row: %w", err)
	}
	rec = cloneRecipe(rec)
	if err := lockDown(ctx, d, ""); err != nil {
		return nil, err
	}
	r := &runner{d: d, fit: false, one: true, table: "t0"}
	if err := r.run(ctx, &rec); err != nil {
		return nil, err
	}
	rows, err := d.query(ctx, "SELECT * EXCLUDE ("+rowCol+") FROM "+r.table)
	if err != nil {
		return nil, fmt.Errorf("transform row: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals, err := scanAny(rows, len(r.names))
	if err != nil {
		return nil, fmt.Errorf("transform row: %w", err)
	}
	out := make(map[string]any, len(vals))
	for i, n := range r.names {
		out[n] = vals[i]
	}
	return out, nil
}
