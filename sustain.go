package joule

import (
	"context"
	"math"
	"regexp"
	"time"
)

// Indicator names. Energy and carbon indicators come from the stored
// rollups; "kpi:<name>" names a custom KPI's series.
const (
	IndEnergyKWh         = "energy_kwh"          // IT energy attributed to jobs
	IndFacilityKWh       = "facility_kwh"        // IT energy × PUE
	IndNodeEnergyKWh     = "node_energy_kwh"     // whole node draw, idle included
	IndEmissionsKg       = "emissions_kg"        // location-based, scope 2
	IndMarketEmissionsKg = "market_emissions_kg" // market-based, scope 2
	IndCost              = "cost"
	IndJoulesPerJob      = "joules_per_job"
	IndSCI               = "sci_g_per_job" // ISO/IEC 21031, R = one job
	IndPUE               = "pue"
	IndUtilisation       = "utilisation"
	IndIdleShare         = "idle_energy_share"
	IndEmbodiedKg        = "embodied_kg"
	IndCFEShare          = "cfe_share"
	IndJobs              = "jobs"
)

// IndicatorValue is one indicator over a period and slice. Every figure
// says how it was obtained: Method names the meters or estimates and the
// factors behind it, and MeasuredShare the fraction of the energy behind it
// that was measured rather than estimated.
type IndicatorValue struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	// Available is false when the indicator cannot be computed for the
	// slice (no data, no market factor, no CFE data); Note says why.
	Available     bool     `json:"available"`
	MeasuredShare *float64 `json:"measured_share,omitempty"`
	Method        string   `json:"method"`
	Note          string   `json:"note,omitempty"`
	// Extensive indicators (energy, emissions, cost) grow with the length
	// of the period; the others are ratios.
	Extensive bool `json:"extensive"`
}

// Slice kinds. A slice narrows indicators to part of the platform; model
// and deployment slices join these when models and deployments land.
const (
	SliceAll       = ""          // the whole workspace (or installation)
	SliceLabel     = "label"     // jobs with label key=value
	SliceNode      = "node"      // one node
	SliceWorkspace = "workspace" // one workspace (installation-wide views)
)

// Slice is "label:team=vision", "node:gpu-1", "workspace:research" or ""
// for everything in scope.
type Slice string

// IndicatorSet is every indicator of one slice over [Since, Until).
type IndicatorSet struct {
	Slice      Slice            `json:"slice"`
	Since      time.Time        `json:"since"`
	Until      time.Time        `json:"until"`
	Indicators []IndicatorValue `json:"indicators"`
}

// Get returns the named indicator and whether it is in the set.
func (s IndicatorSet) Get(name string) (IndicatorValue, bool) {
	for _, v := range s.Indicators {
		if v.Name == name {
			return v, true
		}
	}
	return IndicatorValue{}, false
}

// Baseline is a named period's snapshot of an indicator: its value over
// the period and the functional units of work done in it, so that targets
// compare like with like when the amount of work changes.
type Baseline struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Name        string    `json:"name"` // e.g. "2026-Q3"
	Indicator   string    `json:"indicator"`
	Slice       Slice     `json:"slice,omitempty"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Unit        string    `json:"unit"`
	// Value is the indicator over the whole period; for extensive
	// indicators PerDay is Value ÷ days, for the others PerDay = Value.
	Value     float64 `json:"value"`
	PerDay    float64 `json:"per_day"`
	Extensive bool    `json:"extensive"`
	// FunctionalUnit is what work is counted in ("job"), Units how many
	// were done, and PerUnit Value ÷ Units (0 with no units).
	FunctionalUnit string    `json:"functional_unit"`
	Units          float64   `json:"units"`
	PerUnit        float64   `json:"per_unit"`
	Method         string    `json:"method"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
}

// Target statuses.
const (
	TargetOnTrack  = "on_track"
	TargetAtRisk   = "at_risk"
	TargetOffTrack = "off_track"
	TargetUnknown  = "unknown" // too little history to project
)

// Target is "reduce indicator X by ReductionPct % versus baseline B by
// Due", in absolute terms (per day for extensive indicators) or per
// functional unit.
type Target struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"workspace_id"`
	Name         string    `json:"name"`
	Indicator    string    `json:"indicator"`
	Slice        Slice     `json:"slice,omitempty"`
	BaselineID   string    `json:"baseline_id"`
	ReductionPct float64   `json:"reduction_pct"` // 20 means −20 %
	Due          time.Time `json:"due"`
	PerUnit      bool      `json:"per_unit"`
	// BaselineValue is the baseline's comparable figure (PerDay, or
	// PerUnit) and TargetValue = BaselineValue × (1 − ReductionPct/100).
	BaselineValue float64   `json:"baseline_value"`
	TargetValue   float64   `json:"target_value"`
	Unit          string    `json:"unit"`
	CreatedAt     time.Time `json:"created_at"`
	CreatedBy     string    `json:"created_by,omitempty"`
	// Status is the latest evaluation, nil before the first.
	Status *TargetStatus `json:"status,omitempty"`
}

// TargetStatus is one evaluation of a target: where the indicator is, where
// the trend projects it at the due date (with a 90 % prediction interval),
// and what that means. Every evaluation is kept as the target's history.
type TargetStatus struct {
	Time   time.Time `json:"time"`
	Status string    `json:"status"`
	// Current is the latest complete week's value, Projected the trend's
	// value at Due, and [Low, High] its 90 % prediction interval.
	Current     float64 `json:"current"`
	Projected   float64 `json:"projected"`
	Low         float64 `json:"low"`
	High        float64 `json:"high"`
	TargetValue float64 `json:"target_value"`
	// SlopePerWeek is the trend's change per week.
	SlopePerWeek float64 `json:"slope_per_week"`
	Points       int     `json:"points"`
	Reason       string  `json:"reason"`
	Method       string  `json:"method"`
}

// KPI is a user-defined numeric series with a unit, for economic and social
// indicators the platform cannot see (training hours delivered, projects
// served). Its points are the series "kpi:<name>".
type KPI struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	Name        string `json:"name"`
	Unit        string `json:"unit"`
	Description string `json:"description,omitempty"`
	// Aggregate is how points combine over a period: "sum" (default) or
	// "mean".
	Aggregate string    `json:"aggregate"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// SeriesPoint is one value of a stored series: a KPI's point or one hour of
// an imported meter. Note records how the value was obtained ("imported",
// "filled: linear between …", "replaced outlier …") and is empty for
// values entered as given.
type SeriesPoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	Note  string    `json:"note,omitempty"`
}

// Series name prefixes.
const (
	// SeriesKPI prefixes a KPI's points: "kpi:<name>".
	SeriesKPI = "kpi:"
	// SeriesMeter prefixes an imported facility meter's hourly energy in
	// joules: "meter:<name>". meter:facility replaces the configured PUE
	// with a measured one.
	SeriesMeter = "meter:"
	// SeriesREC prefixes renewable-energy certificates in joules per hour
	// of the period they cover: "rec:<name>".
	SeriesREC = "rec:"
)

var sustainNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidName checks a baseline, target, KPI or series name (EINVALID naming
// field): 1 to 63 letters, digits, '.', '_' or '-', starting with a letter
// or digit.
func ValidName(field, name string) error {
	if !sustainNameRE.MatchString(name) {
		return Errorf(EINVALID, "%s %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", field, name)
	}
	return nil
}

// Validate checks a baseline before it is stored (EINVALID naming the
// field).
func (b Baseline) Validate() error {
	if err := ValidName("name", b.Name); err != nil {
		return err
	}
	switch {
	case b.WorkspaceID == "":
		return Errorf(EINVALID, "baseline: workspace_id is empty")
	case b.Indicator == "":
		return Errorf(EINVALID, "baseline: indicator is empty")
	case !b.Until.After(b.Since):
		return Errorf(EINVALID, "baseline: until (%s) is not after since (%s)", b.Until.Format(time.RFC3339), b.Since.Format(time.RFC3339))
	}
	for name, v := range map[string]float64{"value": b.Value, "per_day": b.PerDay, "units": b.Units, "per_unit": b.PerUnit} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Errorf(EINVALID, "baseline: %s is not a finite number", name)
		}
	}
	return nil
}

// Validate checks a target before it is stored (EINVALID naming the field).
func (t Target) Validate() error {
	if err := ValidName("name", t.Name); err != nil {
		return err
	}
	switch {
	case t.WorkspaceID == "":
		return Errorf(EINVALID, "target: workspace_id is empty")
	case t.Indicator == "":
		return Errorf(EINVALID, "target: indicator is empty")
	case t.BaselineID == "":
		return Errorf(EINVALID, "target: baseline is empty")
	case !(t.ReductionPct > -1000 && t.ReductionPct < 100) || t.ReductionPct == 0:
		return Errorf(EINVALID, "target: reduction_pct %v: want a non-zero percentage below 100", t.ReductionPct)
	case t.Due.IsZero():
		return Errorf(EINVALID, "target: due is empty")
	}
	return nil
}

// Validate checks a KPI before it is stored (EINVALID naming the field).
func (k KPI) Validate() error {
	if err := ValidName("name", k.Name); err != nil {
		return err
	}
	switch {
	case k.WorkspaceID == "":
		return Errorf(EINVALID, "kpi: workspace_id is empty")
	case k.Unit == "" || len(k.Unit) > 32:
		return Errorf(EINVALID, "kpi: unit must be 1 to 32 characters")
	case k.Aggregate != "sum" && k.Aggregate != "mean":
		return Errorf(EINVALID, "kpi: aggregate %q is not sum or mean", k.Aggregate)
	}
	return nil
}

// Validate checks a point (EINVALID naming the field).
func (p SeriesPoint) Validate() error {
	switch {
	case p.Time.IsZero():
		return Errorf(EINVALID, "series point: time is empty")
	case math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || math.Abs(p.Value) > 1e18:
		return Errorf(EINVALID, "series point at %s: value %v is not a finite number", p.Time.Format(time.RFC3339), p.Value)
	}
	return nil
}

// SustainStore keeps baselines, targets and their history, custom KPIs,
// and stored series (KPI points, imported meters). Both stores implement it
// as part of Store. WorkspaceID "" holds installation-wide series such as
// facility meters.
type SustainStore interface {
	// CreateBaseline inserts b (ECONFLICT if its name is taken in the
	// workspace; EINVALID).
	CreateBaseline(ctx context.Context, b Baseline) error
	// GetBaseline returns a workspace's baseline by ID or name (ENOTFOUND).
	GetBaseline(ctx context.Context, workspaceID, idOrName string) (Baseline, error)
	// ListBaselines lists a workspace's baselines by ID.
	ListBaselines(ctx context.Context, workspaceID string) ([]Baseline, error)

	// CreateTarget inserts t (ECONFLICT if its name is taken; EINVALID).
	CreateTarget(ctx context.Context, t Target) error
	// GetTarget returns a workspace's target by ID or name with its latest
	// status (ENOTFOUND).
	GetTarget(ctx context.Context, workspaceID, idOrName string) (Target, error)
	// ListTargets lists a workspace's targets ("" for every workspace) by
	// ID, with their latest status.
	ListTargets(ctx context.Context, workspaceID string) ([]Target, error)
	// AppendTargetStatus adds an evaluation to a target's history
	// (ENOTFOUND).
	AppendTargetStatus(ctx context.Context, targetID string, s TargetStatus) error
	// ListTargetHistory returns a target's evaluations, oldest first.
	ListTargetHistory(ctx context.Context, targetID string) ([]TargetStatus, error)

	// CreateKPI inserts k (ECONFLICT if its name is taken; EINVALID).
	CreateKPI(ctx context.Context, k KPI) error
	// GetKPI returns a workspace's KPI by ID or name (ENOTFOUND).
	GetKPI(ctx context.Context, workspaceID, idOrName string) (KPI, error)
	// ListKPIs lists a workspace's KPIs by name.
	ListKPIs(ctx context.Context, workspaceID string) ([]KPI, error)

	// PutSeries stores points of a series, replacing any point at the same
	// time (EINVALID for a bad point or series name).
	PutSeries(ctx context.Context, workspaceID, series string, pts []SeriesPoint) error
	// ListSeries returns a series' points with Time in [since, until),
	// oldest first.
	ListSeries(ctx context.Context, workspaceID, series string, since, until time.Time) ([]SeriesPoint, error)
	// ListSeriesNames lists the series of a workspace with a prefix, by
	// name.
	ListSeriesNames(ctx context.Context, workspaceID, prefix string) ([]string, error)
}
