package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/scheduler"
)

// DefaultStep is the simulation step of Let's Wait Awhile.
const DefaultStep = 30 * time.Minute

// DefaultSeeds is how many forecasts with error a run averages over:
// seeds 0 to 9, as in Let's Wait Awhile.
const DefaultSeeds = 10

// ErrorModel is how the forecast a policy sees differs from the true
// series. The zero ErrorModel is a perfect forecast.
type ErrorModel struct {
	// Gaussian is σ as a fraction of the mean true intensity: every step
	// of the forecast gets independent N(0, (Gaussian × mean)²) noise, one
	// draw for the whole series per seed (Let's Wait Awhile's model).
	// Zero means no error.
	Gaussian float64
	// AR1 is σ, as a fraction of the mean true intensity, of an error that
	// grows with the lead time: the forecast issued at step a for step a+h
	// has error e_h = Phi·e_{h−1} + ε_h, with e_0 = 0 (the current step is
	// known) and ε_h ~ N(0, (1−Phi²)·(AR1 × mean)²), so its standard
	// deviation rises from 0 towards AR1 × mean as h grows. Each job is
	// planned on the forecast issued at its arrival, one noise path per
	// arrival step and seed. Zero means no such error; it excludes
	// Gaussian.
	AR1 float64
	// Phi is the AR(1) coefficient per step; zero means DefaultPhi.
	Phi float64
	// Seeds is how many forecasts (seeds 0 … Seeds−1) the result averages
	// over; zero means DefaultSeeds.
	Seeds int
}

// DefaultPhi is the AR(1) coefficient per step when ErrorModel.Phi is
// zero: with 30-minute steps the error's correlation falls to 1/e in about
// 10 hours.
const DefaultPhi = 0.95

func (m ErrorModel) phi() float64 {
	if m.Phi == 0 {
		return DefaultPhi
	}
	return m.Phi
}

// perfect reports whether the model adds no error.
func (m ErrorModel) perfect() bool { return m.Gaussian == 0 && m.AR1 == 0 }

// String returns the model as ParseErrorModel reads it.
func (m ErrorModel) String() string {
	switch {
	case m.AR1 != 0:
		return "ar1:" + strconv.FormatFloat(m.AR1, 'g', -1, 64) + "," + strconv.FormatFloat(m.phi(), 'g', -1, 64)
	case m.Gaussian != 0:
		return "gaussian:" + strconv.FormatFloat(m.Gaussian, 'g', -1, 64)
	}
	return "none"
}

// ParseErrorModel reads "none", "gaussian:σ" or "ar1:σ[,φ]", σ a fraction
// of the mean (gaussian:0.05 is 5 %) and φ the AR(1) coefficient per step
// (default 0.95).
func ParseErrorModel(s string) (ErrorModel, error) {
	bad := fmt.Errorf("forecast error %q: want none, gaussian:σ or ar1:σ[,φ], with σ from 0 to 10 (a fraction of the mean, 0.05 is 5 %%) and φ from 0 to 0.999 (default %g)", s, DefaultPhi)
	if s == "none" || s == "" {
		return ErrorModel{}, nil
	}
	if v, ok := strings.CutPrefix(s, "gaussian:"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && f >= 0 && f <= 10 {
			return ErrorModel{Gaussian: f}, nil
		}
	}
	if v, ok := strings.CutPrefix(s, "ar1:"); ok {
		sig, ph, hasPhi := strings.Cut(v, ",")
		f, err := strconv.ParseFloat(sig, 64)
		if err != nil || !(f >= 0 && f <= 10) {
			return ErrorModel{}, bad
		}
		m := ErrorModel{AR1: f}
		if hasPhi {
			p, err := strconv.ParseFloat(ph, 64)
			if err != nil || !(p > 0 && p <= 0.999) {
				return ErrorModel{}, bad
			}
			m.Phi = p
		}
		return m, nil
	}
	return ErrorModel{}, bad
}

// issuer returns, for one seed, the forecast issued at step a for the
// steps a … until−1: the true series there plus the AR(1) error path of
// that issue step; other steps hold the true values. The returned slice is
// a buffer reused by the next call.
func (m ErrorModel) issuer(ci []float64, seed uint64) func(a, until int) []float64 {
	buf := slices.Clone(ci)
	var mean float64
	for _, v := range ci {
		mean += v
	}
	mean /= float64(max(len(ci), 1))
	phi := m.phi()
	sd := m.AR1 * mean * math.Sqrt(1-phi*phi)
	lastA, lastUntil := 0, 0
	return func(a, until int) []float64 {
		copy(buf[lastA:lastUntil], ci[lastA:lastUntil])
		until = min(until, len(ci))
		lastA, lastUntil = a, max(a, until)
		rng := rand.New(rand.NewPCG(seed, uint64(a)+1))
		e := 0.0
		for k := a + 1; k < until; k++ {
			e = phi*e + rng.NormFloat64()*sd
			buf[k] = ci[k] + e
		}
		return buf
	}
}

// Forecast returns the true series with the model's noise for one seed. It
// does not modify ci.
func (m ErrorModel) Forecast(ci []float64, seed uint64) []float64 {
	f := make([]float64, len(ci))
	copy(f, ci)
	if m.Gaussian == 0 || len(ci) == 0 {
		return f
	}
	var mean float64
	for _, v := range ci {
		mean += v
	}
	sigma := m.Gaussian * mean / float64(len(ci))
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range f {
		f[i] += rng.NormFloat64() * sigma
	}
	return f
}

func (m ErrorModel) seeds() int {
	if m.perfect() {
		return 1
	}
	if m.Seeds <= 0 {
		return DefaultSeeds
	}
	return m.Seeds
}

// Config is one simulation.
type Config struct {
	// Start is the time of the first value of the intensity slice; Step
	// the time between values (zero means DefaultStep). Job times are read
	// against them.
	Start time.Time
	Step  time.Duration
	// Deadline is the rule that gives jobs their spare time, unless a job
	// carries its own deadline.
	Deadline Deadline
	// Interrupting lets every job pause and resume at step boundaries;
	// otherwise only jobs marked Interruptible do.
	Interrupting bool
	// StrictWindow drops Let's Wait Awhile's one-step look-ahead: the
	// window of a job ends at its deadline, not one step after, and the
	// baseline runs exactly at arrival. The zero value reproduces the
	// paper.
	StrictWindow bool
	// Error is the forecast-error model of the policy (and of the
	// baseline, which decides on the same forecast).
	Error ErrorModel
	// Capacity is how many jobs may run in one step; zero means
	// unlimited, jobs independent of each other as in the paper. With a
	// capacity, jobs are planned in arrival order by
	// scheduler.PlanCapacity with Policy, and the baseline is first come,
	// first served at the earliest free steps.
	Capacity int
	Policy   scheduler.CapacityPolicy
	// PowerKW is the power each running job draws; zero means 1 kW, so
	// that the emissions read in grams per kW.
	PowerKW float64
}

// Result is what a simulation found. Emissions are in grams of CO2e,
// counted on the true series; figures under a forecast error are means over
// the seeds.
type Result struct {
	Jobs      int // jobs simulated
	Skipped   int // jobs arriving outside the series, left out
	Truncated int // jobs running past the end of the series, counted to its end
	// ActiveJobSteps is the number of job-steps the baseline runs.
	ActiveJobSteps int

	// BaselineGrams is the carbon-agnostic baseline: every job runs at
	// arrival, without pauses, even when the policy interrupts.
	BaselineGrams float64
	PolicyGrams   float64 // the policy on the forecast
	OracleGrams   float64 // the policy on a perfect forecast
	// SavingsPct is 100 × (1 − Policy/Baseline); OracleSavingsPct the
	// same for the oracle, against the same baseline.
	SavingsPct       float64
	OracleSavingsPct float64

	// MeanWait is the mean time from arrival to the first step a job
	// runs, under the policy.
	MeanWait time.Duration
	// DeadlineMisses counts jobs of the policy that could not be placed
	// within the window they were given (deadline plus the look-ahead
	// step), on the worst seed: jobs that run past the series end, and
	// with limited capacity jobs whose window was full when they arrived.
	// Those still run, late, at the earliest free steps, and their
	// emissions count.
	DeadlineMisses int
	// LookAheadLate counts jobs of the policy that end in the look-ahead
	// step, one step after the deadline rule's time, on the worst seed.
	// It is zero with StrictWindow.
	LookAheadLate int
	// PeakActive is the most jobs the policy runs in one step, on the
	// worst seed; never more than Capacity when one is set.
	PeakActive int
}

// job is a Job on the step grid.
type job struct {
	start, length, deadline int // deadline: exclusive end of the allowed steps
	window                  int // exclusive end of the window the policy may use
	interruptible           bool
}

// Run simulates jobs on the true intensities ci (gCO2e/kWh, one value per
// step from cfg.Start) and returns savings of the policy against the
// baseline and the oracle.
func Run(cfg Config, ci []float64, jobs []Job) (Result, error) {
	if cfg.Step <= 0 {
		cfg.Step = DefaultStep
	}
	if cfg.PowerKW == 0 {
		cfg.PowerKW = 1
	}
	if cfg.Capacity < 0 {
		return Result{}, fmt.Errorf("sim: capacity %d: want zero (unlimited) or more", cfg.Capacity)
	}
	if len(ci) == 0 {
		return Result{}, errors.New("sim: empty intensity series")
	}
	for i, v := range ci {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Result{}, fmt.Errorf("sim: intensity %v at step %d: want a finite value ≥ 0", v, i)
		}
	}
	var res Result
	var base, pol []job
	look := 1
	if cfg.StrictWindow {
		look = 0
	}
	n := len(ci)
	for _, j := range jobs {
		off := j.Arrival.Sub(cfg.Start)
		start := int((off + cfg.Step - 1) / cfg.Step) // a job arriving mid-step starts at the next
		if off < 0 || start >= n {
			res.Skipped++
			continue
		}
		length := int((j.Duration + cfg.Step - 1) / cfg.Step)
		if length < 1 {
			length = 1
		}
		oft := cfg.Start.Add(time.Duration(start+length) * cfg.Step)
		finish := j.Deadline
		if finish.IsZero() {
			finish = cfg.Deadline.Finish(oft)
		}
		deadline := start + length + max(0, int(finish.Sub(oft)/cfg.Step))
		intr := cfg.Interrupting || j.Interruptible
		if start+length > n {
			res.Truncated++
		}
		pol = append(pol, job{start: start, length: length, deadline: deadline, window: deadline + look, interruptible: intr})
		// The baseline runs at arrival, without pauses, whatever the
		// policy may do (in the paper's method it may still start one
		// step late when the forecast says that is greener).
		base = append(base, job{start: start, length: length, deadline: start + length, window: start + length + look})
	}
	res.Jobs = len(pol)
	if res.Jobs == 0 {
		return res, errors.New("sim: no job arrives within the intensity series")
	}
	grams := func(active []float64) float64 {
		var e float64
		for k, a := range active {
			e += ci[k] * a
		}
		return e * cfg.PowerKW * cfg.Step.Hours()
	}
	seeds := cfg.Error.seeds()
	baseActive := make([]float64, n)
	polActive := make([]float64, n)
	var waitSteps float64
	for seed := range seeds {
		var fc func(j job) []float64 // the forecast job j is planned on
		if cfg.Error.AR1 != 0 {
			issue := cfg.Error.issuer(ci, uint64(seed))
			fc = func(j job) []float64 { return issue(j.start, j.window) }
		} else {
			f := cfg.Error.Forecast(ci, uint64(seed))
			fc = func(job) []float64 { return f }
		}
		var b, p outcome
		if cfg.Capacity == 0 {
			b = runIndependent(n, fc, base)
			p = runIndependent(n, fc, pol)
		} else {
			var err error
			if b, err = runBaselineCapacity(n, cfg.Capacity, base); err != nil {
				return Result{}, err
			}
			if p, err = runCapacity(n, fc, cfg.Capacity, cfg.Policy, pol); err != nil {
				return Result{}, err
			}
		}
		for k := range n {
			baseActive[k] += b.active[k] / float64(seeds)
			polActive[k] += p.active[k] / float64(seeds)
		}
		waitSteps += p.wait / float64(seeds)
		res.DeadlineMisses = max(res.DeadlineMisses, p.misses)
		res.LookAheadLate = max(res.LookAheadLate, p.late)
		res.PeakActive = max(res.PeakActive, int(slices.Max(p.active)))
		if seed == 0 {
			res.ActiveJobSteps = int(b.steps)
		}
	}
	res.BaselineGrams = grams(baseActive)
	res.PolicyGrams = grams(polActive)
	if cfg.Error.perfect() {
		res.OracleGrams = res.PolicyGrams
	} else {
		oc := cfg
		oc.Error = ErrorModel{}
		o, err := Run(oc, ci, jobs)
		if err != nil {
			return Result{}, err
		}
		res.OracleGrams = o.PolicyGrams
	}
	res.SavingsPct = savings(res.PolicyGrams, res.BaselineGrams)
	res.OracleSavingsPct = savings(res.OracleGrams, res.BaselineGrams)
	res.MeanWait = time.Duration(waitSteps / float64(res.Jobs) * float64(cfg.Step))
	return res, nil
}

func savings(policy, baseline float64) float64 {
	if baseline == 0 {
		return 0
	}
	return 100 * (1 - policy/baseline)
}

// outcome is one schedule of all jobs.
type outcome struct {
	active []float64 // jobs running per step
	steps  float64   // job-steps within the series
	wait   float64   // total steps from arrival to first run
	misses int
	late   int // ended in the look-ahead step
}

func (o *outcome) add(j job, slots []int) {
	if len(slots) == 0 {
		o.misses++
		return
	}
	o.wait += float64(slots[0] - j.start)
	switch last := slots[len(slots)-1]; {
	case last >= j.window:
		o.misses++
	case last >= j.deadline:
		o.late++
	}
	for _, s := range slots {
		o.active[s]++
		o.steps++
	}
}

// runIndependent plans every job on its own, with unlimited capacity, each
// on its forecast fc(j) of n steps.
func runIndependent(n int, fc func(job) []float64, jobs []job) outcome {
	o := outcome{active: make([]float64, n)}
	for _, j := range jobs {
		f := fc(j)
		w := scheduler.Window{Earliest: j.start, Deadline: j.window, Length: j.length}
		var slots []int
		var err error
		if j.interruptible {
			slots, err = scheduler.CheapestSlots(f, w)
		} else {
			var s int
			if s, err = scheduler.BestStart(f, w); err == nil {
				slots = steps(s, j.length)
			}
		}
		if err != nil {
			// The window runs past the end of the series: run at
			// arrival, counted up to the end (the paper's fallback).
			slots = steps(j.start, min(j.length, len(f)-j.start))
			o.misses++
		}
		o.add(j, slots)
	}
	return o
}

func steps(start, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = start + i
	}
	return s
}

func shiftJobs(jobs []job, n int, window func(job) int) []scheduler.ShiftJob {
	sj := make([]scheduler.ShiftJob, len(jobs))
	for i, j := range jobs {
		sj[i] = scheduler.ShiftJob{Window: scheduler.Window{Earliest: j.start, Deadline: min(window(j), n), Length: j.length}, Interruptible: j.interruptible}
	}
	return sj
}

// runCapacity plans the jobs in arrival order with limited capacity. A job
// with no room before its deadline counts as a miss and still runs, late:
// at the earliest free steps after the planned jobs, so that its emissions
// are not lost from the total.
func runCapacity(n int, fc func(job) []float64, capacity int, policy scheduler.CapacityPolicy, jobs []job) (outcome, error) {
	ps, err := scheduler.PlanCapacityFunc(n, func(i int) []float64 { return fc(jobs[i]) }, capacity, shiftJobs(jobs, n, func(j job) int { return j.window }), policy)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{active: make([]float64, n)}
	used := make([]int, n)
	var late []job
	for i, p := range ps {
		if p.Missed {
			late = append(late, jobs[i])
			continue
		}
		for _, s := range p.Slots {
			used[s]++
		}
		o.add(jobs[i], p.Slots)
	}
	for _, j := range late {
		slots := earliestFree(used, capacity, j.start, j.length)
		if slots == nil {
			o.misses++ // no room before the series ends: not counted
			continue
		}
		for _, s := range slots {
			used[s]++
		}
		o.add(j, slots)
	}
	return o, nil
}

// earliestFree returns the first length consecutive steps from start with
// free capacity, or nil.
func earliestFree(used []int, capacity, start, length int) []int {
	run := 0
	for t := start; t < len(used); t++ {
		if used[t] >= capacity {
			run = 0
			continue
		}
		if run++; run == length {
			return steps(t-length+1, length)
		}
	}
	return nil
}

// runBaselineCapacity is first come, first served: each job in arrival
// order takes the earliest free steps, however late, without pauses.
func runBaselineCapacity(n, capacity int, jobs []job) (outcome, error) {
	used := make([]int, n)
	o := outcome{active: make([]float64, n)}
	for _, j := range jobs {
		slots := earliestFree(used, capacity, j.start, j.length)
		for _, s := range slots {
			used[s]++
		}
		if slots != nil {
			o.add(job{start: j.start, length: j.length, deadline: n, window: n}, slots)
		}
	}
	return o, nil
}

// Grid returns the values of s on the step grid from `from`: one value per
// step, taken from the point at from + k×step. Points between grid times
// are ignored (Let's Wait Awhile keeps the :00 and :30 values of a 15-minute
// series). Every grid time up to the last one in s must have a point.
func Grid(s carbon.Series, from time.Time, step time.Duration) ([]float64, error) {
	if step <= 0 {
		return nil, fmt.Errorf("sim: step %v: want a positive step", step)
	}
	var out []float64
	next := from
	for _, p := range s.Points() {
		if p.Time.Before(from) || p.Time.Sub(from)%step != 0 {
			continue
		}
		if !p.Time.Equal(next) {
			return nil, fmt.Errorf("sim: intensity series has no value at %s (next is at %s)", next.Format(time.RFC3339), p.Time.Format(time.RFC3339))
		}
		out = append(out, p.GramsPerKWh)
		next = next.Add(step)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sim: intensity series has no value on the %v grid from %s", step, from.Format(time.RFC3339))
	}
	return out, nil
}

// Nightly is Let's Wait Awhile's Scenario I: one job of one step a day,
// arriving at step Arrival of each of Days days (steps per day PerDay),
// which may move up to Window steps earlier or later.
type Nightly struct {
	Days, PerDay, Arrival, Window int
}

// LWANightly is the paper's Scenario I with a shift window of w steps: a
// 30-minute job at 01:00 on each of 365 days.
func LWANightly(w int) Nightly { return Nightly{Days: 365, PerDay: 48, Arrival: 2, Window: w} }

// MeanIntensity returns the mean true intensity the nightly jobs run at when
// each picks the step of lowest forecast intensity in its window (the
// earliest of equals). A day whose window would start before the series,
// or end after it, runs no job but still counts in the mean, as in the
// paper.
func (nj Nightly) MeanIntensity(ci, forecast []float64) (float64, error) {
	if len(forecast) != len(ci) {
		return 0, errors.New("sim: forecast and intensity differ in length")
	}
	if nj.Days < 1 {
		return 0, errors.New("sim: nightly job needs at least one day")
	}
	var sum float64
	for d := range nj.Days {
		t := d*nj.PerDay + nj.Arrival - nj.Window
		if t < 0 || t+2*nj.Window >= len(ci) {
			continue
		}
		k, err := scheduler.BestStart(forecast, scheduler.Window{Earliest: t, Deadline: t + 2*nj.Window + 1, Length: 1})
		if err != nil {
			return 0, err
		}
		sum += ci[k]
	}
	return sum / float64(nj.Days), nil
}
