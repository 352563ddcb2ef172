package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// periodFlags are the period and slice flags shared by the sustainability
// commands.
type periodFlags struct {
	period, since, until, slice string
}

func (p *periodFlags) add(cmd *cobra.Command, slice bool) {
	f := cmd.Flags()
	f.StringVar(&p.period, "period", "", "period: YYYY-MM, YYYY-QN, YYYY or YYYY-MM-DD (UTC)")
	f.StringVar(&p.since, "since", "", "start: RFC 3339 time or a duration ago (720h); default 30 days ago")
	f.StringVar(&p.until, "until", "", "end, exclusive: RFC 3339 time; default now")
	if slice {
		f.StringVar(&p.slice, "slice", "", "label:KEY=VALUE, node:NODE or workspace:WS")
	}
}

func (p *periodFlags) query() (httpapi.SustainQuery, error) {
	q := httpapi.SustainQuery{Period: p.period, Slice: p.slice}
	var err error
	if q.Since, err = parseSince(p.since); err != nil {
		return q, joule.Errorf(joule.EINVALID, "--since: %s", joule.ErrorMessage(err))
	}
	if p.until != "" {
		if q.Until, err = time.Parse(time.RFC3339, p.until); err != nil {
			return q, joule.Errorf(joule.EINVALID, "--until: %q is not an RFC 3339 time", p.until)
		}
	}
	return q, nil
}

// parseSince reads "" (zero), a duration ago, or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, joule.Errorf(joule.EINVALID, "%q is not a duration (24h) or an RFC 3339 time", s)
	}
	return t, nil
}

func measured(v joule.IndicatorValue) string {
	if v.MeasuredShare == nil {
		return ""
	}
	return fmt.Sprintf("%.1f%%", 100**v.MeasuredShare)
}

func indicatorValue(v joule.IndicatorValue) string {
	if !v.Available {
		return "—"
	}
	return strconv.FormatFloat(v.Value, 'g', 6, 64)
}

func (m *Main) indicatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "indicator",
		Short: "Sustainability indicators: energy, emissions, cost, SCI, PUE, utilisation …",
		Long: `indicator computes the sustainability indicators from the stored hourly
energy accounting, over a period and for a slice of the workspace: energy in
kWh with its measured share, location- and market-based emissions, cost,
joules and SCI per job, PUE (measured where a facility meter is imported),
utilisation and idle share (installation admins), embodied emissions, the
CFE share where certificates are imported, and custom KPIs. Every figure
says how it was obtained. docs/sustainability.md has the formulas.`,
	}
	var pf periodFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "Every indicator over a period",
		Example: `  joule indicator list --period 2026-11
  joule indicator list --since 168h --slice label:team=vision -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q, err := pf.query()
			if err != nil {
				return err
			}
			set, err := c.Indicators(cmd.Context(), ws, q)
			if err != nil {
				return err
			}
			return m.print(set, func(tw *tabwriter.Writer) {
				row(tw, "INDICATOR", "VALUE", "UNIT", "MEASURED", "HOW")
				for _, v := range set.Indicators {
					how := v.Method
					if !v.Available {
						how = "unavailable: " + v.Note
					}
					row(tw, v.Name, indicatorValue(v), v.Unit, measured(v), how)
				}
			})
		},
	}
	pf.add(list, true)
	var gf periodFlags
	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "One indicator with its daily series",
		Example: `  joule indicator get emissions_kg --period 2026-11`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q, err := gf.query()
			if err != nil {
				return err
			}
			d, err := c.Indicator(cmd.Context(), ws, args[0], q)
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) {
				row(tw, "Indicator:", d.Name)
				row(tw, "Value:", indicatorValue(d.IndicatorValue)+" "+d.Unit)
				if s := measured(d.IndicatorValue); s != "" {
					row(tw, "Measured share:", s)
				}
				row(tw, "Method:", d.Method)
				if d.Note != "" {
					row(tw, "Note:", d.Note)
				}
				row(tw, "DAY", "VALUE")
				for _, p := range d.Daily {
					row(tw, p.Time.Format(time.DateOnly), strconv.FormatFloat(p.Value, 'g', 6, 64))
				}
			})
		},
	}
	gf.add(get, true)
	cmd.AddCommand(list, get)
	return cmd
}

func (m *Main) baselineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Baselines: a named period's snapshot of an indicator, per day and per job",
	}
	var indicator, slice, period, since, until string
	create := &cobra.Command{
		Use:     "create NAME --indicator IND --period P",
		Short:   "Snapshot an indicator over a finished period",
		Example: `  joule baseline create 2026-Q3 --indicator energy_kwh --period 2026-Q3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			req := httpapi.CreateBaselineRequest{Name: args[0], Indicator: indicator, Slice: joule.Slice(slice), Period: period}
			if since != "" || until != "" {
				if req.Since, err = time.Parse(time.RFC3339, since); err != nil {
					return joule.Errorf(joule.EINVALID, "--since: %q is not an RFC 3339 time", since)
				}
				if req.Until, err = time.Parse(time.RFC3339, until); err != nil {
					return joule.Errorf(joule.EINVALID, "--until: %q is not an RFC 3339 time", until)
				}
			}
			if period == "" && since == "" {
				req.Period = args[0]
			}
			b, err := c.CreateBaseline(cmd.Context(), ws, req)
			if err != nil {
				return err
			}
			return m.print(b, func(tw *tabwriter.Writer) { baselineRows(tw, b) })
		},
	}
	f := create.Flags()
	f.StringVar(&indicator, "indicator", "", "indicator to snapshot (joule indicator list)")
	f.StringVar(&slice, "slice", "", "label:KEY=VALUE, node:NODE or workspace:WS")
	f.StringVar(&period, "period", "", "period (default: the name, when it is one such as 2026-Q3)")
	f.StringVar(&since, "since", "", "start, RFC 3339 (instead of --period)")
	f.StringVar(&until, "until", "", "end, RFC 3339, exclusive")
	list := &cobra.Command{
		Use:   "list",
		Short: "List baselines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			bs, err := c.ListBaselines(cmd.Context(), ws)
			if err != nil {
				return err
			}
			return m.print(bs, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "INDICATOR", "SLICE", "PERIOD", "VALUE", "PER DAY", "PER JOB", "JOBS")
				for _, b := range bs {
					row(tw, b.Name, b.Indicator, b.Slice, b.Since.Format(time.DateOnly)+" – "+b.Until.Format(time.DateOnly),
						fmt.Sprintf("%.6g %s", b.Value, b.Unit), fmt.Sprintf("%.6g", b.PerDay), fmt.Sprintf("%.6g", b.PerUnit), b.Units)
				}
			})
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func baselineRows(tw *tabwriter.Writer, b joule.Baseline) {
	row(tw, "Baseline:", b.Name+" ("+b.ID+")")
	row(tw, "Indicator:", b.Indicator+" "+string(b.Slice))
	row(tw, "Period:", b.Since.Format(time.RFC3339)+" – "+b.Until.Format(time.RFC3339))
	row(tw, "Value:", fmt.Sprintf("%.6g %s (%.6g per day)", b.Value, b.Unit, b.PerDay))
	row(tw, "Per job:", fmt.Sprintf("%.6g over %g jobs", b.PerUnit, b.Units))
	row(tw, "Method:", b.Method)
}

func statusRows(tw *tabwriter.Writer, s *joule.TargetStatus, unit string) {
	if s == nil {
		row(tw, "Status:", "not evaluated")
		return
	}
	row(tw, "Status:", strings.ReplaceAll(s.Status, "_", " ")+" — "+s.Reason)
	if s.Status != joule.TargetUnknown {
		row(tw, "Current:", fmt.Sprintf("%.6g %s", s.Current, unit))
		row(tw, "Projected at due date:", fmt.Sprintf("%.6g %s (90%% interval %.6g to %.6g; trend %+.4g per week)", s.Projected, unit, s.Low, s.High, s.SlopePerWeek))
	}
	row(tw, "Method:", s.Method)
}

func (m *Main) targetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Targets: reduce an indicator by P% versus a baseline by a date, with a projected status",
	}
	var baseline, due string
	var pct float64
	var perUnit bool
	create := &cobra.Command{
		Use:   "create NAME --baseline B --reduce P --by DATE",
		Short: "Set a target",
		Example: `  joule target create cut-energy --baseline 2026-Q3 --reduce 20 --by 2027-06-30
  joule target create greener-jobs --baseline 2026-Q3-sci --reduce 30 --by 2027-12-31 --per-job`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := time.Parse(time.DateOnly, due)
			if err != nil {
				if d, err = time.Parse(time.RFC3339, due); err != nil {
					return joule.Errorf(joule.EINVALID, "--by: %q is not a date (2027-06-30) or an RFC 3339 time", due)
				}
			}
			t, err := c.CreateTarget(cmd.Context(), ws, httpapi.CreateTargetRequest{Name: args[0], Baseline: baseline, ReductionPct: pct, Due: d, PerUnit: perUnit})
			if err != nil {
				return err
			}
			return m.print(t, func(tw *tabwriter.Writer) {
				row(tw, "Target:", t.Name+" ("+t.ID+")")
				row(tw, "Goal:", fmt.Sprintf("%s from %.6g to %.6g %s by %s", t.Indicator, t.BaselineValue, t.TargetValue, t.Unit, t.Due.Format(time.DateOnly)))
				statusRows(tw, t.Status, t.Unit)
			})
		},
	}
	f := create.Flags()
	f.StringVar(&baseline, "baseline", "", "baseline name or ID")
	f.Float64Var(&pct, "reduce", 0, "reduction in percent (negative to raise a figure such as CFE share)")
	f.StringVar(&due, "by", "", "due date, YYYY-MM-DD")
	f.BoolVar(&perUnit, "per-job", false, "per functional unit (job) instead of absolute (per day)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List targets with their latest recorded status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			ts, err := c.ListTargets(cmd.Context(), ws)
			if err != nil {
				return err
			}
			return m.print(ts, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "INDICATOR", "BASELINE", "TARGET", "DUE", "STATUS", "PROJECTED")
				for _, t := range ts {
					st, proj := "not evaluated", ""
					if t.Status != nil {
						st = t.Status.Status
						if t.Status.Status != joule.TargetUnknown {
							proj = fmt.Sprintf("%.6g [%.6g, %.6g]", t.Status.Projected, t.Status.Low, t.Status.High)
						}
					}
					row(tw, t.Name, t.Indicator, fmt.Sprintf("%.6g", t.BaselineValue), fmt.Sprintf("%.6g %s", t.TargetValue, t.Unit), t.Due.Format(time.DateOnly), st, proj)
				}
			})
		},
	}
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "A target with a live evaluation and its history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.GetTarget(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) {
				row(tw, "Target:", d.Name+": "+d.Description)
				row(tw, "Baseline → target:", fmt.Sprintf("%.6g → %.6g %s", d.BaselineValue, d.TargetValue, d.Unit))
				statusRows(tw, &d.Live, d.Unit)
				row(tw, "WEEK", "VALUE")
				for _, p := range d.Weekly {
					row(tw, p.Time.Format(time.DateOnly), fmt.Sprintf("%.6g", p.Value))
				}
				row(tw, "EVALUATED", "STATUS", "PROJECTED")
				for _, h := range d.History {
					row(tw, h.Time.Format(time.RFC3339), h.Status, fmt.Sprintf("%.6g", h.Projected))
				}
			})
		},
	}
	cmd.AddCommand(create, list, get)
	return cmd
}

func (m *Main) kpiCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kpi",
		Short: "Custom KPIs: numeric series with units for what the platform cannot see",
	}
	var unit, desc, agg string
	create := &cobra.Command{
		Use:     "create NAME --unit U",
		Short:   "Define a KPI",
		Example: `  joule kpi create training-hours --unit h --description "hours of training delivered"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			k, err := c.CreateKPI(cmd.Context(), ws, httpapi.CreateKPIRequest{Name: args[0], Unit: unit, Description: desc, Aggregate: agg})
			if err != nil {
				return err
			}
			return m.print(k, func(tw *tabwriter.Writer) { row(tw, "KPI:", k.Name, k.Unit, k.Aggregate) })
		},
	}
	create.Flags().StringVar(&unit, "unit", "", "unit of the values")
	create.Flags().StringVar(&desc, "description", "", "what it counts")
	create.Flags().StringVar(&agg, "aggregate", "sum", "how points combine over a period: sum or mean")
	var at string
	add := &cobra.Command{
		Use:     "add NAME VALUE [--at TIME]",
		Short:   "Add one point",
		Example: `  joule kpi add training-hours 12.5 --at 2026-11-03T00:00:00Z`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			v, err := strconv.ParseFloat(args[1], 64)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "value %q is not a number", args[1])
			}
			t := time.Now().UTC()
			if at != "" {
				if t, err = time.Parse(time.RFC3339, at); err != nil {
					return joule.Errorf(joule.EINVALID, "--at: %q is not an RFC 3339 time", at)
				}
			}
			r, err := c.AddKPIPoints(cmd.Context(), ws, args[0], httpapi.KPIPointsRequest{Points: []joule.SeriesPoint{{Time: t, Value: v}}})
			if err != nil {
				return err
			}
			return m.print(r, func(tw *tabwriter.Writer) { row(tw, "Stored:", r.Stored) })
		},
	}
	add.Flags().StringVar(&at, "at", "", "time of the point, RFC 3339 (default now)")
	imp := &cobra.Command{
		Use:     "import NAME FILE",
		Short:   "Import points from a time,value CSV",
		Example: `  joule kpi import projects-served served.csv`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			r, err := c.AddKPIPoints(cmd.Context(), ws, args[0], httpapi.KPIPointsRequest{CSV: string(b)})
			if err != nil {
				return err
			}
			return m.print(r, func(tw *tabwriter.Writer) { row(tw, "Stored:", r.Stored) })
		},
	}
	cmd.AddCommand(create, add, imp)
	return cmd
}

func (m *Main) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import external data: facility meters, utility bills, energy certificates",
	}
	var kind, tz string
	meter := &cobra.Command{
		Use:   "meter FILE",
		Short: "Import a meter, bill or certificate CSV, cleaned, with a quality report",
		Long: `import meter reads a CSV whose header names a time column and value columns
ending in their unit (facility_kWh, it_Wh, energy_MWh, emissions_kg), or
value and unit columns. It normalises units to joules and grams and times to
UTC, removes duplicates, fills gaps, replaces outliers, aligns everything to
hourly series, and stores them installation-wide (meter:NAME, or rec:NAME
with --kind rec). It prints the quality report: every fix, by file line.
A series named facility replaces the configured PUE with a measured one.
Installation admins only.`,
		Example: `  joule import meter facility-2026-11.csv --tz Europe/Berlin
  joule import meter ppa-certificates.csv --kind rec`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, err := c.ImportMeter(cmd.Context(), httpapi.MeterImportRequest{Kind: kind, TZ: tz, File: filepath.Base(args[0]), CSV: string(b)})
			if err != nil {
				return err
			}
			return m.print(r, func(tw *tabwriter.Writer) {
				row(tw, "SERIES", "FROM", "UNTIL", "HOURS", "TOTAL")
				for _, s := range r.Stored {
					total := fmt.Sprintf("%.6g %s", s.Total, s.Unit)
					if s.Unit == "J" {
						total = fmt.Sprintf("%.6g kWh", s.Total/3.6e6)
					}
					row(tw, s.Series, s.From.Format(time.RFC3339), s.Until.Format(time.RFC3339), s.Points, total)
				}
				row(tw, "")
				row(tw, "Quality:", fmt.Sprintf("%d rows read, %d used, resolution %s, %d fixes", r.Quality.Rows, r.Quality.Parsed, r.Quality.Resolution, len(r.Quality.Fixes)))
				row(tw, "LINE", "FIX", "SERIES", "DETAIL")
				for _, f := range r.Quality.Fixes {
					line := ""
					if f.Line > 0 {
						line = strconv.Itoa(f.Line)
					}
					row(tw, line, f.Kind, f.Series, f.Detail)
				}
			})
		},
	}
	meter.Flags().StringVar(&kind, "kind", "meter", "meter, bill or rec (renewable-energy certificates)")
	meter.Flags().StringVar(&tz, "tz", "", "IANA time zone of times without an offset (default UTC)")
	cmd.AddCommand(meter)
	return cmd
}

func (m *Main) reportCommand() *cobra.Command {
	var pf periodFlags
	var format, out string
	var all bool
	cmd := &cobra.Command{
		Use:   "report --period P",
		Short: "The sustainability report of a period: HTML, CSV or JSON",
		Long: `report fetches the sustainability report of a period from the server:
an executive summary with SVG charts (energy, emissions and cost per day,
target progress), breakdowns by workspace and node, GHG Protocol scope 2
(location- and market-based), targets with their projections,
recommendations, and method notes. The figures are the API's own for the
period. HTML prints cleanly; chromium --headless --print-to-pdf turns it
into a PDF. --all reports the whole installation (admins).`,
		Example: `  joule report --period 2026-11 --format html --out report-2026-11.html
  joule report --period 2026-Q3 --format csv
  joule report --period 2026-11 --all --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "html" && format != "csv" && format != "json" {
				return joule.Errorf(joule.EINVALID, "--format: %q is not html, csv or json", format)
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			if all {
				ws = ""
			}
			q, err := pf.query()
			if err != nil {
				return err
			}
			b, err := c.ReportRaw(cmd.Context(), ws, q, format)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = m.Stdout.Write(b)
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	pf.add(cmd, false)
	cmd.Flags().StringVar(&format, "format", "html", "html, csv or json")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default stdout)")
	cmd.Flags().BoolVar(&all, "all", false, "the whole installation (admins)")
	return cmd
}

func (m *Main) recommendCommand() *cobra.Command {
	var pf periodFlags
	var deadline string
	cmd := &cobra.Command{
		Use:   "recommend",
		Short: "What the history says could be saved: shiftable jobs, idle nodes",
		Long: `recommend replays the period's finished jobs through the carbon-aware
simulator on the intensities the accounting used (the same code as
joule sim), and finds node-hours with no work (installation admins). Each
recommendation gives its estimated kWh, kg CO2e and money, and the method.`,
		Example: `  joule recommend --period 2026-11
  joule recommend --since 168h --deadline semi-weekly -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q, err := pf.query()
			if err != nil {
				return err
			}
			q.Deadline = deadline
			recs, err := c.Recommendations(cmd.Context(), ws, q)
			if err != nil {
				return err
			}
			return m.print(recs, func(tw *tabwriter.Writer) {
				if len(recs) == 0 {
					row(tw, "No recommendations for this period.")
				}
				for _, r := range recs {
					money := "—"
					if r.Currency != "" {
						money = fmt.Sprintf("%.2f %s", r.Money, r.Currency)
					}
					row(tw, strings.ToUpper(r.Kind)+":", r.Title)
					row(tw, "  saving:", fmt.Sprintf("%.3f kWh, %.3f kg CO2e, %s", r.KWh, r.KgCO2e, money))
					row(tw, "  method:", r.Method)
					for _, it := range r.Items {
						row(tw, "  ", it.ID, it.Name, fmt.Sprintf("%.3f kg", it.KgCO2e), it.Detail)
					}
				}
			})
		},
	}
	pf.add(cmd, false)
	cmd.Flags().StringVar(&deadline, "deadline", "next-workday", "deadline rule for jobs without their own: next-workday, semi-weekly or none")
	return cmd
}
