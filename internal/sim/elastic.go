package sim

import (
	"encoding/csv"
	"os"
	"time"

	"errors"
	"fmt"
	"github.com/joule-dev/joule/internal/carbon"
	"io"
	"strconv"
	"strings"

	"github.com/joule-dev/joule/internal/scheduler"
)

// Elastic jobs (BENCHMARK.md §4.5): a job with a scaling profile is replayed
// at many start steps of an intensity series, and CarbonScaler's greedy
// marginal allocation (scheduler.PlanElastic) is compared with three
// baselines on the same work and deadline: carbon-agnostic (BaseReplicas
// from the start until done), suspend-resume at BaseReplicas in the
// greenest steps, and the best static scale (suspend-resume at whichever
// replica count emits least, chosen per start with hindsight).

// ElasticConfig is one elastic replay.
type ElasticConfig struct {
	Profile      scheduler.ScalingProfile
	Work         float64 // work units per job
	Deadline     int     // steps from the start
	BaseReplicas int     // the baselines' scale
	MaxReplicas  int     // 0: the profile's maximum
	StepHours    float64 // 0: 1 hour
	Starts       []int   // start steps in the series
}

// ElasticResult sums the replay, in grams CO2e.
type ElasticResult struct {
	Jobs                                   int
	AgnosticG, SuspendResumeG, BestStaticG float64
	CarbonScalerG                          float64
	VsAgnosticPct, VsSuspendPct, VsBestPct float64
	MeanReplicas                           float64 // mean replicas in the steps CarbonScaler runs
}

// RunElastic replays cfg on the hourly (or StepHours) series ci.
func RunElastic(cfg ElasticConfig, ci []float64) (ElasticResult, error) {
	if err := cfg.Profile.Check(); err != nil {
		return ElasticResult{}, err
	}
	if cfg.StepHours <= 0 {
		cfg.StepHours = 1
	}
	if cfg.BaseReplicas < 1 || cfg.BaseReplicas >= len(cfg.Profile) {
		return ElasticResult{}, fmt.Errorf("sim: base replicas %d: the profile has 1 to %d", cfg.BaseReplicas, len(cfg.Profile)-1)
	}
	var r ElasticResult
	var busy, replicas float64
	for _, s := range cfg.Starts {
		if s < 0 || s+cfg.Deadline > len(ci) {
			continue
		}
		f := ci[s : s+cfg.Deadline]
		ag, err := scheduler.StaticPlan(cfg.Profile, cfg.Work, cfg.Deadline, cfg.BaseReplicas)
		if err != nil {
			return ElasticResult{}, fmt.Errorf("sim: the work does not fit the deadline at %d replicas: %w", cfg.BaseReplicas, err)
		}
		sr, err := scheduler.SuspendResumePlan(f, cfg.Profile, cfg.Work, cfg.Deadline, cfg.BaseReplicas)
		if err != nil {
			return ElasticResult{}, err
		}
		best := -1.0
		for n := 1; n < len(cfg.Profile) && (cfg.MaxReplicas == 0 || n <= cfg.MaxReplicas); n++ {
			if p, err := scheduler.SuspendResumePlan(f, cfg.Profile, cfg.Work, cfg.Deadline, n); err == nil {
				if g := p.Grams(cfg.Profile, f, cfg.StepHours); best < 0 || g < best {
					best = g
				}
			}
		}
		cs, err := scheduler.PlanElastic(f, cfg.Profile, cfg.Work, cfg.Deadline, cfg.MaxReplicas)
		if err != nil {
			return ElasticResult{}, err
		}
		r.Jobs++
		r.AgnosticG += ag.Grams(cfg.Profile, f, cfg.StepHours)
		r.SuspendResumeG += sr.Grams(cfg.Profile, f, cfg.StepHours)
		r.BestStaticG += best
		r.CarbonScalerG += cs.Grams(cfg.Profile, f, cfg.StepHours)
		for _, n := range cs {
			if n > 0 {
				busy++
				replicas += float64(n)
			}
		}
	}
	if r.Jobs == 0 {
		return r, errors.New("sim: no start leaves room for the deadline in the series")
	}
	r.VsAgnosticPct = savings(r.CarbonScalerG, r.AgnosticG)
	r.VsSuspendPct = savings(r.CarbonScalerG, r.SuspendResumeG)
	r.VsBestPct = savings(r.CarbonScalerG, r.BestStaticG)
	r.MeanReplicas = replicas / busy
	return r, nil
}

// ParseScalingProfile reads a CarbonScaler profile CSV: nodes, throughput,
// power (a header line, then 0, 1, … replicas). Errors name the line.
func ParseScalingProfile(r io.Reader, name string) (scheduler.ScalingProfile, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header: %w", name, err)
	}
	if got := strings.ToLower(strings.Join(head, ",")); got != "nodes,throughput,power" {
		return nil, fmt.Errorf("%s:1: header %q, want nodes,throughput,power", name, got)
	}
	var p scheduler.ScalingProfile
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		n, err1 := strconv.Atoi(strings.TrimSpace(rec[0]))
		t, err2 := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		w, err3 := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		p = append(p, scheduler.ScalePoint{Replicas: n, Throughput: t, PowerW: w})
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// ReadHourly reads a carbon-intensity CSV (any format carbon.ParseCSV
// reads) onto an hourly grid from its first whole hour.
func ReadHourly(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, _, err := carbon.ParseCSV(f, path)
	if err != nil {
		return nil, err
	}
	if s.Len() == 0 {
		return nil, fmt.Errorf("%s: no values", path)
	}
	start := s.Start().Truncate(time.Hour)
	if start.Before(s.Start()) {
		start = start.Add(time.Hour)
	}
	return Grid(s, start, time.Hour)
}
