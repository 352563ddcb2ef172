package web

import (
	"bytes"
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
	"github.com/joule-dev/joule/internal/sustain"
)

// The Overview's sustainability section: the last 30 days of the
// workspace's report (sustain.AssembleReport, as the Reports page and the
// API compute it): energy, emissions and cost per day, target statuses, the
// jobs that used the most energy, and the open recommendations.

// DashboardDays is how many complete UTC days, up to today, the Overview's
// figures cover.
const DashboardDays = 30

// dashboardTop is how many jobs the top-consumers table lists.
const dashboardTop = 5

// sustainOverview is the data of the Overview's sustainability section.
type sustainOverview struct {
	Since, Until time.Time
	// Error says the figures could not be computed (the cause is logged).
	Error string
	// Energy, Emissions and Cost are the period's totals.
	Energy, Emissions, Cost joule.IndicatorValue
	// Measured says the measured and estimated shares of the energy.
	Measured                               string
	EnergyChart, EmissionsChart, CostChart template.HTML
	// Statuses counts targets by latest recorded status, in a fixed order.
	Statuses []statusCount
	Targets  []sustain.ReportTarget
	Top      []jobEnergyRow
	Recs     []sustain.Recommendation
}

// statusCount is how many targets have a status.
type statusCount struct {
	Status, Class string
	N             int
}

// sustainOverview computes the section for p's workspace; a failure is
// logged and shown as unavailable rather than failing the Overview.
func (c *Console) sustainOverview(r *http.Request, p joule.Principal) *sustainOverview {
	now := c.cfg.Now().UTC()
	until := now.Truncate(24 * time.Hour)
	since := until.AddDate(0, 0, -DashboardDays)
	v := &sustainOverview{Since: since, Until: until}
	fail := func(err error) *sustainOverview {
		c.cfg.Logger.ErrorContext(r.Context(), "console: overview sustainability figures", "err", err)
		v.Error = "The sustainability figures could not be computed; the server's log says why."
		return v
	}
	rep, err := sustain.AssembleReport(r.Context(), c.cfg.Store, sustain.ReportRequest{WorkspaceID: p.WorkspaceID, Scope: p.WorkspaceName,
		Period: since.Format(time.DateOnly) + "/" + until.Format(time.DateOnly), Since: since, Until: until, Nodes: p.PlatformAdmin(),
		Deadline: sustain.DefaultDeadline, Now: now})
	if err != nil {
		return fail(err)
	}
	for _, ind := range rep.Summary {
		switch ind.Name {
		case joule.IndEnergyKWh:
			v.Energy = ind
			v.Measured = measuredText(ind.MeasuredShare)
		case joule.IndEmissionsKg:
			v.Emissions = ind
		case joule.IndCost:
			v.Cost = ind
		}
	}
	line := func(title, unit string, val func(sustain.DayFigures) float64) (template.HTML, error) {
		s := chart.Series{Name: title}
		for _, d := range rep.Daily {
			s.Points = append(s.Points, chart.Point{X: chart.TimeX(d.Day), Y: val(d)})
		}
		return svg(func(b *bytes.Buffer) error {
			return chart.Line(b, chart.LineChart{Title: title, Unit: unit, XTime: true, Width: 420, Height: 180, Series: []chart.Series{s}})
		})
	}
	// Without energy there are no trends to draw; the totals say so.
	if slices.ContainsFunc(rep.Daily, func(d sustain.DayFigures) bool { return d.KWh > 0 }) {
		for _, ch := range []struct {
			out         *template.HTML
			title, unit string
			val         func(sustain.DayFigures) float64
		}{
			{&v.EnergyChart, "Energy per day", "kWh", func(d sustain.DayFigures) float64 { return d.KWh }},
			{&v.EmissionsChart, "Emissions per day (location-based)", "kg CO2e", func(d sustain.DayFigures) float64 { return d.EmissionsKg }},
			{&v.CostChart, "Cost per day", v.Cost.Unit, func(d sustain.DayFigures) float64 { return d.Cost }},
		} {
			if *ch.out, err = line(ch.title, ch.unit, ch.val); err != nil {
				return fail(err)
			}
		}
	}
	v.Targets = rep.Targets
	count := map[string]int{}
	for _, t := range rep.Targets {
		s := joule.TargetUnknown
		if t.Status != nil {
			s = t.Status.Status
		}
		count[s]++
	}
	for _, s := range []string{joule.TargetOnTrack, joule.TargetAtRisk, joule.TargetOffTrack, joule.TargetUnknown} {
		if count[s] > 0 {
			v.Statuses = append(v.Statuses, statusCount{statusText(s), s, count[s]})
		}
	}
	for _, rec := range rep.Recommend {
		if rec.KgCO2e > 0 || rec.KWh > 0 {
			v.Recs = append(v.Recs, rec)
		}
	}

	// Top consumers: the workspace's jobs by energy over the period.
	rows, err := c.cfg.Store.ListEnergyRollups(r.Context(), joule.EnergyFilter{Scope: joule.RollupJob, Width: time.Hour, WorkspaceID: p.WorkspaceID, Since: since, Until: until})
	if err != nil {
		return fail(err)
	}
	sums := joule.SummariseEnergy(rows, func(r joule.EnergyRollup) string { return r.Entity })
	slices.SortStableFunc(sums, func(a, b joule.EnergySummary) int {
		return cmp.Or(cmp.Compare(b.Joules, a.Joules), cmp.Compare(a.Key, b.Key))
	})
	for _, s := range sums[:min(len(sums), dashboardTop)] {
		row := jobEnergyRow{EnergySummary: s, Kind: methodKind(s.Method), How: methodHow(s.Method)}
		if j, err := c.cfg.Store.GetJob(r.Context(), p.WorkspaceID, s.Key); err == nil {
			row.Name = j.Spec.Name
		}
		if sums[0].Joules > 0 {
			row.Share = s.Joules / sums[0].Joules
		}
		v.Top = append(v.Top, row)
	}
	return v
}
