package sustain

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// Report is the monthly (or any period's) sustainability report: the body
// of GET …/sustainability/report and the data behind its HTML and CSV.
type Report struct {
	Period      string    `json:"period"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Scope       string    `json:"scope"` // a workspace name, or "installation"
	GeneratedAt time.Time `json:"generated_at"`
	// Summary is every indicator over the period.
	Summary []joule.IndicatorValue `json:"summary"`
	// Daily is energy, emissions and cost per UTC day, for the trends.
	Daily       []DayFigures     `json:"daily"`
	ByWorkspace []Breakdown      `json:"by_workspace"`
	ByNode      []Breakdown      `json:"by_node"`
	Scope2      Scope2           `json:"scope2"`
	Targets     []ReportTarget   `json:"targets"`
	Recommend   []Recommendation `json:"recommendations"`
	// Models holds a model energy card per model version trained in the
	// period.
	Models []ModelEnergyCard `json:"models"`
	Notes  []string          `json:"notes"`
}

// ModelEnergyCard is a model version's energy disclosure: what training it
// cost, measured or estimated and how. Inference energy per 1,000
// predictions joins it when the version is served.
type ModelEnergyCard struct {
	Workspace string    `json:"workspace"`
	Model     string    `json:"model"`
	Version   int       `json:"version"`
	Algorithm string    `json:"algorithm"`
	Stage     string    `json:"stage"`
	TrainedAt time.Time `json:"trained_at"`
	JobID     string    `json:"job_id,omitempty"`
	// Training is nil until the training job's energy is accounted.
	TrainingKWh   *float64 `json:"training_kwh,omitempty"`
	MeasuredShare float64  `json:"measured_share"`
	EmissionsKg   float64  `json:"emissions_kg"`
	Cost          float64  `json:"cost"`
	Currency      string   `json:"currency,omitempty"`
	Method        string   `json:"method"`
	Inference     string   `json:"inference"`
}

// modelCard makes v's energy card.
func modelCard(workspace string, m joule.Model, v joule.ModelVersion) ModelEnergyCard {
	c := ModelEnergyCard{Workspace: workspace, Model: m.Name, Version: v.Version, Algorithm: v.Algorithm, Stage: v.Stage,
		TrainedAt: v.CreatedAt, JobID: v.JobID,
		Inference: "not served yet: energy per 1,000 predictions is reported once the version is deployed"}
	switch e := v.Energy; {
	case e != nil:
		kwh := e.Joules / 3.6e6
		c.TrainingKWh = &kwh
		if e.Joules > 0 {
			c.MeasuredShare = e.MeasuredJoules / e.Joules
		}
		c.EmissionsKg, c.Cost, c.Currency = e.EmissionsG/1000, e.Cost, e.Currency
		c.Method = fmt.Sprintf("training job's energy (%s), emissions at %.0f gCO2e/kWh (%s) × PUE %.2f", e.Method, e.IntensityGPerKWh, e.IntensitySource, e.PUE)
	case v.JobID == "":
		c.Method = "imported: training energy not known"
	default:
		c.Method = "training job not accounted yet"
	}
	return c
}

// DayFigures is one day of the trends.
type DayFigures struct {
	Day         time.Time `json:"day"`
	KWh         float64   `json:"kwh"`
	EmissionsKg float64   `json:"emissions_kg"`
	Cost        float64   `json:"cost"`
}

// Breakdown is one line of a breakdown by workspace or node.
type Breakdown struct {
	Key           string  `json:"key"`
	Name          string  `json:"name"`
	KWh           float64 `json:"kwh"`
	MeasuredShare float64 `json:"measured_share"`
	EmissionsKg   float64 `json:"emissions_kg"`
	Cost          float64 `json:"cost"`
	Jobs          float64 `json:"jobs"`
}

// Scope2 is the GHG Protocol scope 2 figure of the period: location-based,
// and market-based where a contractual factor is recorded.
type Scope2 struct {
	LocationKg float64  `json:"location_kg"`
	MarketKg   *float64 `json:"market_kg,omitempty"`
	Method     string   `json:"method"`
}

// ReportTarget is a target as the report shows it.
type ReportTarget struct {
	joule.Target
	Description string  `json:"description"`
	Progress    float64 `json:"progress"`
}

// ParsePeriod reads "2026-11" (a month), "2026-Q3" (a quarter), "2026"
// (a year) or "2026-11-05" (a day) as a UTC interval (EINVALID).
func ParsePeriod(p string) (since, until time.Time, err error) {
	if t, e := time.Parse("2006-01", p); e == nil {
		return t, t.AddDate(0, 1, 0), nil
	}
	if t, e := time.Parse(time.DateOnly, p); e == nil {
		return t, t.AddDate(0, 0, 1), nil
	}
	if y, q, ok := strings.Cut(p, "-Q"); ok && len(q) == 1 && q >= "1" && q <= "4" {
		if t, e := time.Parse("2006", y); e == nil {
			t = t.AddDate(0, 3*int(q[0]-'1'), 0)
			return t, t.AddDate(0, 3, 0), nil
		}
	}
	if t, e := time.Parse("2006", p); e == nil {
		return t, t.AddDate(1, 0, 0), nil
	}
	return time.Time{}, time.Time{}, joule.Errorf(joule.EINVALID, "period %q: want YYYY-MM, YYYY-QN, YYYY or YYYY-MM-DD", p)
}

// ReportInput is what BuildReport needs besides the data.
type ReportInput struct {
	Period          string
	Scope           string
	Now             time.Time
	WorkspaceNames  map[string]string
	NodeNames       map[string]string
	Targets         []joule.Target
	BaselineNames   map[string]string
	Recommendations []Recommendation
	Models          []ModelEnergyCard
}

// BuildReport computes a report from d (already the period's data).
func BuildReport(d Data, in ReportInput) (Report, error) {
	set, err := Compute(d, "")
	if err != nil {
		return Report{}, err
	}
	r := Report{Period: in.Period, Since: d.Since, Until: d.Until, Scope: in.Scope, GeneratedAt: in.Now, Summary: set.Indicators,
		Daily: []DayFigures{}, ByWorkspace: []Breakdown{}, ByNode: []Breakdown{}, Targets: []ReportTarget{}, Recommend: in.Recommendations}
	if r.Recommend == nil {
		r.Recommend = []Recommendation{}
	}
	r.Models = in.Models
	if r.Models == nil {
		r.Models = []ModelEnergyCard{}
	}
	for t := d.Since; t.Before(d.Until); t = t.AddDate(0, 0, 1) {
		s, _ := Compute(d.Window(t, t.AddDate(0, 0, 1)), "")
		e, _ := s.Get(joule.IndEnergyKWh)
		em, _ := s.Get(joule.IndEmissionsKg)
		c, _ := s.Get(joule.IndCost)
		r.Daily = append(r.Daily, DayFigures{Day: t, KWh: e.Value, EmissionsKg: em.Value, Cost: c.Value})
	}
	breakdown := func(kind string, keys []string, names map[string]string) ([]Breakdown, error) {
		var out []Breakdown
		for _, k := range keys {
			s, err := Compute(d, joule.Slice(kind+":"+k))
			if err != nil {
				return nil, err
			}
			e, _ := s.Get(joule.IndEnergyKWh)
			em, _ := s.Get(joule.IndEmissionsKg)
			c, _ := s.Get(joule.IndCost)
			n, _ := s.Get(joule.IndJobs)
			b := Breakdown{Key: k, Name: cmp.Or(names[k], k), KWh: e.Value, EmissionsKg: em.Value, Cost: c.Value, Jobs: n.Value}
			if e.MeasuredShare != nil {
				b.MeasuredShare = *e.MeasuredShare
			}
			out = append(out, b)
		}
		slices.SortFunc(out, func(a, b Breakdown) int { return cmp.Or(cmp.Compare(b.KWh, a.KWh), cmp.Compare(a.Key, b.Key)) })
		return out, nil
	}
	wss, nodes := map[string]bool{}, map[string]bool{}
	for _, row := range d.JobRows {
		wss[row.WorkspaceID] = true
		nodes[row.NodeID] = true
	}
	if r.ByWorkspace, err = breakdown(joule.SliceWorkspace, sortedKeys(wss), in.WorkspaceNames); err != nil {
		return Report{}, err
	}
	if r.ByNode, err = breakdown(joule.SliceNode, sortedKeys(nodes), in.NodeNames); err != nil {
		return Report{}, err
	}
	r.ByWorkspace, r.ByNode = nonNil(r.ByWorkspace), nonNil(r.ByNode)
	loc, _ := set.Get(joule.IndEmissionsKg)
	mkt, _ := set.Get(joule.IndMarketEmissionsKg)
	r.Scope2 = Scope2{LocationKg: loc.Value, Method: loc.Method}
	if mkt.Available {
		v := mkt.Value
		r.Scope2.MarketKg = &v
		r.Scope2.Method += "; market-based: " + mkt.Method
	} else {
		r.Scope2.Method += "; market-based not reported: " + mkt.Note
	}
	for _, t := range in.Targets {
		r.Targets = append(r.Targets, ReportTarget{Target: t, Description: Describe(t, cmp.Or(in.BaselineNames[t.BaselineID], t.BaselineID)), Progress: Progress(t)})
	}
	e, _ := set.Get(joule.IndEnergyKWh)
	pue, _ := set.Get(joule.IndPUE)
	r.Notes = []string{
		"Energy: " + e.Method + ".",
		"Measured figures come from RAPL, hwmon or NVML meters; estimated ones from joule's utilisation-to-power model, named with its version. Idle power is not attributed to jobs; it appears as node energy and idle share.",
		"PUE: " + pue.Method + ".",
		"Emissions (GHG Protocol scope 2): " + r.Scope2.Method + ".",
		"Embodied emissions follow the SCI specification and are reported apart, never added to scope 2.",
		"SCI per job = (E·I + M) ÷ R (ISO/IEC 21031), R = jobs that drew energy in the period.",
		"Targets: " + ProjectionMethod + ".",
		"Limits: jobs are the only functional unit until models and deployments land; a job spanning the period's edge counts in both periods; market-based emissions need a configured factor for every hour.",
	}
	return r, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Fmt formats a report figure as the HTML and CSV show it: four
// significant digits, fewer for large values.
func Fmt(v float64) string {
	return strconv.FormatFloat(v, 'f', decimals(v), 64)
}

func decimals(v float64) int {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1000:
		return 0
	case a >= 100:
		return 1
	case a >= 1:
		return 2
	case a == 0:
		return 0
	}
	return 4
}

//go:embed report.html
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmt":   Fmt,
	"exact": func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
	"pct":   func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
	"date": func(t time.Time) string {
		return t.Format(time.DateOnly)
	},
	"status": func(t joule.Target) string {
		if t.Status == nil {
			return "not evaluated"
		}
		return strings.ReplaceAll(t.Status.Status, "_", " ")
	},
	"statusClass": func(t joule.Target) string {
		if t.Status == nil {
			return "unknown"
		}
		return t.Status.Status
	},
	"deref": func(p *float64) float64 { return *p },
}).Parse(reportHTML))

// RenderHTML writes the report as a self-contained HTML page with SVG
// charts, styled for screen and print.
func RenderHTML(w io.Writer, r Report) error {
	charts := map[string]template.HTML{}
	line := func(key, title, unit string, val func(DayFigures) float64) error {
		s := chart.Series{Name: title}
		for _, d := range r.Daily {
			s.Points = append(s.Points, chart.Point{X: chart.TimeX(d.Day), Y: val(d)})
		}
		var b bytes.Buffer
		if err := chart.Line(&b, chart.LineChart{Title: title, Unit: unit, XTime: true, Width: 560, Height: 220, Series: []chart.Series{s}}); err != nil {
			return err
		}
		charts[key] = template.HTML(b.String())
		return nil
	}
	if err := line("energy", "Energy per day", "kWh", func(d DayFigures) float64 { return d.KWh }); err != nil {
		return err
	}
	if err := line("emissions", "Emissions per day (location-based)", "kg CO2e", func(d DayFigures) float64 { return d.EmissionsKg }); err != nil {
		return err
	}
	if err := line("cost", "Cost per day", "", func(d DayFigures) float64 { return d.Cost }); err != nil {
		return err
	}
	var bars []chart.Item
	for _, t := range r.Targets {
		bars = append(bars, chart.Item{Label: t.Name, Value: 100 * min(max(t.Progress, 0), 1.5)})
	}
	var b bytes.Buffer
	if err := chart.Bar(&b, chart.BarChart{Title: "Target progress (baseline 0%, target 100%)", Unit: "%", Max: 100, Width: 560, Height: 60 + 28*max(len(bars), 1), Bars: bars}); err != nil {
		return err
	}
	charts["targets"] = template.HTML(b.String())
	return reportTmpl.Execute(w, struct {
		Report
		Charts map[string]template.HTML
	}{r, charts})
}

// RenderCSV writes the report as CSV rows: section, key, name, value,
// unit, note.
func RenderCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	write := func(rec ...string) { _ = cw.Write(rec) }
	write("section", "key", "name", "value", "unit", "note")
	write("report", "period", r.Period, "", "", r.Since.Format(time.RFC3339)+" to "+r.Until.Format(time.RFC3339))
	write("report", "scope", r.Scope, "", "", "")
	for _, v := range r.Summary {
		note := v.Method
		if !v.Available {
			note = "unavailable: " + v.Note
		}
		write("summary", v.Name, "", Fmt(v.Value), v.Unit, note)
	}
	write("scope2", "location_based", "", Fmt(r.Scope2.LocationKg), "kg CO2e", r.Scope2.Method)
	if r.Scope2.MarketKg != nil {
		write("scope2", "market_based", "", Fmt(*r.Scope2.MarketKg), "kg CO2e", "")
	}
	for _, d := range r.Daily {
		day := d.Day.Format(time.DateOnly)
		write("daily", day, "energy", Fmt(d.KWh), "kWh", "")
		write("daily", day, "emissions", Fmt(d.EmissionsKg), "kg CO2e", "")
		write("daily", day, "cost", Fmt(d.Cost), "", "")
	}
	for _, sec := range []struct {
		name string
		rows []Breakdown
	}{{"by_workspace", r.ByWorkspace}, {"by_node", r.ByNode}} {
		for _, b := range sec.rows {
			write(sec.name, b.Key, b.Name, Fmt(b.KWh), "kWh", fmt.Sprintf("measured %.1f%%; %s kg CO2e; cost %s; %g jobs", 100*b.MeasuredShare, Fmt(b.EmissionsKg), Fmt(b.Cost), b.Jobs))
		}
	}
	for _, t := range r.Targets {
		st, proj := "not evaluated", ""
		if t.Status != nil {
			st, proj = t.Status.Status, Fmt(t.Status.Projected)
		}
		write("target", t.Name, t.Description, proj, t.Unit, st)
	}
	for _, rec := range r.Recommend {
		write("recommendation", rec.Kind, rec.Title, Fmt(rec.KgCO2e), "kg CO2e", rec.Method)
	}
	for _, c := range r.Models {
		key := fmt.Sprintf("%s/%s@%d", c.Workspace, c.Model, c.Version)
		if c.TrainingKWh == nil {
			write("model_card", key, c.Algorithm, "", "kWh", c.Method)
			continue
		}
		write("model_card", key, c.Algorithm, Fmt(*c.TrainingKWh), "kWh", fmt.Sprintf("measured %.1f%%; %s kg CO2e; %s; inference: %s", 100*c.MeasuredShare, Fmt(c.EmissionsKg), c.Method, c.Inference))
	}
	for i, n := range r.Notes {
		write("note", strconv.Itoa(i+1), "", "", "", n)
	}
	cw.Flush()
	return cw.Error()
}
