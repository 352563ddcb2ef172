package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

// deploymentTrafficCommands are the canary, shadow, promote, rollback and
// history subcommands of `joule deployment`.
func (m *Main) deploymentTrafficCommands() []*cobra.Command {
	return []*cobra.Command{m.trafficCommand(), m.promoteDeploymentCommand(), m.rollbackCommand(), m.historyCommand(), m.deploymentTokenCommand()}
}

func (m *Main) trafficCommand() *cobra.Command {
	var canary, shadow int
	var percent, shadowPercent float64
	var clearCanary, clearShadow bool
	cmd := &cobra.Command{
		Use:   "traffic NAME [--canary VERSION --percent P] [--shadow VERSION] [--clear-canary] [--clear-shadow]",
		Short: "Split traffic: a canary version takes a share of requests; a shadow version sees copies (audited)",
		Long: `traffic sets how a deployment's requests reach its model versions.

A canary takes --percent of the requests (exactly: every request adds the
share to a credit, and each whole credit sends one request to the canary).
Its answers go to the client; the response's model_version says which
version answered. A shadow gets a copy of --shadow-percent of the requests
(default all) in the background: its answers are compared with the served
ones (agreement, mean absolute difference) and discarded, and a busy shadow
drops copies rather than slow the served request.

Each version has its own replicas, sized by the autoscaler from its own
load; a canary or shadow keeps at most one replica warm by --min. Watch the
split in 'joule deployment get NAME', then 'joule deployment promote NAME'
or 'joule deployment rollback NAME'.`,
		Example: `  joule deployment traffic credit --canary 3 --percent 10
  joule deployment traffic credit --shadow 4
  joule deployment traffic credit --clear-shadow`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req joule.TrafficRequest
			fl := cmd.Flags()
			if fl.Changed("canary") {
				if !fl.Changed("percent") {
					return joule.Errorf(joule.EINVALID, "--percent: required with --canary (the share of requests the canary takes, e.g. 10)")
				}
				req.Canary = &joule.DeploymentCanary{ModelVersion: canary, Percent: percent}
			} else if fl.Changed("percent") {
				return joule.Errorf(joule.EINVALID, "--percent: give --canary VERSION too")
			}
			if fl.Changed("shadow") {
				req.Shadow = &joule.DeploymentShadow{ModelVersion: shadow, Percent: shadowPercent}
			}
			req.ClearCanary, req.ClearShadow = clearCanary, clearShadow
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.TrafficDeployment(cmd.Context(), ws, args[0], req)
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { deploymentTable(tw, d) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&canary, "canary", 0, "model version that takes a share of the requests")
	f.Float64Var(&percent, "percent", 0, "the canary's share of requests, between 0 and 100")
	f.IntVar(&shadow, "shadow", 0, "model version that gets copies of requests, its answers compared and discarded")
	f.Float64Var(&shadowPercent, "shadow-percent", 0, "share of requests copied to the shadow (default 100)")
	f.BoolVar(&clearCanary, "clear-canary", false, "remove the canary")
	f.BoolVar(&clearShadow, "clear-shadow", false, "remove the shadow")
	return cmd
}

func (m *Main) promoteDeploymentCommand() *cobra.Command {
	var req joule.PromoteRequest
	cmd := &cobra.Command{
		Use:   "promote NAME [--version N] [--reason TEXT]",
		Short: "Make a version the deployment's primary: the canary's by default (audited)",
		Long: `promote sends every request to a version. Without --version it promotes
the canary, whose warm replicas carry on serving. The version served before is
remembered: 'joule deployment rollback NAME' returns to it.`,
		Example: `  joule deployment promote credit
  joule deployment promote credit --version 3 --reason "wins on the March holdout"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.PromoteDeployment(cmd.Context(), ws, args[0], req)
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { deploymentTable(tw, d) })
		},
	}
	cmd.Flags().IntVar(&req.ModelVersion, "version", 0, "version to promote (default: the canary's)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, recorded in the deployment's events")
	return cmd
}

func (m *Main) rollbackCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback NAME [--reason TEXT]",
		Short: "Remove the canary, or go back to the version before the latest promote (audited)",
		Long: `rollback takes effect for the next request. With a canary, it removes the
canary and every request goes to the primary. Without one, it returns to the
version served before the latest promote. With neither, it fails (409).`,
		Example: `  joule deployment rollback credit --reason "p99 doubled on the canary"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.RollbackDeployment(cmd.Context(), ws, args[0], reason)
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { deploymentTable(tw, d) })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the deployment's events")
	return cmd
}

func (m *Main) historyCommand() *cobra.Command {
	var last int
	cmd := &cobra.Command{
		Use:     "history NAME [--last N]",
		Short:   "A deployment's recent seconds: RPS, latency p50/p95/p99, errors, in flight, replicas",
		Example: "  joule deployment history credit --last 30",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			h, err := c.DeploymentHistory(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			if last > 0 && len(h) > last {
				h = h[len(h)-last:]
			}
			return m.print(h, func(tw *tabwriter.Writer) {
				row(tw, "TIME", "RPS", "P50 MS", "P95 MS", "P99 MS", "ERRORS", "IN FLIGHT", "REPLICAS")
				for _, p := range h {
					row(tw, fmtTime(p.Time), fmt.Sprintf("%.1f", p.RPS), fmt.Sprintf("%.2f", p.P50MS), fmt.Sprintf("%.2f", p.P95MS), fmt.Sprintf("%.2f", p.P99MS), p.Errors, p.InFlight, p.Replicas)
				}
			})
		},
	}
	cmd.Flags().IntVar(&last, "last", 60, "show the last N ticks (0: the whole hour kept)")
	return cmd
}

// trafficRows adds the traffic split and the shadow comparison to a
// deployment table.
func trafficRows(tw *tabwriter.Writer, d joule.Deployment) {
	if d.PreviousVersion > 0 {
		row(tw, "Previous:", fmt.Sprintf("version %d (rollback returns to it)", d.PreviousVersion))
	}
	st := d.Status
	if st == nil {
		return
	}
	for _, t := range st.Traffic {
		p99 := "-"
		if v, ok := t.LatencyMS["p99"]; ok {
			p99 = fmt.Sprintf("%.2f ms", v)
		}
		row(tw, "Version:", fmt.Sprintf("%d %s %g%%: %d replicas, %d requests, %d errors, p99 %s", t.ModelVersion, t.Role, t.Percent, t.Replicas, t.Requests, t.Errors, p99))
	}
	if s := st.Shadow; s != nil {
		row(tw, "Shadow:", fmt.Sprintf("version %d: %d mirrored, %d dropped, %d errors; %d rows compared, agreement %.1f%%, mean abs diff %.4g",
			s.ModelVersion, s.Requests, s.Dropped, s.Errors, s.Rows, 100*s.Agreement, s.MeanAbsDiff))
	}
}
