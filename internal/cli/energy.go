package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
)

func (m *Main) energyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "energy",
		Short: "Energy measurement and estimation tools",
		Long: `Energy tools. Per-job energy accounting in the server is being wired; today
this group holds the offline validation of the estimation model used on
machines without a power meter (see docs/methodology.md).`,
	}
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
