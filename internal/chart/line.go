package chart

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Point is one value of a series. For time series X is Unix seconds (see
// [TimeX]) and the chart sets XTime.
type Point struct {
	X, Y float64
}

// Series is a named sequence of points. Points are drawn in X order; a point
// whose Y is NaN or infinite leaves a gap in the line, and a point whose X is
// NaN or infinite is left out.
type Series struct {
	Name   string
	Points []Point
}

// LineChart is a chart of one or more series against a shared X axis. The Y
// axis always includes zero.
type LineChart struct {
	Title  string  // drawn at the top left and used as the accessible name
	Width  int     // pixels; 0 means DefaultWidth, others are clamped to [MinSize, MaxSize]
	Height int     // pixels; 0 means DefaultHeight, others are clamped likewise
	Unit   string  // unit of the Y values, such as "W" or "gCO2e/kWh"
	XTime  bool    // X values are Unix seconds, labelled as UTC times
	Max    float64 // when above zero, the Y axis reaches at least Max (100 for percentages)
	Series []Series
}

// segment is a run of drawable points of one series.
type segment struct {
	series int
	points []Point
}

// Line writes c as an SVG document to w. It returns only w's error.
func Line(w io.Writer, c LineChart) error {
	width, height := size(c.Width, DefaultWidth), size(c.Height, DefaultHeight)
	var s svgWriter
	s.open(width, height, c.Title)

	var segs []segment
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := 0.0, 0.0
	if finite(c.Max) && c.Max > 0 {
		yhi = c.Max
	}
	for i, sr := range c.Series {
		pts := slices.DeleteFunc(slices.Clone(sr.Points), func(p Point) bool { return !finite(p.X) })
		slices.SortStableFunc(pts, func(a, b Point) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		var cur []Point
		for _, p := range pts {
			if !finite(p.Y) {
				if len(cur) > 0 {
					segs = append(segs, segment{i, cur})
					cur = nil
				}
				continue
			}
			cur = append(cur, p)
			xlo, xhi = math.Min(xlo, p.X), math.Max(xhi, p.X)
			ylo, yhi = math.Min(ylo, p.Y), math.Max(yhi, p.Y)
		}
		if len(cur) > 0 {
			segs = append(segs, segment{i, cur})
		}
	}

	top := 10.0
	if c.Title != "" {
		top = 30
	}
	if c.Unit != "" {
		top += 14
	}
	legend := legendLayout(c.Series, float64(width))
	bottom := float64(height) - 26 - 18*float64(legend.rows)
	if len(segs) == 0 {
		s.noData(8, top, float64(width)-16, math.Max(bottom-top, 20))
		s.legend(legend, bottom+36)
		return s.close(w)
	}
	if yhi == ylo {
		yhi = 1
	}
	yax := numberAxis(ylo, yhi, max(2, min(6, int((bottom-top)/30))))
	left := 10 + charWidth*float64(maxLen(yax.labels))
	left = math.Max(left, 36)
	right := float64(width) - 20
	var xax axis
	if nx := max(2, min(8, int((right-left)/90))); c.XTime {
		xax = timeAxis(xlo, xhi, nx)
	} else {
		xax = numberAxis(xlo, xhi, nx)
	}
	s.yAxis(yax, c.Unit, left, right, top, bottom)
	s.xAxis(xax, left, right, bottom)

	for _, sg := range segs {
		color := palette[sg.series%len(palette)]
		if len(sg.points) == 1 {
			p := sg.points[0]
			s.printf(`<circle class="chart-series" cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n",
				f1(xax.pos(p.X, left, right)), f1(yax.pos(p.Y, bottom, top)), color)
			continue
		}
		var pts strings.Builder
		for j, p := range sg.points {
			if j > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(f1(xax.pos(p.X, left, right)))
			pts.WriteByte(',')
			pts.WriteString(f1(yax.pos(p.Y, bottom, top)))
		}
		s.printf(`<polyline class="chart-series" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" points="%s"/>`+"\n", color, pts.String())
	}
	s.legend(legend, bottom+36)
	return s.close(w)
}

// yAxis draws horizontal grid lines with value labels and the unit.
func (s *svgWriter) yAxis(ax axis, unit string, left, right, top, bottom float64) {
	if unit != "" {
		s.printf(`<text class="chart-unit" x="8" y="%s" fill="%s">%s</text>`+"\n", f1(top-8), textColor, esc(unit, 40))
	}
	for i, v := range ax.ticks {
		y := ax.pos(v, bottom, top)
		stroke := gridColor
		if v == 0 {
			stroke = axisColor
		}
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(left), f1(y), f1(right), f1(y), stroke)
		s.printf(`<text x="%s" y="%s" text-anchor="end" fill="%s">%s</text>`+"\n", f1(left-6), f1(y+4), textColor, esc(ax.labels[i], 24))
	}
}

// xAxis draws the bottom axis line with tick marks and labels.
func (s *svgWriter) xAxis(ax axis, left, right, bottom float64) {
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(left), f1(bottom), f1(right), f1(bottom), axisColor)
	for i, v := range ax.ticks {
		x := ax.pos(v, left, right)
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(x), f1(bottom), f1(x), f1(bottom+4), axisColor)
		s.printf(`<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n", f1(x), f1(bottom+16), textColor, esc(ax.labels[i], 24))
	}
}

// legendItem is one series name with its position.
type legendItem struct {
	x, row float64
	color  string
	name   string
}

type legendBox struct {
	rows  int
	items []legendItem
}

// legendLayout places the names of two or more series in rows that fit the
// width.
func legendLayout(series []Series, width float64) legendBox {
	var lb legendBox
	if len(series) < 2 {
		return lb
	}
	x, row := 8.0, 0.0
	for i, sr := range series {
		name := sr.Name
		if name == "" {
			name = "series " + strconv.Itoa(i+1)
		}
		w := 16 + charWidth*float64(min(len([]rune(name)), 32)) + 14
		name = esc(name, 32)
		if x > 8 && x+w > width-8 {
			x, row = 8, row+1
		}
		lb.items = append(lb.items, legendItem{x: x, row: row, color: palette[i%len(palette)], name: name})
		x += w
	}
	lb.rows = int(row) + 1
	return lb
}

// legend draws lb with its first row at baseline y.
func (s *svgWriter) legend(lb legendBox, y float64) {
	for _, it := range lb.items {
		yy := y + 18*it.row
		s.printf(`<rect x="%s" y="%s" width="10" height="10" rx="2" fill="%s"/>`, f1(it.x), f1(yy-9), it.color)
		s.printf(`<text x="%s" y="%s" fill="%s">%s</text>`+"\n", f1(it.x+14), f1(yy), textColor, it.name)
	}
}

func maxLen(labels []string) int {
	n := 0
	for _, l := range labels {
		n = max(n, len([]rune(l)))
	}
	return n
}
