package energy

import (
	"bufio"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// hourly is a synthetic intensity: a different value every UTC hour.
func hourly(t time.Time) (float64, string) {
	return 100 + 10*float64(t.UTC().Hour()) + 0.5*float64(t.UTC().Day()), "synthetic"
}

// jobRun attributes a job that uses cpu CPU-seconds per second for n
// seconds from start on a node with the given power, sampled at 1 Hz, and
// returns the attributions.
func jobRun(start time.Time, n int, watts func(i int) float64) []Attribution {
	var nodes []NodeInterval
	var s []joule.UsageSample
	for i := 0; i <= n; i++ {
		s = append(s, joule.UsageSample{Time: start.Add(time.Duration(i) * time.Second), CPUUserSec: float64(i)})
		if i < n {
			nodes = append(nodes, NodeInterval{
				Start: start.Add(time.Duration(i) * time.Second), End: start.Add(time.Duration(i+1) * time.Second),
				CPU: []ComponentEnergy{{Component: "cpu", Joules: watts(i), Method: "estimated:tdp-curve@1"}},
			})
		}
	}
	return AttributeSeries(nodes, map[string][]joule.UsageSample{"job": s}, map[string]float64{"job": 0.25}, IdleSeparate)
}

func accountAll(cfg AccountConfig, as []Attribution) []Entry {
	var out []Entry
	for _, a := range as {
		out = append(out, Account(cfg, a)...)
	}
	return out
}

func TestEmissionsHandSum(t *testing.T) {
	t.Parallel()
	// 2 hours of 1 Hz intervals crossing an hour boundary, varying power.
	start := time.Date(2020, 3, 4, 10, 30, 0, 0, time.UTC)
	watts := func(i int) float64 { return 20 + 15*math.Sin(float64(i)/100) }
	as := jobRun(start, 7200, watts)
	cfg := AccountConfig{PUE: 1.3, Intensity: hourly}
	got := Totals(accountAll(cfg, as))["job"]

	var wantG, wantJ float64
	for i := range 7200 {
		ti := start.Add(time.Duration(i)*time.Second + 500*time.Millisecond)
		ci, _ := hourly(ti)
		wantG += watts(i) * cfg.PUE * ci / 3.6e6
		wantJ += watts(i)
	}
	if !relClose(got.EmissionsG, wantG, 1e-9) || math.Abs(got.EmissionsG-wantG) > 1e-9*wantG {
		t.Errorf("emissions = %.12g g, want Σ E_i × PUE × CI(t_i) = %.12g g", got.EmissionsG, wantG)
	}
	if !relClose(got.Joules, wantJ, 1e-12) || got.EstimatedJoules != got.Joules || got.MeasuredJoules != 0 {
		t.Errorf("energy %+v, want %v J all estimated", got, wantJ)
	}
	if got.Method != "estimated:tdp-curve@1" || got.PUE != 1.3 || got.IntensitySource != "synthetic" {
		t.Errorf("method %q pue %v source %q", got.Method, got.PUE, got.IntensitySource)
	}
	// The energy-weighted mean intensity reproduces the emissions.
	if mean := got.EmissionsG / (got.Joules / 3.6e6 * got.PUE); !relClose(mean, got.IntensityGPerKWh, 1e-9) {
		t.Errorf("intensity %v, want %v", got.IntensityGPerKWh, mean)
	}
	if got.MarketEmissionsG != nil {
		t.Errorf("market emissions %v without a market factor", *got.MarketEmissionsG)
	}
}

func TestEmissionsMovedHour(t *testing.T) {
	t.Parallel()
	cfg := AccountConfig{PUE: 1, Intensity: hourly}
	flat := func(int) float64 { return 30 }
	for _, hour := range []int{3, 14} {
		start := time.Date(2020, 3, 4, hour, 10, 0, 0, time.UTC)
		got := Totals(accountAll(cfg, jobRun(start, 600, flat)))["job"]
		want, _ := hourly(start)
		if !relClose(got.IntensityGPerKWh, want, 1e-12) {
			t.Errorf("job at %02d:10: intensity %v, want that hour's %v", hour, got.IntensityGPerKWh, want)
		}
		if !relClose(got.EmissionsG, 600*30/3.6e6*want, 1e-9) {
			t.Errorf("job at %02d:10: emissions %v", hour, got.EmissionsG)
		}
	}
}

// germany reads the DE 2020 series of the carbon package's test data into a
// step function (each value holds for its 15 minutes).
func germany(t *testing.T) IntensityFunc {
	t.Helper()
	f, err := os.Open("../carbon/testdata/ger_ci.csv")
	if err != nil {
		t.Skipf("DE series not available: %v", err)
	}
	defer f.Close()
	var ts []time.Time
	var vs []float64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		a, b, _ := strings.Cut(sc.Text(), ",")
		tm, err1 := time.Parse(time.DateTime, a)
		v, err2 := strconv.ParseFloat(b, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("ger_ci.csv line %q", sc.Text())
		}
		ts, vs = append(ts, tm), append(vs, v)
	}
	return func(at time.Time) (float64, string) {
		i, found := slices.BinarySearchFunc(ts, at, func(a, b time.Time) int { return a.Compare(b) })
		if !found {
			i--
		}
		return vs[max(i, 0)], "test:ger_ci"
	}
}

func TestEmissionsGermany2020(t *testing.T) {
	t.Parallel()
	ci := germany(t)
	cfg := AccountConfig{PUE: 1.12, Intensity: ci}
	watts := func(i int) float64 { return 10 + float64(i%7) }
	for _, start := range []time.Time{
		time.Date(2020, 1, 15, 3, 50, 0, 0, time.UTC),
		time.Date(2020, 1, 15, 13, 50, 0, 0, time.UTC),
	} {
		got := Totals(accountAll(cfg, jobRun(start, 1800, watts)))["job"]
		var want float64
		for i := range 1800 {
			c, _ := ci(start.Add(time.Duration(i)*time.Second + 500*time.Millisecond))
			want += watts(i) * 1.12 * c / 3.6e6
		}
		if math.Abs(got.EmissionsG-want) > 1e-9*want {
			t.Errorf("start %v: emissions %.12g, want %.12g", start, got.EmissionsG, want)
		}
	}
	a, _ := ci(time.Date(2020, 1, 15, 4, 0, 0, 0, time.UTC))
	b, _ := ci(time.Date(2020, 1, 15, 14, 0, 0, 0, time.UTC))
	if a == b {
		t.Errorf("test needs two hours of different intensity")
	}
}

func TestAccountMarketAndCost(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 6, 59, 30, 0, time.UTC)      // crosses 07:00
	as := jobRun(start, 60, func(int) float64 { return 3.6e4 }) // 0.01 kWh per second
	sched, err := ParseTariffs("00:00-07:00=0.10,07:00-24:00=0.30")
	if err != nil {
		t.Fatal(err)
	}
	market := func(time.Time) (float64, string) { return 50, "ppa" }
	cfg := AccountConfig{
		PUE: 1.5, Intensity: hourly, MarketIntensity: market,
		Price: Price{Schedule: sched}, Currency: "EUR",
		AmortisationPerNodeHour: 2, EmbodiedKgCO2e: 1000, LifetimeYears: 4,
	}
	entries := accountAll(cfg, as)
	got := Totals(entries)["job"]
	kWh := 60 * 0.01 * 1.5
	if want := (30*0.10 + 30*0.30) * 0.01 * 1.5; !relClose(got.EnergyCost, want, 1e-12) {
		t.Errorf("energy cost %v, want %v", got.EnergyCost, want)
	}
	if want := 2.0 / 60 * 0.25; !relClose(got.AmortisationCost, want, 1e-12) || !relClose(got.Cost, got.EnergyCost+want, 1e-12) {
		t.Errorf("amortisation %v cost %v, want %v", got.AmortisationCost, got.Cost, want)
	}
	if got.MarketEmissionsG == nil || !relClose(*got.MarketEmissionsG, kWh*50, 1e-12) {
		t.Errorf("market emissions %v, want %v", got.MarketEmissionsG, kWh*50)
	}
	// Location-based emissions are untouched by the market factor.
	noMarket := cfg
	noMarket.MarketIntensity = nil
	if loc := Totals(accountAll(noMarket, as))["job"]; loc.EmissionsG != got.EmissionsG {
		t.Errorf("market factor changed location-based emissions: %v vs %v", loc.EmissionsG, got.EmissionsG)
	}
	if want := Embodied(1000, 4, time.Minute, 0.25, 1); !relClose(got.EmbodiedG, want, 1e-12) {
		t.Errorf("embodied %v, want %v", got.EmbodiedG, want)
	}
	if got.Currency != "EUR" {
		t.Errorf("currency %q", got.Currency)
	}
	// Idle and unattributed entries get no embodied or amortisation.
	for _, e := range entries {
		if e.Entity != "job" && (e.EmbodiedG != 0 || e.AmortisationCost != 0) {
			t.Errorf("%s: embodied %v amortisation %v", e.Entity, e.EmbodiedG, e.AmortisationCost)
		}
	}
}

func TestJobEnergyMarketGap(t *testing.T) {
	t.Parallel()
	m := 5.0
	with := Entry{Energy: JoulesOf(1, MethodRAPL), MarketEmissionsG: &m}
	without := Entry{Energy: JoulesOf(1, MethodRAPL)}
	for _, seq := range [][]Entry{{with, without, with}, {without, with}} {
		var j JobEnergy
		for _, e := range seq {
			j.Add(e)
		}
		if j.MarketEmissionsG != nil {
			t.Errorf("market emissions %v with an interval lacking a factor", *j.MarketEmissionsG)
		}
	}
	var j JobEnergy
	j.Add(with)
	j.Add(with)
	if j.MarketEmissionsG == nil || *j.MarketEmissionsG != 10 {
		t.Errorf("market emissions %v, want 10", j.MarketEmissionsG)
	}
}

func TestAccountDefaults(t *testing.T) {
	t.Parallel()
	a := Attribution{Start: t0, End: t0.Add(time.Second), Idle: JoulesOf(3.6e6, MethodRAPL)}
	es := Account(AccountConfig{}, a)
	idle := es[0]
	if idle.Entity != IdleEntity || idle.PUE != DefaultPUE || idle.IntensitySource != "none" || idle.EmissionsG != 0 {
		t.Errorf("entry %+v: want idle with default PUE and no intensity", idle)
	}
}
