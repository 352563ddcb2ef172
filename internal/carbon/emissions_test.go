package carbon

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// gerCI reads ger_ci.csv independently of ParseCSV: timestamp → value.
func gerCI(t *testing.T) map[time.Time]float64 {
	t.Helper()
	m := map[time.Time]float64{}
	sc := bufio.NewScanner(bytes.NewReader(mustReadFile(t, "testdata/ger_ci.csv")))
	sc.Scan() // header
	for sc.Scan() {
		ts, vs, _ := strings.Cut(sc.Text(), ",")
		tm, err := time.Parse("2006-01-02 15:04:05", ts)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			t.Fatal(err)
		}
		m[tm] = v
	}
	return m
}

// TestEmissionsDE2020 is the acceptance check: with the DE 2020 series and
// simulated time, a job's emissions equal Σ E_i × PUE × CI(t_i) to 1e-9
// relative, and the same job moved to another hour gets that hour's
// intensity.
func TestEmissionsDE2020(t *testing.T) {
	t.Parallel()
	s, _, err := ParseCSV(bytes.NewReader(mustReadFile(t, "testdata/ger_ci.csv")), "ger_ci.csv")
	if err != nil {
		t.Fatal(err)
	}
	ci := gerCI(t)
	const pue = 1.4
	// A 2-hour job sampled every 10 s, power varying from 150 W to 400 W.
	job := func(start time.Time) []EnergyInterval {
		var in []EnergyInterval
		for i := range 720 {
			a := start.Add(time.Duration(i) * 10 * time.Second)
			watts := 150 + 250*math.Abs(math.Sin(float64(i)/37))
			in = append(in, EnergyInterval{Start: a, End: a.Add(10 * time.Second), Joules: watts * 10})
		}
		return in
	}
	want := func(in []EnergyInterval) float64 {
		var g float64
		for _, e := range in {
			g += e.Joules / 3.6e6 * pue * ci[e.Start.Truncate(15*time.Minute)]
		}
		return g
	}
	noon := utc("2020-06-15T11:00:00Z")
	night := utc("2020-06-15T22:00:00Z")
	for _, start := range []time.Time{noon, night, utc("2020-01-01T00:00:07Z")} {
		in := job(start)
		got, err := Emissions(in, pue, s)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(in); math.Abs(got-w)/w > 1e-9 {
			t.Errorf("Emissions(job at %v) = %.12g g, want %.12g", start, got, w)
		}
	}
	// Moved by an hour, one interval gets that hour's intensity.
	one := []EnergyInterval{{Start: noon, End: noon.Add(time.Minute), Joules: 3.6e6}}
	moved := []EnergyInterval{{Start: night, End: night.Add(time.Minute), Joules: 3.6e6}}
	a, _ := Emissions(one, 1, s)
	b, _ := Emissions(moved, 1, s)
	if a != ci[noon] || b != ci[night] || a == b {
		t.Errorf("1 kWh at noon = %v g (CI %v), at 22:00 = %v g (CI %v)", a, ci[noon], b, ci[night])
	}
}

func TestEmissionsInvalid(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	s := mustSeries(t, Point{t0, 100})
	tests := []struct {
		name string
		in   []EnergyInterval
		pue  float64
		code string
	}{
		{"PUE below 1", nil, 0.9, joule.EINVALID},
		{"PUE NaN", nil, math.NaN(), joule.EINVALID},
		{"negative energy", []EnergyInterval{{t0, t0.Add(time.Second), -1}}, 1, joule.EINVALID},
		{"backwards interval", []EnergyInterval{{t0.Add(time.Second), t0, 1}}, 1, joule.EINVALID},
		{"outside series", []EnergyInterval{{t0.Add(2 * time.Hour), t0.Add(3 * time.Hour), 1}}, 1, joule.ENOTFOUND},
	}
	for _, tt := range tests {
		if _, err := Emissions(tt.in, tt.pue, s); joule.ErrorCode(err) != tt.code {
			t.Errorf("Emissions(%s) = %v, want %s", tt.name, err, tt.code)
		}
	}
	if g, err := Emissions(nil, 1.2, s); g != 0 || err != nil {
		t.Errorf("Emissions(nil) = %v, %v", g, err)
	}
}
