// Package energy meters the power of a node: what it can measure, and an
// honest estimate where nothing can be measured.
//
// Every figure is a [Reading]: a component ("package-0", "dram-0", "gpu-0",
// "cpu", "memory"), its cumulative energy in joules since the meter started,
// its average power in watts over the last interval, and a method string that
// says how the figure was obtained:
//
//   - "measured:rapl": Intel/AMD RAPL counters through Linux powercap sysfs
//     ([RAPL]);
//   - "measured:hwmon": Linux hwmon power and energy sensors ([Hwmon]);
//   - "measured:nvml": NVIDIA GPU energy counters or power samples ([GPU]);
//   - "estimated:<model>@<version>": the utilisation-to-power model
//     ([Model], [Estimated]) where no meter exists, as on most VMs.
//
// Meters are pull-based: the caller (a sampler, at 1 Hz by default) calls
// [Meter.Read] and owns the clock, the loop and its goroutine. Energy never
// goes backwards: counter wraparound is undone through the zone's
// max_energy_range_uj, and a counter that goes backwards without a known
// range drops that sample with a warning.
//
// The estimation model takes the CPU's TDP from CodeCarbon's table
// (data/cpu_power.csv, [TDPTable]), a utilisation curve P(u) = TDP × (idle +
// dynamic × u^exponent) calibrated by least squares on CodeCarbon's
// RAPL-versus-load measurements (data/profiles, [Calibrate]), and a memory
// power per GB. [Validate] and [ValidateAll] replay those measurements with
// the CPU under test left out of the calibration; VALIDATION.md records the
// result. README.md draws how readings flow to attribution.
//
// Nothing here reads files outside the configured roots: the reference data
// is embedded.
package energy
