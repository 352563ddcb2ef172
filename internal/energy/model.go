package energy

import (
	"fmt"
	"math"
	"strconv"
	"sync"
)

// Model names and versions. Bump ModelVersion whenever the formula, a
// constant or the calibration data changes, so that stored figures say
// which model produced them.
const (
	ModelName    = "tdp-curve"
	ModelVersion = 1
)

// MemoryWattsPerGB is the power of resident memory in watts per GiB used:
// 0.3725 W/GB, Green Algorithms' memoryPower (referenceValues.csv;
// Lannelongue, Grealey and Inouye, "Green Algorithms: Quantifying the Carbon
// Footprint of Computation", Adv. Sci. 2021, CC BY 4.0), which cites
// Karyakin and Salem, "An analysis of memory power consumption in database
// systems", DaMoN 2017, doi:10.1145/3076113.3076117. CodeCarbon's RAM
// estimate uses a similar 3 W per 8 GB (0.375 W/GB).
const MemoryWattsPerGB = 0.3725

// MinIdleFraction is the idle floor: the estimated CPU power at zero load is
// never below this share of TDP, whatever the fit says. The lowest idle
// share in the profiles is 8% of TDP (Xeon E3-1240 v2, 5.5 W of 69 W), so
// the floor only guards against a degenerate calibration.
const MinIdleFraction = 0.05

// Model is the utilisation-to-power model for machines that cannot measure
// their power:
//
//	P_cpu(u) = TDP × (Idle + Dynamic × u^Exponent),  u = CPU utilisation in 0..1
//	P_mem    = MemoryWattsPerGB × GiB of memory used
//
// Idle, Dynamic and Exponent come from [Calibrate]. The zero Model is not
// usable; use [DefaultModel] or Calibrate.
type Model struct {
	Name             string   `json:"name"`
	Version          int      `json:"version"`
	Idle             float64  `json:"idle"`     // P(0)/TDP
	Dynamic          float64  `json:"dynamic"`  // (P(1) - P(0))/TDP
	Exponent         float64  `json:"exponent"` // shape of the curve
	MemoryWattsPerGB float64  `json:"memory_watts_per_gb"`
	CalibratedOn     []string `json:"calibrated_on"` // profile names
}

// Method returns "estimated:<name>@<version>", e.g. "estimated:tdp-curve@1".
func (m Model) Method() string {
	return "estimated:" + m.Name + "@" + strconv.Itoa(m.Version)
}

// CPUWatts returns the CPU power at utilisation u (clamped to 0..1) for a
// TDP in watts.
func (m Model) CPUWatts(tdp, u float64) float64 {
	if !(u > 0) {
		u = 0
	}
	u = min(u, 1)
	return tdp * (max(m.Idle, MinIdleFraction) + m.Dynamic*math.Pow(u, m.Exponent))
}

// IdleWatts returns the CPU power at zero load: the idle floor, above zero
// for any positive TDP.
func (m Model) IdleWatts(tdp float64) float64 { return m.CPUWatts(tdp, 0) }

// MemoryWatts returns the power of bytes of resident memory.
func (m Model) MemoryWatts(bytes int64) float64 {
	return m.MemoryWattsPerGB * float64(max(bytes, 0)) / (1 << 30)
}

// DefaultModel returns the model calibrated on all the embedded profiles.
var DefaultModel = sync.OnceValue(func() Model { return Calibrate(DefaultProfiles(), "") })

// Calibrate fits Idle, Dynamic and Exponent by weighted least squares on
// each step's measured power relative to TDP (RAPL joules ÷ seconds ÷ TDP)
// against its measured utilisation, over every profile except those of the
// CPU leaveOut (compared as [NormalizeCPUModel] names, so both folders of a
// CPU are left out together); "" leaves none out. Each CPU weighs the same
// in total, however many steps or folders it has. Profiles marked Suspect
// are never used. Exponent is searched on a
// grid from 0.25 to 3 in steps of 0.005, with Idle and Dynamic solved in
// closed form for each, Idle held at or above [MinIdleFraction] and Dynamic
// at or above 0. With no usable profile it returns the uncalibrated linear
// model Idle = MinIdleFraction, Dynamic = 1 − MinIdleFraction, Exponent = 1,
// with CalibratedOn empty.
func Calibrate(profiles []Profile, leaveOut string) Model {
	m := Model{Name: ModelName, Version: ModelVersion, MemoryWattsPerGB: MemoryWattsPerGB,
		Idle: MinIdleFraction, Dynamic: 1 - MinIdleFraction, Exponent: 1, CalibratedOn: []string{}}
	out := NormalizeCPUModel(leaveOut)
	type point struct{ u, y, w float64 }
	var pts []point
	stepsPerCPU := map[string]int{}
	for _, p := range profiles {
		if cpu := NormalizeCPUModel(p.CPU); (out == "" || cpu != out) && p.TDP().Watts > 0 && p.Suspect == "" {
			stepsPerCPU[cpu] += len(p.Steps)
		}
	}
	for _, p := range profiles {
		cpu := NormalizeCPUModel(p.CPU)
		tdp := p.TDP().Watts
		if (out != "" && cpu == out) || !(tdp > 0) || p.Suspect != "" || stepsPerCPU[cpu] == 0 {
			continue
		}
		m.CalibratedOn = append(m.CalibratedOn, p.Name)
		for _, s := range p.Steps {
			pts = append(pts, point{u: s.Load, y: s.RAPLJoules / s.Seconds / tdp, w: 1 / float64(stepsPerCPU[cpu])})
		}
	}
	if len(pts) < 3 {
		m.CalibratedOn = []string{}
		return m
	}
	best := math.Inf(1)
	for i := 0; i <= 550; i++ {
		g := 0.25 + 0.005*float64(i)
		var sw, sx, sy, sxx, sxy float64
		for _, p := range pts {
			x := math.Pow(p.u, g)
			sw += p.w
			sx += p.w * x
			sy += p.w * p.y
			sxx += p.w * x * x
			sxy += p.w * x * p.y
		}
		a, b := MinIdleFraction, 0.0
		if det := sw*sxx - sx*sx; det > 0 {
			b = (sw*sxy - sx*sy) / det
			a = (sy - b*sx) / sw
		}
		if a < MinIdleFraction {
			a = MinIdleFraction
			if sxx > 0 {
				b = (sxy - a*sx) / sxx
			}
		}
		b = max(b, 0)
		var sse float64
		for _, p := range pts {
			r := a + b*math.Pow(p.u, g) - p.y
			sse += p.w * r * r
		}
		if sse < best {
			best, m.Idle, m.Dynamic, m.Exponent = sse, a, b, g
		}
	}
	return m
}

// Result compares joule's estimate and CodeCarbon's with RAPL over one
// profile.
type Result struct {
	Profile string  `json:"profile"`
	CPU     string  `json:"cpu"`
	TDP     TDP     `json:"tdp"`
	Steps   int     `json:"steps"`
	Seconds float64 `json:"seconds"`
	// Energy over the whole profile, in joules.
	RAPLJoules       float64 `json:"rapl_joules"`
	JouleJoules      float64 `json:"joule_joules"`
	CodeCarbonJoules float64 `json:"codecarbon_joules"`
	// Signed relative errors of the totals: (estimate − RAPL) / RAPL.
	JouleError      float64 `json:"joule_error"`
	CodeCarbonError float64 `json:"codecarbon_error"`
	// Step errors: Σ|estimate − RAPL| over the steps / Σ RAPL. Unlike the
	// total error, over- and underestimates at different loads do not
	// cancel.
	JouleStepError      float64 `json:"joule_step_error"`
	CodeCarbonStepError float64 `json:"codecarbon_step_error"`
	Model               Model   `json:"model"`
}

// Better reports whether joule's total-energy error is smaller than
// CodeCarbon's.
func (r Result) Better() bool { return math.Abs(r.JouleError) < math.Abs(r.CodeCarbonError) }

// TableHeader is the Markdown header of the rows Result.String writes.
const TableHeader = "| profile | CPU | TDP W | RAPL kJ | joule kJ | joule error | CodeCarbon kJ | CodeCarbon error | joule step error | CodeCarbon step error |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"

// String formats r as one Markdown table row.
func (r Result) String() string {
	return fmt.Sprintf("| %s | %s | %.0f | %.1f | %.1f | %+.1f%% | %.1f | %+.1f%% | %.1f%% | %.1f%% |",
		r.Profile, r.CPU, r.TDP.Watts, r.RAPLJoules/1e3,
		r.JouleJoules/1e3, 100*r.JouleError, r.CodeCarbonJoules/1e3, 100*r.CodeCarbonError,
		100*r.JouleStepError, 100*r.CodeCarbonStepError)
}

// Validate replays profile through m: each step's estimated energy is
// m.CPUWatts(TDP, measured load) × its seconds, summed over the profile and
// compared with the RAPL energy, next to CodeCarbon's own estimate. Memory
// is left out: the profiles measure the CPU only.
func Validate(profile Profile, m Model) Result {
	r := Result{Profile: profile.Name, CPU: profile.CPU, TDP: profile.TDP(), Steps: len(profile.Steps), Model: m}
	for _, s := range profile.Steps {
		r.Seconds += s.Seconds
		r.RAPLJoules += s.RAPLJoules
		r.CodeCarbonJoules += s.CodeCarbonJoules
		j := m.CPUWatts(r.TDP.Watts, s.Load) * s.Seconds
		r.JouleJoules += j
		r.JouleStepError += math.Abs(j - s.RAPLJoules)
		r.CodeCarbonStepError += math.Abs(s.CodeCarbonJoules - s.RAPLJoules)
	}
	if r.RAPLJoules > 0 {
		r.JouleError = (r.JouleJoules - r.RAPLJoules) / r.RAPLJoules
		r.CodeCarbonError = (r.CodeCarbonJoules - r.RAPLJoules) / r.RAPLJoules
		r.JouleStepError /= r.RAPLJoules
		r.CodeCarbonStepError /= r.RAPLJoules
	} else {
		r.JouleStepError, r.CodeCarbonStepError = 0, 0
	}
	return r
}

// ValidateAll validates each profile with a model calibrated on the others,
// leaving out every profile of the same CPU.
func ValidateAll(profiles []Profile) []Result {
	out := make([]Result, 0, len(profiles))
	for _, p := range profiles {
		out = append(out, Validate(p, Calibrate(profiles, p.CPU)))
	}
	return out
}

// Summary is the verdict over a set of results.
type Summary struct {
	Profiles          int     `json:"profiles"`
	JouleBetter       int     `json:"joule_better"`        // profiles where joule's error is smaller
	MeanJouleError    float64 `json:"mean_joule_error"`    // mean |error|
	MeanCodeCarbonErr float64 `json:"mean_codecarbon_err"` // mean |error|
	// Means of the step errors.
	MeanJouleStepError      float64 `json:"mean_joule_step_error"`
	MeanCodeCarbonStepError float64 `json:"mean_codecarbon_step_error"`
}

// Summarize counts where joule did better and averages the absolute errors.
func Summarize(rs []Result) Summary {
	s := Summary{Profiles: len(rs)}
	for _, r := range rs {
		if r.Better() {
			s.JouleBetter++
		}
		s.MeanJouleError += math.Abs(r.JouleError)
		s.MeanCodeCarbonErr += math.Abs(r.CodeCarbonError)
		s.MeanJouleStepError += r.JouleStepError
		s.MeanCodeCarbonStepError += r.CodeCarbonStepError
	}
	if n := float64(len(rs)); n > 0 {
		s.MeanJouleError /= n
		s.MeanCodeCarbonErr /= n
		s.MeanJouleStepError /= n
		s.MeanCodeCarbonStepError /= n
	}
	return s
}
