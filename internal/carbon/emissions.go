package carbon

import (
	"math"
	"time"

	"github.com/joule-dev/joule"
)

// JoulesPerKWh converts energy: 1 kWh = 3.6 MJ.
const JoulesPerKWh = 3.6e6

// EnergyInterval is energy used over [Start, End).
type EnergyInterval struct {
	Start, End time.Time
	Joules     float64
}

// Emissions returns the location-based emissions, in grams CO2e, of the
// energy intervals at intensity s:
//
//	Σ E_i[kWh] × pue × CI(t_i)
//
// where t_i is the start of interval i and CI(t) is s.At(t). The interval's
// start picks the intensity step even when the interval runs into the next
// step; meter intervals are much shorter than intensity steps. pue must be
// at least 1 and each interval must have End ≥ Start and finite,
// non-negative Joules; otherwise, or when s has no value at some t_i, it
// returns an error (joule.EINVALID or joule.ENOTFOUND).
func Emissions(intervals []EnergyInterval, pue float64, s Series) (float64, error) {
	if math.IsNaN(pue) || math.IsInf(pue, 0) || pue < 1 {
		return 0, joule.Errorf(joule.EINVALID, "PUE %v: want a number of at least 1", pue)
	}
	var grams float64
	for i, in := range intervals {
		if in.End.Before(in.Start) {
			return 0, joule.Errorf(joule.EINVALID, "energy interval %d ends before it starts", i)
		}
		if math.IsNaN(in.Joules) || math.IsInf(in.Joules, 0) || in.Joules < 0 {
			return 0, joule.Errorf(joule.EINVALID, "energy interval %d: %v J is not a non-negative number", i, in.Joules)
		}
		ci, err := s.At(in.Start)
		if err != nil {
			return 0, err
		}
		grams += in.Joules / JoulesPerKWh * pue * ci
	}
	return grams, nil
}
