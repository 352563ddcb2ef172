package energy

import (
	"context"
	"slices"
	"time"
)

// Method strings: how a figure was obtained. Estimated figures use
// [Model.Method], "estimated:<name>@<version>".
const (
	MethodRAPL  = "measured:rapl"
	MethodHwmon = "measured:hwmon"
	MethodNVML  = "measured:nvml"
)

// Reading is one component's energy at one moment.
type Reading struct {
	Time time.Time `json:"time"` // UTC
	// Component names what was metered: "package-0", "dram-0", "gpu-0",
	// "cpu", "memory", or a hwmon sensor as "device/label".
	Component string `json:"component"`
	// Joules is the energy used since the meter started (its first Read):
	// cumulative and never decreasing.
	Joules float64 `json:"joules"`
	// Watts is the average power over the interval since the previous
	// Read; 0 on the first.
	Watts float64 `json:"watts"`
	// Method is how the figure was obtained: MethodRAPL, MethodHwmon,
	// MethodNVML or an estimated model's Method().
	Method string `json:"method"`
}

// Meter is a source of energy readings on one node. A Meter is not safe for
// concurrent use; one sampler owns it.
type Meter interface {
	// Name identifies the meter for logs, e.g. "rapl" or "estimated".
	Name() string
	// Method is the method string of every Reading it returns.
	Method() string
	// Read returns one Reading per component the meter covers. A component
	// whose sample had to be dropped (a counter that went backwards) is
	// left out of that round. Read fails when nothing could be read or ctx
	// is done.
	Read(ctx context.Context) ([]Reading, error)
}

// counter turns the samples of a cumulative counter into cumulative joules
// since the first sample, undoing wraparound where the range is known.
type counter struct {
	started bool
	last    uint64 // raw value at the previous sample
	lastT   time.Time
	joules  float64 // accumulated since the first sample
}

// counterStep is the outcome of one counter sample.
type counterStep int

const (
	stepFirst    counterStep = iota // baseline; no interval yet
	stepOK                          // delta added
	stepWrapped                     // delta added, counter wrapped
	stepBackward                    // went backwards, range unknown: dropped
)

// add records raw (in units of scale joules, e.g. 1e-6 for µJ) taken at t.
// maxRange is the counter's range (max_energy_range_uj), 0 when unknown. It
// returns the interval's average watts. A counter that goes backwards with a
// known range has wrapped: the delta is raw + (maxRange - last). Without a
// range, or when last lies outside it, the sample is dropped and the
// counter re-baselined, so energy never decreases.
func (c *counter) add(raw, maxRange uint64, scale float64, t time.Time) (float64, counterStep) {
	if !c.started {
		c.started, c.last, c.lastT = true, raw, t
		return 0, stepFirst
	}
	var delta uint64
	step := stepOK
	switch {
	case raw >= c.last:
		delta = raw - c.last
	case maxRange > 0 && c.last <= maxRange:
		delta = maxRange - c.last + raw
		step = stepWrapped
	default:
		c.last, c.lastT = raw, t
		return 0, stepBackward
	}
	j := float64(delta) * scale
	dt := t.Sub(c.lastT).Seconds()
	c.joules += j
	c.last, c.lastT = raw, t
	if dt <= 0 {
		return 0, step
	}
	return j / dt, step
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
