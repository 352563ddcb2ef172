package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
	"github.com/joule-dev/joule/internal/sim"
)

func (m *Main) simCommand() *cobra.Command {
	var carbonPath, jobsPath, deadline, errModel, policy string
	var interrupting bool
	var capacity int
	cmd := &cobra.Command{
		Use:   "sim --carbon FILE --jobs FILE",
		Short: "Replay a carbon-intensity series and a job trace through the time-shifting policies",
		Long: `sim answers "what would shifting flexible work have saved on this history?"
offline, with the same policy code the scheduler uses. It replays a
carbon-intensity series (timestamp,gCO2e/kWh; the formats of Let's Wait
Awhile, Electricity Maps exports, or the canonical two columns) and a job
trace, and prints the emissions of the carbon-agnostic baseline (every job
at arrival), of the policy on the (possibly noisy) forecast, and of the
oracle with a perfect forecast, with the mean wait and deadline misses.

Deadlines: next-workday (by 09:00 the next working day) or semi-weekly (by
Monday or Thursday 09:00). --error gaussian:0.05 adds iid Gaussian forecast
error of 5% of the series mean (averaged over 10 seeds); --error ar1:0.1
adds an error that grows with the lead time, AR(1) with φ 0.95 per step
(ar1:0.1,0.9 sets φ), towards 10% of the mean, each job planned on the
forecast issued at its arrival. --capacity N limits
how many jobs run at once, with --policy greedy or carbon-per-wait.`,
		Example: `  joule sim --carbon ger_ci.csv --jobs lets-wait-awhile-ml-jobs.csv --deadline next-workday
  joule sim --carbon ger_ci.csv --jobs trace.csv --deadline semi-weekly --interrupting -o json
  joule sim --carbon ger_ci.csv --jobs trace.csv --capacity 13 --policy carbon-per-wait
  joule sim --carbon ger_ci.csv --jobs lets-wait-awhile-ml-jobs.csv --error ar1:0.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if carbonPath == "" || jobsPath == "" {
				return joule.Errorf(joule.EINVALID, "--carbon and --jobs are required")
			}
			var opts sim.Options
			var err error
			if opts.Deadline, err = sim.ParseDeadline(deadline); err != nil {
				return joule.Errorf(joule.EINVALID, "--deadline: %s", joule.ErrorMessage(err))
			}
			if opts.Error, err = sim.ParseErrorModel(errModel); err != nil {
				return joule.Errorf(joule.EINVALID, "--error: %s", joule.ErrorMessage(err))
			}
			switch policy {
			case "greedy", "":
				opts.Policy = scheduler.Greedy
			case "carbon-per-wait":
				opts.Policy = scheduler.CarbonPerWait
			default:
				return joule.Errorf(joule.EINVALID, "--policy: %q is not one of greedy, carbon-per-wait", policy)
			}
			if capacity < 0 {
				return joule.Errorf(joule.EINVALID, "--capacity: must not be negative")
			}
			opts.Capacity, opts.Interrupting = capacity, interrupting
			r, err := sim.Simulate(cmd.Context(), carbonPath, jobsPath, opts)
			if err != nil {
				return err
			}
			out := struct {
				Jobs             int     `json:"jobs"`
				Skipped          int     `json:"skipped"`
				Truncated        int     `json:"truncated"`
				ActiveJobSteps   int     `json:"active_job_steps"`
				BaselineGrams    float64 `json:"baseline_grams"`
				PolicyGrams      float64 `json:"policy_grams"`
				OracleGrams      float64 `json:"oracle_grams"`
				SavingsPct       float64 `json:"savings_pct"`
				OracleSavingsPct float64 `json:"oracle_savings_pct"`
				MeanWaitSeconds  float64 `json:"mean_wait_seconds"`
				DeadlineMisses   int     `json:"deadline_misses"`
				LookAheadLate    int     `json:"look_ahead_late"`
				PeakActive       int     `json:"peak_active"`
			}{r.Jobs, r.Skipped, r.Truncated, r.ActiveJobSteps, r.BaselineGrams, r.PolicyGrams, r.OracleGrams,
				r.SavingsPct, r.OracleSavingsPct, r.MeanWait.Seconds(), r.DeadlineMisses, r.LookAheadLate, r.PeakActive}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "Jobs:", fmt.Sprintf("%d (%d outside the series, %d truncated at its end)", r.Jobs, r.Skipped, r.Truncated))
				row(tw, "Active job-steps (baseline):", r.ActiveJobSteps)
				row(tw, "Baseline emissions:", fmt.Sprintf("%.1f kg CO2e (every job at arrival)", r.BaselineGrams/1000))
				row(tw, "Policy emissions:", fmt.Sprintf("%.1f kg CO2e", r.PolicyGrams/1000))
				row(tw, "Savings:", fmt.Sprintf("%.4f%%", r.SavingsPct))
				row(tw, "Oracle savings (perfect forecast):", fmt.Sprintf("%.4f%%", r.OracleSavingsPct))
				row(tw, "Mean wait:", r.MeanWait.Round(1e9))
				row(tw, "Deadline misses:", r.DeadlineMisses)
				if capacity > 0 {
					row(tw, "Peak running at once:", fmt.Sprintf("%d (capacity %d)", r.PeakActive, capacity))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&carbonPath, "carbon", "", "carbon-intensity series (CSV)")
	f.StringVar(&jobsPath, "jobs", "", "job trace (CSV)")
	f.StringVar(&deadline, "deadline", "next-workday", "deadline rule: next-workday, semi-weekly or none")
	f.StringVar(&errModel, "error", "none", "forecast error: none, gaussian:FRACTION or ar1:FRACTION[,PHI]")
	f.BoolVar(&interrupting, "interrupting", false, "jobs may pause and resume (run in the cheapest steps)")
	f.IntVar(&capacity, "capacity", 0, "jobs that may run at once (0: unlimited)")
	f.StringVar(&policy, "policy", "greedy", "with --capacity: greedy or carbon-per-wait")
	return cmd
}
