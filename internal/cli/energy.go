package cli

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) energyCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "energy",
		Short: "Node power now, and the jobs that used the most energy",
		Long: `energy shows each node's power at its last heartbeat, by component and by
how it was obtained (measured:rapl, measured:nvml, estimated:tdp-curve@1 …),
then the workspace's recent jobs that used the most energy, with their
emissions. Power history and reports by period come with energy storage.

'joule energy validate' checks the estimation model used on machines without
a power meter (see docs/methodology.md).`,
		Example: `  joule energy
  joule energy -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			nodes, err := c.ListNodes(cmd.Context(), joule.ListOptions{Limit: joule.MaxLimit})
			if err != nil {
				return err
			}
			jobs, err := c.ListJobs(cmd.Context(), ws, httpapi.JobQuery{ListOptions: joule.ListOptions{Limit: joule.MaxLimit}})
			if err != nil {
				return err
			}
			var top []joule.Job
			for _, j := range jobs.Items {
				if j.Energy != nil {
					top = append(top, j)
				}
			}
			slices.SortFunc(top, func(a, b joule.Job) int { return cmp.Compare(b.Energy.Joules, a.Energy.Joules) })
			if len(top) > limit {
				top = top[:limit]
			}
			out := struct {
				Nodes []joule.Node `json:"nodes"`
				Jobs  []joule.Job  `json:"top_jobs"`
			}{nodes.Items, top}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "NODE", "COMPONENT", "WATTS", "METHOD", "SAMPLED")
				now := time.Now()
				for _, n := range nodes.Items {
					if n.Usage == nil || len(n.Usage.Power) == 0 {
						row(tw, n.Name, "-", "-", "no reading", "-")
						continue
					}
					for _, p := range n.Usage.Power {
						row(tw, n.Name, p.Component, fmt.Sprintf("%.1f", p.Watts), p.Method, fmtAgo(n.Usage.Time, now))
					}
				}
				row(tw, "")
				row(tw, "JOB", "ID", "ENERGY", "EMISSIONS", "METHOD")
				for _, j := range top {
					row(tw, j.Spec.Name, j.ID, fmtJoules(j.Energy.Joules), fmt.Sprintf("%.3g gCO2e", j.Energy.EmissionsG), j.Energy.Method)
				}
				if len(top) == 0 {
					row(tw, "(no job has been accounted yet)")
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "top", 10, "how many jobs to list")
	var profiles []string
	var sockets int
	validate := &cobra.Command{
		Use:   "validate [--profile FILE.csv …]",
		Short: "Replay CPU load-vs-RAPL profiles through the estimation model, next to CodeCarbon's estimate",
		Long: `validate replays CodeCarbon-format CPU load profiles (columns such as
cpu_name, cores_used, cpu_load, rapl_energy, duration, estimated_power)
through joule's estimation model and prints, per profile, the error of
joule's total energy against RAPL next to CodeCarbon's own estimate. The
model is calibrated on the profiles joule ships, leaving out the CPU being
evaluated. With no --profile it evaluates the shipped profiles.`,
		Example: `  joule energy validate
  joule energy validate --profile all_cores.csv --sockets 2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.checkOutput(); err != nil {
				return err
			}
			shipped := energy.DefaultProfiles()
			var results []energy.Result
			if len(profiles) == 0 {
				results = energy.ValidateAll(shipped)
			}
			for _, path := range profiles {
				f, err := os.Open(path)
				if err != nil {
					return joule.Errorf(joule.EINVALID, "--profile: %v", err)
				}
				p, err := energy.ParseProfile(f)
				f.Close()
				if err != nil {
					return joule.Errorf(joule.EINVALID, "%s: %v", path, err)
				}
				if p.Name == "" {
					p.Name = filepath.Base(path)
				}
				if sockets > 0 {
					p.Sockets = sockets
				}
				results = append(results, energy.Validate(p, energy.Calibrate(shipped, p.CPU)))
			}
			sum := energy.Summarize(results)
			out := struct {
				Results []energy.Result `json:"results"`
				Summary energy.Summary  `json:"summary"`
			}{results, sum}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "PROFILE", "CPU", "RAPL kJ", "JOULE kJ", "JOULE ERR", "CODECARBON kJ", "CODECARBON ERR")
				for _, r := range results {
					row(tw, r.Profile, r.CPU, fmt.Sprintf("%.1f", r.RAPLJoules/1e3), fmt.Sprintf("%.1f", r.JouleJoules/1e3), fmt.Sprintf("%+.1f%%", 100*r.JouleError),
						fmt.Sprintf("%.1f", r.CodeCarbonJoules/1e3), fmt.Sprintf("%+.1f%%", 100*r.CodeCarbonError))
				}
				row(tw, "")
				row(tw, fmt.Sprintf("joule's total error is lower in %d of %d profiles; mean |error| joule %.1f%%, CodeCarbon %.1f%%.",
					sum.JouleBetter, sum.Profiles, 100*sum.MeanJouleError, 100*sum.MeanCodeCarbonErr))
			})
		},
	}
	validate.Flags().StringArrayVar(&profiles, "profile", nil, "a CodeCarbon-format load profile CSV (repeatable)")
	validate.Flags().IntVar(&sockets, "sockets", 0, "CPU sockets of the profiled machine (not in the CSV; default 1)")
	cmd.AddCommand(validate)
	return cmd
}
