package sustain

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Data is the stored accounting that indicators are computed from: the
// hourly rollups of a period, the jobs they belong to, and imported series.
// NodeRows is nil when the caller may not see whole nodes (a workspace's
// own view); node-level indicators are then unavailable, and say so.
type Data struct {
	Since, Until time.Time
	JobRows      []joule.EnergyRollup // scope job, hourly
	NodeRows     []joule.EnergyRollup // scope node, hourly; nil for workspace views
	// Jobs holds the jobs of JobRows by ID, for their labels. A row whose
	// job is missing matches no label slice.
	Jobs map[string]joule.Job
	// Facility is the imported facility meter (series meter:facility), in
	// joules per hour. Where it overlaps node metering it replaces the
	// configured PUE with a measured one.
	Facility []joule.SeriesPoint
	// REC is renewable-energy certificates, in joules per hour covered.
	REC []joule.SeriesPoint
	// KPIs are custom KPIs with their points in the period.
	KPIs []KPIData
}

// KPIData is a KPI with its points.
type KPIData struct {
	KPI    joule.KPI
	Points []joule.SeriesPoint
}

// ParseSlice checks a slice: "", "label:KEY=VALUE", "node:NODE" or
// "workspace:WS" (EINVALID naming the slice).
func ParseSlice(s string) (kind, key, value string, err error) {
	if s == "" {
		return joule.SliceAll, "", "", nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return "", "", "", joule.Errorf(joule.EINVALID, "slice %q: want label:KEY=VALUE, node:NODE or workspace:WORKSPACE", s)
	}
	switch kind {
	case joule.SliceLabel:
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" {
			return "", "", "", joule.Errorf(joule.EINVALID, "slice %q: want label:KEY=VALUE", s)
		}
		return kind, k, v, nil
	case joule.SliceNode, joule.SliceWorkspace:
		return kind, rest, "", nil
	case "model", "deployment":
		return "", "", "", joule.Errorf(joule.EINVALID, "slice %q: model and deployment slices come with models and deployments, which this installation does not have yet", s)
	}
	return "", "", "", joule.Errorf(joule.EINVALID, "slice %q: kind %q is not label, node or workspace", s, kind)
}

// Filter returns the part of d that a slice covers. Label and workspace
// slices drop the node rows: whole nodes are not theirs.
func (d Data) Filter(slice joule.Slice) (Data, error) {
	kind, key, value, err := ParseSlice(string(slice))
	if err != nil {
		return Data{}, err
	}
	out := d
	var keepJob func(joule.EnergyRollup) bool
	switch kind {
	case joule.SliceAll:
		return d, nil
	case joule.SliceLabel:
		keepJob = func(r joule.EnergyRollup) bool {
			j, ok := d.Jobs[r.Entity]
			if !ok {
				return false
			}
			v, ok := j.Spec.Labels[key]
			return ok && v == value
		}
		out.NodeRows = nil
	case joule.SliceWorkspace:
		keepJob = func(r joule.EnergyRollup) bool { return r.WorkspaceID == key }
		out.NodeRows = nil
	case joule.SliceNode:
		keepJob = func(r joule.EnergyRollup) bool { return r.NodeID == key }
		if d.NodeRows != nil {
			out.NodeRows = []joule.EnergyRollup{}
			for _, r := range d.NodeRows {
				if r.NodeID == key {
					out.NodeRows = append(out.NodeRows, r)
				}
			}
		}
	}
	out.JobRows = nil
	for _, r := range d.JobRows {
		if keepJob(r) {
			out.JobRows = append(out.JobRows, r)
		}
	}
	return out, nil
}

// Window returns the part of d with Start (or point time) in [since,
// until).
func (d Data) Window(since, until time.Time) Data {
	in := func(t time.Time) bool { return !t.Before(since) && t.Before(until) }
	rows := func(rs []joule.EnergyRollup) []joule.EnergyRollup {
		if rs == nil {
			return nil
		}
		out := []joule.EnergyRollup{}
		for _, r := range rs {
			if in(r.Start) {
				out = append(out, r)
			}
		}
		return out
	}
	pts := func(ps []joule.SeriesPoint) []joule.SeriesPoint {
		var out []joule.SeriesPoint
		for _, p := range ps {
			if in(p.Time) {
				out = append(out, p)
			}
		}
		return out
	}
	out := Data{Since: since, Until: until, JobRows: rows(d.JobRows), NodeRows: rows(d.NodeRows), Jobs: d.Jobs,
		Facility: pts(d.Facility), REC: pts(d.REC)}
	for _, k := range d.KPIs {
		out.KPIs = append(out.KPIs, KPIData{KPI: k.KPI, Points: pts(k.Points)})
	}
	return out
}

func hourKey(node string, t time.Time) string {
	return node + "@" + t.UTC().Truncate(time.Hour).Format(time.RFC3339)
}

// measuredPUE returns facility ÷ node energy over the hours where both the
// facility meter and node rollups exist, and the hours used; ok is false
// without overlap.
func (d Data) measuredPUE() (pue float64, hours int, ok bool) {
	if len(d.Facility) == 0 || len(d.NodeRows) == 0 {
		return 0, 0, false
	}
	nodeByHour := map[int64]float64{}
	for _, r := range d.NodeRows {
		nodeByHour[r.Start.Truncate(time.Hour).Unix()] += r.Joules()
	}
	var fac, it float64
	for _, p := range d.Facility {
		if n, ok := nodeByHour[p.Time.Truncate(time.Hour).Unix()]; ok && n > 0 {
			fac += p.Value
			it += n
			hours++
		}
	}
	if it <= 0 || fac <= 0 {
		return 0, 0, false
	}
	return fac / it, hours, true
}

// Compute returns every indicator of one slice of d. The formulas, each
// checked by TestIndicatorsThirtyDays against a hand computation:
//
//   - energy_kwh = Σ job joules ÷ 3.6e6 (IT energy attributed to jobs,
//     idle excluded), with the measured share Σ measured ÷ Σ joules;
//   - pue = Σ (joules × PUE) ÷ Σ joules, the configured PUE, unless a
//     facility meter overlaps node metering: then facility ÷ node energy
//     over the overlapping hours (measured);
//   - facility_kwh = energy × pue;
//   - emissions_kg = Σ location-based emissions ÷ 1000, each row scaled by
//     measured ÷ configured PUE when the PUE is measured;
//     market_emissions_kg likewise, available only when every row has a
//     market factor;
//   - cost = Σ energy cost (scaled like emissions) + Σ amortisation;
//   - jobs = distinct jobs that drew energy in the period;
//     joules_per_job = Σ joules ÷ jobs;
//   - sci_g_per_job = (E·I + M) ÷ R with E the facility kWh, I the
//     energy-weighted intensity (so E·I is the location-based emissions),
//     M the jobs' embodied share, R the jobs;
//   - embodied_kg = Σ embodied ÷ 1000;
//   - node_energy_kwh = Σ node joules ÷ 3.6e6 (whole draw, idle
//     included); idle_energy_share = (node − attributed) ÷ node;
//     utilisation = node-hours in which a job drew energy ÷ metered
//     node-hours;
//   - cfe_share = min(1, Σ REC ÷ Σ node energy × pue) when certificates
//     are recorded.
func Compute(d Data, slice joule.Slice) (joule.IndicatorSet, error) {
	d, err := d.Filter(slice)
	if err != nil {
		return joule.IndicatorSet{}, err
	}
	set := joule.IndicatorSet{Slice: slice, Since: d.Since, Until: d.Until}
	add := func(v joule.IndicatorValue) { set.Indicators = append(set.Indicators, v) }

	var joules, measured, pueJ, emis, market, embodied, ecost, amort float64
	marketAll := len(d.JobRows) > 0
	var methods, sources, currencies []string
	jobs := map[string]bool{}
	busy := map[string]bool{}
	for _, r := range d.JobRows {
		joules += r.Joules()
		measured += r.MeasuredJoules
		pueJ += r.PUEJoules
		emis += r.EmissionsG
		if r.MarketEmissionsG == nil {
			marketAll = false
		} else {
			market += *r.MarketEmissionsG
		}
		embodied += r.EmbodiedG
		ecost += r.EnergyCost
		amort += r.AmortisationCost
		methods = append(methods, r.Method)
		sources = append(sources, r.IntensitySource)
		if r.Currency != "" {
			currencies = append(currencies, r.Currency)
		}
		if r.Joules() > 0 {
			jobs[r.Entity] = true
			busy[hourKey(r.NodeID, r.Start)] = true
		}
	}
	method := labels(methods)
	share := func() *float64 {
		if joules <= 0 {
			return nil
		}
		v := measured / joules
		return &v
	}
	basis := fmt.Sprintf("%s; %s", method, shareText(measured, joules))

	// PUE: configured, or measured from a facility meter.
	pue, pueMethod, scale := 0.0, "configured PUE, energy-weighted", 1.0
	if joules > 0 {
		pue = pueJ / joules
	}
	if m, hours, ok := d.measuredPUE(); ok {
		if pue > 0 {
			scale = m / pue
		}
		pue = m
		pueMethod = fmt.Sprintf("measured: facility meter ÷ node energy over %d overlapping hours", hours)
	}
	n := float64(len(jobs))
	kwh := joules / 3.6e6

	add(joule.IndicatorValue{Name: joule.IndEnergyKWh, Unit: "kWh", Value: kwh, Available: true, MeasuredShare: share(), Extensive: true,
		Method: "IT energy attributed to jobs (idle excluded): " + basis})
	add(joule.IndicatorValue{Name: joule.IndPUE, Unit: "", Value: pue, Available: joules > 0 || scale != 1, Method: pueMethod,
		Note: noteIf(joules <= 0, "no job energy in the period")})
	add(joule.IndicatorValue{Name: joule.IndFacilityKWh, Unit: "kWh", Value: kwh * pue, Available: true, MeasuredShare: share(), Extensive: true,
		Method: "energy_kwh × pue (" + pueMethod + ")"})
	intensity := 0.0
	if pueJ > 0 {
		intensity = emis / (pueJ / 3.6e6)
	}
	emisMethod := fmt.Sprintf("location-based: energy × PUE × grid intensity at the time (mean %.1f gCO2e/kWh; source %s)", intensity, cmpOr(labels(sources), "none"))
	if scale != 1 {
		emisMethod += fmt.Sprintf("; scaled ×%.6g for the measured PUE", scale)
	}
	add(joule.IndicatorValue{Name: joule.IndEmissionsKg, Unit: "kg CO2e", Value: emis * scale / 1000, Available: true, MeasuredShare: share(), Extensive: true,
		Method: emisMethod + "; energy " + shareText(measured, joules)})
	mv := joule.IndicatorValue{Name: joule.IndMarketEmissionsKg, Unit: "kg CO2e", Extensive: true, MeasuredShare: share(),
		Method: "market-based: energy × PUE × the configured market (contractual) factor"}
	if marketAll {
		mv.Value, mv.Available = market*scale/1000, true
	} else {
		mv.Note = "no market factor recorded for every row"
	}
	add(mv)
	add(joule.IndicatorValue{Name: joule.IndCost, Unit: labels(currencies), Value: ecost*scale + amort, Available: true, Extensive: true,
		Method: "energy × PUE × price, plus hardware amortisation", Note: noteIf(len(currencies) == 0, "no price configured")})
	add(joule.IndicatorValue{Name: joule.IndJobs, Unit: "jobs", Value: n, Available: true, Extensive: true,
		Method: "distinct jobs that drew energy in the period"})
	perJob := joule.IndicatorValue{Name: joule.IndJoulesPerJob, Unit: "J/job", MeasuredShare: share(), Method: "energy_kwh in joules ÷ jobs; " + basis}
	sci := joule.IndicatorValue{Name: joule.IndSCI, Unit: "gCO2e/job", MeasuredShare: share(),
		Method: "SCI = (E·I + M) ÷ R (ISO/IEC 21031): E facility kWh, I location-based intensity, M embodied share, R = jobs"}
	if n > 0 {
		perJob.Value, perJob.Available = joules/n, true
		sci.Value, sci.Available = SCI(kwh*pue, safeDiv(emis*scale, kwh*pue), embodied, n), true
	} else {
		perJob.Note, sci.Note = "no jobs in the period", "no jobs in the period"
	}
	add(perJob)
	add(sci)
	add(joule.IndicatorValue{Name: joule.IndEmbodiedKg, Unit: "kg CO2e", Value: embodied / 1000, Available: true, Extensive: true,
		Method: "SCI embodied share: TE × (time reserved ÷ lifetime) × (resources reserved ÷ total)"})

	// Node-level indicators.
	nodeJ, nodeMeasured := 0.0, 0.0
	metered := map[string]bool{}
	var nodeMethods []string
	for _, r := range d.NodeRows {
		nodeJ += r.Joules()
		nodeMeasured += r.MeasuredJoules
		nodeMethods = append(nodeMethods, r.Method)
		metered[hourKey(r.NodeID, r.Start)] = true
	}
	nodeNote := noteIf(d.NodeRows == nil, "whole nodes are visible to installation admins only, and not in label or workspace slices")
	ne := joule.IndicatorValue{Name: joule.IndNodeEnergyKWh, Unit: "kWh", Extensive: true, Note: nodeNote,
		Method: "whole node draw, idle included: " + labels(nodeMethods) + "; " + shareText(nodeMeasured, nodeJ)}
	idle := joule.IndicatorValue{Name: joule.IndIdleShare, Unit: "fraction", Note: nodeNote,
		Method: "(node energy − energy attributed to jobs) ÷ node energy"}
	util := joule.IndicatorValue{Name: joule.IndUtilisation, Unit: "fraction", Note: nodeNote,
		Method: "node-hours in which a job drew energy ÷ metered node-hours (hourly rollups)"}
	if d.NodeRows != nil {
		ne.Value, ne.Available = nodeJ/3.6e6, true
		if nodeJ > 0 {
			v := nodeMeasured / nodeJ
			ne.MeasuredShare = &v
			idle.Value, idle.Available = max(0, nodeJ-joules)/nodeJ, true
		} else {
			idle.Note = "no node energy in the period"
		}
		if len(metered) > 0 {
			b := 0
			for k := range busy {
				if metered[k] {
					b++
				}
			}
			util.Value, util.Available = float64(b)/float64(len(metered)), true
		} else {
			util.Note = "no node metering in the period"
		}
	}
	add(ne)
	add(idle)
	add(util)

	cfe := joule.IndicatorValue{Name: joule.IndCFEShare, Unit: "fraction",
		Method: "renewable-energy certificates ÷ facility energy (node energy × pue), capped at 1"}
	var rec float64
	for _, p := range d.REC {
		rec += p.Value
	}
	switch {
	case len(d.REC) == 0:
		cfe.Note = "no certificate (REC) data imported"
	case d.NodeRows == nil || nodeJ <= 0:
		cfe.Note = "certificates cover the installation: needs whole-node energy"
	default:
		cfe.Value, cfe.Available = math.Min(1, rec/(nodeJ*pue)), true
	}
	add(cfe)

	for _, k := range d.KPIs {
		v := joule.IndicatorValue{Name: joule.SeriesKPI + k.KPI.Name, Unit: k.KPI.Unit, Available: len(k.Points) > 0,
			Extensive: k.KPI.Aggregate == "sum", Method: "custom KPI, user-entered or imported; " + k.KPI.Aggregate + " of its points"}
		for _, p := range k.Points {
			v.Value += p.Value
		}
		if k.KPI.Aggregate == "mean" && len(k.Points) > 0 {
			v.Value /= float64(len(k.Points))
		}
		if len(k.Points) == 0 {
			v.Note = "no points in the period"
		}
		add(v)
	}
	return set, nil
}

// SCI returns the Software Carbon Intensity of ISO/IEC 21031:
// ((E × I) + M) ÷ R, with E in kWh, I in gCO2e/kWh, M in gCO2e and R the
// functional units; grams CO2e per unit.
func SCI(e, i, m, r float64) float64 { return (e*i + m) / r }

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func noteIf(c bool, s string) string {
	if c {
		return s
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// shareText says how much of the energy was measured.
func shareText(measured, total float64) string {
	if total <= 0 {
		return "no energy"
	}
	return fmt.Sprintf("%.1f%% measured, %.1f%% estimated", 100*measured/total, 100*(total-measured)/total)
}

// labels merges "+"-joined label sets into one sorted set.
func labels(ls []string) string {
	var all []string
	for _, l := range ls {
		if l != "" {
			all = append(all, strings.Split(l, "+")...)
		}
	}
	slices.Sort(all)
	return strings.Join(slices.Compact(all), "+")
}

// Extensive reports whether an indicator grows with the period's length.
func Extensive(name string) bool {
	switch name {
	case joule.IndEnergyKWh, joule.IndFacilityKWh, joule.IndNodeEnergyKWh, joule.IndEmissionsKg, joule.IndMarketEmissionsKg,
		joule.IndCost, joule.IndEmbodiedKg, joule.IndJobs:
		return true
	}
	return false
}

// Names lists the built-in indicators.
var Names = []string{joule.IndEnergyKWh, joule.IndPUE, joule.IndFacilityKWh, joule.IndEmissionsKg, joule.IndMarketEmissionsKg,
	joule.IndCost, joule.IndJobs, joule.IndJoulesPerJob, joule.IndSCI, joule.IndEmbodiedKg, joule.IndNodeEnergyKWh,
	joule.IndIdleShare, joule.IndUtilisation, joule.IndCFEShare}

// Bucketed returns an indicator's value in each complete step-long bucket
// from since to until (a partial last bucket is left out), at the bucket
// starts. Unavailable values are skipped, and so are buckets without any
// accounting (no rollup rows, and for a KPI no points): no data is not
// zero energy.
func Bucketed(d Data, slice joule.Slice, name string, since, until time.Time, step time.Duration) ([]joule.SeriesPoint, error) {
	var out []joule.SeriesPoint
	for t := since; !t.Add(step).After(until); t = t.Add(step) {
		w := d.Window(t, t.Add(step))
		if len(w.JobRows) == 0 && len(w.NodeRows) == 0 && !strings.HasPrefix(name, joule.SeriesKPI) {
			continue
		}
		set, err := Compute(w, slice)
		if err != nil {
			return nil, err
		}
		if v, ok := set.Get(name); ok && v.Available {
			out = append(out, joule.SeriesPoint{Time: t, Value: v.Value})
		} else if !ok {
			return nil, joule.Errorf(joule.EINVALID, "indicator %q: unknown (want one of %s, or kpi:NAME)", name, strings.Join(Names, ", "))
		}
	}
	return out, nil
}
