package carbon

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Gap rules of ParseCSV. The nominal interval d of a file is the most common
// difference between consecutive timestamps. A gap is the time missing
// between two rows: their difference minus d.
const (
	// MaxFilledIntervals is the most missing intervals ParseCSV fills
	// between two rows.
	MaxFilledIntervals = 2
	// MaxGap is the shortest gap ParseCSV rejects whatever the interval.
	MaxGap = 3 * time.Hour
)

// maxRows bounds the rows ParseCSV reads: ten years of 5-minute data.
const maxRows = 10 * 366 * 24 * 12

// ParseError is a problem at one line of a time-series file. Its text reads
// "name:line: problem".
type ParseError struct {
	Name string // file name as given to ParseCSV
	Line int    // 1-based; 0 when the problem is the file as a whole
	Err  error
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Fill records one gap that ParseCSV filled.
type Fill struct {
	Line   int       // line of the row after the gap
	After  time.Time // last time before the gap
	Before time.Time // first time after the gap
	Points int       // points added by linear interpolation
}

// Report says what ParseCSV read and what it changed.
type Report struct {
	Name      string
	Format    string        // one of the Format* constants
	Column    string        // the value column used
	Rows      int           // data rows read
	Interval  time.Duration // nominal interval: the most common step
	Filled    []Fill        // gaps filled by linear interpolation
	Estimated int           // rows the file marks as estimated
}

// Formats recognised by ParseCSV, by their header.
const (
	// FormatCanonical is "timestamp,g_per_kwh".
	FormatCanonical = "canonical"
	// FormatLetsWaitAwhile is "Time,Carbon Intensity", as in ger_ci.csv of
	// github.com/dos-group/lets-wait-awhile.
	FormatLetsWaitAwhile = "lets-wait-awhile"
	// FormatElectricityMapsHourly is the Electricity Maps data-portal export
	// ("Datetime (UTC)", …, "Carbon Intensity gCO₂eq/kWh (LCA)", …). The
	// life-cycle column is used, as the Electricity Maps API does by default.
	FormatElectricityMapsHourly = "electricitymaps-hourly"
	// FormatElectricityMapsAPI is an Electricity Maps API export ("datetime",
	// …, "carbon_intensity_avg", …), as in the PCAPS sample trace.
	FormatElectricityMapsAPI = "electricitymaps-api"
)

type csvFormat struct {
	name      string
	timeCol   string
	valueCol  string
	estimated string // optional "true"/"false" column
}

// csvFormats are tried in order; the first whose columns are all present
// wins. Column names compare case-insensitively after trimming.
var csvFormats = []csvFormat{
	{name: FormatElectricityMapsHourly, timeCol: "Datetime (UTC)", valueCol: "Carbon Intensity gCO₂eq/kWh (LCA)", estimated: "Data Estimated"},
	{name: FormatElectricityMapsAPI, timeCol: "datetime", valueCol: "carbon_intensity_avg"},
	{name: FormatLetsWaitAwhile, timeCol: "Time", valueCol: "Carbon Intensity"},
	{name: FormatCanonical, timeCol: "timestamp", valueCol: "g_per_kwh"},
}

// timeLayouts are the timestamp forms ParseCSV accepts. Times without an
// offset are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04Z07:00", // UK Carbon Intensity API style
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q: want RFC 3339 or 2006-01-02 15:04:05 (UTC)", s)
}

type csvRow struct {
	line int
	p    Point
}

// ParseCSV reads a carbon-intensity time series in one of the Format*
// layouts, chosen by the header row. name labels errors and the report.
//
// Timestamps are RFC 3339 or "2006-01-02 15:04:05"; those without an offset
// are taken as UTC (ger_ci.csv does not state its zone). Each value is
// gCO2e/kWh and must be a finite, non-negative number. Timestamps must
// strictly increase.
//
// Gaps: with d the most common step between rows, two rows Δ apart leave a
// gap of Δ−d. A gap of one or two whole intervals (at most
// MaxFilledIntervals) and shorter than MaxGap is filled by linear
// interpolation between its neighbours and listed in Report.Filled. A
// longer gap, or one of MaxGap (3 hours) or more, is rejected naming the
// line after it. A gap that is not a whole number of intervals is kept as
// an irregular step: the earlier value holds until the later row.
//
// Errors are *joule.Error values with code joule.EINVALID wrapping a
// *ParseError, whose text reads "name:line: problem".
func ParseCSV(r io.Reader, name string) (Series, Report, error) {
	rep := Report{Name: name}
	fail := func(line int, err error) (Series, Report, error) {
		pe := &ParseError{Name: name, Line: line, Err: err}
		return Series{}, rep, &joule.Error{Code: joule.EINVALID, Message: pe.Error(), Err: pe}
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fail(0, errors.New("empty file: want a header row"))
		}
		return fail(csvLine(err, 1), csvCause(err))
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	f, ti, vi, ei, ok := detect(header)
	if !ok {
		return fail(1, fmt.Errorf("unknown header %q: want timestamp,g_per_kwh or a known export", strings.Join(header, ",")))
	}
	rep.Format, rep.Column = f.name, f.valueCol

	var rows []csvRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(csvLine(err, 0), csvCause(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rows) >= maxRows {
			return fail(line, fmt.Errorf("more than %d rows", maxRows))
		}
		t, err := parseTime(rec[ti])
		if err != nil {
			return fail(line, err)
		}
		vs := strings.TrimSpace(rec[vi])
		if vs == "" {
			return fail(line, errors.New("missing intensity value"))
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return fail(line, fmt.Errorf("bad intensity value %q", vs))
		}
		if err := checkValue(v); err != nil {
			return fail(line, err)
		}
		if n := len(rows); n > 0 && !t.After(rows[n-1].p.Time) {
			return fail(line, fmt.Errorf("timestamp %s is not after %s on line %d", t.Format(time.RFC3339), rows[n-1].p.Time.Format(time.RFC3339), rows[n-1].line))
		}
		if ei >= 0 && strings.EqualFold(strings.TrimSpace(rec[ei]), "true") {
			rep.Estimated++
		}
		rows = append(rows, csvRow{line: line, p: Point{Time: t, GramsPerKWh: v}})
	}
	rep.Rows = len(rows)
	if len(rows) == 0 {
		return fail(0, errors.New("no data rows"))
	}
	d := modeStep(rows)
	rep.Interval = d
	points := make([]Point, 0, len(rows))
	for i, row := range rows {
		if i > 0 {
			prev := rows[i-1].p
			gap := row.p.Time.Sub(prev.Time) - d
			if gap >= MaxGap || gap > MaxFilledIntervals*d {
				return fail(row.line, fmt.Errorf("gap of %v after %s (line %d) in a series of %v steps: gaps of more than %d intervals or of %v or more are rejected",
					gap, prev.Time.Format(time.RFC3339), rows[i-1].line, d, MaxFilledIntervals, MaxGap))
			}
			if gap > 0 && gap%d == 0 {
				k := int(gap / d)
				for j := 1; j <= k; j++ {
					frac := float64(j) / float64(k+1)
					points = append(points, Point{
						Time:        prev.Time.Add(time.Duration(j) * d),
						GramsPerKWh: prev.GramsPerKWh + frac*(row.p.GramsPerKWh-prev.GramsPerKWh),
					})
				}
				rep.Filled = append(rep.Filled, Fill{Line: row.line, After: prev.Time, Before: row.p.Time, Points: k})
			}
		}
		points = append(points, row.p)
	}
	s := newSeries(points)
	if len(points) == 1 {
		s = Series{points: points, end: points[0].Time.Add(d)}
	}
	return s, rep, nil
}

// detect finds the format of a header and the indices of its time, value and
// estimated columns (ei is -1 when absent).
func detect(header []string) (f csvFormat, ti, vi, ei int, ok bool) {
	idx := func(col string) int {
		return slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), col) })
	}
	for _, f := range csvFormats {
		ti, vi := idx(f.timeCol), idx(f.valueCol)
		if ti < 0 || vi < 0 {
			continue
		}
		ei := -1
		if f.estimated != "" {
			ei = idx(f.estimated)
		}
		return f, ti, vi, ei, true
	}
	return csvFormat{}, 0, 0, 0, false
}

// modeStep returns the most common positive step between rows; the shorter
// step wins a tie. A single row gets one hour.
func modeStep(rows []csvRow) time.Duration {
	if len(rows) < 2 {
		return defaultStep
	}
	counts := map[time.Duration]int{}
	best, bestN := time.Duration(0), 0
	for i := 1; i < len(rows); i++ {
		d := rows[i].p.Time.Sub(rows[i-1].p.Time)
		counts[d]++
		if n := counts[d]; n > bestN || (n == bestN && d < best) {
			best, bestN = d, n
		}
	}
	return best
}

// csvLine returns the line of an encoding/csv error, or def.
func csvLine(err error, def int) int {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Line
	}
	return def
}

// csvCause strips the position encoding/csv puts in its message, since
// ParseError adds the line itself.
func csvCause(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err
	}
	return err
}
