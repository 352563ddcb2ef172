package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// retrainFlags are the retrain policy's flags, on `joule deploy` (with the
// prefix "retrain-") and on `joule deployment retrain`.
type retrainFlags struct {
	prefix          string
	onDrift         bool
	every, cooldown time.Duration
	margin, minAcc  float64
	maxRMSE         float64
	metric          string
}

func (r *retrainFlags) add(cmd *cobra.Command, prefix string) {
	r.prefix = prefix
	f := cmd.Flags()
	f.BoolVar(&r.onDrift, prefix+"on-drift", false, "retrain when the drift monitor reports drift")
	f.DurationVar(&r.every, prefix+"every", 0, "retrain on this interval, e.g. 24h (0: no schedule)")
	f.Float64Var(&r.margin, prefix+"margin", joule.DefaultRetrainMargin, "how much the candidate must beat the served version by on the metric")
	f.StringVar(&r.metric, prefix+"metric", "", "metric the candidate is judged on (default accuracy for classifiers, rmse for regressors)")
	f.Float64Var(&r.minAcc, prefix+"min-accuracy", 0, "retrain when live accuracy on feedback falls below this (classifiers)")
	f.Float64Var(&r.maxRMSE, prefix+"max-rmse", 0, "retrain when live RMSE on feedback rises above this (regressors)")
	f.DurationVar(&r.cooldown, prefix+"cooldown", joule.DefaultRetrainCooldown, "ignore automatic triggers for this long after a retrain starts")
}

// apply sets the flags given on p and reports whether any was.
func (r *retrainFlags) apply(cmd *cobra.Command, p *joule.RetrainPolicy) bool {
	f := cmd.Flags()
	changed := false
	set := func(name string, fn func()) {
		if f.Changed(r.prefix + name) {
			fn()
			changed = true
		}
	}
	set("on-drift", func() { p.OnDrift = r.onDrift })
	set("every", func() { p.Every = joule.Duration(r.every) })
	set("margin", func() { p.Margin = r.margin })
	set("metric", func() { p.Metric = r.metric })
	set("min-accuracy", func() { p.MinAccuracy = r.minAcc })
	set("max-rmse", func() { p.MaxRMSE = r.maxRMSE })
	set("cooldown", func() { p.Cooldown = joule.Duration(r.cooldown) })
	return changed
}

// policy is the retrain policy the deploy command's --retrain-*
// flags ask for (nil when none is given).
func (r *retrainFlags) policy(cmd *cobra.Command) *joule.RetrainPolicy {
	var p joule.RetrainPolicy
	if !r.apply(cmd, &p) {
		return nil
	}
	return &p
}

func (m *Main) deploymentRetrainCommand() *cobra.Command {
	var flags retrainFlags
	var reason string
	var wait, clear bool
	cmd := &cobra.Command{
		Use:   "retrain NAME [--reason R] [--wait] [policy flags | --clear]",
		Short: "Retrain a deployment's model now, or set its retrain policy (audited)",
		Long: `retrain NAME starts a retrain now: a train job repeats the served version's
training spec on the newest version of its dataset; the candidate and the
served version are scored on the candidate's holdout rows; the candidate is
promoted (registry stage production, and the deployment serves it) if it beats
the served version by the policy's margin, else it stays in staging. Every step
is a retrain event (joule deployment lifecycle NAME).

With policy flags, retrain NAME sets the deployment's retrain policy instead
(flags not given keep their current value); --clear removes it.`,
		Example: `  joule deployment retrain credit --reason "new labels arrived" --wait
  joule deployment retrain credit --on-drift --every 24h --margin 0.01 --metric roc_auc
  joule deployment retrain credit --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if clear {
				d, err := c.SetRetrainPolicy(ctx, ws, args[0], nil)
				if err != nil {
					return err
				}
				return m.print(d, func(tw *tabwriter.Writer) { row(tw, "Retrain policy of", d.Name+":", d.Retrain.Describe()) })
			}
			var p joule.RetrainPolicy
			h, err := c.DeploymentLifecycle(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if h.Policy != nil {
				p = *h.Policy
			}
			if flags.apply(cmd, &p) {
				d, err := c.SetRetrainPolicy(ctx, ws, args[0], &p)
				if err != nil {
					return err
				}
				return m.print(d, func(tw *tabwriter.Writer) { row(tw, "Retrain policy of", d.Name+":", d.Retrain.Describe()) })
			}
			st, err := c.RetrainDeployment(ctx, ws, args[0], reason)
			if err != nil {
				return err
			}
			if !wait {
				return m.print(st, func(tw *tabwriter.Writer) {
					row(tw, "Retrain of", args[0], "started:", st.State)
					row(tw, "Follow it with:", "joule deployment lifecycle "+args[0])
				})
			}
			st, err = m.followRetrain(ctx, c, ws, args[0], st)
			if err != nil {
				return err
			}
			if err := m.print(st, func(tw *tabwriter.Writer) { lifecycleTable(tw, st) }); err != nil {
				return err
			}
			if st.LastOutcome == joule.RetrainFailed {
				return joule.Errorf(joule.EINVALID, "retrain failed: %s", st.LastReason)
			}
			return nil
		},
	}
	flags.add(cmd, "")
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why, recorded with the trigger")
	f.BoolVar(&wait, "wait", false, "wait for the outcome and print it")
	f.BoolVar(&clear, "clear", false, "remove the retrain policy")
	return cmd
}

// followRetrain waits until the retrain started as st has an outcome,
// reporting its states on stderr.
func (m *Main) followRetrain(ctx context.Context, c *httpapi.Client, ws, name string, st joule.LifecycleStatus) (joule.LifecycleStatus, error) {
	started := st.LastTrigger
	last := ""
	for {
		if st.State != last {
			last = st.State
			job := ""
			if st.LastJob != "" {
				job = " (job " + st.LastJob + ")"
			}
			fmt.Fprintf(m.Stderr, "retrain %s: %s%s\n", name, st.State, job)
		}
		if st.State == joule.LifecycleIdle && st.LastTrigger != nil && started != nil && !st.LastTrigger.Time.Before(started.Time) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		h, err := c.DeploymentLifecycle(ctx, ws, name)
		if err != nil {
			return st, err
		}
		st = h.Status
	}
}

func (m *Main) deploymentLifecycleCommand() *cobra.Command {
	return &cobra.Command{
		Use: "lifecycle NAME", Short: "A deployment's retrain policy, the retraining loop's state and its history", Args: cobra.ExactArgs(1),
		Example: "  joule deployment lifecycle credit\n  joule deployment lifecycle credit -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			h, err := c.DeploymentLifecycle(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(h, func(tw *tabwriter.Writer) {
				row(tw, "Deployment:", fmt.Sprintf("%s, serving %s@%d", h.Deployment, h.Model, h.ModelVersion))
				row(tw, "Policy:", h.Policy.Describe())
				lifecycleTable(tw, h.Status)
				row(tw, "")
				row(tw, "TIME", "KIND", "VERSIONS", "REASON")
				for _, e := range h.History {
					vs := ""
					switch {
					case e.From != 0 && e.To != 0:
						vs = fmt.Sprintf("%d → %d", e.From, e.To)
					case e.From != 0:
						vs = fmt.Sprint(e.From)
					}
					row(tw, fmtTime(e.Time), e.Kind, vs, e.Reason)
				}
			})
		},
	}
}

func lifecycleTable(tw *tabwriter.Writer, st joule.LifecycleStatus) {
	row(tw, "State:", fmt.Sprintf("%s since %s", st.State, fmtTime(st.Since)))
	if t := st.LastTrigger; t != nil {
		row(tw, "Last trigger:", fmt.Sprintf("%s at %s: %s", t.Kind, fmtTime(t.Time), t.Reason))
	}
	if st.LastJob != "" {
		row(tw, "Last job:", st.LastJob)
	}
	if c := st.LastComparison; c != nil {
		row(tw, "Last comparison:", fmt.Sprintf("%s %.4f (version %d) vs %.4f (version %d) on %d holdout rows of %s version %d; gain %+.4f, margin %.4f",
			c.Metric, c.CandidateScore, c.Candidate, c.ProductionScore, c.Production, c.Rows, c.Dataset, c.DatasetVersion, c.Gain, c.Margin))
	}
	if st.LastOutcome != "" {
		row(tw, "Last outcome:", st.LastOutcome+": "+st.LastReason)
	}
	if st.CooldownUntil != nil {
		row(tw, "Cooldown until:", fmtTime(*st.CooldownUntil))
	}
	if st.Ignored > 0 {
		row(tw, "Ignored triggers:", st.Ignored)
	}
	if st.NextScheduled != nil {
		row(tw, "Next scheduled:", fmtTime(*st.NextScheduled))
	}
}
