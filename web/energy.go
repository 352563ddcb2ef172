package web

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// The Energy & Carbon page reads the stored rollups (migration 005): the
// per-node component rows for power and grid intensity over time, and the
// per-attempt job rows for the top jobs, as GET /v1/energy/nodes and GET
// /v1/workspaces/{ws}/energy/report do.

// DefaultEnergyPeriod is what the Energy & Carbon page shows without a
// period in the query string.
const DefaultEnergyPeriod = 24 * time.Hour

// MaxEnergyPeriod is the longest period the page accepts.
const MaxEnergyPeriod = 90 * 24 * time.Hour

// energyPeriods are the periods the page offers; others may be typed into
// the query string.
var energyPeriods = []string{"1h", "6h", "24h", "7d", "30d"}

// topJobs is how many jobs each top list shows.
const topJobs = 10

// energyView is the data of the Energy & Carbon page.
type energyView struct {
	Period     string // as given, "24h" by default
	Periods    []string
	Since      time.Time
	Until      time.Time
	Resolution string // "per minute" or "per hour"
	Nodes      []nodeEnergy
	Intensity  template.HTML // one series per node; "" without rows
	// IntensitySources lists where the intensities came from.
	IntensitySources []string
	ByEnergy         []jobEnergyRow
	ByEmissions      []jobEnergyRow
	Total            joule.EnergySummary // the workspace's jobs over the period
	TotalKind        string
}

// nodeEnergy is one node's power over the period.
type nodeEnergy struct {
	ID, Name   string
	Chart      template.HTML
	Components []componentEnergy
	Watts      string // mean power, summed over its components
	Joules     float64
	EmissionsG float64
}

// componentEnergy is one component's figures over the period.
type componentEnergy struct {
	Component  string
	Method     string
	Kind       string // measured, estimated, or measured + estimated
	How        string // the method in words
	MeanWatts  float64
	Joules     float64
	EmissionsG float64
	Intensity  string // energy-weighted gCO2e/kWh and its source
}

// jobEnergyRow is one line of a top-jobs table.
type jobEnergyRow struct {
	joule.EnergySummary
	Name  string // "" when the job is gone
	Kind  string
	How   string
	Share float64 // of the top figure, 0..1, for the bar
}

// parsePeriod reads a period such as "6h", "90m" or "7d" (1 minute to
// MaxEnergyPeriod).
func parsePeriod(s string) (time.Duration, error) {
	bad := joule.Errorf(joule.EINVALID, "period: %q is not a period such as 6h, 24h or 7d (from 1m to %dd)", cut(s, 40), int(MaxEnergyPeriod/(24*time.Hour)))
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > int(MaxEnergyPeriod/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d < time.Minute || d > MaxEnergyPeriod {
		return 0, bad
	}
	return d, nil
}

// methodKind says whether a "+"-joined method set is measured, estimated
// or both. A method that does not start with "measured:" counts as
// estimated, as in internal/energy.
func methodKind(method string) string {
	var m, e bool
	for part := range strings.SplitSeq(method, "+") {
		if strings.HasPrefix(part, "measured:") {
			m = true
		} else if part != "" {
			e = true
		}
	}
	switch {
	case m && e:
		return "measured + estimated"
	case m:
		return "measured"
	case e:
		return "estimated"
	}
	return "no data"
}

// methodHow says how each method of a "+"-joined set obtains its figure.
func methodHow(method string) string {
	var out []string
	for part := range strings.SplitSeq(method, "+") {
		switch {
		case part == "":
			continue
		case part == "measured:rapl":
			out = append(out, "RAPL energy counters (powercap)")
		case part == "measured:hwmon":
			out = append(out, "hwmon power/energy sensors")
		case part == "measured:nvml":
			out = append(out, "NVML GPU energy counter or power samples")
		case strings.HasPrefix(part, "estimated:"):
			out = append(out, "model "+strings.TrimPrefix(part, "estimated:")+" from CPU TDP and utilisation")
		default:
			out = append(out, part)
		}
	}
	return strings.Join(out, "; ")
}

func (c *Console) energy(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	v := energyView{Period: cmp.Or(strings.TrimSpace(q.Get("period")), "24h"), Periods: energyPeriods}
	d, err := parsePeriod(v.Period)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	width, res := time.Minute, "per minute"
	if d > 48*time.Hour {
		width, res = time.Hour, "per hour"
	}
	v.Resolution = res
	now := c.cfg.Now().UTC()
	v.Until = now.Truncate(width).Add(width)
	v.Since = now.Add(-d).Truncate(width)
	ctx := r.Context()

	// Nodes: whole draw per component, idle included.
	rows, err := c.cfg.Store.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupNode, Width: width, Since: v.Since, Until: v.Until})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	byNode := map[string][]joule.EnergyRollup{}
	for _, row := range rows {
		byNode[row.NodeID] = append(byNode[row.NodeID], row)
	}
	names := nodeNames{c: c, r: r}
	var intensity []chart.Series
	sources := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(byNode)) {
		rs := byNode[id]
		ne := nodeEnergy{ID: id, Name: names.get(id)}
		var total float64
		for _, s := range joule.SummariseEnergy(rs, func(r joule.EnergyRollup) string { return r.Entity }) {
			ce := componentEnergy{Component: s.Key, Method: s.Method, Kind: methodKind(s.Method), How: methodHow(s.Method),
				Joules: s.Joules, EmissionsG: s.EmissionsG}
			if s.Seconds > 0 {
				ce.MeanWatts = s.Joules / s.Seconds
				total += ce.MeanWatts
			}
			if s.IntensityGPerKWh > 0 {
				ce.Intensity = chart.FormatValue(s.IntensityGPerKWh) + " gCO2e/kWh (" + s.IntensitySource + ")"
			}
			ne.Joules += s.Joules
			ne.EmissionsG += s.EmissionsG
			ne.Components = append(ne.Components, ce)
		}
		slices.SortFunc(ne.Components, func(a, b componentEnergy) int { return cmp.Compare(a.Component, b.Component) })
		ne.Watts = chart.FormatValue(total) + " W"

		// Power per component and intensity, per bucket.
		series := map[string]*chart.Series{}
		type bucket struct{ emissions, kwh float64 }
		buckets := map[int64]*bucket{}
		for _, row := range rs {
			comp := row.Entity + " (" + row.Method + ")"
			s := series[comp]
			if s == nil {
				s = &chart.Series{Name: comp}
				series[comp] = s
			}
			x := chart.TimeX(row.Start)
			if row.Seconds > 0 {
				// Rows of one component in one bucket with different
				// intensity sources are added.
				if n := len(s.Points); n > 0 && s.Points[n-1].X == x {
					s.Points[n-1].Y += row.Joules() / row.Seconds
				} else {
					s.Points = append(s.Points, chart.Point{X: x, Y: row.Joules() / row.Seconds})
				}
			}
			b := buckets[row.Start.Unix()]
			if b == nil {
				b = &bucket{}
				buckets[row.Start.Unix()] = b
			}
			b.emissions += row.EmissionsG
			b.kwh += row.PUEJoules / 3.6e6
			if row.IntensitySource != "" {
				for src := range strings.SplitSeq(row.IntensitySource, "+") {
					sources[src] = true
				}
			}
		}
		lc := chart.LineChart{Title: "Power of " + ne.Name + ", " + res + " mean, by component (method)", Unit: "W", XTime: true, Width: 900, Height: 260}
		for _, k := range slices.Sorted(maps.Keys(series)) {
			lc.Series = append(lc.Series, *series[k])
		}
		if ne.Chart, err = svg(func(b *bytes.Buffer) error { return chart.Line(b, lc) }); err != nil {
			c.internal(w, r, err)
			return
		}
		is := chart.Series{Name: ne.Name}
		for _, k := range slices.Sorted(maps.Keys(buckets)) {
			if b := buckets[k]; b.kwh > 0 {
				is.Points = append(is.Points, chart.Point{X: float64(k), Y: b.emissions / b.kwh})
			}
		}
		intensity = append(intensity, is)
		v.Nodes = append(v.Nodes, ne)
	}
	if len(intensity) > 0 {
		lc := chart.LineChart{Title: "Grid carbon intensity used, " + res, Unit: "gCO2e/kWh", XTime: true, Width: 900, Height: 220, Series: intensity}
		if v.Intensity, err = svg(func(b *bytes.Buffer) error { return chart.Line(b, lc) }); err != nil {
			c.internal(w, r, err)
			return
		}
	}
	v.IntensitySources = slices.Sorted(maps.Keys(sources))

	// Top jobs of the workspace: their attributed shares.
	jrows, err := c.cfg.Store.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupJob, Width: width, WorkspaceID: p.WorkspaceID, Since: v.Since, Until: v.Until})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	sums := joule.SummariseEnergy(jrows, func(r joule.EnergyRollup) string { return r.Entity })
	if t := joule.SummariseEnergy(jrows, func(joule.EnergyRollup) string { return "total" }); len(t) == 1 {
		v.Total, v.TotalKind = t[0], methodKind(t[0].Method)
	}
	jobName := map[string]string{}
	row := func(s joule.EnergySummary, top float64, of func(joule.EnergySummary) float64) jobEnergyRow {
		name, ok := jobName[s.Key]
		if !ok {
			if j, err := c.cfg.Store.GetJob(ctx, p.WorkspaceID, s.Key); err == nil {
				name = j.Spec.Name
			}
			jobName[s.Key] = name
		}
		jr := jobEnergyRow{EnergySummary: s, Name: name, Kind: methodKind(s.Method), How: methodHow(s.Method)}
		if top > 0 {
			jr.Share = of(s) / top
		}
		return jr
	}
	joulesOf := func(s joule.EnergySummary) float64 { return s.Joules }
	for _, s := range sums[:min(len(sums), topJobs)] {
		v.ByEnergy = append(v.ByEnergy, row(s, sums[0].Joules, joulesOf))
	}
	byEm := slices.Clone(sums)
	slices.SortStableFunc(byEm, func(a, b joule.EnergySummary) int {
		return cmp.Or(cmp.Compare(b.EmissionsG, a.EmissionsG), cmp.Compare(a.Key, b.Key))
	})
	emOf := func(s joule.EnergySummary) float64 { return s.EmissionsG }
	for _, s := range byEm[:min(len(byEm), topJobs)] {
		v.ByEmissions = append(v.ByEmissions, row(s, byEm[0].EmissionsG, emOf))
	}
	c.render(w, r, http.StatusOK, "energy.html", view{Title: "Energy & Carbon", Path: "/energy", Principal: p, Data: v})
}

// svg draws a chart into HTML. The chart package escapes all text and
// emits no script or style.
func svg(draw func(*bytes.Buffer) error) (template.HTML, error) {
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		return "", fmt.Errorf("draw chart: %v", err)
	}
	return template.HTML(b.String()), nil
}

// fmtJoules formats energy in J, kJ or kWh with about three significant
// digits.
func fmtJoules(j float64) string {
	switch {
	case j < 1e3:
		return chart.FormatValue(j) + " J"
	case j < 3.6e6:
		return chart.FormatValue(j/1e3) + " kJ"
	}
	return chart.FormatValue(j/3.6e6) + " kWh"
}

// fmtGrams formats emissions in g or kg CO2e.
func fmtGrams(g float64) string {
	if g < 1e3 {
		return chart.FormatValue(g) + " g"
	}
	return chart.FormatValue(g/1e3) + " kg"
}
