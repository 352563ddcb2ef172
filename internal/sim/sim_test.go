package sim_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
	"github.com/joule-dev/joule/internal/sim"
)

func day(d, h, m int) time.Time { return time.Date(2020, 6, d, h, m, 0, 0, time.UTC) } // 2020-06-01 is a Monday

func TestDeadlineFinish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule     sim.Deadline
		oft, due time.Time
	}{
		{sim.NextWorkday, day(1, 12, 0), day(1, 12, 0)}, // Monday, in hours
		{sim.NextWorkday, day(1, 17, 0), day(1, 17, 0)}, // 17:00 counts as in hours
		{sim.NextWorkday, day(1, 17, 30), day(2, 9, 0)}, // evening: next day
		{sim.NextWorkday, day(2, 8, 30), day(2, 9, 0)},  // early: same day
		{sim.NextWorkday, day(5, 20, 0), day(6, 9, 0)},  // Friday evening: Saturday 09:00 (the paper's rule)
		{sim.NextWorkday, day(6, 3, 0), day(8, 9, 0)},   // Saturday: Monday
		{sim.NextWorkday, day(7, 12, 0), day(8, 9, 0)},  // Sunday: Monday
		{sim.SemiWeekly, day(1, 9, 0), day(1, 9, 0)},    // Monday 09:00: Monday
		{sim.SemiWeekly, day(1, 9, 30), day(4, 9, 0)},   // Monday after 09:00: Thursday
		{sim.SemiWeekly, day(3, 23, 0), day(4, 9, 0)},   // Wednesday: Thursday
		{sim.SemiWeekly, day(4, 9, 0), day(4, 9, 0)},    // Thursday 09:00: Thursday
		{sim.SemiWeekly, day(4, 9, 30), day(8, 9, 0)},   // Thursday after 09:00: Monday
		{sim.SemiWeekly, day(7, 9, 30), day(8, 9, 0)},   // Sunday: Monday
		{sim.NoDeadline, day(7, 9, 30), day(7, 9, 30)},  // none
	}
	for _, tt := range tests {
		if got := tt.rule.Finish(tt.oft); !got.Equal(tt.due) {
			t.Errorf("%v.Finish(%v) = %v, want %v", tt.rule, tt.oft, got, tt.due)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"none", "next-workday", "semi-weekly"} {
		d, err := sim.ParseDeadline(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDeadline(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := sim.ParseDeadline("weekly"); err == nil {
		t.Error("ParseDeadline(weekly): no error")
	}
	for s, want := range map[string]sim.ErrorModel{"none": {}, "gaussian:0.05": {Gaussian: 0.05}, "ar1:0.1,0.9": {AR1: 0.1, Phi: 0.9}} {
		m, err := sim.ParseErrorModel(s)
		if err != nil || m != want || m.String() != s {
			t.Errorf("ParseErrorModel(%q) = %v, %v, want %v", s, m, err, want)
		}
	}
	if m, err := sim.ParseErrorModel("ar1:0.05"); err != nil || m != (sim.ErrorModel{AR1: 0.05}) || m.String() != "ar1:0.05,0.95" {
		t.Errorf("ParseErrorModel(ar1:0.05) = %v (%s), %v; want the default φ", m, m, err)
	}
	for _, s := range []string{"gaussian:", "gaussian:-1", "ar(1):0.9", "gaussian:NaN", "ar1:", "ar1:-0.1", "ar1:0.1,1", "ar1:0.1,x", "ar1:NaN"} {
		if _, err := sim.ParseErrorModel(s); err == nil {
			t.Errorf("ParseErrorModel(%q): no error", s)
		}
	}
}

func TestErrorModelForecast(t *testing.T) {
	t.Parallel()
	ci := []float64{100, 200, 300, 400}
	m := sim.ErrorModel{Gaussian: 0.1}
	a, b := m.Forecast(ci, 3), m.Forecast(ci, 3)
	if d := gocmp.Diff(a, b); d != "" {
		t.Errorf("same seed, different forecasts (-a +b):\n%s", d)
	}
	if gocmp.Equal(a, m.Forecast(ci, 4)) || gocmp.Equal(a, ci) {
		t.Error("seeds give the same forecast, or no noise")
	}
	if ci[0] != 100 {
		t.Error("Forecast modified the series")
	}
}

// TestRunSmall checks the accounting on a series small enough to work out
// by hand.
func TestRunSmall(t *testing.T) {
	t.Parallel()
	start := day(1, 0, 0)
	ci := []float64{100, 300, 300, 300, 10, 10, 300, 300}
	jobs := []sim.Job{{ID: "a", Arrival: start.Add(30 * time.Minute), Duration: time.Hour, Deadline: start.Add(3 * time.Hour)}}
	cfg := sim.Config{Start: start, StrictWindow: true}
	res, err := sim.Run(cfg, ci, jobs)
	if err != nil {
		t.Fatal(err)
	}
	want := sim.Result{
		Jobs: 1, ActiveJobSteps: 2,
		BaselineGrams: 300, PolicyGrams: 10, OracleGrams: 10,
		SavingsPct: 100 * (1 - 10.0/300), OracleSavingsPct: 100 * (1 - 10.0/300),
		MeanWait: 90 * time.Minute, PeakActive: 1,
	}
	if d := gocmp.Diff(want, res); d != "" {
		t.Errorf("Run (-want +got):\n%s", d)
	}
	// Capacity 1 with two identical jobs: the second waits for the first.
	jobs = append(jobs, sim.Job{ID: "b", Arrival: jobs[0].Arrival, Duration: time.Hour, Deadline: start.Add(4 * time.Hour)})
	cfg.Capacity = 1
	res, err = sim.Run(cfg, ci, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeadlineMisses != 0 || res.PolicyGrams != 10+300 || res.BaselineGrams != 300+155 {
		t.Errorf("capacity 1: %+v", res)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	start := day(1, 0, 0)
	job := []sim.Job{{Arrival: start, Duration: time.Hour}}
	for name, tc := range map[string]struct {
		cfg  sim.Config
		ci   []float64
		jobs []sim.Job
	}{
		"empty series":      {sim.Config{Start: start}, nil, job},
		"negative value":    {sim.Config{Start: start}, []float64{1, -1}, job},
		"NaN":               {sim.Config{Start: start}, []float64{1, math.NaN()}, job},
		"negative capacity": {sim.Config{Start: start, Capacity: -1}, []float64{1, 2}, job},
		"no job in series":  {sim.Config{Start: start.Add(time.Hour)}, []float64{1, 2}, job},
	} {
		if _, err := sim.Run(tc.cfg, tc.ci, tc.jobs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestCapacityOnLWA runs the paper's trace with capacity for a third of
// its peak: never more jobs at once than the capacity, and the policies
// still save carbon against first come, first served.
func TestCapacityOnLWA(t *testing.T) {
	t.Parallel()
	in := mustLWA(t)
	cfg := in.cfg
	cfg.Deadline = sim.NextWorkday
	free, err := sim.Run(cfg, in.ci, in.jobs)
	if err != nil {
		t.Fatal(err)
	}
	capacity := free.PeakActive / 3
	for _, policy := range []scheduler.CapacityPolicy{scheduler.Greedy, scheduler.CarbonPerWait} {
		cfg.Capacity, cfg.Policy = capacity, policy
		res, err := sim.Run(cfg, in.ci, in.jobs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("capacity %d (peak unlimited %d), %v: savings %.3f %%, misses %d, mean wait %v", capacity, free.PeakActive, policy, res.SavingsPct, res.DeadlineMisses, res.MeanWait)
		if res.PeakActive > capacity {
			t.Errorf("%v: %d jobs at once, capacity %d", policy, res.PeakActive, capacity)
		}
		if res.SavingsPct <= 0 {
			t.Errorf("%v: savings %.3f %%", policy, res.SavingsPct)
		}
	}
}

func TestSimulate(t *testing.T) {
	t.Parallel()
	res, err := sim.Simulate(t.Context(), gerCI, mlJobs, sim.Options{Deadline: sim.SemiWeekly})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.SavingsPct-14.1302) > 0.01 {
		t.Errorf("Simulate semi-weekly savings = %.4f, want 14.1302", res.SavingsPct)
	}
	if _, err := sim.Simulate(t.Context(), gerCI, "testdata/missing.csv", sim.Options{}); err == nil {
		t.Error("missing jobs file: no error")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := sim.Simulate(ctx, gerCI, mlJobs, sim.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestParseJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, format string
		want             []sim.Job
	}{
		{"lwa", "job_id,arrival_time,arrival_minute,duration_minutes\n0,2020-01-01 09:30:00,570,3180\n", sim.FormatLWA,
			[]sim.Job{{ID: "0", Arrival: time.Date(2020, 1, 1, 9, 30, 0, 0, time.UTC), Duration: 53 * time.Hour}}},
		{"canonical", "id,arrival,duration,deadline,interruptible\na,2024-03-01T10:00:00Z,90m,2024-03-02 09:00,true\nb,2024-03-01 11:00,2h,,\n", sim.FormatCanonical,
			[]sim.Job{
				{ID: "a", Arrival: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), Duration: 90 * time.Minute, Deadline: time.Date(2024, 3, 2, 9, 0, 0, 0, time.UTC), Interruptible: true},
				{ID: "b", Arrival: time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC), Duration: 2 * time.Hour},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, format, err := sim.ParseJobs(strings.NewReader(tt.in), "jobs.csv")
			if err != nil || format != tt.format {
				t.Fatalf("ParseJobs = %v, %q, %v", got, format, err)
			}
			if d := gocmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseJobs (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseJobsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"empty", "", "jobs.csv: empty file"},
		{"header", "a,b\n", "jobs.csv:1: unknown header"},
		{"no rows", "id,arrival,duration\n", "jobs.csv: no jobs"},
		{"bad time", "id,arrival,duration\na,2024-03-01,1h\n", `jobs.csv:2: bad time "2024-03-01"`},
		{"bad duration", "id,arrival,duration\na,2024-03-01 10:00,-1h\n", "jobs.csv:2: bad duration"},
		{"deadline early", "id,arrival,duration,deadline\na,2024-03-01 10:00,2h,2024-03-01 11:00\n", "jobs.csv:2: deadline"},
		{"interruptible", "id,arrival,duration,interruptible\na,2024-03-01 10:00,2h,maybe\n", "jobs.csv:2: bad interruptible"},
		{"lwa minutes", "job_id,arrival_time,arrival_minute,duration_minutes\n0,2020-01-01 09:30:00,570,0\n1,2020-01-01 09:30:00,570,x\n", "jobs.csv:2: bad duration_minutes"},
		{"fields", "id,arrival,duration\na,2024-03-01 10:00\n", "jobs.csv:2: wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := sim.ParseJobs(strings.NewReader(tt.in), "jobs.csv")
			var je *joule.Error
			var pe *sim.ParseError
			if err == nil || !errors.As(err, &je) || je.Code != joule.EINVALID || !errors.As(err, &pe) || !strings.HasPrefix(pe.Error(), tt.want) {
				t.Errorf("ParseJobs(%q) error = %v, want EINVALID %q…", tt.in, err, tt.want)
			}
		})
	}
}

func FuzzParseJobs(f *testing.F) {
	f.Add("job_id,arrival_time,arrival_minute,duration_minutes\n0,2020-01-01 09:30:00,570,3180\n")
	f.Add("id,arrival,duration,deadline,interruptible\na,2024-03-01T10:00:00Z,90m,2024-03-02 09:00,true\n")
	f.Add("id,arrival,duration\n\"a\nb\",2024-03-01 10:00,1h\n")
	f.Fuzz(func(t *testing.T, in string) {
		jobs, format, err := sim.ParseJobs(strings.NewReader(in), "f.csv")
		if err != nil {
			var pe *sim.ParseError
			if !errors.As(err, &pe) || pe.Name != "f.csv" || pe.Line < 0 {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		if len(jobs) == 0 || (format != sim.FormatLWA && format != sim.FormatCanonical) {
			t.Fatalf("ParseJobs = %d jobs, %q", len(jobs), format)
		}
		for _, j := range jobs {
			if j.Duration <= 0 || (!j.Deadline.IsZero() && j.Deadline.Before(j.Arrival.Add(j.Duration))) {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}
