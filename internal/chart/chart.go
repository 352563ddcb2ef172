// Package chart draws small line and bar charts as SVG for the web console.
//
// It has no dependencies beyond the standard library. The output is a single
// <svg> element that is valid XML and safe to inline in an HTML page: every
// piece of text is escaped, there are no scripts, no inline style attributes
// (so a strict Content-Security-Policy allows it) and no element IDs (so
// several charts can share a page). The output is deterministic: the same
// chart always produces the same bytes.
//
// Values that are NaN or infinite, or whose magnitude exceeds 1e300, are
// skipped; a chart with nothing left to draw shows a "no data" placeholder.
// The functions never panic, whatever the input.
package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Default and limiting chart sizes, in pixels.
const (
	DefaultWidth  = 640
	DefaultHeight = 240
	MinSize       = 160
	MaxSize       = 4096
)

// maxAbs is the largest magnitude drawn; larger values count as infinite, so
// that differences of two values never overflow.
const maxAbs = 1e300

// palette holds the series colours: distinguishable, also for the common
// forms of colour blindness (after Okabe and Ito).
var palette = [...]string{"#2563eb", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7c6f00", "#6b7280"}

const (
	fontFamily = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
	textColor  = "#4b5563"
	titleColor = "#111827"
	gridColor  = "#e5e7eb"
	axisColor  = "#9ca3af"
	charWidth  = 6.2 // approximate advance of one 11px character
)

// finite reports whether v can be drawn.
func finite(v float64) bool { return !math.IsNaN(v) && v >= -maxAbs && v <= maxAbs }

// size clamps a width or height, using def for zero or negative values.
func size(v, def int) int {
	if v <= 0 {
		return def
	}
	return min(max(v, MinSize), MaxSize)
}

// svgWriter accumulates the document; the caller writes it out at once.
type svgWriter struct {
	b bytes.Buffer
}

func (s *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// open writes the root element and the accessible title.
func (s *svgWriter) open(w, h int, title string) {
	label := title
	if label == "" {
		label = "chart"
	}
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="%s" font-size="11">`,
		w, h, w, h, esc(label, 200), fontFamily)
	s.printf("\n<title>%s</title>\n", esc(label, 200))
	if title != "" {
		s.printf(`<text class="chart-title" x="8" y="18" font-size="13" font-weight="600" fill="%s">%s</text>`+"\n", titleColor, esc(title, int(float64(w-16)/7)))
	}
}

// noData draws the placeholder for a chart without drawable values.
func (s *svgWriter) noData(x, y, w, h float64) {
	s.printf(`<rect class="chart-empty" x="%s" y="%s" width="%s" height="%s" fill="#f9fafb" stroke="%s" stroke-dasharray="4 4"/>`+"\n", f1(x), f1(y), f1(w), f1(h), gridColor)
	s.printf(`<text x="%s" y="%s" text-anchor="middle" font-size="13" fill="%s">no data</text>`+"\n", f1(x+w/2), f1(y+h/2+4), textColor)
}

func (s *svgWriter) close(w io.Writer) error {
	s.b.WriteString("</svg>\n")
	_, err := w.Write(s.b.Bytes())
	return err
}

// esc truncates s to at most n runes (marking the cut with an ellipsis) and
// escapes it for XML text and attribute values. Invalid UTF-8 and characters
// XML cannot hold become U+FFFD.
func esc(s string, n int) string {
	n = max(n, 1)
	if r := []rune(s); len(r) > n {
		s = string(r[:max(n-1, 1)]) + "…"
	}
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// f1 formats a coordinate with one decimal, never as "-0.0".
func f1(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		v = 0 // drop the sign of -0
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// axis is a range with its tick positions and labels.
type axis struct {
	lo, hi float64
	ticks  []float64
	labels []string
}

// pos maps v in the axis range onto [a, b].
func (ax axis) pos(v, a, b float64) float64 {
	return a + (v-ax.lo)/(ax.hi-ax.lo)*(b-a)
}

// niceNum returns a "nice" number close to x (1, 2, 5 or 10 times a power of
// ten), rounded if round is set and otherwise not below x (Heckbert, Graphics
// Gems, 1990).
func niceNum(x float64, round bool) float64 {
	exp := math.Floor(math.Log10(x))
	p := math.Pow(10, exp)
	f := x / p
	var nf float64
	switch {
	case round && f < 1.5, !round && f <= 1:
		nf = 1
	case round && f < 3, !round && f <= 2:
		nf = 2
	case round && f < 7, !round && f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * p
}

// expand widens an empty or numerically degenerate range.
func expand(lo, hi float64) (float64, float64) {
	span := hi - lo
	if span > 1e-250 && span > 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		return lo, hi
	}
	d := math.Abs(lo) * 0.1
	if d < 1e-250 {
		d = 1
	}
	return lo - d, hi + d
}

// numberAxis returns an axis covering [lo, hi] with about n nice ticks.
func numberAxis(lo, hi float64, n int) axis {
	lo, hi = expand(lo, hi)
	step := niceNum(niceNum(hi-lo, false)/float64(n-1), true)
	nlo, nhi := math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	count := math.Round((nhi - nlo) / step)
	if !(step > 0) || !finite(nlo) || !finite(nhi) || !(count >= 1 && count <= 20) || !(nhi > nlo) {
		return axis{lo: lo, hi: hi, ticks: []float64{lo, hi}, labels: []string{fmtG(lo), fmtG(hi)}}
	}
	ax := axis{lo: nlo, hi: nhi}
	scale, suffix := siScale(math.Max(math.Abs(nlo), math.Abs(nhi)))
	decimals := 0
	if s := step / scale; s < 1 {
		decimals = min(int(math.Ceil(-math.Log10(s)-1e-9)), 12)
	}
	for i := 0; i <= int(count); i++ {
		v := nlo + float64(i)*step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ax.ticks = append(ax.ticks, v)
		var label string
		switch {
		case v == 0:
			label = "0"
		case suffix == "g":
			label = fmtG(v)
		default:
			label = fmtFixed(v/scale, decimals) + suffix
		}
		ax.labels = append(ax.labels, label)
	}
	return ax
}

// siScale picks the SI prefix for labels of numbers up to m; "g" means the
// numbers are too large for a prefix and use exponent notation.
func siScale(m float64) (float64, string) {
	switch {
	case m >= 1e15:
		return 1, "g"
	case m >= 1e12:
		return 1e12, "T"
	case m >= 1e9:
		return 1e9, "G"
	case m >= 1e6:
		return 1e6, "M"
	case m >= 1e4:
		return 1e3, "k"
	}
	return 1, ""
}

func fmtFixed(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.TrimLeft(s, "-0.") == "" {
		return strings.TrimPrefix(s, "-")
	}
	return s
}

func fmtG(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// FormatValue formats v with about three significant digits and an SI
// prefix for large magnitudes, as the charts label values: 0.125, 42.5, 312,
// 1.25k, 3.6M.
func FormatValue(v float64) string {
	if !finite(v) {
		return "–"
	}
	a := math.Abs(v)
	scale, suffix := siScale(a)
	if suffix == "g" {
		return fmtG(v)
	}
	s := a / scale
	decimals := 0
	switch {
	case s == 0:
	case s < 0.01:
		return fmtG(v)
	case s < 10:
		decimals = 2
	case s < 100:
		decimals = 1
	}
	out := strconv.FormatFloat(v/scale, 'f', decimals, 64)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	if out == "-0" {
		out = "0"
	}
	return out + suffix
}

// timeSteps are the tick spacings of time axes, in seconds.
var timeSteps = [...]float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400}

// timeAxis returns an axis over Unix seconds [lo, hi] with about n ticks on
// round times in UTC.
func timeAxis(lo, hi float64, n int) axis {
	lo, hi = expand(lo, hi)
	span := hi - lo
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= float64(n) {
			step = s
			break
		}
	}
	if span/step > 20 { // beyond the table: whole numbers of years
		step = niceNum(span/float64(n)/timeSteps[len(timeSteps)-1], true) * timeSteps[len(timeSteps)-1]
	}
	layout := "2006-01-02"
	switch {
	case step < 60:
		layout = "15:04:05"
	case step < 86400 && span > 86400:
		layout = "Jan 2 15:04"
	case step < 86400:
		layout = "15:04"
	case step < 30*86400:
		layout = "Jan 2"
	case step < 365*86400:
		layout = "2006-01"
	}
	ax := axis{lo: lo, hi: hi}
	first := math.Ceil(lo/step) * step
	for i := 0; i <= 20; i++ {
		v := first + float64(i)*step
		if v > hi || !finite(v) {
			break
		}
		ax.ticks = append(ax.ticks, v)
		ax.labels = append(ax.labels, unixTime(v).Format(layout))
	}
	return ax
}

// unixTime converts Unix seconds to a UTC time, clamped to years 0 to 9999.
func unixTime(v float64) time.Time {
	const minUnix, maxUnix = -62167219200, 253402300799
	v = math.Max(minUnix, math.Min(maxUnix, v))
	sec := math.Floor(v)
	return time.Unix(int64(sec), int64((v-sec)*1e9)).UTC()
}

// TimeX returns t as a chart X value: Unix seconds, for LineChart.XTime.
func TimeX(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }
