package chart

import (
	"io"
	"math"
)

// Item is one labelled value of a bar chart.
type Item struct {
	Label string
	Value float64
}

// BarChart is a chart of labelled values drawn as vertical bars, in the
// order given. The value axis always includes zero; negative values hang
// below it. A bar whose value is NaN or infinite keeps its place and label
// but is not drawn.
type BarChart struct {
	Title  string  // drawn at the top left and used as the accessible name
	Width  int     // pixels; 0 means DefaultWidth, others are clamped to [MinSize, MaxSize]
	Height int     // pixels; 0 means DefaultHeight, others are clamped likewise
	Unit   string  // unit of the values, such as "%" or "kWh"
	Max    float64 // when above zero, the value axis reaches at least Max (100 for percentages)
	Bars   []Item
}

// Bar writes c as an SVG document to w. It returns only w's error.
func Bar(w io.Writer, c BarChart) error {
	width, height := size(c.Width, DefaultWidth), size(c.Height, DefaultHeight)
	var s svgWriter
	s.open(width, height, c.Title)

	lo, hi := 0.0, 0.0
	if finite(c.Max) && c.Max > 0 {
		hi = c.Max
	}
	drawable := 0
	for _, b := range c.Bars {
		if finite(b.Value) {
			drawable++
			lo, hi = math.Min(lo, b.Value), math.Max(hi, b.Value)
		}
	}
	top := 10.0
	if c.Title != "" {
		top = 30
	}
	if c.Unit != "" {
		top += 14
	}
	bottom := float64(height) - 26
	if drawable == 0 {
		s.noData(8, top, float64(width)-16, math.Max(bottom-top, 20))
		return s.close(w)
	}
	if hi == lo {
		hi = 1
	}
	yax := numberAxis(lo, hi, max(2, min(6, int((bottom-top)/30))))
	left := math.Max(10+charWidth*float64(maxLen(yax.labels)), 36)
	right := float64(width) - 12
	s.yAxis(yax, c.Unit, left, right, top, bottom)

	slot := (right - left) / float64(len(c.Bars))
	bw := math.Min(slot*0.7, 72)
	y0 := yax.pos(0, bottom, top)
	for i, b := range c.Bars {
		cx := left + slot*(float64(i)+0.5)
		if slot >= 14 {
			s.printf(`<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n",
				f1(cx), f1(bottom+16), textColor, esc(b.Label, int((slot-4)/charWidth)))
		}
		if !finite(b.Value) {
			continue
		}
		value := FormatValue(b.Value)
		if c.Unit != "" {
			value += " " + c.Unit
		}
		yv := yax.pos(b.Value, bottom, top)
		s.printf(`<g class="chart-bar"><title>%s: %s</title><rect x="%s" y="%s" width="%s" height="%s" rx="2" fill="%s"/></g>`+"\n",
			esc(b.Label, 200), esc(value, 60), f1(cx-bw/2), f1(math.Min(y0, yv)), f1(bw), f1(math.Abs(y0-yv)), palette[0])
		if label := FormatValue(b.Value); charWidth*float64(len(label)) <= slot-2 {
			ly := yv - 4
			if b.Value < 0 {
				ly = yv + 12
			}
			s.printf(`<text class="chart-value" x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n",
				f1(cx), f1(ly), titleColor, esc(label, 24))
		}
	}
	return s.close(w)
}
