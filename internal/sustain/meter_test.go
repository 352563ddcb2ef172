package sustain

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// TestParseMeterDirty is the case: a meter CSV with a duplicate
// row, a 5-hour gap, a kWh and a Wh column, a +02:00 offset and one outlier
// becomes two normalised hourly series in joules, and the quality report
// lists each fix.
func TestParseMeterDirty(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/meter_dirty.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := ParseMeter(f, "meter_dirty.csv", MeterOptions{})
	if err != nil {
		t.Fatalf("ParseMeter: %v", err)
	}
	if len(imp.Series) != 2 || imp.Series[0].Name != "facility" || imp.Series[1].Name != "it" {
		t.Fatalf("series = %+v, want facility and it", imp.Series)
	}
	start := time.Date(2026, 10, 31, 22, 0, 0, 0, time.UTC) // 00:00+02:00
	want := func(h int, fac bool) float64 {
		if fac {
			return (12 + 0.5*float64(h%4)) * 3.6e6
		}
		return (10000 + 250*float64(h%4)) * 3600
	}
	for si, s := range imp.Series {
		if s.Unit != "J" || len(s.Points) != 24 {
			t.Fatalf("%s: unit %s, %d points; want J and 24 hourly points", s.Name, s.Unit, len(s.Points))
		}
		for h, p := range s.Points {
			if !p.Time.Equal(start.Add(time.Duration(h) * time.Hour)) {
				t.Fatalf("%s point %d at %s, want %s", s.Name, h, p.Time, start.Add(time.Duration(h)*time.Hour))
			}
			w := want(h, si == 0)
			switch {
			case h >= 8 && h <= 12:
				// Linear between hour 7 and hour 13.
				a, b := want(7, si == 0), want(13, si == 0)
				w = a + (b-a)*float64(h-7)/6
				if !strings.HasPrefix(p.Note, "filled") {
					t.Errorf("%s hour %d note %q, want filled", s.Name, h, p.Note)
				}
			case h == 17 && si == 0:
				w = (want(16, true) + want(18, true)) / 2
				if !strings.HasPrefix(p.Note, "replaced outlier") {
					t.Errorf("outlier note %q", p.Note)
				}
			default:
				if p.Note != "imported" {
					t.Errorf("%s hour %d note %q, want imported", s.Name, h, p.Note)
				}
			}
			if math.Abs(p.Value-w) > 1e-6 {
				t.Errorf("%s hour %d = %v J, want %v", s.Name, h, p.Value, w)
			}
		}
	}
	q := imp.Quality
	wantCounts := map[string]int{"duplicate": 2, "gap": 2, "outlier": 1, "unit": 2, "timezone": 1}
	for k, n := range wantCounts {
		if q.Counts[k] != n {
			t.Errorf("quality: %d %s fixes, want %d (%+v)", q.Counts[k], k, n, q.Fixes)
		}
	}
	if len(q.Counts) != len(wantCounts) {
		t.Errorf("quality counts = %v, want exactly %v", q.Counts, wantCounts)
	}
	if q.Rows != 20 || q.Parsed != 20 || q.Hours != 24 {
		t.Errorf("quality rows/parsed/hours = %d/%d/%d, want 20/20/24", q.Rows, q.Parsed, q.Hours)
	}
	var text bytes.Buffer
	for _, f := range q.Fixes {
		text.WriteString(f.Kind + ": " + f.Detail + "\n")
	}
	for _, s := range []string{"same time and value as line 6", "5 missing hours from 2026-11-01T06:00:00Z to 2026-11-01T10:00:00Z",
		"(480 kWh as read)", "from kWh to J (×3.6e+06)", "from Wh to J (×3600)", "offset +02:00 converted to UTC"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("quality report lacks %q:\n%s", s, text.String())
		}
	}
	t.Logf("quality report:\n%s", text.String())
}

func TestParseMeterForms(t *testing.T) {
	t.Parallel()
	// Long form with a unit column and naive local times; 15-minute
	// readings summed into hours; one hour with a missing reading.
	in := "time,meter,value,unit\n" +
		"2026-03-01 00:00,facility,1,kWh\n2026-03-01 00:15,facility,1,kWh\n2026-03-01 00:30,facility,1000,Wh\n2026-03-01 00:45,facility,0.001,MWh\n" +
		"2026-03-01 01:00,facility,1,kWh\n2026-03-01 01:15,facility,1,kWh\n2026-03-01 01:45,facility,1,kWh\n"
	loc := time.FixedZone("CET", 3600)
	imp, err := ParseMeter(strings.NewReader(in), "long.csv", MeterOptions{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	s := imp.Series[0]
	if len(s.Points) != 2 || !s.Points[0].Time.Equal(time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)) ||
		math.Abs(s.Points[0].Value-4*3.6e6) > 1e-6 || math.Abs(s.Points[1].Value-4*3.6e6) > 1e-6 {
		t.Errorf("long form = %+v, want two hours of 4 kWh from 23:00Z", s.Points)
	}
	if imp.Quality.Counts["partial"] != 1 || imp.Quality.Counts["timezone"] != 1 || imp.Quality.Counts["aligned"] != 1 {
		t.Errorf("long form quality = %v", imp.Quality.Counts)
	}
	// A daily bill in t and MWh is spread over its hours.
	bill := "date,energy_MWh,emissions_t\n2026-01-01,2.4,0.5\n2026-01-02,4.8,1\n2026-01-03,2.4,0.5\n"
	imp, err = ParseMeter(strings.NewReader(bill), "bill.csv", MeterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Series) != 2 || len(imp.Series[0].Points) != 72 || math.Abs(imp.Series[0].Points[30].Value-0.2*3.6e9) > 1e-3 ||
		imp.Series[1].Unit != "g" || math.Abs(imp.Series[1].Points[0].Value-0.5e6/24) > 1e-6 {
		t.Errorf("bill = %+v", imp.Series)
	}
}

func TestParseMeterErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", "f.csv: empty file"},
		{"time,x\n", "f.csv:1: no value column"},
		{"energy_kwh\n1\n", "f.csv:1: no time column"},
		{"time,energy_kwh\n", "f.csv: no data rows"},
		{"time,energy_kwh\nyesterday,1\n2026-01-01T00:00Z,-3\n", "f.csv: no parsable rows among 2 (first problem: line 2: time \"yesterday\""},
		{"time,energy_kwh\n\"2026,1\n", "f.csv:2:"},
	} {
		_, err := ParseMeter(strings.NewReader(tt.in), "f.csv", MeterOptions{})
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), tt.want) {
			t.Errorf("ParseMeter(%q) = %v, want EINVALID containing %q", tt.in, err, tt.want)
		}
	}
}

// FuzzParseMeter: any input gives an error or hourly UTC series of finite,
// non-negative values, sorted and without holes.
func FuzzParseMeter(f *testing.F) {
	seed, _ := os.ReadFile("testdata/meter_dirty.csv")
	f.Add(string(seed))
	f.Add("time,meter,value,unit\n2026-03-01 00:00,a,1,kWh\n2026-03-01 00:15,b,2,Wh\n")
	f.Add("date,energy_MWh\n2026-01-01,2\n2026-01-05,1\n")
	f.Add("time,x_kwh\n1970-01-01T00:00:00Z,1\n2200-01-01T00:00:00Z,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		imp, err := ParseMeter(strings.NewReader(in), "fuzz.csv", MeterOptions{})
		if err != nil {
			if joule.ErrorCode(err) != joule.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, s := range imp.Series {
			for i, p := range s.Points {
				if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Value < 0 {
					t.Fatalf("%s point %d = %v", s.Name, i, p.Value)
				}
				if p.Time.Location() != time.UTC || p.Time.Minute() != 0 || p.Time.Second() != 0 {
					t.Fatalf("%s point %d at %v, not a UTC hour", s.Name, i, p.Time)
				}
				if i > 0 && !p.Time.Equal(s.Points[i-1].Time.Add(time.Hour)) {
					t.Fatalf("%s point %d at %v after %v", s.Name, i, p.Time, s.Points[i-1].Time)
				}
			}
		}
	})
}

// FuzzParseKPICSV: any input gives an error or finite points.
func FuzzParseKPICSV(f *testing.F) {
	f.Add("time,value\n2026-10-02T00:00:00Z,4\n2026-10-09,6.5\n")
	f.Add("value,time\n1e3,2026-01-01 00:00\n")
	f.Fuzz(func(t *testing.T, in string) {
		pts, err := ParseKPICSV(strings.NewReader(in), "k.csv")
		if err != nil {
			if joule.ErrorCode(err) != joule.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, p := range pts {
			if err := p.Validate(); err != nil && math.Abs(p.Value) <= 1e18 {
				t.Fatalf("point %+v: %v", p, err)
			}
		}
	})
}

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	th, err := ParseThreshold("pue>1.6@168h#node:gpu-1")
	if err != nil || th.Indicator != "pue" || th.Op != ">" || th.Value != 1.6 || th.Window != 168*time.Hour || th.Slice != "node:gpu-1" {
		t.Errorf("ParseThreshold = %+v, %v", th, err)
	}
	if th.String() != "pue>1.6@168h0m0s#node:gpu-1" {
		t.Errorf("String = %q", th.String())
	}
	for _, bad := range []string{"pue", ">3", "pue>x", "pue>1@10m", "pue>1#colour:red"} {
		if _, err := ParseThreshold(bad); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("ParseThreshold(%q) = %v, want EINVALID", bad, err)
		}
	}
	v := joule.IndicatorValue{Value: 2, Available: true}
	if !th.Crossed(v) || (Threshold{Op: "<", Value: 1}).Crossed(v) || th.Crossed(joule.IndicatorValue{Value: 9}) {
		t.Error("Crossed wrong")
	}
}
