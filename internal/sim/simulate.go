package sim

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/scheduler"
)

// Options are the settings of Simulate; the zero Options reproduce Let's
// Wait Awhile's non-interrupting runs with no deadline rule.
type Options struct {
	Deadline     Deadline
	Interrupting bool
	Error        ErrorModel
	Capacity     int // zero: unlimited
	Policy       scheduler.CapacityPolicy
	// Step is the simulation step; zero means DefaultStep.
	Step time.Duration
	// From is the first time simulated; zero means midnight of the day of
	// the earliest arrival (2020-01-01 for the paper's trace), or the
	// first grid time of the series if that is later.
	From time.Time
	// StrictWindow: see Config.
	StrictWindow bool
}

// Simulate reads a carbon-intensity CSV (any format carbon.ParseCSV knows)
// and a job trace (see ParseJobs), and runs them through Run. Errors from
// the files name the file and line.
func Simulate(ctx context.Context, carbonPath, jobsPath string, opts Options) (Result, error) {
	cf, err := os.Open(carbonPath)
	if err != nil {
		return Result{}, err
	}
	defer cf.Close()
	series, _, err := carbon.ParseCSV(cf, carbonPath)
	if err != nil {
		return Result{}, err
	}
	jf, err := os.Open(jobsPath)
	if err != nil {
		return Result{}, err
	}
	defer jf.Close()
	jobs, _, err := ParseJobs(jf, jobsPath)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	cfg, ci, err := Prepare(series, jobs, opts)
	if err != nil {
		return Result{}, err
	}
	return Run(cfg, ci, jobs)
}

// Prepare turns options, a series and jobs into the Config and the
// intensity slice that Run takes.
func Prepare(series carbon.Series, jobs []Job, opts Options) (Config, []float64, error) {
	step := opts.Step
	if step <= 0 {
		step = DefaultStep
	}
	from := opts.From
	if from.IsZero() {
		if len(jobs) == 0 {
			return Config{}, nil, fmt.Errorf("sim: no jobs")
		}
		first := jobs[0].Arrival
		for _, j := range jobs[1:] {
			if j.Arrival.Before(first) {
				first = j.Arrival
			}
		}
		y, m, d := first.Date()
		from = time.Date(y, m, d, 0, 0, 0, 0, first.Location())
		if s := series.Start(); from.Before(s) {
			from = s.Truncate(step)
			if from.Before(s) {
				from = from.Add(step)
			}
		}
	}
	ci, err := Grid(series, from, step)
	if err != nil {
		return Config{}, nil, err
	}
	return Config{
		Start: from, Step: step,
		Deadline: opts.Deadline, Interrupting: opts.Interrupting, StrictWindow: opts.StrictWindow,
		Error: opts.Error, Capacity: opts.Capacity, Policy: opts.Policy,
	}, ci, nil
}
