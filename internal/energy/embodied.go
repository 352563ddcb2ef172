package energy

import "time"

// Embodied-emission defaults, for a node whose own life-cycle assessment
// is not configured.
const (
	// DefaultEmbodiedKgCO2e is the embodied emissions of one server
	// platform, 1000 kgCO2e: the base value that every row of Cloud Carbon
	// Footprint's coefficients-{aws,azure,gcp}-embodied.csv starts from
	// before adding memory, storage, CPUs and GPUs (e.g. "a1.medium":
	// 1000 + 22.21 additional memory = 1022.21). CCF takes it from Dell's
	// PowerEdge R740 life-cycle assessment. Upstream:
	// github.com/cloud-carbon-footprint/ccf-coefficients, output/,
	// commit b0032d928c787cf76cecd7d1d611c5b46f366e29, Apache-2.0.
	DefaultEmbodiedKgCO2e = 1000.0
	// DefaultLifetimeYears is the expected lifespan EL, 4 years: the value
	// Cloud Carbon Footprint's methodology uses for servers (stated in
	// its embodied-emissions documentation, not in the coefficient files).
	DefaultLifetimeYears = 4.0
	// DefaultPUE is the power usage effectiveness of a data centre whose
	// own PUE is unknown, 1.56: the Uptime Institute Global Data Center
	// Survey 2024 average, as tabulated by Green Algorithms
	// (data/latest/defaults_PUE.csv, row "Unknown", commit
	// 30df2feead1c7f5db87a3d86ca1239470a0cd415; CC BY 4.0 - Green
	// Algorithms, Lannelongue et al., Adv. Sci. 2021).
	DefaultPUE = 1.56
)

// year is the length of a year for lifetimes: 365.25 days.
const year = time.Duration(365.25 * 24 * float64(time.Hour))

// Embodied returns the embodied emissions in grams CO2e charged to a use of
// hardware, following the Software Carbon Intensity specification:
//
//	M = TE × (TiR / EL) × (RR / ToR)
//
// with TE the hardware's total embodied emissions (totalKgCO2e, in kg), EL
// its expected lifetime (lifetimeYears, a year being 365.25 days), TiR the
// time reserved, RR the resources reserved and ToR the total resources
// (e.g. vCPUs, or GPUs). It returns 0 when any input is not positive or
// not finite; RR is capped at ToR.
func Embodied(totalKgCO2e, lifetimeYears float64, timeReserved time.Duration, resourcesReserved, totalResources float64) float64 {
	te, el := finiteNonNeg(totalKgCO2e), finiteNonNeg(lifetimeYears)
	rr, tor := finiteNonNeg(resourcesReserved), finiteNonNeg(totalResources)
	if te == 0 || el == 0 || tor == 0 || timeReserved <= 0 {
		return 0
	}
	tir := timeReserved.Seconds() / year.Seconds() // in years
	return te * 1000 * (tir / el) * (min(rr, tor) / tor)
}
