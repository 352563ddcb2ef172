package energy

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestAdvisePowerLimitHandWorked(t *testing.T) {
	pts := []PowerLimitPoint{
		{LimitW: 250, TimePerEpochS: 100, AvgPowerW: 240}, // 24,000 J
		{LimitW: 200, TimePerEpochS: 105, AvgPowerW: 190}, // 19,950 J
		{LimitW: 150, TimePerEpochS: 125, AvgPowerW: 145}, // 18,125 J
		{LimitW: 100, TimePerEpochS: 190, AvgPowerW: 99},  // 18,810 J
	}
	// η = 1: least energy, 150 W.
	a, err := AdvisePowerLimit(pts, 1, -1)
	if err != nil || a.LimitW != 150 || math.Abs(a.EnergySavedPct-100*(1-18125.0/24000)) > 1e-9 || math.Abs(a.SlowdownPct-25) > 1e-9 {
		t.Fatalf("η=1: %+v, %v; want 150 W, 24.5%% saved, 25%% slower", a, err)
	}
	// η = 0: least time, 250 W.
	if a, _ := AdvisePowerLimit(pts, 0, -1); a.LimitW != 250 || a.EnergySavedPct != 0 {
		t.Errorf("η=0: %+v, want 250 W", a)
	}
	// η = 0.5: C = 0.5·E + 0.5·250·T: 250 → 24,500; 200 → 23,100; 150 → 24,687.5; 100 → 33,155.
	if a, _ := AdvisePowerLimit(pts, 0.5, -1); a.LimitW != 200 {
		t.Errorf("η=0.5: %+v, want 200 W", a)
	}
	// At most 10 % slower: 150 W (25 %) is out, so η = 1 gives 200 W.
	if a, _ := AdvisePowerLimit(pts, 1, 0.10); a.LimitW != 200 || !strings.Contains(a.Method, "at most 10% above") {
		t.Errorf("η=1 within 10%%: %+v, want 200 W", a)
	}
	for _, bad := range [][]PowerLimitPoint{nil, {{LimitW: 100, TimePerEpochS: -1, AvgPowerW: 10}}, {{LimitW: math.Inf(1), TimePerEpochS: 1, AvgPowerW: 1}}} {
		if _, err := AdvisePowerLimit(bad, 0.5, -1); err == nil {
			t.Errorf("AdvisePowerLimit(%v): no error", bad)
		}
	}
	if _, err := AdvisePowerLimit(pts, 1.5, -1); err == nil {
		t.Error("η = 1.5: no error")
	}
}

// TestAdvisePowerLimitZeusTraces checks the advisor on every workload of
// the embedded Zeus traces against a brute-force minimum of the cost, and
// that the energy-optimal limit never uses more energy than the highest.
func TestAdvisePowerLimitZeusTraces(t *testing.T) {
	for _, gpu := range ZeusGPUs {
		rows, err := ZeusTrace(gpu)
		if err != nil {
			t.Fatal(err)
		}
		groups := map[string][]PowerLimitPoint{}
		for _, r := range rows {
			k := strings.Join([]string{r.Dataset, r.Network, r.Optimizer, strconv.Itoa(r.BatchSize)}, "/")
			groups[k] = append(groups[k], r.PowerLimitPoint)
		}
		if len(groups) < 6 {
			t.Fatalf("%s: %d workloads, want at least the 6 of the trace", gpu, len(groups))
		}
		for k, pts := range groups {
			a, err := AdvisePowerLimit(pts, 1, -1)
			if err != nil {
				t.Fatalf("%s %s: %v", gpu, k, err)
			}
			// Brute force over the distinct limits (averaging repeats).
			sum, n := map[float64]float64{}, map[float64]float64{}
			maxL := 0.0
			for _, p := range pts {
				sum[p.LimitW] += p.EnergyJ()
				n[p.LimitW]++
				maxL = math.Max(maxL, p.LimitW)
			}
			bestE := math.Inf(1)
			for l := range sum {
				bestE = math.Min(bestE, sum[l]/n[l])
			}
			if math.Abs(a.EnergyPerEpochJ-bestE) > 1e-9*bestE || a.EnergySavedPct < 0 || a.MaxLimitW != maxL {
				t.Errorf("%s %s: advice %+v, want the least energy %.3f J", gpu, k, a, bestE)
			}
		}
	}
	rows, _ := ZeusTrace("v100")
	var pts []PowerLimitPoint
	for _, r := range rows {
		if r.Dataset == "imagenet" && r.BatchSize == 256 && r.Optimizer == "adadelta" {
			pts = append(pts, r.PowerLimitPoint)
		}
	}
	if a, err := AdvisePowerLimit(pts, 0.5, 0.2); err == nil {
		t.Logf("V100 imagenet/resnet50 batch 256: %.0f W of %.0f W saves %.1f%% energy for %.1f%% more time", a.LimitW, a.MaxLimitW, a.EnergySavedPct, a.SlowdownPct)
	}
}

func TestParsePowerTraceErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "no header",
		"dataset,network\n": `no column "batch_size"`,
		"dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\nd,n,32,o,100,x,50\n": `t.csv:2: time_per_epoch "x" is not a positive number`,
		"dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\n":                    "no rows",
	} {
		_, err := ParsePowerTrace(strings.NewReader(in), "t.csv")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePowerTrace(%q) = %v, want %q", in, err, want)
		}
	}
	if _, err := ZeusTrace("h100"); err == nil || !strings.Contains(err.Error(), "a40, p100, rtx6000, v100") {
		t.Errorf("ZeusTrace(h100) = %v", err)
	}
}

func FuzzParsePowerTrace(f *testing.F) {
	f.Add("dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\nd,n,32,o,100,10,50\n")
	f.Add("power_limit,time_per_epoch\n1,2\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ParsePowerTrace(strings.NewReader(in), "f.csv")
		if err != nil {
			return
		}
		pts := make([]PowerLimitPoint, len(rows))
		for i, r := range rows {
			pts[i] = r.PowerLimitPoint
		}
		if _, err := AdvisePowerLimit(pts, 0.5, 0.1); err != nil {
			t.Fatalf("parsed rows refused by the advisor: %v", err)
		}
	})
}
