package chart

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name.svg, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".svg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n%s", path, got)
	}
}

// mustValidXML fails unless b is one well-formed XML document whose root is
// an <svg> element.
func mustValidXML(t testing.TB, b []byte) {
	t.Helper()
	if err := checkXML(b); err != nil {
		t.Fatalf("invalid SVG: %v\n%s", err, b)
	}
}

func checkXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					return errors.New("root element is not svg")
				}
			}
			for _, a := range tok.Attr {
				if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
					return errors.New("attribute " + a.Name.Local + " would break CSP or run script")
				}
			}
			if tok.Name.Local == "script" || tok.Name.Local == "style" || tok.Name.Local == "foreignObject" {
				return errors.New("element " + tok.Name.Local + " is not allowed")
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return errors.New("want exactly one root element")
	}
	return nil
}

func t0() time.Time { return time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC) }

func TestGolden(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	var power []Point
	var gpu []Point
	for i := range 25 {
		at := TimeX(t0().Add(time.Duration(i) * 5 * time.Minute))
		power = append(power, Point{at, 80 + 40*math.Sin(float64(i)/4)})
		y := 210 + 90*math.Cos(float64(i)/5)
		if i == 10 || i == 11 {
			y = nan // a gap
		}
		gpu = append(gpu, Point{at, y})
	}
	tests := []struct {
		name string
		draw func(w io.Writer) error
	}{
		{"line-time", func(w io.Writer) error {
			return Line(w, LineChart{Title: "Power draw", Unit: "W", XTime: true, Series: []Series{
				{Name: "CPU package", Points: power},
				{Name: "GPU 0 (with gap)", Points: gpu},
			}})
		}},
		{"line-numbers", func(w io.Writer) error {
			return Line(w, LineChart{Title: "Validation loss", Width: 400, Height: 200, Series: []Series{
				{Name: "loss", Points: []Point{{1, 0.92}, {2, 0.61}, {3, 0.44}, {4, 0.38}, {5, 0.35}, {6, 0.34}}},
			}})
		}},
		{"line-negative-single", func(w io.Writer) error {
			return Line(w, LineChart{Unit: "°C", Series: []Series{
				{Points: []Point{{3, -4.5}, {1, 2}, {2, math.Inf(1)}, {math.NaN(), 9}}},
			}})
		}},
		{"line-empty", func(w io.Writer) error {
			return Line(w, LineChart{Title: "Carbon intensity", Unit: "gCO2e/kWh", XTime: true})
		}},
		{"bar", func(w io.Writer) error {
			return Bar(w, BarChart{Title: "CPU utilisation", Unit: "%", Max: 100, Bars: []Item{
				{"gpu-node-1", 87.5}, {"gpu-node-2", 12.25}, {"cpu-only", 0}, {"lost", math.NaN()},
			}})
		}},
		{"bar-large-negative", func(w io.Writer) error {
			return Bar(w, BarChart{Title: "Energy delta", Unit: "J", Width: 360, Bars: []Item{
				{"train", 3.6e6}, {"eval", -1.2e6}, {"serve", 2.45e6},
			}})
		}},
		{"bar-empty", func(w io.Writer) error {
			return Bar(w, BarChart{Title: "Nothing yet", Bars: []Item{{"a", math.Inf(-1)}}})
		}},
		{"escaping", func(w io.Writer) error {
			return Bar(w, BarChart{Title: `<script>alert("x")</script> & 'co'`, Unit: "<u>", Bars: []Item{
				{"a</text><script>", 1}, {"\x00\x1b bad\xff", 2},
			}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := tt.draw(&b); err != nil {
				t.Fatal(err)
			}
			mustValidXML(t, b.Bytes())
			golden(t, tt.name, b.Bytes())
			var again bytes.Buffer
			_ = tt.draw(&again)
			if !bytes.Equal(b.Bytes(), again.Bytes()) {
				t.Error("output is not deterministic")
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	_ = Bar(&b, BarChart{Title: `<script>alert(1)</script>`, Bars: []Item{{"<b>", 1}}})
	if strings.Contains(b.String(), "<script") || strings.Contains(b.String(), "<b>") {
		t.Errorf("markup in text was not escaped:\n%s", b.String())
	}
}

func TestNoData(t *testing.T) {
	t.Parallel()
	for name, draw := range map[string]func(io.Writer) error{
		"line-nil": func(w io.Writer) error { return Line(w, LineChart{}) },
		"line-nan": func(w io.Writer) error {
			return Line(w, LineChart{Series: []Series{{Points: []Point{{1, math.NaN()}}}}})
		},
		"bar-nil":     func(w io.Writer) error { return Bar(w, BarChart{}) },
		"bar-inf":     func(w io.Writer) error { return Bar(w, BarChart{Bars: []Item{{"x", math.Inf(1)}}}) },
		"bar-too-big": func(w io.Writer) error { return Bar(w, BarChart{Bars: []Item{{"x", 1e301}}}) },
	} {
		var b bytes.Buffer
		if err := draw(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mustValidXML(t, b.Bytes())
		if !strings.Contains(b.String(), ">no data<") {
			t.Errorf("%s: no placeholder:\n%s", name, b.String())
		}
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	t.Parallel()
	if err := Line(errWriter{}, LineChart{}); err == nil {
		t.Error("Line: want the writer's error")
	}
	if err := Bar(errWriter{}, BarChart{}); err == nil {
		t.Error("Bar: want the writer's error")
	}
}

func TestNumberAxis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0, 100, "0 20 40 60 80 100"},
		{0, 87.5, "0 20 40 60 80 100"},
		{0, 1, "0 0.2 0.4 0.6 0.8 1.0"},
		{0, 0.034, "0 0.01 0.02 0.03 0.04"},
		{-1.2e6, 3.6e6, "-2M -1M 0 1M 2M 3M 4M"},
		{0, 35000, "0 10k 20k 30k 40k"},
		{5, 5, "4.4 4.6 4.8 5.0 5.2 5.4 5.6"},
		{0, 3e15, "0 1e+15 2e+15 3e+15"},
	}
	for _, tt := range tests {
		ax := numberAxis(tt.lo, tt.hi, 6)
		if got := strings.Join(ax.labels, " "); got != tt.want {
			t.Errorf("numberAxis(%v, %v) labels = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestTimeAxis(t *testing.T) {
	t.Parallel()
	lo := TimeX(t0())
	tests := []struct {
		span time.Duration
		want string
	}{
		{2 * time.Hour, "09:00 09:30 10:00 10:30 11:00"},
		{50 * time.Second, "09:00:00 09:00:10 09:00:20 09:00:30 09:00:40 09:00:50"},
		{3 * 24 * time.Hour, "Mar 14 12:00 Mar 15 00:00 Mar 15 12:00 Mar 16 00:00 Mar 16 12:00 Mar 17 00:00"},
		{9 * 24 * time.Hour, "Mar 16 Mar 18 Mar 20 Mar 22"},
	}
	for _, tt := range tests {
		ax := timeAxis(lo, lo+tt.span.Seconds(), 6)
		if got := strings.Join(ax.labels, " "); got != tt.want {
			t.Errorf("timeAxis(span %v) labels = %q, want %q", tt.span, got, tt.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.126, "0.13"}, {42.5, "42.5"}, {312.4, "312"}, {1250, "1250"},
		{12500, "12.5k"}, {3.6e6, "3.6M"}, {-2, "-2"}, {0.001, "0.001"}, {math.NaN(), "–"}, {2e15, "2e+15"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v); got != tt.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzCharts draws charts from arbitrary bytes: they must never panic and
// always be valid XML.
func FuzzCharts(f *testing.F) {
	f.Add([]byte{}, "title", "W", 0, 0, false)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xf0\x7f\x00\x00\x00\x00\x00\x00\xf8\x7f"), "<&>", "\xff", 10, -5, true)
	seed := make([]byte, 0, 64)
	for _, v := range []float64{1, 2, 3, 1e300, -1e-300, 5e-324, math.MaxFloat64, 1.7e9, 1.7e9 + 1e-6} {
		seed = binary.LittleEndian.AppendUint64(seed, math.Float64bits(v))
	}
	f.Add(seed, "t", "", 5000, 100, true)
	f.Fuzz(func(t *testing.T, data []byte, title, unit string, w, h int, xtime bool) {
		var vals []float64
		for len(data) >= 8 {
			vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		var s1, s2 Series
		var bars []Item
		for i := 0; i+1 < len(vals); i += 2 {
			s1.Points = append(s1.Points, Point{vals[i], vals[i+1]})
			s2.Points = append(s2.Points, Point{vals[i+1], vals[i]})
			bars = append(bars, Item{title, vals[i]})
		}
		var b bytes.Buffer
		if err := Line(&b, LineChart{Title: title, Unit: unit, Width: w, Height: h, XTime: xtime, Series: []Series{s1, s2, {Name: unit}}}); err != nil {
			t.Fatal(err)
		}
		mustValidXML(t, b.Bytes())
		b.Reset()
		if err := Bar(&b, BarChart{Title: title, Unit: unit, Width: w, Height: h, Max: float64(w), Bars: bars}); err != nil {
			t.Fatal(err)
		}
		mustValidXML(t, b.Bytes())
	})
}
