package energy

import (
	"slices"
	"strings"
	"time"
)

// IntensityFunc returns the grid's carbon intensity at t in gCO2e/kWh and a
// string that says where the figure came from (e.g. "electricitymaps:DE",
// "static:DE", "world-average").
type IntensityFunc func(t time.Time) (gPerKWh float64, source string)

// Entities that are not jobs in [Account]'s entries.
const (
	IdleEntity         = "(idle)"
	UnattributedEntity = "(unattributed)"
)

// AccountConfig prices and weighs energy for [Account].
type AccountConfig struct {
	// PUE is the data centre's power usage effectiveness (≥ 1); 0 means
	// DefaultPUE.
	PUE float64
	// Intensity is the location-based grid intensity; nil gives zero
	// emissions with the source "none".
	Intensity IntensityFunc
	// MarketIntensity is an optional market-based factor (a supplier's
	// or a contract's gCO2e/kWh). It is reported apart, never mixed into
	// the location-based figure.
	MarketIntensity IntensityFunc
	// Price is the electricity price per kWh in Currency.
	Price    Price
	Currency string
	// AmortisationPerNodeHour is the hardware cost of one node-hour in
	// Currency, charged to jobs by their ReservedShare.
	AmortisationPerNodeHour float64
	// EmbodiedKgCO2e and LifetimeYears describe the node for embodied
	// emissions (SCI); 0 means DefaultEmbodiedKgCO2e and
	// DefaultLifetimeYears.
	EmbodiedKgCO2e float64
	LifetimeYears  float64
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c AccountConfig) WithDefaults() AccountConfig {
	if !(c.PUE > 0) {
		c.PUE = DefaultPUE
	}
	if !(c.EmbodiedKgCO2e > 0) {
		c.EmbodiedKgCO2e = DefaultEmbodiedKgCO2e
	}
	if !(c.LifetimeYears > 0) {
		c.LifetimeYears = DefaultLifetimeYears
	}
	return c
}

// Entry is what one entity (a job ID, IdleEntity or UnattributedEntity)
// used over one interval, with its emissions and cost. Entries are the unit
// that [Totals] and [Rollup] sum.
type Entry struct {
	Entity string    `json:"entity"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Energy Joules    `json:"energy"`
	PUE    float64   `json:"pue"`
	// IntensityGPerKWh is the location-based intensity at the interval's
	// midpoint, and IntensitySource where it came from.
	IntensityGPerKWh float64 `json:"intensity_g_per_kwh"`
	IntensitySource  string  `json:"intensity_source"`
	// EmissionsG = E × PUE × intensity, location-based, in grams.
	EmissionsG float64 `json:"emissions_g"`
	// MarketEmissionsG = E × PUE × market factor; nil without one.
	MarketEmissionsG *float64 `json:"market_emissions_g,omitempty"`
	// EmbodiedG is the SCI embodied share of the node, apart from
	// EmissionsG.
	EmbodiedG        float64 `json:"embodied_g"`
	EnergyCost       float64 `json:"energy_cost"`
	AmortisationCost float64 `json:"amortisation_cost"`
	Currency         string  `json:"currency"`
}

// Cost returns the energy cost and the amortisation together.
func (e Entry) Cost() float64 { return e.EnergyCost + e.AmortisationCost }

// Account turns one attributed interval into entries: one per job, one for
// the idle energy no job was given and one for the unattributed energy.
// For each, with E the entity's energy in joules and t the interval's
// midpoint:
//
//	emissions_g = E / 3.6e6 × PUE × CI(t)
//	energy cost = E / 3.6e6 × PUE × mean price over the interval
//	amortisation = per-node-hour rate × hours × ReservedShare (jobs only)
//	embodied_g = SCI M with TiR = the interval, RR/ToR = ReservedShare (jobs only)
//
// Energy is the node's IT energy; PUE scales it to what the facility draws
// from the grid, which is what both the grid's intensity and the price
// apply to.
func Account(cfg AccountConfig, a Attribution) []Entry {
	cfg = cfg.WithDefaults()
	mid := a.Start.Add(a.End.Sub(a.Start) / 2)
	ci, src := 0.0, "none"
	if cfg.Intensity != nil {
		ci, src = cfg.Intensity(mid)
	}
	var market *float64
	var mci float64
	if cfg.MarketIntensity != nil {
		mci, _ = cfg.MarketIntensity(mid)
		market = &mci
	}
	price := cfg.Price.Mean(a.Start, a.End)
	d := a.End.Sub(a.Start)
	entry := func(entity string, j Joules, share float64) Entry {
		kWh := j.Total() / JoulesPerKWh * cfg.PUE
		e := Entry{
			Entity: entity, Start: a.Start, End: a.End, Energy: j, PUE: cfg.PUE,
			IntensityGPerKWh: ci, IntensitySource: src,
			EmissionsG:       kWh * ci,
			EnergyCost:       kWh * price,
			AmortisationCost: Amortisation(cfg.AmortisationPerNodeHour, d, share),
			EmbodiedG:        Embodied(cfg.EmbodiedKgCO2e, cfg.LifetimeYears, d, clamp01(share), 1),
			Currency:         cfg.Currency,
		}
		if market != nil {
			m := kWh * *market
			e.MarketEmissionsG = &m
		}
		return e
	}
	out := make([]Entry, 0, len(a.Jobs)+2)
	for _, j := range a.Jobs {
		out = append(out, entry(j.ID, j.Energy(), j.ReservedShare))
	}
	out = append(out, entry(IdleEntity, a.Idle, 0), entry(UnattributedEntity, a.Unattributed, 0))
	return out
}

// JobEnergy is an entity's totals over many intervals: the energy record
// of a job.
type JobEnergy struct {
	Joules          float64 `json:"joules"`
	MeasuredJoules  float64 `json:"measured_joules"`
	EstimatedJoules float64 `json:"estimated_joules"`
	Method          string  `json:"method"`
	// EmissionsG is location-based operational emissions in grams.
	EmissionsG float64 `json:"emissions_g"`
	// IntensityGPerKWh is the energy-weighted mean intensity used
	// (EmissionsG ÷ (kWh × PUE) when PUE is constant); IntensitySource
	// lists the sources.
	IntensityGPerKWh float64 `json:"intensity_g_per_kwh"`
	IntensitySource  string  `json:"intensity_source"`
	// PUE is the energy-weighted mean PUE.
	PUE float64 `json:"pue"`
	// Cost = EnergyCost + AmortisationCost, in Currency.
	Cost             float64 `json:"cost"`
	EnergyCost       float64 `json:"energy_cost"`
	AmortisationCost float64 `json:"amortisation_cost"`
	Currency         string  `json:"currency"`
	// MarketEmissionsG is market-based emissions, present only when every
	// interval had a market factor; never part of EmissionsG.
	MarketEmissionsG *float64 `json:"market_emissions_g,omitempty"`
	// EmbodiedG is embodied emissions (SCI), apart from EmissionsG.
	EmbodiedG float64 `json:"embodied_g"`
	// Intervals is the number of entries summed.
	Intervals int `json:"intervals"`
}

// Add accumulates one entry into j.
func (j *JobEnergy) Add(e Entry) {
	ej := e.Energy.Total()
	// Energy-weighted means; with no energy yet, the latest value stands.
	// Equal values are kept as they are, so that a constant stays exact.
	j.IntensityGPerKWh = weighted(j.IntensityGPerKWh, j.Joules, e.IntensityGPerKWh, ej)
	j.PUE = weighted(j.PUE, j.Joules, e.PUE, ej)
	switch {
	case e.MarketEmissionsG == nil:
		j.MarketEmissionsG = nil
	case j.Intervals == 0:
		m := *e.MarketEmissionsG
		j.MarketEmissionsG = &m
	case j.MarketEmissionsG != nil:
		m := *j.MarketEmissionsG + *e.MarketEmissionsG
		j.MarketEmissionsG = &m
	}
	j.Joules += ej
	j.MeasuredJoules += e.Energy.Measured
	j.EstimatedJoules += e.Energy.Estimated
	j.Method = MergeMethods(j.Method, e.Energy.Method)
	j.IntensitySource = mergeSet(j.IntensitySource, e.IntensitySource)
	j.EmissionsG += e.EmissionsG
	j.EmbodiedG += e.EmbodiedG
	j.EnergyCost += e.EnergyCost
	j.AmortisationCost += e.AmortisationCost
	j.Cost = j.EnergyCost + j.AmortisationCost
	j.Currency = mergeSet(j.Currency, e.Currency)
	j.Intervals++
}

// weighted returns the mean of a (weight wa) and b (weight wb): b when a
// weighs nothing, a when the two are equal or b weighs nothing.
func weighted(a, wa, b, wb float64) float64 {
	switch {
	case wa == 0:
		return b
	case a == b || wb == 0:
		return a
	default:
		return (a*wa + b*wb) / (wa + wb)
	}
}

// Totals sums entries per entity.
func Totals(entries []Entry) map[string]JobEnergy {
	out := make(map[string]JobEnergy)
	for _, e := range entries {
		j := out[e.Entity]
		j.Add(e)
		out[e.Entity] = j
	}
	return out
}

// mergeSet merges "+"-joined sets of labels, sorted and without repeats.
func mergeSet(a, b string) string {
	if a == b || b == "" {
		return a
	}
	if a == "" {
		return b
	}
	all := append(strings.Split(a, "+"), strings.Split(b, "+")...)
	slices.Sort(all)
	return strings.Join(slices.Compact(all), "+")
}
