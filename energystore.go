package joule

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// PowerSample is what one component of a node used over one sampling
// interval (a second by default): the raw record behind every rollup, kept
// for the configured retention.
type PowerSample struct {
	NodeID    string    `json:"node_id"`
	Component string    `json:"component"` // "package-0", "cpu", "gpu-0", …
	Method    string    `json:"method"`    // "measured:rapl", "estimated:tdp-curve@1", …
	Time      time.Time `json:"time"`      // end of the interval
	Seconds   float64   `json:"seconds"`   // length of the interval, > 0
	Joules    float64   `json:"joules"`    // ≥ 0
}

// Watts returns the sample's mean power.
func (s PowerSample) Watts() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return s.Joules / s.Seconds
}

// Rollup scopes and widths.
const (
	// RollupNode rows are one node component's energy (Entity is the
	// component), with the emissions and cost of the node's whole draw.
	RollupNode = "node"
	// RollupJob rows are one job attempt's attributed energy (Entity is
	// the job ID).
	RollupJob = "job"

	RollupMinute = time.Minute
	RollupHour   = time.Hour
)

// EnergyRollup is the energy, emissions and cost of one entity over one
// bucket [Start, Start+Width). Rows with the same key (Scope, Width,
// NodeID, Entity, Attempt, Start, Method, IntensitySource, Currency) add up:
// a bucket is written in parts as it fills.
type EnergyRollup struct {
	Scope       string        `json:"scope"` // RollupNode or RollupJob
	Width       time.Duration `json:"width"` // RollupMinute or RollupHour
	NodeID      string        `json:"node_id"`
	Entity      string        `json:"entity"`                 // component or job ID
	WorkspaceID string        `json:"workspace_id,omitempty"` // jobs only
	Attempt     int           `json:"attempt,omitempty"`      // jobs only
	Start       time.Time     `json:"start"`
	// Seconds is the metered time the row covers (for mean power).
	Seconds         float64 `json:"seconds"`
	MeasuredJoules  float64 `json:"measured_joules"`
	EstimatedJoules float64 `json:"estimated_joules"`
	Method          string  `json:"method"`
	// PUEJoules is Σ joules × PUE: the facility's energy, from which the
	// mean PUE and intensity are derived.
	PUEJoules       float64 `json:"pue_joules"`
	EmissionsG      float64 `json:"emissions_g"`
	IntensitySource string  `json:"intensity_source"`
	// MarketEmissionsG is market-based emissions, nil without a market
	// factor; never part of EmissionsG.
	MarketEmissionsG *float64 `json:"market_emissions_g,omitempty"`
	EmbodiedG        float64  `json:"embodied_g"`
	EnergyCost       float64  `json:"energy_cost"`
	AmortisationCost float64  `json:"amortisation_cost"`
	Currency         string   `json:"currency"`
}

// Joules returns the measured and estimated energy together.
func (r EnergyRollup) Joules() float64 { return r.MeasuredJoules + r.EstimatedJoules }

// EnergyFilter selects rollups: Scope and Width are required; the rest
// narrow the selection when set. Rows whose Start is in [Since, Until) match.
type EnergyFilter struct {
	Scope       string
	Width       time.Duration
	NodeID      string
	WorkspaceID string
	Entity      string
	Since       time.Time
	Until       time.Time
}

// EnergyStore keeps raw power samples and the per-minute and hourly
// rollups. Both stores implement it as part of Store.
type EnergyStore interface {
	// AppendPowerSamples records samples (EINVALID for a negative or
	// non-finite figure, or an empty node, component or method).
	AppendPowerSamples(ctx context.Context, ss []PowerSample) error
	// ListPowerSamples returns a node's samples with Time in
	// [since, until), oldest first.
	ListPowerSamples(ctx context.Context, nodeID string, since, until time.Time) ([]PowerSample, error)
	// AddEnergyRollups adds each row into the stored row with its key, or
	// inserts it (EINVALID for an unknown scope or width, or a negative or
	// non-finite figure). MarketEmissionsG stays nil once any part lacked
	// it.
	AddEnergyRollups(ctx context.Context, rs []EnergyRollup) error
	// ListEnergyRollups returns the rows matching f by Start, then
	// Entity (EINVALID without a scope and width).
	ListEnergyRollups(ctx context.Context, f EnergyFilter) ([]EnergyRollup, error)
	// PruneEnergy deletes the samples and the per-minute rollups older
	// than before, and returns how many rows went. Hourly rollups stay.
	PruneEnergy(ctx context.Context, before time.Time) (int64, error)
}

// Validate checks a sample before it is stored (EINVALID naming the field).
func (s PowerSample) Validate() error {
	switch {
	case s.NodeID == "":
		return Errorf(EINVALID, "power sample: node_id is empty")
	case s.Component == "":
		return Errorf(EINVALID, "power sample: component is empty")
	case s.Method == "":
		return Errorf(EINVALID, "power sample: method is empty")
	case s.Time.IsZero():
		return Errorf(EINVALID, "power sample: time is empty")
	case !(s.Seconds > 0) || s.Seconds > 1e9:
		return Errorf(EINVALID, "power sample: seconds must be a positive number, got %v", s.Seconds)
	case !(s.Joules >= 0) || s.Joules > 1e18:
		return Errorf(EINVALID, "power sample: joules must be a finite number ≥ 0, got %v", s.Joules)
	}
	return nil
}

// Validate checks a rollup row before it is stored (EINVALID naming the
// field).
func (r EnergyRollup) Validate() error {
	if r.Scope != RollupNode && r.Scope != RollupJob {
		return Errorf(EINVALID, "energy rollup: scope %q is not one of node, job", r.Scope)
	}
	if r.Width != RollupMinute && r.Width != RollupHour {
		return Errorf(EINVALID, "energy rollup: width %v is not 1m or 1h", r.Width)
	}
	if r.NodeID == "" || r.Entity == "" || r.Start.IsZero() {
		return Errorf(EINVALID, "energy rollup: node_id, entity and start are required")
	}
	nums := map[string]float64{"seconds": r.Seconds, "measured_joules": r.MeasuredJoules, "estimated_joules": r.EstimatedJoules,
		"pue_joules": r.PUEJoules, "emissions_g": r.EmissionsG, "embodied_g": r.EmbodiedG, "energy_cost": r.EnergyCost,
		"amortisation_cost": r.AmortisationCost}
	if r.MarketEmissionsG != nil {
		nums["market_emissions_g"] = *r.MarketEmissionsG
	}
	for name, v := range nums {
		if !(v >= 0) || v > 1e18 {
			return Errorf(EINVALID, "energy rollup: %s must be a finite number ≥ 0, got %v", name, v)
		}
	}
	return nil
}

// Validate checks a filter (EINVALID naming the field).
func (f EnergyFilter) Validate() error {
	return EnergyRollup{Scope: f.Scope, Width: f.Width, NodeID: "-", Entity: "-", Start: time.Unix(1, 0)}.Validate()
}

// EnergySummary is the total of stored rollup rows grouped by a key: the
// figures of one line of an energy report.
type EnergySummary struct {
	Key             string  `json:"key"`
	Joules          float64 `json:"joules"`
	MeasuredJoules  float64 `json:"measured_joules"`
	EstimatedJoules float64 `json:"estimated_joules"`
	Method          string  `json:"method"`
	// Seconds is the metered time summed over the rows (for a node, per
	// component).
	Seconds    float64 `json:"seconds"`
	EmissionsG float64 `json:"emissions_g"`
	// IntensityGPerKWh is EmissionsG over the facility's kWh (energy × PUE):
	// the energy-weighted mean intensity used.
	IntensityGPerKWh float64 `json:"intensity_g_per_kwh"`
	IntensitySource  string  `json:"intensity_source"`
	PUE              float64 `json:"pue"`
	// MarketEmissionsG is market-based emissions, reported apart and only
	// when every row had a market factor.
	MarketEmissionsG *float64 `json:"market_emissions_g,omitempty"`
	EmbodiedG        float64  `json:"embodied_g"`
	Cost             float64  `json:"cost"`
	EnergyCost       float64  `json:"energy_cost"`
	AmortisationCost float64  `json:"amortisation_cost"`
	Currency         string   `json:"currency"`
	Rows             int      `json:"rows"`
}

// SummariseEnergy sums rows by key(row), sorted by Joules, largest first (then
// by key).
func SummariseEnergy(rows []EnergyRollup, key func(EnergyRollup) string) []EnergySummary {
	by := map[string]*EnergySummary{}
	pue := map[string]float64{}
	for _, r := range rows {
		k := key(r)
		s := by[k]
		if s == nil {
			s = &EnergySummary{Key: k}
			if r.MarketEmissionsG != nil {
				s.MarketEmissionsG = new(float64)
			}
			by[k] = s
		}
		s.MeasuredJoules += r.MeasuredJoules
		s.EstimatedJoules += r.EstimatedJoules
		s.Joules = s.MeasuredJoules + s.EstimatedJoules
		s.Method = mergeLabels(s.Method, r.Method)
		s.Seconds += r.Seconds
		s.EmissionsG += r.EmissionsG
		s.IntensitySource = mergeLabels(s.IntensitySource, r.IntensitySource)
		if r.MarketEmissionsG == nil || s.MarketEmissionsG == nil {
			s.MarketEmissionsG = nil
		} else {
			*s.MarketEmissionsG += *r.MarketEmissionsG
		}
		s.EmbodiedG += r.EmbodiedG
		s.EnergyCost += r.EnergyCost
		s.AmortisationCost += r.AmortisationCost
		s.Cost = s.EnergyCost + s.AmortisationCost
		s.Currency = mergeLabels(s.Currency, r.Currency)
		s.Rows++
		pue[k] += r.PUEJoules
	}
	out := make([]EnergySummary, 0, len(by))
	for k, s := range by {
		if s.Joules > 0 {
			s.PUE = pue[k] / s.Joules
		}
		if pue[k] > 0 {
			s.IntensityGPerKWh = s.EmissionsG / (pue[k] / 3.6e6)
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b EnergySummary) int {
		return cmp.Or(cmp.Compare(b.Joules, a.Joules), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// mergeLabels joins "+"-joined label sets into one sorted, duplicate-free
// set, as methods and intensity sources are merged.
func mergeLabels(a, b string) string {
	var all []string
	for _, s := range []string{a, b} {
		if s != "" {
			all = append(all, strings.Split(s, "+")...)
		}
	}
	slices.Sort(all)
	return strings.Join(slices.Compact(all), "+")
}
