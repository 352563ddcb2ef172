package dataset

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/joule-dev/joule"
)

// Formats Ingest reads.
const (
	FormatCSV     = "csv"
	FormatJSON    = "json"
	FormatJSONL   = "jsonl"
	FormatParquet = "parquet"
)

// IngestOptions are the caller's choices for one ingest (see joule.IngestOptions).
type IngestOptions = joule.IngestOptions

// IngestResult is what an ingest wrote and learned.
type IngestResult struct {
	Format       string                `json:"format"`
	CSV          *CSVOptions           `json:"csv,omitempty"` // how a delimited file was read
	Columns      []joule.DatasetColumn `json:"columns"`
	Rows         int64                 `json:"rows"`
	RejectedRows int64                 `json:"rejected_rows"`
	Bytes        int64                 `json:"bytes"`
	Hash         string                `json:"hash"`
	Profile      *joule.DatasetProfile `json:"profile"`
	// FirstRejects are up to 10 rejects, for the summary.
	FirstRejects []joule.Reject `json:"first_rejects,omitempty"`

	// nulls is how the last read of a CSV file read its null tokens (see
	// csvSource): nullsAll or nullsEmpty; reads counts the reads.
	nulls string
	reads int
}

// How an ingest read a CSV file's null tokens.
const (
	nullsAll   = "all"   // the CSV reader knew every null token
	nullsEmpty = "empty" // it knew only the empty field; strings mapped after
)

// File names inside a version's directory.
const (
	DataFile    = "data.parquet"
	RejectsFile = "rejects.parquet"
)

// Ingest reads the file at src into dir (which it creates): data.parquet
// with the rows it could read, and rejects.parquet when some could not. It
// returns the schema, counts, hash and profile. When the reject ratio is
// over opt.MaxRejectRatio it returns an EINVALID error and leaves nothing
// in dir. Errors about the input are EINVALID and say what is wrong.
func Ingest(ctx context.Context, cfg EngineConfig, src, dir string, opt IngestOptions) (IngestResult, error) {
	return ingest(ctx, cfg, src, dir, opt, true, false)
}

// ingest is Ingest, with the profile optional (the scale benchmark times it
// apart); allNulls reads a CSV file with every null token from the start
// (tests compare the two ways, see csvSource).
func ingest(ctx context.Context, cfg EngineConfig, src, dir string, opt IngestOptions, withProfile, allNulls bool) (IngestResult, error) {
	if err := opt.Validate(); err != nil {
		return IngestResult{}, err
	}
	format, err := detectFormat(src, opt.Format)
	if err != nil {
		return IngestResult{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return IngestResult{}, fmt.Errorf("ingest: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(filepath.Join(dir, DataFile))
			os.Remove(filepath.Join(dir, RejectsFile))
			os.Remove(dir)
		}
	}()
	d, err := openDuck(ctx, cfg)
	if err != nil {
		return IngestResult{}, err
	}
	defer func() { d.close() }() // d is reopened when a CSV is read again

	res := IngestResult{Format: format}
	dataPath := filepath.Join(dir, DataFile)
	var from string // a DuckDB table expression with the final columns
	var types []string
	var names []string
	var csvOpt CSVOptions
	switch format {
	case FormatCSV:
		csvOpt, err = sniffFile(src, opt.CSV, format == "tsv" || opt.Format == "tsv")
		if err != nil {
			return res, err
		}
		sniffed := csvOpt
		res.CSV = &sniffed
		if csvOpt.Delimiter == Whitespace {
			norm := filepath.Join(dir, "whitespace.tsv")
			if err := normalizeFile(src, norm); err != nil {
				return res, err
			}
			defer os.Remove(norm)
			src = norm
			csvOpt.Delimiter = "\t"
		}
		var tokens bool
		names, types, tokens, err = inferCSV(ctx, d, src, csvOpt, opt)
		if err != nil {
			return res, err
		}
		res.nulls = nullsAll
		if !tokens && !allNulls {
			res.nulls = nullsEmpty
		}
	default:
		reader := "read_parquet(" + lit(src) + ")"
		switch format {
		case FormatJSON:
			reader = "read_json(" + lit(src) + ", format = 'array')"
		case FormatJSONL:
			reader = "read_json(" + lit(src) + ", format = 'newline_delimited')"
		}
		var dtypes []string
		names, dtypes, err = d.describe(ctx, reader)
		if err != nil {
			return res, readError(src, format, err)
		}
		types = make([]string, len(names))
		for i, t := range dtypes {
			types[i] = jouleType(t)
			if o, ok := opt.Types[names[i]]; ok {
				types[i] = o
			}
		}
		if err := checkColumns(names, opt); err != nil {
			return res, err
		}
		from = "(SELECT " + castList(names, types, dtypes) + " FROM " + reader + ")"
	}

	// The UTF-8 check reads only the lines the CSV reader rejected (from
	// their byte positions), after it: a line DuckDB accepted is valid
	// UTF-8, and the check only names the reason of a rejected one.
	utf8Check := func() ([]int64, error) { return nil, nil }
	if format == FormatCSV && res.CSV.Encoding == "utf-8" {
		utf8Check = func() ([]int64, error) { return rejectedInvalidUTF8(ctx, d, src) }
	}
	res.Columns = columnsWithRoles(names, types, opt.Roles)
	// One COPY reads and writes in parallel (DuckDB keeps the rows in
	// order), then the hash streams the file back: on 2 cores this beats
	// hashing the rows as they are written, whose writer must run on one
	// thread (docs/decisions.md, "An ingest hashes the file it wrote").
	// The CSV reader's rejects stay in d for collectRejects.
	for {
		if format == FormatCSV {
			from = csvSource(src, csvOpt, names, types, res.nulls == nullsAll)
		}
		res.reads++
		if err := d.queryRow(ctx, "COPY (SELECT * FROM "+from+") TO "+lit(dataPath)+" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)").Scan(&res.Rows); err != nil {
			return res, readError(src, format, err)
		}
		var nan bool
		if res.Hash, nan, err = hashParquetNaN(ctx, d, dataPath, res.Columns); err != nil {
			return res, err
		}
		if res.nulls != nullsEmpty {
			break
		}
		// A NaN in a float column was read from NaN or nan (tokens) or
		// from another spelling of it: either way, read again.
		again := nan
		if !again {
			if again, err = rejectedTokens(ctx, d, csvOpt); err != nil {
				return res, err
			}
		}
		if !again {
			break
		}
		// A null token the sample did not hold: read the file again, from
		// a new DuckDB (its reject tables empty), with every token.
		res.nulls = nullsAll
		d.close()
		if d, err = openDuck(ctx, cfg); err != nil {
			return res, err
		}
	}
	if format == FormatCSV {
		if err := collectRejects(ctx, d, utf8Check, filepath.Join(dir, RejectsFile), &res); err != nil {
			return res, err
		}
		if r := opt.MaxRejectRatio; r != nil && res.RejectedRows > 0 {
			total := res.Rows + res.RejectedRows
			if float64(res.RejectedRows) > *r*float64(total) {
				return res, rejectRatioError(res, total, *r)
			}
		}
	}
	if res.Rows == 0 && res.RejectedRows == 0 && len(names) == 0 {
		return res, joule.Errorf(joule.EINVALID, "%s: no columns found", filepath.Base(src))
	}
	if withProfile {
		if res.Profile, err = profile(ctx, d, dataPath, res.Columns); err != nil {
			return res, err
		}
	}
	fi, err := os.Stat(dataPath)
	if err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	res.Bytes = fi.Size()
	ok = true
	return res, nil
}

func rejectRatioError(res IngestResult, total int64, limit float64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d rows rejected (%.2f%%), over the max reject ratio %g: nothing was written", res.RejectedRows, total,
		100*float64(res.RejectedRows)/float64(total), limit)
	for i, r := range res.FirstRejects {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", r.Line, r.Reason)
	}
	return joule.Errorf(joule.EINVALID, "%s", b.String())
}

// readError turns a DuckDB error about the input into an EINVALID error.
func readError(src, format string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, "\n\n"); i > 0 {
		msg = msg[:i]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return &joule.Error{Code: joule.EINVALID, Message: fmt.Sprintf("%s: cannot read as %s: %s", filepath.Base(src), format, msg), Err: err}
}

// detectFormat takes the caller's format, else the file name's extension,
// else the first bytes.
func detectFormat(src, format string) (string, error) {
	if format == "tsv" {
		return FormatCSV, nil
	}
	if format != "" {
		return format, nil
	}
	name := strings.ToLower(src)
	switch {
	case strings.HasSuffix(name, ".parquet"):
		return FormatParquet, nil
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"):
		return FormatJSONL, nil
	case strings.HasSuffix(name, ".json"):
		return FormatJSON, nil
	case strings.HasSuffix(name, ".csv"), strings.HasSuffix(name, ".tsv"), strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".data"):
		return FormatCSV, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return "", joule.Errorf(joule.EINVALID, "%s: %v", filepath.Base(src), err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch t := bytes.TrimSpace(head); {
	case bytes.HasPrefix(head, []byte("PAR1")):
		return FormatParquet, nil
	case bytes.HasPrefix(t, []byte("[")):
		return FormatJSON, nil
	case bytes.HasPrefix(t, []byte("{")):
		return FormatJSONL, nil
	}
	return FormatCSV, nil
}

// sniffFile sniffs the first 64 KiB of a delimited file.
func sniffFile(src string, o CSVOptions, tsv bool) (CSVOptions, error) {
	if tsv && o.Delimiter == "" {
		o.Delimiter = "\t"
	}
	f, err := os.Open(src)
	if err != nil {
		return o, joule.Errorf(joule.EINVALID, "%s: %v", filepath.Base(src), err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return o, fmt.Errorf("sniff %s: %w", src, err)
	}
	if n == 0 {
		return o, joule.Errorf(joule.EINVALID, "%s: the file is empty", filepath.Base(src))
	}
	sample := buf[:n]
	if n < len(buf) && sample[n-1] != '\n' {
		sample = append(sample, '\n') // the whole file: its last line is complete
	}
	return Sniff(sample, o), nil
}

// normalizeFile rewrites a space-aligned file with one tab between the
// fields of each line, line for line.
func normalizeFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return joule.Errorf(joule.EINVALID, "%s: %v", filepath.Base(src), err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("normalize: %w", err)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	for sc.Scan() {
		for i, f := range bytes.Fields(sc.Bytes()) {
			if i > 0 {
				w.WriteByte('\t')
			}
			w.Write(f)
		}
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		out.Close()
		return joule.Errorf(joule.EINVALID, "%s: %v", filepath.Base(src), err)
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("normalize: %w", err)
	}
	return out.Close()
}

// sqlNullTokens is nullTokens but the empty one, as the elements of a SQL
// list ('NA', 'N/A', …), and longestNullToken the longest one's length in
// bytes.
var sqlNullTokens, longestNullToken = func() (string, int) {
	quoted := make([]string, 0, len(nullTokens))
	longest := 0
	for _, t := range nullTokens {
		if t != "" {
			quoted = append(quoted, lit(t))
		}
		longest = max(longest, len(t))
	}
	return strings.Join(quoted, ", "), longest
}()

// csvArgs returns the read_csv arguments for a file read with o, nulls the
// elements of the list of values read as NULL.
func csvArgs(o CSVOptions, nulls string) string {
	enc := o.Encoding
	if enc == "" {
		enc = "utf-8"
	}
	return fmt.Sprintf("auto_detect = false, delim = %s, quote = %s, escape = %s, header = %s, encoding = %s, nullstr = [%s], strict_mode = true",
		lit(o.Delimiter), lit(o.Quote), lit(o.Quote), o.Header, lit(enc), nulls)
}

// csvSource is the table expression an ingest reads a CSV file through:
// read_csv with explicit column names and types, storing the rows it cannot
// read in the connection's reject tables.
//
// With allNulls the reader reads every null token as NULL. Without, it
// knows only the empty field, and a string column's other tokens are mapped
// to NULL after it: DuckDB's reader compares every field with every null
// token, 0.6–1.8 s of CPU on the 1 GB benchmark (docs/perf.md). The two
// reads differ only where a column of another type holds one of the other
// tokens, or a float column a NaN; rejectedTokens tells the first.
func csvSource(src string, o CSVOptions, names, types []string, allNulls bool) string {
	nulls := "''"
	if allNulls {
		nulls += ", " + sqlNullTokens
	}
	cols := make([]string, len(names))
	for i, n := range names {
		cols[i] = lit(n) + ": " + lit(duckType(types[i]))
	}
	read := "read_csv(" + lit(src) + ", " + csvArgs(o, nulls) + ", columns = {" + strings.Join(cols, ", ") + "}, store_rejects = true)"
	if allNulls || !slices.Contains(types, joule.TypeString) {
		return read
	}
	// list_contains, not IN: DuckDB plans an IN list of this length as a
	// join against the list, and the COPY then loses the rows' order. The
	// length test first (no token is longer) makes the mapping cost
	// nothing measurable on the benchmark (docs/perf.md).
	sel := make([]string, len(names))
	for i, n := range names {
		sel[i] = ident(n)
		if types[i] == joule.TypeString {
			sel[i] = fmt.Sprintf("CASE WHEN strlen(%s) <= %d AND list_contains([%s], %s) THEN NULL ELSE %s END AS %s",
				ident(n), longestNullToken, sqlNullTokens, ident(n), ident(n), ident(n))
		}
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM " + read + ")"
}

// rejectedTokens reports whether the CSV reader, given only the empty field
// as NULL (csvSource), rejected a line over a field that is another null
// token: a value of a non-string column that could not be cast, or the one
// field too many that DuckDB lets pass when it is NULL.
func rejectedTokens(ctx context.Context, d *duck, o CSVOptions) (bool, error) {
	const q = `SELECT count(*) FROM reject_errors
WHERE (error_type = 'CAST' AND regexp_extract(error_message, 'Could not convert string "(.*)" to ''', 1) IN (%[1]s))
   OR (error_type = 'TOO MANY COLUMNS' AND trim(string_split(rtrim(csv_line, chr(13) || chr(10)), %[2]s)[-1], %[3]s) IN (%[1]s))`
	var n int64
	if err := d.queryRow(ctx, fmt.Sprintf(q, sqlNullTokens, lit(o.Delimiter), lit(o.Quote))).Scan(&n); err != nil {
		return false, fmt.Errorf("rejects: %w", err)
	}
	return n > 0, nil
}

// DefaultInferRows is how many rows type inference reads by default (as
// many as DuckDB's own sniffer samples).
const DefaultInferRows = 20_480

// inferCSV reads the header (or counts the columns) and infers each
// column's type from up to opt.InferRows rows read as text: the first of
// boolean, integer, float, date and timestamp that at least 95% of the
// non-null values fit, else string. Integer needs every number to be whole.
// Values that do not fit the chosen type are rejected at ingest. tokens
// reports whether a sampled field is a null token other than the empty one.
func inferCSV(ctx context.Context, d *duck, src string, o CSVOptions, opt IngestOptions) (names, types []string, tokens bool, err error) {
	names, err = csvHeader(src, o)
	if err != nil {
		return nil, nil, false, err
	}
	cols := make([]string, len(names))
	for i := range names {
		cols[i] = fmt.Sprintf("'c%d': 'VARCHAR'", i)
	}
	// A 4 MB buffer (twice the longest line DuckDB reads by default) rather
	// than its 32 MB: the sample is the first rows, and a large file's
	// first buffers would otherwise be parsed in full.
	args := fmt.Sprintf("auto_detect = false, ignore_errors = true, buffer_size = 4194304, delim = %s, quote = %s, escape = %s, header = %s, encoding = %s, columns = {%s}",
		lit(o.Delimiter), lit(o.Quote), lit(o.Quote), o.Header, lit(o.Encoding), strings.Join(cols, ", "))
	reader := "read_csv(" + lit(src) + ", " + args + ")"
	if err := checkColumns(names, opt); err != nil {
		return nil, nil, false, err
	}
	limit := opt.InferRows
	if limit == 0 {
		limit = DefaultInferRows
	}
	sample := "(SELECT * FROM " + reader + ")"
	if limit > 0 {
		sample = fmt.Sprintf("(SELECT * FROM %s LIMIT %d)", reader, limit)
	}
	// The sample holds each value trimmed, with empty and null tokens as
	// NULL, so that the checks below do not trim it again.
	trimmed := make([]string, len(names))
	for i := range names {
		trimmed[i] = fmt.Sprintf("nullif(trim(c%d), '') AS c%d", i, i)
	}
	// tok marks a row with a field that is a null token other than ''.
	isTok := make([]string, len(names))
	for i := range names {
		isTok[i] = fmt.Sprintf("list_contains([%s], c%d)", sqlNullTokens, i)
	}
	if len(isTok) == 0 {
		isTok = []string{"false"}
	}
	base := "(SELECT " + strings.Join(trimmed, ", ") + ", tok FROM (SELECT " + nullify(len(names), "'', "+sqlNullTokens) + ", " + strings.Join(isTok, " OR ") + " AS tok FROM " + sample + "))"
	if _, err := d.exec(ctx, "CREATE TEMP TABLE infer_sample AS SELECT * FROM "+base); err != nil {
		return nil, nil, false, readError(src, FormatCSV, err)
	}
	defer d.exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS infer_sample")
	// counts holds, per column: non-null values, then how many fit
	// boolean, integer, float, date and timestamp. The date and timestamp
	// checks (the slow ones) run only on columns that no number type fits.
	counts := make([]int64, 6*len(names))
	numeric := func(i int) []string {
		c := fmt.Sprintf("c%d", i)
		return []string{
			fmt.Sprintf("count(%s)", c),
			fmt.Sprintf("count(*) FILTER (lower(%s) IN ('true', 'false'))", c),
			fmt.Sprintf("count(*) FILTER (regexp_full_match(%s, '[+-]?[0-9]{1,18}'))", c),
			fmt.Sprintf("count(*) FILTER (TRY_CAST(%s AS DOUBLE) IS NOT NULL)", c),
		}
	}
	temporal := func(i int) []string {
		c := fmt.Sprintf("c%d", i)
		return []string{
			fmt.Sprintf("count(*) FILTER (regexp_full_match(%s, '[0-9]{4}-[0-9]{2}-[0-9]{2}') AND TRY_CAST(%s AS DATE) IS NOT NULL)", c, c),
			fmt.Sprintf("count(*) FILTER (regexp_full_match(%s, '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?') AND TRY_CAST(%s AS TIMESTAMP) IS NOT NULL)", c, c),
		}
	}
	all := make([]int, len(names))
	for i := range all {
		all[i] = i
	}
	if err := countSample(ctx, d, src, all, 0, numeric, counts); err != nil {
		return nil, nil, false, err
	}
	var rest []int
	for i := range names {
		if _, ok := opt.Types[names[i]]; ok {
			continue
		}
		if k := counts[i*6 : i*6+6]; !fitsType(k[0], k[1]) && !fitsType(k[0], k[2]) && !fitsType(k[0], k[3]) {
			rest = append(rest, i)
		}
	}
	if err := countSample(ctx, d, src, rest, 4, temporal, counts); err != nil {
		return nil, nil, false, err
	}
	if err := d.queryRow(ctx, "SELECT coalesce(bool_or(tok), false) FROM infer_sample").Scan(&tokens); err != nil {
		return nil, nil, false, readError(src, FormatCSV, err)
	}
	types = make([]string, len(names))
	for i, name := range names {
		if t, ok := opt.Types[name]; ok {
			types[i] = t
			continue
		}
		k := counts[i*6 : i*6+6]
		nonNull, boolean, integer, float, date, ts := k[0], k[1], k[2], k[3], k[4], k[5]
		fits := func(n int64) bool { return fitsType(nonNull, n) }
		switch {
		case fits(boolean):
			types[i] = joule.TypeBoolean
		case fits(integer) && integer == float:
			types[i] = joule.TypeInteger
		case fits(float):
			types[i] = joule.TypeFloat
		case fits(date):
			types[i] = joule.TypeDate
		case fits(ts):
			types[i] = joule.TypeTimestamp
		default:
			types[i] = joule.TypeString
		}
	}
	return names, types, tokens, nil
}

// fitsType reports whether n of a column's nonNull sampled values are
// enough for a type: at least 95%.
func fitsType(nonNull, n int64) bool { return nonNull > 0 && n*100 >= nonNull*95 }

// countSample runs the aggregates that aggs gives for each of the columns
// cols over infer_sample and stores them in counts, six per column from
// offset off; a few columns per query keeps memory flat for wide files.
func countSample(ctx context.Context, d *duck, src string, cols []int, off int, aggs func(i int) []string, counts []int64) error {
	for lo := 0; lo < len(cols); lo += 16 {
		var exprs []string
		var ptrs []any
		for _, i := range cols[lo:min(lo+16, len(cols))] {
			a := aggs(i)
			exprs = append(exprs, a...)
			for k := range a {
				ptrs = append(ptrs, &counts[i*6+off+k])
			}
		}
		if err := d.queryRow(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM infer_sample").Scan(ptrs...); err != nil {
			return readError(src, FormatCSV, err)
		}
	}
	return nil
}

// csvHeader returns the column names of a delimited file: its first line
// when it has a header (empty names become columnN), else column0, column1,
// … as many as the most common number of fields in the first lines.
func csvHeader(src string, o CSVOptions) ([]string, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "%s: %v", filepath.Base(src), err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	n, _ := io.ReadFull(f, buf)
	text := buf[:n]
	switch o.Encoding {
	case "latin-1":
		text = latin1ToUTF8(text)
	case "utf-16":
		text = utf16ToUTF8(text)
	}
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	if n == len(buf) {
		if i := bytes.LastIndexByte(text, '\n'); i > 0 {
			text = text[:i+1]
		}
	} else if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	lines := sampleLines(text)
	if len(lines) == 0 {
		return nil, joule.Errorf(joule.EINVALID, "%s: no lines to read", filepath.Base(src))
	}
	if o.Header == "true" {
		names := splitLine(lines[0], o.Delimiter[0], o.Quote[0])
		for i, name := range names {
			name = strings.TrimSpace(name)
			if name == "" {
				name = fmt.Sprintf("column%d", i)
			}
			names[i] = name
		}
		return names, nil
	}
	counts := map[int]int{}
	for _, l := range lines {
		counts[len(splitLine(l, o.Delimiter[0], o.Quote[0]))]++
	}
	mode, modeN := 0, 0
	for k, c := range counts {
		if c > modeN || c == modeN && k > mode {
			mode, modeN = k, c
		}
	}
	names := make([]string, mode)
	for i := range names {
		names[i] = fmt.Sprintf("column%d", i)
	}
	return names, nil
}

// nullify maps the values nulls lists (a SQL list's elements) in columns
// c0 to c(n-1) to NULL.
func nullify(n int, nulls string) string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf("CASE WHEN list_contains([%s], c%d) THEN NULL ELSE c%d END AS c%d", nulls, i, i, i)
	}
	return strings.Join(cols, ", ")
}

// checkColumns checks the names read from a file, and that every override
// names one of them.
func checkColumns(names []string, opt IngestOptions) error {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return joule.Errorf(joule.EINVALID, "column %q appears twice", n)
		}
		seen[n] = true
	}
	for c := range opt.Types {
		if !seen[c] {
			return joule.Errorf(joule.EINVALID, "types: no column %q (columns: %s)", c, strings.Join(names, ", "))
		}
	}
	for c := range opt.Roles {
		if !seen[c] {
			return joule.Errorf(joule.EINVALID, "roles: no column %q (columns: %s)", c, strings.Join(names, ", "))
		}
	}
	return nil
}

func columnsWithRoles(names, types []string, roles map[string]string) []joule.DatasetColumn {
	cols := make([]joule.DatasetColumn, len(names))
	for i, n := range names {
		role := roles[n]
		if role == "" {
			role = joule.RoleFeature
		}
		cols[i] = joule.DatasetColumn{Name: n, Type: types[i], Role: role}
	}
	return cols
}

// castList casts each column to its joule type's DuckDB type. Nested values
// become their JSON text.
func castList(names, types, dtypes []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		src := ident(n)
		dt := strings.ToUpper(dtypes[i])
		if strings.HasPrefix(dt, "STRUCT") || strings.HasSuffix(dt, "[]") || strings.HasPrefix(dt, "MAP") || dt == "JSON" {
			src = "to_json(" + src + ")"
		}
		if strings.HasPrefix(dt, "TIMESTAMP WITH TIME ZONE") || dt == "TIMESTAMPTZ" {
			src = "timezone('UTC', " + src + ")"
		}
		out[i] = "CAST(" + src + " AS " + duckType(types[i]) + ") AS " + ident(n)
	}
	return strings.Join(out, ", ")
}

// collectRejects writes the CSV reader's rejects to path (one per line,
// with a reason) and counts them. Lines that are not valid UTF-8 are
// reported as such, whatever error the reader saw first.
func collectRejects(ctx context.Context, d *duck, utf8Check func() ([]int64, error), path string, res *IngestResult) error {
	badLines, err := utf8Check()
	if err != nil {
		return err
	}
	if _, err := d.exec(ctx, "CREATE TEMP TABLE bad_utf8 (line BIGINT)"); err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	for chunk := range slices.Chunk(badLines, 1000) {
		vals := make([]string, len(chunk))
		for i, l := range chunk {
			vals[i] = fmt.Sprintf("(%d)", l)
		}
		if _, err := d.exec(ctx, "INSERT INTO bad_utf8 VALUES "+strings.Join(vals, ", ")); err != nil {
			return fmt.Errorf("rejects: %w", err)
		}
	}
	const q = `CREATE TEMP TABLE rejects AS
SELECT r.line::BIGINT AS line,
  CASE WHEN r.error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') OR b.line IS NOT NULL THEN '' ELSE coalesce(r.column_name, '') END AS "column",
  CASE
    WHEN b.line IS NOT NULL OR r.error_type IN ('INVALID ENCODING', 'INVALID UNICODE') THEN 'invalid UTF-8'
    WHEN r.error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN
      'ragged row: ' || regexp_replace(r.error_message, 'Expected Number of Columns: ([0-9]+) Found: ([0-9]+).*', 'expected \1 fields, found \2')
    WHEN r.error_type = 'CAST' THEN
      'unparsable value: ' || regexp_replace(replace(replace(replace(replace(replace(r.error_message,
        '''BIGINT''', 'integer'), '''DOUBLE''', 'float'), '''BOOLEAN''', 'boolean'), '''DATE''', 'date'), '''TIMESTAMP''', 'timestamp'),
        'Error when converting column "(.*)"\. Could not convert string "(.*)" to ([a-z]+).*', 'column \1: "\2" is not a valid \3')
    WHEN r.error_type = 'UNQUOTED VALUE' THEN 'a quote is not closed or is followed by text'
    ELSE lower(r.error_type) || ': ' || r.error_message
  END AS reason,
  coalesce(r.csv_line, '') AS text
FROM reject_errors r LEFT JOIN bad_utf8 b ON b.line = r.line
QUALIFY row_number() OVER (PARTITION BY r.line ORDER BY r.column_idx) = 1`
	if _, err := d.exec(ctx, q); err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	if err := d.queryRow(ctx, "SELECT count(*) FROM rejects").Scan(&res.RejectedRows); err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	if res.RejectedRows == 0 {
		return nil
	}
	rows, err := d.query(ctx, `SELECT line, "column", reason, text FROM rejects ORDER BY line LIMIT 10`)
	if err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r joule.Reject
		if err := rows.Scan(&r.Line, &r.Column, &r.Reason, &r.Text); err != nil {
			return fmt.Errorf("rejects: %w", err)
		}
		r.Text = strings.ToValidUTF8(r.Text, "\uFFFD")
		res.FirstRejects = append(res.FirstRejects, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	_, err = d.exec(ctx, "COPY (SELECT * FROM rejects ORDER BY line) TO "+lit(path)+" (FORMAT parquet)")
	if err != nil {
		return fmt.Errorf("rejects: %w", err)
	}
	return nil
}

// rejectedInvalidUTF8 returns the 1-based numbers of the lines the CSV
// reader rejected (reject_errors) that are not valid UTF-8, reading each
// from its byte position in src.
func rejectedInvalidUTF8(ctx context.Context, d *duck, src string) ([]int64, error) {
	rows, err := d.query(ctx, "SELECT DISTINCT line::BIGINT, line_byte_position::BIGINT FROM reject_errors WHERE line_byte_position IS NOT NULL ORDER BY 2")
	if err != nil {
		return nil, fmt.Errorf("rejects: %w", err)
	}
	type at struct{ line, pos int64 }
	var lines []at
	for rows.Next() {
		var a at
		if err := rows.Scan(&a.line, &a.pos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("rejects: %w", err)
		}
		lines = append(lines, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rejects: %w", err)
	}
	if len(lines) == 0 {
		return nil, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var bad []int64
	for _, a := range lines {
		if _, err := f.Seek(a.pos, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		r.Reset(f)
		valid := true
		for {
			b, err := r.ReadSlice('\n')
			// A character split at a 64 KiB boundary is rare and would
			// only mislabel the reason.
			valid = valid && utf8.Valid(b)
			if !errors.Is(err, bufio.ErrBufferFull) {
				if err != nil && err != io.EOF {
					return nil, fmt.Errorf("read %s: %w", src, err)
				}
				break
			}
		}
		if !valid && (len(bad) == 0 || bad[len(bad)-1] != a.line) {
			bad = append(bad, a.line)
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad), nil
}

// scanAny scans every column of the current row into a slice.
func scanAny(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := rows.Scan(ptrs...)
	return vals, err
}
