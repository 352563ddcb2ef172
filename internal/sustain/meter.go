package sustain

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// MeterOptions are the settings of ParseMeter; the zero value reads times
// without an offset as UTC and flags outliers beyond 8 robust deviations.
type MeterOptions struct {
	// Location is the time zone of timestamps that carry no offset; nil
	// means UTC, and the quality report says it was assumed.
	Location *time.Location
	// OutlierK is how many robust standard deviations (1.4826 × the median
	// absolute deviation) from the median an hourly value may lie before
	// it is replaced; 0 means 8.
	OutlierK float64
}

// ImportedSeries is one normalised hourly series: energy in joules or
// emissions in grams, one point per UTC hour from the first to the last,
// each with a note saying how it was obtained.
type ImportedSeries struct {
	Name   string              `json:"name"`
	Column string              `json:"column"`
	Unit   string              `json:"unit"` // "J" or "g"
	From   string              `json:"from"` // the file's unit: "kWh", "Wh", "kg", …
	Points []joule.SeriesPoint `json:"points"`
}

// Fix is one change the import made to the data, with the file line it
// concerns (0 for the file as a whole).
type Fix struct {
	Line   int    `json:"line,omitempty"`
	Kind   string `json:"kind"` // skipped, duplicate, conflict, gap, partial, outlier, unit, timezone, aligned, spread
	Series string `json:"series,omitempty"`
	Time   string `json:"time,omitempty"`
	Detail string `json:"detail"`
}

// QualityReport lists every fix the import made: nothing is dropped or
// changed without a line here.
type QualityReport struct {
	File       string         `json:"file"`
	Rows       int            `json:"rows"`       // data rows read
	Parsed     int            `json:"parsed"`     // rows used
	Resolution string         `json:"resolution"` // the readings' spacing, e.g. "15m0s"
	Hours      int            `json:"hours"`      // hourly points per series
	Fixes      []Fix          `json:"fixes"`
	Counts     map[string]int `json:"counts"` // fixes by kind
}

// MeterImport is the result of ParseMeter.
type MeterImport struct {
	Series  []ImportedSeries `json:"series"`
	Quality QualityReport    `json:"quality"`
}

var unitRE = regexp.MustCompile(`(?i)^(.*?)[\s_\-(\[]*(gwh|mwh|kwh|wh|mj|kj|j|gco2e?|kgco2e?|tco2e?|kg|g|t)[)\]]?$`)

// units maps a unit to its factor into joules or grams and that base unit.
var units = map[string]struct {
	factor float64
	base   string
	name   string
}{
	"j": {1, "J", "J"}, "kj": {1e3, "J", "kJ"}, "mj": {1e6, "J", "MJ"},
	"wh": {3600, "J", "Wh"}, "kwh": {3.6e6, "J", "kWh"}, "mwh": {3.6e9, "J", "MWh"}, "gwh": {3.6e12, "J", "GWh"},
	"g": {1, "g", "g"}, "gco2": {1, "g", "g"}, "gco2e": {1, "g", "g"},
	"kg": {1e3, "g", "kg"}, "kgco2": {1e3, "g", "kg"}, "kgco2e": {1e3, "g", "kg"},
	"t": {1e6, "g", "t"}, "tco2": {1e6, "g", "t"}, "tco2e": {1e6, "g", "t"},
}

const (
	maxMeterRows  = 2_000_000
	maxMeterHours = 5 * 366 * 24
)

type column struct {
	idx    int
	name   string // series name
	header string
	unit   string // lower-case key of units; "" when a unit column gives it
}

type reading struct {
	line  int
	t     time.Time
	vals  []float64 // per column, NaN when empty
	units []string  // per column, for the unit-column form
}

// ParseMeter reads a facility meter, utility bill or certificate CSV and
// returns hourly series with a quality report.
//
// The header names a time column (time, timestamp, datetime, date, start
// or period_start) and either one column per series whose name ends in its
// unit ("facility_kWh", "it (Wh)", "energy_MWh", "emissions_kg"), or a
// value column with a unit column (and optionally a meter or series column
// naming the series). Each value is the energy (or emissions) of the
// interval that starts at its time. Times are RFC 3339 or "YYYY-MM-DD
// HH:MM[:SS]" with an optional offset; times without one are read in
// opts.Location. Everything is converted to UTC, joules and grams.
//
// Cleaning, each step recorded in the quality report: rows that do not
// parse are skipped; rows at a time already seen are dropped (duplicates)
// or, when their values differ, the first kept (conflicts); readings are
// summed into UTC hours (finer than hourly) or spread evenly over the hours
// they cover (coarser); hours with some of their readings missing are
// scaled up; values beyond OutlierK robust deviations are replaced by the
// mean of their neighbours; missing hours (gaps) are filled by linear
// interpolation. A file with no parsable row is an error naming the file
// and the first problem. Errors are EINVALID.
func ParseMeter(r io.Reader, name string, opts MeterOptions) (MeterImport, error) {
	fail := func(line int, format string, args ...any) (MeterImport, error) {
		where := name
		if line > 0 {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		return MeterImport{}, joule.Errorf(joule.EINVALID, "%s: %s", where, fmt.Sprintf(format, args...))
	}
	loc := opts.Location
	k := opts.OutlierK
	if k <= 0 {
		k = 8
	}
	q := QualityReport{File: name, Counts: map[string]int{}}
	fix := func(f Fix) {
		q.Fixes = append(q.Fixes, f)
		q.Counts[f.Kind]++
	}
	if loc == nil {
		loc = time.UTC
	}

	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fail(0, "empty file: want a header row naming a time column and value columns")
	}
	if err != nil {
		return fail(csvLine(err), "%v", csvCause(err))
	}
	timeCol, valueCol, unitCol, seriesCol := -1, -1, -1, -1
	var cols []column
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch strings.ToLower(h) {
		case "time", "timestamp", "datetime", "date", "start", "period_start", "interval_start":
			if timeCol < 0 {
				timeCol = i
			}
			continue
		case "value", "reading", "energy", "amount":
			valueCol = i
			continue
		case "unit", "units":
			unitCol = i
			continue
		case "meter", "series", "name":
			seriesCol = i
			continue
		}
		if m := unitRE.FindStringSubmatch(h); m != nil {
			stem := strings.ToLower(strings.Trim(m[1], " _-([)]"))
			u := strings.ToLower(m[2])
			if stem == "" {
				stem = map[string]string{"J": "energy", "g": "emissions"}[units[u].base]
			}
			cols = append(cols, column{idx: i, name: stem, header: h, unit: u})
		}
	}
	if timeCol < 0 {
		return fail(1, "no time column: want one named time, timestamp, datetime, date, start or period_start (header: %s)", strings.Join(header, ","))
	}
	longForm := valueCol >= 0 && unitCol >= 0
	if !longForm && len(cols) == 0 {
		return fail(1, "no value column: name each value column with its unit (facility_kWh, it_Wh, emissions_kg) or give value and unit columns")
	}
	if longForm {
		cols = nil // series come from the rows
	}

	// Pass 1: rows.
	type seriesKey struct{ name, base string }
	longSeries := map[seriesKey]int{}
	var rows []reading
	var firstProblem string
	offsets := map[string][]int{} // offset text → lines
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if pe, ok := errors.AsType[*csv.ParseError](err); !ok || pe.Err != csv.ErrFieldCount {
				return fail(csvLine(err), "%v", csvCause(err))
			}
		}
		line := 0
		if len(rec) > 0 {
			line, _ = cr.FieldPos(0)
		}
		q.Rows++
		if q.Rows > maxMeterRows {
			return fail(line, "more than %d rows", maxMeterRows)
		}
		skip := func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			if firstProblem == "" {
				firstProblem = fmt.Sprintf("line %d: %s", line, msg)
			}
			fix(Fix{Line: line, Kind: "skipped", Detail: msg})
		}
		if timeCol >= len(rec) {
			skip("no time field")
			continue
		}
		t, off, err := parseMeterTime(rec[timeCol], loc)
		if err != nil {
			skip("time %q: %v", rec[timeCol], err)
			continue
		}
		offsets[off] = append(offsets[off], line)
		rd := reading{line: line, t: t}
		if longForm {
			if valueCol >= len(rec) || unitCol >= len(rec) {
				skip("missing value or unit field")
				continue
			}
			u := strings.ToLower(strings.TrimSpace(rec[unitCol]))
			uu, ok := units[u]
			if !ok {
				skip("unit %q is not one of Wh, kWh, MWh, GWh, J, kJ, MJ, g, kg, t", rec[unitCol])
				continue
			}
			v, err := parseValue(rec[valueCol])
			if err != nil {
				skip("value %q: %v", rec[valueCol], err)
				continue
			}
			sname := map[string]string{"J": "energy", "g": "emissions"}[uu.base]
			if seriesCol >= 0 && seriesCol < len(rec) && strings.TrimSpace(rec[seriesCol]) != "" {
				sname = strings.ToLower(strings.TrimSpace(rec[seriesCol]))
			}
			key := seriesKey{sname, uu.base}
			ci, ok := longSeries[key]
			if !ok {
				ci = len(cols)
				longSeries[key] = ci
				cols = append(cols, column{idx: -1, name: sname, header: "value", unit: ""})
			}
			rd.vals = make([]float64, len(cols))
			rd.units = make([]string, len(cols))
			for i := range rd.vals {
				rd.vals[i] = math.NaN()
			}
			rd.vals[ci], rd.units[ci] = v, u
		} else {
			rd.vals = make([]float64, len(cols))
			ok := false
			var bad []string
			for i, c := range cols {
				rd.vals[i] = math.NaN()
				if c.idx >= len(rec) || strings.TrimSpace(rec[c.idx]) == "" {
					continue
				}
				v, err := parseValue(rec[c.idx])
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s %q: %v", c.header, rec[c.idx], err))
					continue
				}
				rd.vals[i] = v
				ok = true
			}
			if !ok {
				if len(bad) == 0 {
					bad = append(bad, "no values")
				}
				skip("%s", strings.Join(bad, "; "))
				continue
			}
			for _, b := range bad {
				fix(Fix{Line: line, Kind: "skipped", Detail: "field " + b + " left empty"})
			}
		}
		rows = append(rows, rd)
	}
	if len(rows) == 0 {
		if q.Rows == 0 {
			return fail(0, "no data rows after the header")
		}
		return fail(0, "no parsable rows among %d (first problem: %s)", q.Rows, firstProblem)
	}
	q.Parsed = len(rows)
	// Long-form rows were sized as series appeared: pad them.
	for i := range rows {
		for len(rows[i].vals) < len(cols) {
			rows[i].vals = append(rows[i].vals, math.NaN())
			rows[i].units = append(rows[i].units, "")
		}
	}
	offs := make([]string, 0, len(offsets))
	for o := range offsets {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	for _, o := range offs {
		lines := offsets[o]
		switch o {
		case "Z", "+00:00":
		case "":
			fix(Fix{Line: lines[0], Kind: "timezone", Detail: fmt.Sprintf("%d times without an offset read in %s and converted to UTC", len(lines), loc)})
		default:
			fix(Fix{Line: lines[0], Kind: "timezone", Detail: fmt.Sprintf("%d times at offset %s converted to UTC", len(lines), o)})
		}
	}

	// Per series: unit conversion, duplicates, alignment, cleaning.
	var out []ImportedSeries
	for ci, c := range cols {
		var pts []struct {
			line int
			t    time.Time
			v    float64
		}
		fromUnits := map[string]int{}
		base := ""
		for _, rd := range rows {
			v := rd.vals[ci]
			if math.IsNaN(v) {
				continue
			}
			u := c.unit
			if longForm {
				u = rd.units[ci]
			}
			uu := units[u]
			base = uu.base
			fromUnits[uu.name]++
			pts = append(pts, struct {
				line int
				t    time.Time
				v    float64
			}{rd.line, rd.t, v * uu.factor})
		}
		if len(pts) == 0 {
			continue
		}
		var from []string
		for u, n := range fromUnits {
			if u != base {
				fix(Fix{Kind: "unit", Series: c.name, Detail: fmt.Sprintf("%d values of column %s converted from %s to %s (×%g)", n, c.header, u, base, unitFactor(u))})
			}
			from = append(from, u)
		}
		slices.Sort(from)
		slices.SortStableFunc(pts, func(a, b struct {
			line int
			t    time.Time
			v    float64
		}) int {
			return a.t.Compare(b.t)
		})
		// Duplicates.
		kept := pts[:1]
		for _, p := range pts[1:] {
			prev := kept[len(kept)-1]
			if !p.t.Equal(prev.t) {
				kept = append(kept, p)
				continue
			}
			if p.v == prev.v {
				fix(Fix{Line: p.line, Kind: "duplicate", Series: c.name, Time: p.t.Format(time.RFC3339), Detail: fmt.Sprintf("same time and value as line %d: dropped", prev.line)})
			} else {
				fix(Fix{Line: p.line, Kind: "conflict", Series: c.name, Time: p.t.Format(time.RFC3339),
					Detail: fmt.Sprintf("same time as line %d with a different value (%g vs %g %s): kept line %d's", prev.line, p.v, prev.v, base, prev.line)})
			}
		}
		pts = kept
		// Resolution: the median spacing.
		res := time.Hour
		if len(pts) > 1 {
			var ds []time.Duration
			for i := 1; i < len(pts); i++ {
				ds = append(ds, pts[i].t.Sub(pts[i-1].t))
			}
			slices.Sort(ds)
			res = ds[len(ds)/2]
		}
		if q.Resolution == "" {
			q.Resolution = res.String()
		}
		first := pts[0].t.Truncate(time.Hour)
		last := pts[len(pts)-1].t.Truncate(time.Hour)
		spreading := res > time.Hour && res%time.Hour == 0
		if spreading {
			last = pts[len(pts)-1].t.Add(res - time.Nanosecond).Truncate(time.Hour)
		}
		span := int(last.Sub(first)/time.Hour) + 1
		if span > maxMeterHours || span < 1 {
			return fail(0, "series %s spans %s to %s: more than 5 years of hours", c.name, first.Format(time.RFC3339), last.Format(time.RFC3339))
		}
		hourly := make([]float64, span)
		seen := make([]int, span)
		for i := range hourly {
			hourly[i] = math.NaN()
		}
		summed := 0
		spread := 0
		for i, p := range pts {
			if spreading {
				// Spread evenly over the hours until the next reading (at most res).
				n := int(res / time.Hour)
				if i+1 < len(pts) {
					if d := int(pts[i+1].t.Sub(p.t) / time.Hour); d > 0 && d < n {
						n = d
					}
				}
				for k := range n {
					h := int(p.t.Truncate(time.Hour).Sub(first)/time.Hour) + k
					if h < span {
						hourly[h] = nanAdd(hourly[h], p.v/float64(n))
						seen[h]++
					}
				}
				spread++
				continue
			}
			h := int(p.t.Truncate(time.Hour).Sub(first) / time.Hour)
			if seen[h] > 0 {
				summed++
			}
			hourly[h] = nanAdd(hourly[h], p.v)
			seen[h]++
		}
		if summed > 0 {
			fix(Fix{Kind: "aligned", Series: c.name, Detail: fmt.Sprintf("%d readings at %s spacing summed into UTC hours", len(pts), res)})
		}
		if spread > 0 {
			fix(Fix{Kind: "spread", Series: c.name, Detail: fmt.Sprintf("%d readings covering %s each spread evenly over their hours", spread, res)})
		}
		notes := make([]string, span)
		// Partial hours: fewer readings than the resolution implies.
		if res < time.Hour && time.Hour%res == 0 {
			want := int(time.Hour / res)
			for h := range hourly {
				if seen[h] > 0 && seen[h] < want {
					hourly[h] *= float64(want) / float64(seen[h])
					notes[h] = fmt.Sprintf("scaled up: %d of %d readings", seen[h], want)
					fix(Fix{Kind: "partial", Series: c.name, Time: first.Add(time.Duration(h) * time.Hour).Format(time.RFC3339),
						Detail: fmt.Sprintf("hour had %d of %d readings: scaled by %d/%d", seen[h], want, want, seen[h])})
				}
			}
		}
		// Outliers on the observed hours.
		var obs []float64
		for _, v := range hourly {
			if !math.IsNaN(v) {
				obs = append(obs, v)
			}
		}
		med := median(obs)
		dev := make([]float64, len(obs))
		for i, v := range obs {
			dev[i] = math.Abs(v - med)
		}
		mad := 1.4826 * median(dev)
		if mad > 0 && len(obs) >= 5 {
			for h, v := range hourly {
				if math.IsNaN(v) || math.Abs(v-med) <= k*mad {
					continue
				}
				nb := neighbours(hourly, h)
				asRead := ""
				if u, ok := units[c.unit]; ok {
					asRead = fmt.Sprintf(" (%g %s as read)", v/u.factor, u.name)
				}
				fix(Fix{Kind: "outlier", Series: c.name, Time: first.Add(time.Duration(h) * time.Hour).Format(time.RFC3339),
					Detail: fmt.Sprintf("%g %s%s is %.1f robust deviations from the median %g: replaced by the mean of its neighbours, %g", v, base, asRead, math.Abs(v-med)/mad, med, nb)})
				hourly[h] = nb
				notes[h] = fmt.Sprintf("replaced outlier %g", v)
			}
		}
		// Gaps: linear interpolation between the hours around them.
		for h := 0; h < span; {
			if !math.IsNaN(hourly[h]) {
				h++
				continue
			}
			end := h
			for end < span && math.IsNaN(hourly[end]) {
				end++
			}
			// The first and last hours are observed by construction; guard
			// anyway rather than index outside.
			if h == 0 || end == span {
				return fail(0, "series %s: internal error aligning hours", c.name)
			}
			a, b := hourly[h-1], hourly[end]
			n := end - h
			for i := range n {
				hourly[h+i] = a + (b-a)*float64(i+1)/float64(n+1)
				notes[h+i] = "filled: linear interpolation across a gap"
			}
			fix(Fix{Kind: "gap", Series: c.name, Time: first.Add(time.Duration(h) * time.Hour).Format(time.RFC3339),
				Detail: fmt.Sprintf("%d missing hours from %s to %s filled by linear interpolation between %g and %g %s", n,
					first.Add(time.Duration(h)*time.Hour).Format(time.RFC3339), first.Add(time.Duration(end-1)*time.Hour).Format(time.RFC3339), a, b, base)})
			h = end
		}
		s := ImportedSeries{Name: c.name, Column: c.header, Unit: base, From: strings.Join(from, "+")}
		for h, v := range hourly {
			s.Points = append(s.Points, joule.SeriesPoint{Time: first.Add(time.Duration(h) * time.Hour), Value: v, Note: cmpOr(notes[h], "imported")})
		}
		if len(s.Points) > q.Hours {
			q.Hours = len(s.Points)
		}
		out = append(out, s)
	}
	q.Fixes = append([]Fix{}, q.Fixes...)
	return MeterImport{Series: out, Quality: q}, nil
}

func unitFactor(name string) float64 {
	for _, u := range units {
		if u.name == name {
			return u.factor
		}
	}
	return 1
}

func nanAdd(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return a + b
}

// neighbours returns the mean of the nearest observed hours on either side
// of h (one side at the ends).
func neighbours(v []float64, h int) float64 {
	var sum float64
	n := 0
	for i := h - 1; i >= 0; i-- {
		if !math.IsNaN(v[i]) {
			sum += v[i]
			n++
			break
		}
	}
	for i := h + 1; i < len(v); i++ {
		if !math.IsNaN(v[i]) {
			sum += v[i]
			n++
			break
		}
	}
	if n == 0 {
		return v[h]
	}
	return sum / float64(n)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func parseValue(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e15 {
		return 0, errors.New("not a finite number between 0 and 1e15")
	}
	return v, nil
}

var meterLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04Z07:00", "2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05 Z07:00", "2006-01-02 15:04 Z07:00"}
var naiveLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// parseMeterTime parses a time and returns it in UTC with the offset it
// carried ("" when none: read in loc).
func parseMeterTime(s string, loc *time.Location) (time.Time, string, error) {
	s = strings.TrimSpace(s)
	for _, l := range meterLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 1970 || t.Year() > 2200 {
				return time.Time{}, "", errors.New("year outside 1970 to 2200")
			}
			return t.UTC(), t.Format("Z07:00"), nil
		}
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			if t.Year() < 1970 || t.Year() > 2200 {
				return time.Time{}, "", errors.New("year outside 1970 to 2200")
			}
			return t.UTC(), "", nil
		}
	}
	return time.Time{}, "", errors.New(`not RFC 3339 or "YYYY-MM-DD HH:MM[:SS][±hh:mm]"`)
}

func csvLine(err error) int {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Line
	}
	return 0
}

func csvCause(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err
	}
	return err
}

// ParseKPICSV reads KPI points from a CSV with a header naming a time
// column and a value column (time,value); times as in ParseMeter, without
// an offset read as UTC. Any bad row is an error naming name:line
// (EINVALID): KPI values are taken as given, so nothing is cleaned.
func ParseKPICSV(r io.Reader, name string) ([]joule.SeriesPoint, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "%s: want a header row time,value", name)
	}
	tc, vc := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "time", "timestamp", "date", "datetime":
			tc = i
		case "value":
			vc = i
		}
	}
	if tc < 0 || vc < 0 {
		return nil, joule.Errorf(joule.EINVALID, "%s:1: want columns time and value (header: %s)", name, strings.Join(header, ","))
	}
	var out []joule.SeriesPoint
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "%s:%d: %v", name, csvLine(err), csvCause(err))
		}
		line, _ := cr.FieldPos(0)
		t, _, err := parseMeterTime(rec[tc], time.UTC)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "%s:%d: time %q: %v", name, line, rec[tc], err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vc]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, joule.Errorf(joule.EINVALID, "%s:%d: value %q is not a finite number", name, line, rec[vc])
		}
		out = append(out, joule.SeriesPoint{Time: t, Value: v, Note: "imported"})
	}
	if len(out) == 0 {
		return nil, joule.Errorf(joule.EINVALID, "%s: no rows after the header", name)
	}
	return out, nil
}
