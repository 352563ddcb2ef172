package joule

import (
	"fmt"
	"math"
	"time"
)

// JobShift is the carbon-aware time shift of a flexible job (one with a
// deadline or a flexibility): the plan the dispatcher made from the grid
// carbon forecast, re-made while the job waits whenever the forecast
// changes, and, after the job has run, the saving realised against running
// it at submission.
//
// A job that could not be planned (no forecast configured, a forecast that
// ends before the deadline, no expected duration) runs at once, and
// Fallback says why.
type JobShift struct {
	PlannedAt time.Time `json:"planned_at"`
	// Start is the planned start: the first slot's start for an
	// interruptible job.
	Start time.Time `json:"start"`
	// Slots are an interruptible job's planned run slots, in order; the
	// job is suspended outside them.
	Slots    []TimeSlot `json:"slots,omitempty"`
	Deadline time.Time  `json:"deadline"`
	// ExpectedDuration is the run time planned for, and DurationSource
	// where it came from ("spec" or "median of N past runs").
	ExpectedDuration Duration `json:"expected_duration"`
	DurationSource   string   `json:"duration_source,omitempty"`
	// ForecastGPerKWh is the forecast's mean intensity over the planned
	// window, NowGPerKWh over the same length starting at submission.
	ForecastGPerKWh float64 `json:"forecast_g_per_kwh"`
	NowGPerKWh      float64 `json:"now_g_per_kwh"`
	// ExpectedWatts is the job's assumed average power, and
	// ExpectedSavingG = ExpectedWatts × duration × PUE × (now − forecast),
	// in grams CO2e (estimated).
	ExpectedWatts   float64 `json:"expected_watts"`
	ExpectedSavingG float64 `json:"expected_saving_g"`
	// Source names the forecast, e.g. "file carbon.csv".
	Source   string `json:"source,omitempty"`
	Fallback string `json:"fallback,omitempty"`
	// RealisedSavingG is the emissions the job would have had if run at
	// submission (its measured or estimated energy at the actual
	// intensities of that time) minus its emissions as run; nil until the
	// job has run and been accounted. RealisedNote says how it was
	// computed, or why it could not be.
	RealisedSavingG *float64 `json:"realised_saving_g,omitempty"`
	RealisedNote    string   `json:"realised_note,omitempty"`
}

// TimeSlot is the half-open interval [Start, End).
type TimeSlot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t is in [s.Start, s.End).
func (s TimeSlot) Contains(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// Flexible reports whether the spec asks for carbon-aware timing.
func (s JobSpec) Flexible() bool { return s.Deadline != nil || s.Flexibility > 0 }

// FormatGrams formats a mass of CO2e for people: "0.76 g CO2e",
// "850 g CO2e", "1.2 kg CO2e", "3.4 t CO2e".
func FormatGrams(g float64) string {
	switch a := math.Abs(g); {
	case a >= 1e6:
		return fmt.Sprintf("%.3g t CO2e", g/1e6)
	case a >= 1000:
		return fmt.Sprintf("%.3g kg CO2e", g/1000)
	case a >= 10:
		return fmt.Sprintf("%.0f g CO2e", g)
	default:
		return fmt.Sprintf("%.2g g CO2e", g)
	}
}
