package cli

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

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
how many jobs run at once, with --policy greedy, carbon-per-wait or replan.`,
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
			case "replan":
				opts.Policy = scheduler.Replan
			default:
				return joule.Errorf(joule.EINVALID, "--policy: %q is not one of greedy, carbon-per-wait, replan", policy)
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
	f.StringVar(&policy, "policy", "greedy", "with --capacity: greedy, carbon-per-wait or replan (greedy, re-planning waiting jobs by deadline when an arrival would miss)")
	cmd.AddCommand(m.simClusterCommand(), m.simElasticCommand())
	return cmd
}

func (m *Main) simClusterCommand() *cobra.Command {
	var nodes, cores int
	var load float64
	var days int
	var seed uint64
	var idleAfter, minDwell, meanJob time.Duration
	var idleW, sleepW, coreW float64
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Simulate consolidation: idle node-hours and the energy power-state hooks save",
		Long: `sim cluster replays a generated workload (Poisson arrivals, exponential run
times, 1 to cores/2 cores per job) on identical nodes, minute by minute,
placing jobs with the dispatcher's own placement (best fit, which packs
work), twice: with every node always awake, and with the power policy of
joule up --on-idle (idle nodes sleep after --idle-after, stay awake at
least --min-dwell, one node always awake, woken at once for queued work).
It prints idle and sleeping node-hours and the energy saved.

The power figures are assumptions you give (--idle-watts, --sleep-watts,
--core-watts), not measurements; the output says so.`,
		Example: `  joule sim cluster --nodes 4 --cores 8 --load 0.3 --days 7
  joule sim cluster --nodes 16 --load 0.2 --idle-after 5m --min-dwell 1h -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case nodes < 1 || nodes > 10000:
				return joule.Errorf(joule.EINVALID, "--nodes: %d is outside 1 to 10000", nodes)
			case cores < 1 || cores > 1024:
				return joule.Errorf(joule.EINVALID, "--cores: %d is outside 1 to 1024", cores)
			case !(load > 0 && load < 1):
				return joule.Errorf(joule.EINVALID, "--load: %v is not a fraction between 0 and 1", load)
			case days < 1 || days > 366:
				return joule.Errorf(joule.EINVALID, "--days: %d is outside 1 to 366", days)
			case idleAfter <= 0 || minDwell <= 0 || meanJob < time.Minute:
				return joule.Errorf(joule.EINVALID, "--idle-after and --min-dwell must be positive, --mean-job at least 1m")
			case idleW < 0 || sleepW < 0 || coreW < 0 || sleepW > idleW:
				return joule.Errorf(joule.EINVALID, "power: watts must not be negative, and --sleep-watts must not exceed --idle-watts")
			}
			jobs := sim.ClusterLoad(seed, nodes, cores, load, time.Duration(days)*24*time.Hour, meanJob)
			cfg := sim.ClusterConfig{Nodes: nodes, Cores: cores, IdleWatts: idleW, SleepWatts: sleepW, CoreWatts: coreW}
			on, err := sim.SimulateCluster(cfg, jobs)
			if err != nil {
				return err
			}
			cfg.Power = &scheduler.PowerPolicy{IdleAfter: idleAfter, MinDwell: minDwell}
			off, err := sim.SimulateCluster(cfg, jobs)
			if err != nil {
				return err
			}
			type run struct {
				IdleNodeHours   float64 `json:"idle_node_hours"`
				AsleepNodeHours float64 `json:"asleep_node_hours"`
				BusyNodeHours   float64 `json:"busy_node_hours"`
				EnergyKWh       float64 `json:"energy_kwh"`
				Sleeps          int     `json:"sleeps"`
				Wakes           int     `json:"wakes"`
				MeanWaitSeconds float64 `json:"mean_wait_seconds"`
				MaxWaitSeconds  float64 `json:"max_wait_seconds"`
			}
			conv := func(r sim.ClusterResult) run {
				return run{r.IdleNodeHours, r.AsleepNodeHours, r.BusyNodeHours, r.EnergyKWh, r.Sleeps, r.Wakes, r.MeanWait.Seconds(), r.MaxWait.Seconds()}
			}
			saved := on.EnergyKWh - off.EnergyKWh
			out := struct {
				Jobs        int     `json:"jobs"`
				Utilisation float64 `json:"utilisation"`
				AlwaysOn    run     `json:"always_on"`
				PowerHooks  run     `json:"power_hooks"`
				SavedKWh    float64 `json:"saved_kwh"`
				SavedPct    float64 `json:"saved_pct"`
				Method      string  `json:"method"`
			}{on.Jobs, on.Utilisation, conv(on), conv(off), saved, 100 * saved / on.EnergyKWh,
				fmt.Sprintf("simulated: assumed %g W idle, %g W asleep, %g W per busy core", idleW, sleepW, coreW)}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "Cluster:", fmt.Sprintf("%d nodes × %d cores, %d jobs over %d days, utilisation %.1f%%", nodes, cores, on.Jobs, days, 100*on.Utilisation))
				row(tw, "", "ALWAYS ON", "POWER HOOKS")
				row(tw, "Idle node-hours:", fmt.Sprintf("%.1f", on.IdleNodeHours), fmt.Sprintf("%.1f", off.IdleNodeHours))
				row(tw, "Asleep node-hours:", "0", fmt.Sprintf("%.1f", off.AsleepNodeHours))
				row(tw, "Energy:", fmt.Sprintf("%.2f kWh", on.EnergyKWh), fmt.Sprintf("%.2f kWh", off.EnergyKWh))
				row(tw, "Sleeps / wakes:", "-", fmt.Sprintf("%d / %d", off.Sleeps, off.Wakes))
				row(tw, "Mean wait (max):", fmt.Sprintf("%s (%s)", on.MeanWait.Round(time.Second), on.MaxWait), fmt.Sprintf("%s (%s)", off.MeanWait.Round(time.Second), off.MaxWait))
				row(tw, "Saved:", fmt.Sprintf("%.2f kWh (%.1f%%)", saved, 100*saved/on.EnergyKWh))
				row(tw, "Method:", out.Method)
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&nodes, "nodes", 4, "identical nodes")
	f.IntVar(&cores, "cores", 8, "CPU cores per node")
	f.Float64Var(&load, "load", 0.3, "mean utilisation of the cluster's cores, 0 to 1")
	f.IntVar(&days, "days", 7, "days of work to generate")
	f.Uint64Var(&seed, "seed", 1, "seed of the generated workload")
	f.DurationVar(&meanJob, "mean-job", 30*time.Minute, "mean run time of a job")
	f.DurationVar(&idleAfter, "idle-after", scheduler.DefaultIdleAfter, "idle time before a node sleeps")
	f.DurationVar(&minDwell, "min-dwell", scheduler.DefaultMinDwell, "least time a node stays awake before sleeping again")
	f.Float64Var(&idleW, "idle-watts", 100, "assumed power of an idle node")
	f.Float64Var(&sleepW, "sleep-watts", 5, "assumed power of a sleeping node")
	f.Float64Var(&coreW, "core-watts", 10, "assumed extra power of each busy core")
	return cmd
}

func (m *Main) simElasticCommand() *cobra.Command {
	var carbonPath, profilePath string
	var workHours float64
	var deadline, every time.Duration
	var base, maxR int
	cmd := &cobra.Command{
		Use:   "elastic --carbon FILE --profile FILE",
		Short: "Replay an elastic job (a scaling profile) with CarbonScaler's greedy against its baselines",
		Long: `sim elastic replays an elastic job — one that can run on 1…N replicas, with
the throughput and power of each count in a CarbonScaler profile CSV (nodes,
throughput,power) — on an hourly carbon-intensity series, starting every
--every, each job needing --work-hours of work at --base replicas and due
--deadline after it starts. It compares CarbonScaler's greedy marginal
allocation (replicas per hour by extra throughput per extra gram) with
three baselines on the same work: carbon-agnostic (--base replicas from the
start), suspend-resume at --base replicas in the greenest hours, and the
best static scale (suspend-resume at whichever replica count emits least).
Power is the profile's; the intensity the series'.`,
		Example: `  joule sim elastic --carbon internal/carbon/testdata/ger_ci.csv \
    --profile internal/sim/testdata/carbonscaler-nbody100k.csv --work-hours 24 --deadline 48h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case carbonPath == "" || profilePath == "":
				return joule.Errorf(joule.EINVALID, "--carbon and --profile are required")
			case !(workHours > 0):
				return joule.Errorf(joule.EINVALID, "--work-hours: %v is not a positive number of hours", workHours)
			case deadline < time.Hour || every < time.Hour:
				return joule.Errorf(joule.EINVALID, "--deadline and --every must be at least 1h")
			}
			ci, err := sim.ReadHourly(carbonPath)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "--carbon: %v", err)
			}
			pf, err := os.Open(profilePath)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "--profile: %v", err)
			}
			defer pf.Close()
			profile, err := sim.ParseScalingProfile(pf, profilePath)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "--profile: %v", err)
			}
			if base < 1 || base >= len(profile) {
				return joule.Errorf(joule.EINVALID, "--base: %d replicas: the profile has 1 to %d", base, len(profile)-1)
			}
			d := int(deadline / time.Hour)
			var starts []int
			for s := 0; s+d <= len(ci); s += int(every / time.Hour) {
				starts = append(starts, s)
			}
			r, err := sim.RunElastic(sim.ElasticConfig{Profile: profile, Work: workHours * profile[base].Throughput, Deadline: d,
				BaseReplicas: base, MaxReplicas: maxR, Starts: starts}, ci)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "%v", err)
			}
			out := struct {
				Jobs           int     `json:"jobs"`
				AgnosticG      float64 `json:"agnostic_grams"`
				SuspendResumeG float64 `json:"suspend_resume_grams"`
				BestStaticG    float64 `json:"best_static_grams"`
				CarbonScalerG  float64 `json:"carbonscaler_grams"`
				VsAgnosticPct  float64 `json:"vs_agnostic_pct"`
				VsSuspendPct   float64 `json:"vs_suspend_resume_pct"`
				VsBestPct      float64 `json:"vs_best_static_pct"`
				MeanReplicas   float64 `json:"mean_replicas"`
			}{r.Jobs, r.AgnosticG, r.SuspendResumeG, r.BestStaticG, r.CarbonScalerG, r.VsAgnosticPct, r.VsSuspendPct, r.VsBestPct, r.MeanReplicas}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "Jobs:", r.Jobs)
				row(tw, "Carbon-agnostic:", fmt.Sprintf("%.1f kg CO2e (%d replicas from the start)", r.AgnosticG/1000, base))
				row(tw, "Suspend-resume:", fmt.Sprintf("%.1f kg CO2e (%d replicas, greenest hours)", r.SuspendResumeG/1000, base))
				row(tw, "Best static scale:", fmt.Sprintf("%.1f kg CO2e", r.BestStaticG/1000))
				row(tw, "CarbonScaler greedy:", fmt.Sprintf("%.1f kg CO2e (mean %.2f replicas when running)", r.CarbonScalerG/1000, r.MeanReplicas))
				row(tw, "Saved:", fmt.Sprintf("%.1f%% vs agnostic, %.1f%% vs suspend-resume, %.1f%% vs best static", r.VsAgnosticPct, r.VsSuspendPct, r.VsBestPct))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&carbonPath, "carbon", "", "carbon-intensity series (CSV), read on an hourly grid")
	f.StringVar(&profilePath, "profile", "", "scaling profile CSV: nodes,throughput,power")
	f.Float64Var(&workHours, "work-hours", 24, "work per job, in hours at --base replicas")
	f.DurationVar(&deadline, "deadline", 48*time.Hour, "each job is due this long after it starts")
	f.DurationVar(&every, "every", 24*time.Hour, "a job starts this often through the series")
	f.IntVar(&base, "base", 1, "the baselines' replica count")
	f.IntVar(&maxR, "max", 0, "most replicas CarbonScaler may use (0: the profile's maximum)")
	return cmd
}
