package nodeinfo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// cpuInfo is what Detect takes from /proc/cpuinfo.
type cpuInfo struct {
	Model string // "" when no known key is present
	CPUs  int    // "processor" lines
}

// parseCPUInfo parses /proc/cpuinfo. The file is a list of "key : value"
// lines, one block per logical CPU, whose keys differ by architecture: x86
// has "model name", 32-bit ARM "Hardware", MIPS "cpu model". Lines without a
// colon are ignored, so any input parses.
func parseCPUInfo(data []byte) cpuInfo {
	var info cpuInfo
	var hardware, cpuModel string
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		switch key {
		case "processor":
			info.CPUs++
		case "model name":
			if info.Model == "" {
				info.Model = value
			}
		case "Hardware":
			if hardware == "" {
				hardware = value
			}
		case "cpu model":
			if cpuModel == "" {
				cpuModel = value
			}
		}
	}
	if info.Model == "" {
		info.Model = cmp.Or(hardware, cpuModel)
	}
	return info
}

// memInfo is what nodeinfo takes from /proc/meminfo, in bytes.
type memInfo struct {
	Total     int64
	Available int64
}

// parseMeminfo parses the MemTotal and MemAvailable lines of /proc/meminfo
// ("MemTotal:  16303412 kB"; the kernel's kB are KiB). Kernels before 3.14
// lack MemAvailable; there it is estimated as MemFree + Buffers + Cached.
// Other lines are not checked. MemTotal is required.
func parseMeminfo(name string, data []byte) (memInfo, error) {
	var m memInfo
	var hasTotal, hasAvail bool
	var free, buffers, cached int64
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "MemTotal":
			dst, hasTotal = &m.Total, true
		case "MemAvailable":
			dst, hasAvail = &m.Available, true
		case "MemFree":
			dst = &free
		case "Buffers":
			dst = &buffers
		case "Cached":
			dst = &cached
		default:
			continue
		}
		v, err := parseKB(rest)
		if err != nil {
			return memInfo{}, fmt.Errorf("parse %s line %d: %s: %v", name, n, key, err)
		}
		*dst = v
	}
	if !hasTotal {
		return memInfo{}, fmt.Errorf("parse %s: no MemTotal line", name)
	}
	if !hasAvail {
		m.Available = min(free+buffers+cached, m.Total)
	}
	return m, nil
}

// parseKB parses " 16303412 kB" into bytes.
func parseKB(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("want \"<n> kB\", got %q", strings.TrimSpace(s))
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > math.MaxInt64/1024 {
		return 0, fmt.Errorf("value %d out of range", v)
	}
	return v * 1024, nil
}

// cpuTimes are the aggregate CPU counters of /proc/stat, in clock ticks.
type cpuTimes struct {
	Busy  uint64 // user, nice, system, irq, softirq, steal
	Total uint64 // Busy plus idle and iowait
}

// parseStat parses the aggregate "cpu" line of /proc/stat:
//
//	cpu  user nice system idle iowait irq softirq steal guest guest_nice
//
// Kernels before 2.6 print only the first four counters. guest and
// guest_nice are already counted in user and nice, so they are skipped.
func parseStat(name string, data []byte) (cpuTimes, error) {
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		vals := f[1:]
		if len(vals) < 4 {
			return cpuTimes{}, fmt.Errorf("parse %s line %d: %d counters, want at least 4", name, n, len(vals))
		}
		var t cpuTimes
		for i, s := range vals[:min(len(vals), 8)] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("parse %s line %d: counter %d: %v", name, n, i+1, err)
			}
			if t.Total+v < t.Total {
				return cpuTimes{}, fmt.Errorf("parse %s line %d: counters overflow", name, n)
			}
			t.Total += v
			if i != 3 && i != 4 { // idle, iowait
				t.Busy += v
			}
		}
		return t, nil
	}
	return cpuTimes{}, fmt.Errorf("parse %s: no cpu line", name)
}

// busyFraction returns the fraction of CPU time that was busy between prev
// and cur, from 0 to 1. It is 0 when the counters did not advance or went
// backwards.
func busyFraction(prev, cur cpuTimes) float64 {
	if cur.Total <= prev.Total || cur.Busy < prev.Busy {
		return 0
	}
	f := float64(cur.Busy-prev.Busy) / float64(cur.Total-prev.Total)
	return min(max(f, 0), 1)
}

// parseLoadavg returns the 1-minute load average, the first field of
// /proc/loadavg ("0.52 0.58 0.59 2/467 12345").
func parseLoadavg(name string, data []byte) (float64, error) {
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("parse %s line 1: empty", name)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err == nil && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
		err = errors.New("out of range")
	}
	if err != nil {
		return 0, fmt.Errorf("parse %s line 1: load1: %v", name, err)
	}
	return v, nil
}
