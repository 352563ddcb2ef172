package carbon

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

func mustReadFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseCSVFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		format    string
		rows      int
		interval  time.Duration
		first     Point
		second    Point
		estimated int
	}{
		{"testdata/canonical.csv", FormatCanonical, 4, time.Hour,
			Point{utc("2024-01-01T00:00:00Z"), 300}, Point{utc("2024-01-01T01:00:00Z"), 280.5}, 0},
		{"testdata/ES_2022_hourly_head.csv", FormatElectricityMapsHourly, 48, time.Hour,
			Point{utc("2022-01-01T00:00:00Z"), 175.54}, Point{utc("2022-01-01T01:00:00Z"), 181.54}, 1},
		{"testdata/sample-carbon-trace_head.csv", FormatElectricityMapsAPI, 48, time.Hour,
			Point{utc("2021-01-01T00:00:00Z"), 541.69}, Point{utc("2021-01-01T01:00:00Z"), 548.44}, 0},
		{"testdata/ger_ci.csv", FormatLetsWaitAwhile, 37147, 15 * time.Minute,
			Point{utc("2019-12-20T00:00:00Z"), 218.29003068829462}, Point{utc("2019-12-20T00:15:00Z"), 217.8834341330206}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			s, rep, err := ParseCSV(bytes.NewReader(mustReadFile(t, tt.file)), tt.file)
			if err != nil {
				t.Fatalf("ParseCSV(%q) = %v", tt.file, err)
			}
			if rep.Format != tt.format || rep.Rows != tt.rows || rep.Interval != tt.interval || rep.Estimated != tt.estimated {
				t.Errorf("ParseCSV(%q) report = %+v, want format %s, %d rows, interval %v", tt.file, rep, tt.format, tt.rows, tt.interval)
			}
			ps := s.Points()
			if diff := cmp.Diff([]Point{tt.first, tt.second}, ps[:2]); diff != "" {
				t.Errorf("ParseCSV(%q) first points (-want +got):\n%s", tt.file, diff)
			}
			if s.Step() != tt.interval {
				t.Errorf("ParseCSV(%q).Step() = %v, want %v", tt.file, s.Step(), tt.interval)
			}
		})
	}
}

// TestParseCSVGerCI checks the whole Germany 2020 trace: its two 30-minute
// gaps (one missing 15-minute row each) are filled and reported.
func TestParseCSVGerCI(t *testing.T) {
	t.Parallel()
	s, rep, err := ParseCSV(bytes.NewReader(mustReadFile(t, "testdata/ger_ci.csv")), "ger_ci.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []Fill{
		{Line: 35135, After: utc("2020-12-19T23:00:00Z"), Before: utc("2020-12-19T23:30:00Z"), Points: 1},
		{Line: 35136, After: utc("2020-12-19T23:30:00Z"), Before: utc("2020-12-20T00:00:00Z"), Points: 1},
	}
	if diff := cmp.Diff(want, rep.Filled); diff != "" {
		t.Errorf("filled (-want +got):\n%s", diff)
	}
	if got, want := s.Len(), 37147+2; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	// The filled point is the mean of its neighbours.
	a, _ := s.At(utc("2020-12-19T23:00:00Z"))
	b, _ := s.At(utc("2020-12-19T23:30:00Z"))
	mid, _ := s.At(utc("2020-12-19T23:15:00Z"))
	if math.Abs(mid-(a+b)/2) > 1e-9 {
		t.Errorf("At(23:15) = %v, want %v", mid, (a+b)/2)
	}
	// 2020 mean as documented in SOURCES.md: 313.4.
	y := s.Range(utc("2020-01-01T00:00:00Z"), utc("2021-01-01T00:00:00Z"))
	if m, _ := y.Mean(); math.Abs(m-313.4) > 0.1 {
		t.Errorf("2020 mean = %.2f, want 313.4", m)
	}
}

func TestParseCSVBad(t *testing.T) {
	t.Parallel()
	head := "timestamp,g_per_kwh\n"
	tests := []struct {
		name, in, want string
	}{
		{"bad timestamp", head + "2024-01-01T00:00:00Z,1\n2024-13-01 00:00:00,2\n", `x.csv:3: bad timestamp "2024-13-01 00:00:00"`},
		{"negative", head + "2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,-2\n", "x.csv:3: negative intensity -2"},
		{"NaN", head + "2024-01-01T00:00:00Z,NaN\n", "x.csv:2: value NaN is not a finite number"},
		{"not a number", head + "2024-01-01T00:00:00Z,abc\n", `x.csv:2: bad intensity value "abc"`},
		{"empty value", head + "2024-01-01T00:00:00Z,\n", "x.csv:2: missing intensity value"},
		{"not increasing", head + "2024-01-01T01:00:00Z,1\n2024-01-01T00:00:00Z,1\n", "x.csv:3: timestamp 2024-01-01T00:00:00Z is not after 2024-01-01T01:00:00Z on line 2"},
		{"duplicate", head + "2024-01-01T01:00:00Z,1\n2024-01-01T01:00:00Z,1\n", "x.csv:3: timestamp"},
		{"3-hour gap", head + "2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,1\n2024-01-01T02:00:00Z,1\n2024-01-01T06:00:00Z,1\n2024-01-01T07:00:00Z,1\n", "x.csv:5: gap of 3h0m0s"},
		{"3 missing 15-min intervals", head + "2024-01-01T00:00:00Z,1\n2024-01-01T00:15:00Z,1\n2024-01-01T00:30:00Z,1\n2024-01-01T01:30:00Z,1\n2024-01-01T01:45:00Z,1\n", "x.csv:5: gap of 45m0s"},
		{"unknown header", "when,what\n2024-01-01T00:00:00Z,1\n", `x.csv:1: unknown header "when,what"`},
		{"empty", "", "x.csv: empty file"},
		{"no rows", head, "x.csv: no data rows"},
		{"wrong fields", head + "2024-01-01T00:00:00Z,1,2\n", "x.csv:2: wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ParseCSV(strings.NewReader(tt.in), "x.csv")
			if err == nil || !strings.HasPrefix(joule.ErrorMessage(err), tt.want) {
				t.Fatalf("ParseCSV(%q) = %v, want %q…", tt.in, err, tt.want)
			}
			if joule.ErrorCode(err) != joule.EINVALID {
				t.Errorf("ErrorCode = %q, want invalid", joule.ErrorCode(err))
			}
			if _, ok := errors.AsType[*ParseError](err); !ok {
				t.Errorf("error %v is not a *ParseError", err)
			}
		})
	}
}

func TestParseCSVGapFill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   []Point
		filled []Fill
	}{
		{
			name: "one missing hour",
			in:   "timestamp,g_per_kwh\n2024-01-01T00:00:00Z,100\n2024-01-01T01:00:00Z,110\n2024-01-01T03:00:00Z,130\n2024-01-01T04:00:00Z,100\n",
			want: []Point{{utc("2024-01-01T00:00:00Z"), 100}, {utc("2024-01-01T01:00:00Z"), 110}, {utc("2024-01-01T02:00:00Z"), 120},
				{utc("2024-01-01T03:00:00Z"), 130}, {utc("2024-01-01T04:00:00Z"), 100}},
			filled: []Fill{{Line: 4, After: utc("2024-01-01T01:00:00Z"), Before: utc("2024-01-01T03:00:00Z"), Points: 1}},
		},
		{
			name: "two missing hours",
			in:   "timestamp,g_per_kwh\n2024-01-01T00:00:00Z,100\n2024-01-01T01:00:00Z,100\n2024-01-01T04:00:00Z,130\n2024-01-01T05:00:00Z,100\n2024-01-01T06:00:00Z,100\n",
			want: []Point{{utc("2024-01-01T00:00:00Z"), 100}, {utc("2024-01-01T01:00:00Z"), 100}, {utc("2024-01-01T02:00:00Z"), 110},
				{utc("2024-01-01T03:00:00Z"), 120}, {utc("2024-01-01T04:00:00Z"), 130}, {utc("2024-01-01T05:00:00Z"), 100}, {utc("2024-01-01T06:00:00Z"), 100}},
			filled: []Fill{{Line: 4, After: utc("2024-01-01T01:00:00Z"), Before: utc("2024-01-01T04:00:00Z"), Points: 2}},
		},
		{
			name: "irregular step kept",
			in:   "timestamp,g_per_kwh\n2024-01-01T00:00:00Z,100\n2024-01-01T01:00:00Z,100\n2024-01-01T02:30:00Z,130\n2024-01-01T03:30:00Z,100\n",
			want: []Point{{utc("2024-01-01T00:00:00Z"), 100}, {utc("2024-01-01T01:00:00Z"), 100}, {utc("2024-01-01T02:30:00Z"), 130}, {utc("2024-01-01T03:30:00Z"), 100}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, rep, err := ParseCSV(strings.NewReader(tt.in), "x.csv")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.Points()); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.filled, rep.Filled); diff != "" {
				t.Errorf("filled (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,300\n2024-01-01T01:00:00Z,280\n")
	f.Add("Time,Carbon Intensity\n2019-12-20 00:00:00,218.29\n2019-12-20 00:15:00,217.88\n2019-12-20 00:45:00,217.6\n")
	f.Add("datetime,zone_name,carbon_intensity_avg\n2021-01-01T00:00:00+00:00,DE,541.69\n")
	f.Add("\ufeffDatetime (UTC),Carbon Intensity gCO₂eq/kWh (LCA),Data Estimated\n2022-01-01 00:00:00,175.54,true\n")
	f.Add("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,1\n2024-01-01T09:00:00Z,1\n")
	f.Add("timestamp,g_per_kwh\n\"2024-01-01T00:00:00Z\n,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, rep, err := ParseCSV(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(joule.ErrorMessage(err), "fuzz.csv") {
				t.Fatalf("error %q does not name the file", joule.ErrorMessage(err))
			}
			return
		}
		ps := s.Points()
		if len(ps) < rep.Rows {
			t.Fatalf("%d points from %d rows", len(ps), rep.Rows)
		}
		for i, p := range ps {
			if math.IsNaN(p.GramsPerKWh) || math.IsInf(p.GramsPerKWh, 0) || p.GramsPerKWh < 0 {
				t.Fatalf("point %d value %v", i, p.GramsPerKWh)
			}
			if i > 0 && !p.Time.After(ps[i-1].Time) {
				t.Fatalf("point %d at %v not after %v", i, p.Time, ps[i-1].Time)
			}
			if v, err := s.At(p.Time); err != nil || v != p.GramsPerKWh {
				t.Fatalf("At(%v) = %v, %v; want %v", p.Time, v, err, p.GramsPerKWh)
			}
		}
	})
}
