package energy

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Joules is an amount of energy with its measured and estimated parts kept
// apart, and the methods that produced it. A figure whose method starts
// with "measured:" is measured; any other method (the model's
// "estimated:<name>@<version>", or an unknown one) counts as estimated, so
// that nothing unproven is ever reported as measured.
type Joules struct {
	Measured  float64 `json:"measured_joules"`
	Estimated float64 `json:"estimated_joules"`
	// Method lists every method that contributed, sorted and joined with
	// "+", e.g. "measured:rapl" or "estimated:tdp-curve@1" or
	// "measured:nvml+measured:rapl". Empty for zero energy from nowhere.
	Method string `json:"method"`
}

// JoulesOf returns j joules obtained by method.
func JoulesOf(j float64, method string) Joules {
	if IsMeasured(method) {
		return Joules{Measured: j, Method: method}
	}
	return Joules{Estimated: j, Method: method}
}

// IsMeasured reports whether method names a measurement ("measured:…").
func IsMeasured(method string) bool { return strings.HasPrefix(method, "measured:") }

// Total returns the measured and estimated parts together. Use it only
// where the result is shown next to its parts and Method.
func (j Joules) Total() float64 { return j.Measured + j.Estimated }

// Add returns the sum of j and k, with their methods merged.
func (j Joules) Add(k Joules) Joules {
	return Joules{Measured: j.Measured + k.Measured, Estimated: j.Estimated + k.Estimated, Method: MergeMethods(j.Method, k.Method)}
}

// Scale returns j with both parts multiplied by f (f ≥ 0); the methods stay.
func (j Joules) Scale(f float64) Joules {
	return Joules{Measured: j.Measured * f, Estimated: j.Estimated * f, Method: j.Method}
}

// MergeMethods joins method strings (each possibly already "a+b") into one
// sorted, duplicate-free "+"-joined string.
func MergeMethods(methods ...string) string {
	var all []string
	for _, m := range methods {
		if m == "" {
			continue
		}
		all = append(all, strings.Split(m, "+")...)
	}
	slices.Sort(all)
	return strings.Join(slices.Compact(all), "+")
}

// IdlePolicy decides what happens to a node's idle energy.
type IdlePolicy string

const (
	// IdleSeparate reports idle energy on its own; jobs get only dynamic
	// energy. The default.
	IdleSeparate IdlePolicy = "separate"
	// IdleProportional also shares idle energy out to jobs: CPU-side idle
	// by CPU-time share, GPU idle by GPU-utilisation share. The share that
	// belongs to no job stays in Attribution.Idle.
	IdleProportional IdlePolicy = "proportional"
)

// ComponentEnergy is one metered component's energy over one interval.
type ComponentEnergy struct {
	Component string  `json:"component"` // "package-0", "cpu", "memory", "gpu-0", …
	Joules    float64 `json:"joules"`    // used over the interval, ≥ 0
	// IdleWatts is the component's power at zero load: the model's idle
	// floor ([Model.IdleWatts]) or a measured idle baseline; 0 where the
	// component has none (all of its energy is then dynamic).
	IdleWatts float64 `json:"idle_watts"`
	Method    string  `json:"method"`
	// Device is the GPU index for GPU components (matching
	// [GPUProcess.GPU]); ignored for CPU-side components.
	Device int `json:"device,omitempty"`
}

// NodeInterval is what one node used over one sampling interval [Start, End).
type NodeInterval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// CPU holds the CPU-side components (packages, DRAM, the estimated
	// "cpu" and "memory"): their dynamic energy is split by CPU time.
	CPU []ComponentEnergy `json:"cpu"`
	// GPU holds one entry per GPU: its dynamic energy is split by the
	// GPU utilisation of the processes in GPUProcesses on that device.
	GPU          []ComponentEnergy `json:"gpu,omitempty"`
	GPUProcesses []GPUProcess      `json:"gpu_processes,omitempty"`
	// CPUSeconds is the CPU time every process on the node used in the
	// interval (from /proc/stat), jobs or not; 0 when unknown, in which
	// case the jobs' own CPU time is taken as the node's. CPU time used
	// outside jobs leaves its share of dynamic energy unattributed.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// JobUsage is one job's use of the node at the two ends of an interval.
type JobUsage struct {
	ID string `json:"id"`
	// Prev and Cur are the job's cumulative usage at the interval's start
	// and end. A zero Prev means the job started within the interval. A
	// Cur below Prev means the counters restarted (a new attempt): the
	// job's CPU time is then Cur's.
	Prev joule.UsageSample `json:"prev"`
	Cur  joule.UsageSample `json:"cur"`
	// ReservedShare is the share of the node the job reserved (requested
	// CPUs ÷ node CPUs, or GPUs ÷ node GPUs), 0..1: the SCI "resources
	// reserved ÷ total resources" used for embodied emissions and
	// hardware amortisation, not for energy.
	ReservedShare float64 `json:"reserved_share"`
}

// CPUSeconds returns the job's CPU time (user + system) in the interval,
// never negative.
func (u JobUsage) CPUSeconds() float64 {
	cur := u.Cur.CPUUserSec + u.Cur.CPUSystemSec
	prev := u.Prev.CPUUserSec + u.Prev.CPUSystemSec
	if cur < prev {
		return nonNeg(cur) // counters restarted with a new attempt
	}
	return nonNeg(cur - prev)
}

// JobShare is the energy attributed to one job over one interval.
type JobShare struct {
	ID         string  `json:"id"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// GPUFraction is the summed GPU utilisation of the job's processes.
	GPUFraction   float64 `json:"gpu_fraction"`
	ReservedShare float64 `json:"reserved_share"`
	Dynamic       Joules  `json:"dynamic"`
	Idle          Joules  `json:"idle"` // zero under IdleSeparate
}

// Energy returns the job's dynamic and idle energy together.
func (s JobShare) Energy() Joules { return s.Dynamic.Add(s.Idle) }

// Attribution is how one node's energy over one interval was split.
// Conservation: Σ Jobs[i].Energy() + Idle + Unattributed = Node, per
// measured and estimated part.
type Attribution struct {
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end"`
	Policy IdlePolicy `json:"policy"`
	Node   Joules     `json:"node"`
	Jobs   []JobShare `json:"jobs"` // sorted by ID
	Idle   Joules     `json:"idle"` // idle energy not given to a job
	// Unattributed is dynamic energy no job can be charged with: CPU time
	// used by processes outside jobs, GPU use by processes no job owns,
	// or energy above idle in an interval where no use was recorded.
	Unattributed Joules `json:"unattributed"`
}

// Attribute splits one node interval across the jobs that ran in it.
//
// For each component, idle = min(E, IdleWatts × Δt) and dynamic = E − idle.
// CPU-side dynamic energy goes to job j in proportion to its CPU time c_j
// over D = max(node CPU time, Σ c_j); the remainder (D − Σ c_j)/D is
// unattributed. A GPU's dynamic energy goes to job j in proportion to the
// utilisation of j's processes (Cur.GPUPIDs) on that GPU over the total
// utilisation on it; utilisation by other processes is unattributed. Under
// IdleProportional idle is shared by the same fractions; otherwise it is
// reported in Idle. Jobs with no use get nothing; nothing is negative.
// A policy other than IdleProportional is treated as IdleSeparate.
func Attribute(node NodeInterval, jobs []JobUsage, policy IdlePolicy) Attribution {
	if policy != IdleProportional {
		policy = IdleSeparate
	}
	a := Attribution{Start: node.Start, End: node.End, Policy: policy}
	dt := nonNeg(node.End.Sub(node.Start).Seconds())

	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(x, y JobUsage) int { return strings.Compare(x.ID, y.ID) })
	a.Jobs = make([]JobShare, len(jobs))
	cpu := make([]float64, len(jobs))
	var sumCPU float64
	for i, j := range jobs {
		cpu[i] = finiteNonNeg(j.CPUSeconds())
		sumCPU += cpu[i]
		a.Jobs[i] = JobShare{ID: j.ID, CPUSeconds: cpu[i], ReservedShare: clamp01(j.ReservedShare)}
	}
	denom := max(finiteNonNeg(node.CPUSeconds), sumCPU)

	// split gives each job fracs[i] × (dyn, idle) and keeps the rest.
	split := func(c ComponentEnergy, fracs []float64, used, total float64) {
		e := finiteNonNeg(c.Joules)
		idle := min(e, finiteNonNeg(c.IdleWatts)*dt)
		dyn := e - idle
		a.Node = a.Node.Add(JoulesOf(e, c.Method))
		if total > 0 {
			for i := range a.Jobs {
				if fracs[i] == 0 {
					continue
				}
				d := dyn * fracs[i] / total
				a.Jobs[i].Dynamic = a.Jobs[i].Dynamic.Add(JoulesOf(d, c.Method))
				if policy == IdleProportional {
					id := idle * fracs[i] / total
					a.Jobs[i].Idle = a.Jobs[i].Idle.Add(JoulesOf(id, c.Method))
				}
			}
		}
		// The remainders are computed from the fractions, not by
		// subtraction, so that rounding cannot make them negative.
		unattr := dyn
		idleLeft := idle
		if total > 0 {
			unattr = dyn * (total - used) / total
			if policy == IdleProportional {
				idleLeft = idle * (total - used) / total
			}
		}
		a.Unattributed = a.Unattributed.Add(JoulesOf(unattr, c.Method))
		a.Idle = a.Idle.Add(JoulesOf(idleLeft, c.Method))
	}
	for _, c := range node.CPU {
		split(c, cpu, sumCPU, denom)
	}
	for _, g := range node.GPU {
		fr := make([]float64, len(jobs))
		var used, total float64
		for _, p := range node.GPUProcesses {
			if p.GPU != g.Device {
				continue
			}
			f := clamp01(p.Fraction)
			total += f
			for i, j := range jobs {
				if slices.Contains(j.Cur.GPUPIDs, p.PID) {
					fr[i] += f
					used += f
					break // a PID belongs to one job
				}
			}
		}
		for i := range fr {
			a.Jobs[i].GPUFraction += fr[i]
		}
		split(g, fr, used, total)
	}
	return a
}

// AttributeSeries attributes a series of node intervals, taking each job's
// usage at the intervals' ends from its cumulative usage series (samples in
// time order): the cumulative CPU time at time t is interpolated linearly
// between the samples around t, and held at the first or last sample's
// value outside the series, so a job is charged only between its first and
// last sample. GPU PIDs come from the samples that describe the interval:
// the last one at or before its start, every one inside it, and the last
// one at or before its end (the first sample when none is), so that a
// sample that missed a process does not drop the job's GPU share.
// reserved gives each job's ReservedShare; a missing ID means 0.
func AttributeSeries(nodes []NodeInterval, usage map[string][]joule.UsageSample, reserved map[string]float64, policy IdlePolicy) []Attribution {
	ids := make([]string, 0, len(usage))
	for id, s := range usage {
		if len(s) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]Attribution, 0, len(nodes))
	for _, n := range nodes {
		var jobs []JobUsage
		for _, id := range ids {
			s := usage[id]
			if !n.End.After(s[0].Time) || !n.Start.Before(s[len(s)-1].Time) {
				continue // not running in this interval
			}
			cur := UsageAt(s, n.End)
			cur.GPUPIDs = gpuPIDsIn(s, n.Start, n.End)
			jobs = append(jobs, JobUsage{
				ID:            id,
				Prev:          UsageAt(s, n.Start),
				Cur:           cur,
				ReservedShare: reserved[id],
			})
		}
		out = append(out, Attribute(n, jobs, policy))
	}
	return out
}

// gpuPIDsIn returns the GPU PIDs of a job's samples that describe
// [from, to]: the samples at or before from and to (as UsageAt picks them)
// and every sample in between, each PID once, in order of first sight.
func gpuPIDsIn(series []joule.UsageSample, from, to time.Time) []int {
	var pids []int
	add := func(ps []int) {
		for _, p := range ps {
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	add(UsageAt(series, from).GPUPIDs)
	for _, s := range series {
		if s.Time.After(from) && !s.Time.After(to) {
			add(s.GPUPIDs)
		}
	}
	add(UsageAt(series, to).GPUPIDs)
	return pids
}

// UsageAt returns the cumulative usage at t from a series of samples in time
// order: CPU seconds interpolated linearly between the samples around t and
// held constant outside the series; memory, processes and GPU PIDs from the
// last sample at or before t (the first sample when t precedes it). A
// series whose counters restart (a new attempt) is not interpolated across
// the restart: the earlier sample's values hold until the later one.
func UsageAt(series []joule.UsageSample, t time.Time) joule.UsageSample {
	if len(series) == 0 {
		return joule.UsageSample{Time: t}
	}
	i, _ := slices.BinarySearchFunc(series, t, func(s joule.UsageSample, t time.Time) int { return s.Time.Compare(t) })
	// series[i] is the first sample at or after t.
	if i < len(series) && series[i].Time.Equal(t) {
		return series[i]
	}
	if i == 0 {
		out := series[0]
		out.Time = t
		return out
	}
	if i == len(series) {
		out := series[len(series)-1]
		out.Time = t
		return out
	}
	a, b := series[i-1], series[i]
	out := a
	out.Time = t
	if b.CPUUserSec+b.CPUSystemSec >= a.CPUUserSec+a.CPUSystemSec && b.CPUUserSec >= a.CPUUserSec && b.CPUSystemSec >= a.CPUSystemSec {
		f := t.Sub(a.Time).Seconds() / b.Time.Sub(a.Time).Seconds()
		out.CPUUserSec = a.CPUUserSec + f*(b.CPUUserSec-a.CPUUserSec)
		out.CPUSystemSec = a.CPUSystemSec + f*(b.CPUSystemSec-a.CPUSystemSec)
	}
	return out
}

// NodeIntervalFromReadings builds the interval between two rounds of
// readings from the same meters: each component's energy is the difference
// of its cumulative Joules (components missing from either round, or whose
// counter went backwards, are left out), with the later reading's Method.
// Components named "gpu-N" go to GPU with Device N; the rest to CPU.
// idleWatts gives each component's idle baseline (nil: none). The interval
// runs from the earliest to the latest reading time of each round.
func NodeIntervalFromReadings(prev, cur []Reading, idleWatts func(component string) float64) NodeInterval {
	var n NodeInterval
	before := make(map[string]Reading, len(prev))
	for _, r := range prev {
		before[r.Component] = r
		if n.Start.IsZero() || r.Time.Before(n.Start) {
			n.Start = r.Time
		}
	}
	for _, r := range cur {
		if r.Time.After(n.End) {
			n.End = r.Time
		}
		p, ok := before[r.Component]
		if !ok || r.Joules < p.Joules {
			continue
		}
		c := ComponentEnergy{Component: r.Component, Joules: r.Joules - p.Joules, Method: r.Method}
		if idleWatts != nil {
			c.IdleWatts = idleWatts(r.Component)
		}
		if dev, ok := gpuDevice(r.Component); ok {
			c.Device = dev
			n.GPU = append(n.GPU, c)
		} else {
			n.CPU = append(n.CPU, c)
		}
	}
	return n
}

// gpuDevice parses "gpu-N".
func gpuDevice(component string) (int, bool) {
	rest, ok := strings.CutPrefix(component, "gpu-")
	if !ok || rest == "" {
		return 0, false
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' || n > 1<<20 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func nonNeg(x float64) float64 {
	if x > 0 {
		return x
	}
	return 0
}

// finiteNonNeg maps NaN, ±Inf and negatives to 0.
func finiteNonNeg(x float64) float64 {
	if math.IsInf(x, 0) {
		return 0
	}
	return nonNeg(x)
}

func clamp01(x float64) float64 { return min(finiteNonNeg(x), 1) }
