package cli

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
		Short: "Node power now and over the last hour, and the jobs that used the most energy",
		Long: `energy shows each node's power at its last heartbeat and its mean power over
the last hour, by component and by how it was obtained (measured:rapl,
measured:nvml, estimated:tdp-curve@1 …), then the workspace's recent jobs
that used the most energy, with their emissions.

'joule energy report' sums energy, emissions and cost over a period by job,
workspace or node. 'joule energy validate' checks the estimation model used
on machines without a power meter (see docs/methodology.md).`,
		Example: `  joule energy
  joule energy -o json
  joule energy report --since 24h --by job`,
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
			hour, err := c.NodePower(cmd.Context(), time.Time{}, time.Time{})
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
				Nodes    []joule.Node        `json:"nodes"`
				LastHour []httpapi.NodePower `json:"last_hour"`
				Jobs     []joule.Job         `json:"top_jobs"`
			}{nodes.Items, hour, top}
			return m.print(out, func(tw *tabwriter.Writer) {
				hourly := map[string]map[string]httpapi.ComponentPower{}
				for _, np := range hour {
					hourly[np.NodeID] = map[string]httpapi.ComponentPower{}
					for _, c := range np.Components {
						hourly[np.NodeID][c.Component] = c
					}
				}
				row(tw, "NODE", "COMPONENT", "NOW", "LAST HOUR (MEAN)", "ENERGY (HOUR)", "METHOD", "SAMPLED")
				now := time.Now()
				for _, n := range nodes.Items {
					seen := map[string]bool{}
					if n.Usage != nil {
						for _, p := range n.Usage.Power {
							seen[p.Component] = true
							mean, energy := "-", "-"
							if h, ok := hourly[n.ID][p.Component]; ok {
								mean, energy = fmt.Sprintf("%.1f W over %s", h.MeanWatts, fmtSeconds(h.Seconds)), fmtJoules(h.Joules)
							}
							row(tw, n.Name, p.Component, fmt.Sprintf("%.1f W", p.Watts), mean, energy, p.Method, fmtAgo(n.Usage.Time, now))
						}
					}
					for _, comp := range slices.Sorted(maps.Keys(hourly[n.ID])) {
						if h := hourly[n.ID][comp]; !seen[comp] {
							seen[comp] = true
							row(tw, n.Name, comp, "-", fmt.Sprintf("%.1f W over %s", h.MeanWatts, fmtSeconds(h.Seconds)), fmtJoules(h.Joules), h.Method, "-")
						}
					}
					if len(seen) == 0 {
						row(tw, n.Name, "-", "-", "-", "-", "no reading", "-")
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
	cmd.AddCommand(validate, m.energyReportCommand(), m.energyPowercapCommand())
	return cmd
}

// fmtSeconds writes a metered duration: "59 min", "42 s".
func fmtSeconds(s float64) string {
	if s >= 120 {
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.0f s", s)
}

func (m *Main) energyReportCommand() *cobra.Command {
	var since, until, by, resolution string
	cmd := &cobra.Command{
		Use:   "report [--since T] [--until T] [--by job|workspace|node]",
		Short: "Energy, emissions and cost over a period, by job, workspace or node",
		Long: `report sums the stored per-minute (or hourly) energy rollups over
[--since, --until) and prints one line per job, per workspace or per node,
largest first: joules with the measured and estimated parts apart, the
methods, location-based emissions in grams at the intensity of each
interval, cost and currency, then the total. --by job and --by workspace
cover the workspace's jobs (their attributed shares); --by node covers the
nodes' whole draw, idle included, and needs an admin token of the default
workspace. Market-based emissions, where a factor is configured, and
embodied emissions appear in -o json and csv, never added to the
location-based figure.

--since and --until take RFC 3339 times, dates (2026-11-27, UTC midnight)
or durations ago (24h). The default is the last 24 hours. Ranges up to
48 hours are summed from per-minute rollups, longer ones from hourly
rollups (--resolution 1m|1h overrides); per-minute rollups are kept for the
server's --energy-retention.`,
		Example: `  joule energy report
  joule energy report --since 2026-11-01 --until 2026-12-01 --by workspace -o csv
  joule energy report --since 1h --by node -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			csvOut := m.output == "csv"
			if csvOut {
				m.output = "table"
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q := httpapi.EnergyQuery{By: by, Resolution: resolution}
			if q.Since, err = parseWhenOrDate("since", since); err != nil {
				return err
			}
			if q.Until, err = parseWhenOrDate("until", until); err != nil {
				return err
			}
			rep, err := c.EnergyReport(cmd.Context(), ws, q)
			if err != nil {
				return err
			}
			if csvOut {
				return writeReportCSV(m.Stdout, rep)
			}
			return m.print(rep, func(tw *tabwriter.Writer) {
				row(tw, strings.ToUpper(rep.By), "NAME", "ENERGY", "MEASURED", "ESTIMATED", "EMISSIONS", "INTENSITY", "COST", "METHOD")
				line := func(key, name string, l joule.EnergySummary) {
					row(tw, key, cmp.Or(name, "-"), fmtJoules(l.Joules), fmtJoules(l.MeasuredJoules), fmtJoules(l.EstimatedJoules),
						fmt.Sprintf("%.4g g", l.EmissionsG), fmt.Sprintf("%.0f g/kWh", l.IntensityGPerKWh), fmtCost(l.Cost, l.Currency), cmp.Or(l.Method, "-"))
				}
				for _, l := range rep.Lines {
					line(l.Key, l.Name, l.EnergySummary)
				}
				line("TOTAL", "", rep.Total)
				row(tw, "")
				row(tw, fmt.Sprintf("%s to %s, %s rollups, %s energy.", rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Resolution, rep.Scope))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "start: RFC 3339 time, date or duration ago (default 24h)")
	f.StringVar(&until, "until", "", "end, exclusive: RFC 3339 time, date or duration ago (default now)")
	f.StringVar(&by, "by", "job", "group by job, workspace or node")
	f.StringVar(&resolution, "resolution", "", "rollups to sum: 1m or 1h (default 1m up to 48 h)")
	return cmd
}

// parseWhenOrDate reads a date (2026-11-27, UTC midnight), or what
// parseWhen reads.
func parseWhenOrDate(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := parseWhen("--"+flag, s)
	if err != nil {
		return t, joule.Errorf(joule.EINVALID, "%s, or a date (2026-11-27)", joule.ErrorMessage(err))
	}
	return t, nil
}

func fmtCost(v float64, currency string) string {
	if currency == "" {
		return "-"
	}
	return fmt.Sprintf("%.4g %s", v, currency)
}

// writeReportCSV writes one row per line and a total, with every figure.
func writeReportCSV(w io.Writer, rep httpapi.EnergyReport) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	_ = cw.Write([]string{rep.By, "name", "joules", "measured_joules", "estimated_joules", "method", "emissions_g", "intensity_g_per_kwh",
		"intensity_source", "pue", "market_emissions_g", "embodied_g", "cost", "energy_cost", "amortisation_cost", "currency", "since", "until", "resolution"})
	put := func(key, name string, l joule.EnergySummary) {
		market := ""
		if l.MarketEmissionsG != nil {
			market = f(*l.MarketEmissionsG)
		}
		_ = cw.Write([]string{key, name, f(l.Joules), f(l.MeasuredJoules), f(l.EstimatedJoules), l.Method, f(l.EmissionsG), f(l.IntensityGPerKWh),
			l.IntensitySource, f(l.PUE), market, f(l.EmbodiedG), f(l.Cost), f(l.EnergyCost), f(l.AmortisationCost), l.Currency,
			rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Resolution})
	}
	for _, l := range rep.Lines {
		put(l.Key, l.Name, l.EnergySummary)
	}
	put("total", "", rep.Total)
	cw.Flush()
	return cw.Error()
}
