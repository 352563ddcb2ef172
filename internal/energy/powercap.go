package energy

import (
	"cmp"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
)

// GPU power-cap advice. A GPU under a lower power limit runs a training
// epoch more slowly but often for less energy. Given a workload's measured
// (or traced) time and average power per epoch at each power limit, the
// advisor picks the limit that minimises Zeus's cost
//
//	C(p) = η · E(p) + (1 − η) · P_max · T(p),   E(p) = T(p) · P̄(p)
//
// (You et al., "Zeus: Understanding and Optimizing GPU Energy Consumption
// of DNN Training", NSDI 2023, eq. 2), where η ∈ [0, 1] weighs energy
// against time and P_max is the highest limit: η = 1 minimises energy, η = 0
// time. A slowdown bound, when given, rules out limits whose epoch time
// exceeds the fastest limit's by more than that fraction. The Zeus NSDI'23
// power traces of four GPUs ship embedded (data/zeus, see NOTICE) as
// examples; a user's own measurements in the same CSV columns work alike.

//go:embed data/zeus/*.csv
var zeusFS embed.FS

// PowerLimitPoint is one measured power limit of a workload.
type PowerLimitPoint struct {
	LimitW        float64 // the power limit, W
	TimePerEpochS float64 // seconds per epoch at that limit
	AvgPowerW     float64 // average GPU power over the epoch, W
}

// EnergyJ is the energy of one epoch.
func (p PowerLimitPoint) EnergyJ() float64 { return p.TimePerEpochS * p.AvgPowerW }

// PowerCapAdvice is the advisor's answer, against running at the highest
// limit.
type PowerCapAdvice struct {
	LimitW          float64 `json:"limit_w"`
	MaxLimitW       float64 `json:"max_limit_w"`
	EnergyPerEpochJ float64 `json:"energy_per_epoch_j"`
	TimePerEpochS   float64 `json:"time_per_epoch_s"`
	// EnergySavedPct and SlowdownPct compare with the highest limit.
	EnergySavedPct float64 `json:"energy_saved_pct"`
	SlowdownPct    float64 `json:"slowdown_pct"`
	Eta            float64 `json:"eta"`
	Method         string  `json:"method"`
}

// AdvisePowerLimit picks the power limit of points that minimises the Zeus
// cost with weight eta (0–1), among limits whose epoch time is at most
// (1 + maxSlowdown) × the fastest limit's (maxSlowdown < 0: no bound). Of
// equal costs it picks the higher limit. Points with the same limit are
// averaged. It returns EINVALID for no points, a non-positive or
// non-finite value, or eta outside 0–1.
func AdvisePowerLimit(points []PowerLimitPoint, eta, maxSlowdown float64) (PowerCapAdvice, error) {
	if !(eta >= 0 && eta <= 1) {
		return PowerCapAdvice{}, joule.Errorf(joule.EINVALID, "eta: %v is not between 0 and 1", eta)
	}
	if len(points) == 0 {
		return PowerCapAdvice{}, joule.Errorf(joule.EINVALID, "no power-limit measurements")
	}
	byLimit := map[float64][]PowerLimitPoint{}
	for i, p := range points {
		for _, v := range []float64{p.LimitW, p.TimePerEpochS, p.AvgPowerW} {
			if !(v > 0) || math.IsInf(v, 0) {
				return PowerCapAdvice{}, joule.Errorf(joule.EINVALID, "point %d: %v is not a positive number", i+1, v)
			}
		}
		byLimit[p.LimitW] = append(byLimit[p.LimitW], p)
	}
	var avg []PowerLimitPoint
	for limit, ps := range byLimit {
		var t, e float64
		for _, p := range ps {
			t += p.TimePerEpochS
			e += p.EnergyJ()
		}
		t /= float64(len(ps))
		e /= float64(len(ps))
		avg = append(avg, PowerLimitPoint{LimitW: limit, TimePerEpochS: t, AvgPowerW: e / t})
	}
	slices.SortFunc(avg, func(a, b PowerLimitPoint) int { return -cmp.Compare(a.LimitW, b.LimitW) }) // highest first
	pmax := avg[0]
	fastest := slices.MinFunc(avg, func(a, b PowerLimitPoint) int { return cmp.Compare(a.TimePerEpochS, b.TimePerEpochS) }).TimePerEpochS
	best, bestCost := -1, math.Inf(1)
	for i, p := range avg {
		if maxSlowdown >= 0 && p.TimePerEpochS > fastest*(1+maxSlowdown)*(1+1e-12) {
			continue
		}
		if c := eta*p.EnergyJ() + (1-eta)*pmax.LimitW*p.TimePerEpochS; c < bestCost*(1-1e-12) {
			best, bestCost = i, c
		}
	}
	b := avg[best]
	bound := "no slowdown bound"
	if maxSlowdown >= 0 {
		bound = fmt.Sprintf("epoch time at most %.0f%% above the fastest limit's", 100*maxSlowdown)
	}
	return PowerCapAdvice{
		LimitW: b.LimitW, MaxLimitW: pmax.LimitW, EnergyPerEpochJ: b.EnergyJ(), TimePerEpochS: b.TimePerEpochS,
		EnergySavedPct: 100 * (1 - b.EnergyJ()/pmax.EnergyJ()), SlowdownPct: 100 * (b.TimePerEpochS/pmax.TimePerEpochS - 1), Eta: eta,
		Method: fmt.Sprintf("minimum of η·E + (1−η)·%gW·T over %d power limits (Zeus, NSDI 2023), η = %g, %s; E and T per epoch from the measurements",
			pmax.LimitW, len(avg), eta, bound),
	}, nil
}

// PowerTraceRow is one row of a Zeus-format power trace.
type PowerTraceRow struct {
	Dataset, Network, Optimizer string
	BatchSize                   int
	PowerLimitPoint
}

// ParsePowerTrace reads a CSV with the Zeus trace columns dataset, network,
// batch_size, optimizer, power_limit, time_per_epoch, average_power (any
// order; extra columns ignored). Errors name the file and line.
func ParsePowerTrace(r io.Reader, name string) ([]PowerTraceRow, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "%s: no header: %v", name, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	for _, want := range []string{"dataset", "network", "batch_size", "optimizer", "power_limit", "time_per_epoch", "average_power"} {
		if _, ok := col[want]; !ok {
			return nil, joule.Errorf(joule.EINVALID, "%s:1: no column %q (want dataset, network, batch_size, optimizer, power_limit, time_per_epoch, average_power)", name, want)
		}
	}
	var rows []PowerTraceRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "%s:%d: %v", name, line, err)
		}
		num := func(c string) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[col[c]]), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return 0, joule.Errorf(joule.EINVALID, "%s:%d: %s %q is not a positive number", name, line, c, rec[col[c]])
			}
			return v, nil
		}
		var p PowerLimitPoint
		if p.LimitW, err = num("power_limit"); err != nil {
			return nil, err
		}
		if p.TimePerEpochS, err = num("time_per_epoch"); err != nil {
			return nil, err
		}
		if p.AvgPowerW, err = num("average_power"); err != nil {
			return nil, err
		}
		bs, err := num("batch_size")
		if err != nil {
			return nil, err
		}
		rows = append(rows, PowerTraceRow{Dataset: rec[col["dataset"]], Network: rec[col["network"]], Optimizer: rec[col["optimizer"]],
			BatchSize: int(bs), PowerLimitPoint: p})
	}
	if len(rows) == 0 {
		return nil, joule.Errorf(joule.EINVALID, "%s: no rows", name)
	}
	return rows, nil
}

// ZeusGPUs names the GPUs whose Zeus NSDI'23 power traces are embedded.
var ZeusGPUs = []string{"a40", "p100", "rtx6000", "v100"}

// ZeusTrace returns the embedded Zeus power trace of gpu (one of ZeusGPUs).
func ZeusTrace(gpu string) ([]PowerTraceRow, error) {
	gpu = strings.ToLower(gpu)
	if !slices.Contains(ZeusGPUs, gpu) {
		return nil, joule.Errorf(joule.EINVALID, "gpu: %q has no embedded trace (have %s)", gpu, strings.Join(ZeusGPUs, ", "))
	}
	f, err := zeusFS.Open("data/zeus/summary_power_" + gpu + ".csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParsePowerTrace(f, "zeus/summary_power_"+gpu+".csv")
}
