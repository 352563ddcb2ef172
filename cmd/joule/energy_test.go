package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule/internal/httpapi"
)

// TestJobEnergyOneToTwo is the attribution acceptance line run live: two
// concurrent jobs burning one and two threads for 5 s get dynamic energy in
// a 1:2 ratio (±10%), and each figure says how it was obtained.
//
// Attribution follows CPU time, so the 1:2 holds when the jobs' threads get
// equal shares of the cores. Under `go test ./...` other packages' tests
// share the two cores and the three busy threads may not get equal CPU;
// then the test checks the attribution itself: the energy ratio within 10%
// of the jobs' CPU-time ratio.
//
// Both jobs burn over the same wall-clock seconds, whenever the dispatcher
// starts them. Each interval's dynamic energy is split by CPU time, but the
// estimated power curve is not linear (utilisation to the power 0.57), so
// a CPU-second is charged more when the node is less busy: jobs that burn
// at different times on a busy machine meet different loads, and their
// energy ratio need not be their CPU ratio.
//
// So the test does not run in parallel with the package's other tests,
// which start servers, ingest and train beside it: under `.ci/run` on a
// slow 2-core VM, with them it once saw a fair CPU split (1.97) but an
// energy ratio of 2.34.
func TestJobEnergyOneToTwo(t *testing.T) {
	s := startServer(t, t.TempDir())
	t0 := time.Now().Unix() + 3
	burn := fmt.Sprintf(`while [ $(date +%%s) -lt %d ]; do sleep 0.05; done; while [ $(date +%%s) -lt %d ]; do :; done`, t0, t0+5)
	jobs := map[string][]string{
		"one": {"--cpu", "500m", "--", "sh", "-c", burn},
		"two": {"--cpu", "1", "--", "sh", "-c", "(" + burn + ") & " + burn + "; wait"},
	}
	for name, args := range jobs {
		if out, err := s.cli(t, s.token, nil, append([]string{"job", "run", "--name", name}, args...)...); err != nil {
			t.Fatalf("job run %s: %v\n%s", name, err, out)
		}
	}
	joules, cpu := map[string]float64{}, map[string]float64{}
	for name := range jobs {
		out, err := s.cli(t, s.token, nil, "job", "run", "--name", "wait-"+name, "--wait", "--depends-on", name, "--", "true")
		if err != nil {
			t.Fatalf("waiting for %s: %v\n%s", name, err, out)
		}
		out, err = s.cli(t, s.token, nil, "job", "get", name, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var d httpapi.JobDetail
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		e := d.Energy
		if e == nil || e.Joules <= 0 {
			t.Fatalf("job %s has no energy: %+v", name, e)
		}
		if diff := e.Joules - e.MeasuredJoules - e.EstimatedJoules; diff > 1e-9*e.Joules || diff < -1e-9*e.Joules {
			t.Errorf("job %s: joules %v != measured %v + estimated %v", name, e.Joules, e.MeasuredJoules, e.EstimatedJoules)
		}
		if !strings.HasPrefix(e.Method, "estimated:") && !strings.HasPrefix(e.Method, "measured:") {
			t.Errorf("job %s: method %q does not say how the energy was obtained", name, e.Method)
		}
		if e.PUE < 1 || e.IntensityGPerKWh <= 0 || !strings.Contains(e.IntensitySource, "world average") || e.EmissionsG <= 0 {
			t.Errorf("job %s: emissions %+v, want PUE ≥ 1, the world-average intensity, and grams > 0", name, e)
		}
		joules[name] = e.Joules
		for _, a := range d.History {
			cpu[name] += a.CPUUserSec + a.CPUSysSec
		}
	}
	ratio, cpuRatio := joules["two"]/joules["one"], cpu["two"]/cpu["one"]
	t.Logf("dynamic energy: one thread %.2f J, two threads %.2f J, ratio %.3f; CPU time %.2f s and %.2f s, ratio %.3f",
		joules["one"], joules["two"], ratio, cpu["one"], cpu["two"], cpuRatio)
	switch {
	case cpuRatio >= 1.8 && cpuRatio <= 2.2:
		if ratio < 1.8 || ratio > 2.2 {
			t.Errorf("energy ratio two:one = %.3f with a CPU ratio of %.3f, want 2 ± 10%%", ratio, cpuRatio)
		}
	default: // other processes took an unequal share of the cores
		if r := ratio / cpuRatio; r < 0.9 || r > 1.1 {
			t.Errorf("energy ratio two:one = %.3f, CPU-time ratio %.3f: the energy does not follow the CPU time (±10%%)", ratio, cpuRatio)
		}
	}
}

// TestCarbonZone: with --carbon-zone DE, a job's emissions use Germany's
// intensity from the shipped table, and the energy metrics count it.
func TestCarbonZone(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--carbon-zone", "DE")
	burn := `end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done`
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "de", "--wait", "--", "sh", "-c", burn); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	out, err := s.cli(t, s.token, nil, "job", "get", "de", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d httpapi.JobDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.Energy == nil || !strings.Contains(d.Energy.IntensitySource, "DE") || d.Energy.IntensityGPerKWh == 475 || d.Energy.IntensityGPerKWh <= 0 {
		t.Fatalf("energy = %+v, want Germany's static intensity", d.Energy)
	}
	_, body := get(t, s.base+"/metrics", "")
	for _, want := range []string{`joule_grid_intensity{source=`, `zone="DE"`, `joule_energy_joules_total{kind="estimated",node="test-node"}`, `joule_emissions_grams_total{node="test-node"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
