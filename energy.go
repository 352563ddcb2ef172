package joule

// JobEnergy is what an attempt, or a whole job, cost in energy, carbon and
// money. Measured and estimated joules are kept apart, and every figure
// says how it was obtained.
type JobEnergy struct {
	// Joules is MeasuredJoules + EstimatedJoules: the job's share of the
	// node's power over its run time (dynamic power split by CPU time; idle
	// power reported apart, not included), before PUE.
	Joules          float64 `json:"joules"`
	MeasuredJoules  float64 `json:"measured_joules"`
	EstimatedJoules float64 `json:"estimated_joules"`
	// Method names the meters and attribution, e.g.
	// "estimated:tdp-curve@1; attribution: cpu-time share".
	Method string `json:"method"`
	// EmissionsG is Joules × PUE × intensity, location-based, in grams
	// CO2e.
	EmissionsG float64 `json:"emissions_g"`
	// IntensityGPerKWh is the energy-weighted grid intensity used, and
	// IntensitySource where it came from (e.g. "static: world average").
	IntensityGPerKWh float64 `json:"intensity_g_per_kwh"`
	IntensitySource  string  `json:"intensity_source"`
	PUE              float64 `json:"pue"`
	// Cost is energy × PUE × price in Currency; 0 with Currency "" when no
	// price is configured.
	Cost     float64 `json:"cost"`
	Currency string  `json:"currency,omitempty"`
	// MarketEmissionsG is market-based emissions (energy × PUE × the
	// configured market factor), present only with a factor and never part
	// of EmissionsG.
	MarketEmissionsG *float64 `json:"market_emissions_g,omitempty"`
	// EmbodiedG is the job's share of its node's embodied emissions per the
	// SCI specification (time reserved ÷ lifetime × resources reserved ÷
	// total), apart from EmissionsG.
	EmbodiedG float64 `json:"embodied_g"`
}
