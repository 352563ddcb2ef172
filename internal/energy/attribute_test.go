package energy

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/joule-dev/joule"
)

var t0 = time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)

// usage returns a job whose CPU time grew by cpu seconds over the interval.
func usage(id string, cpu float64, pids ...int) JobUsage {
	return JobUsage{
		ID:   id,
		Prev: joule.UsageSample{Time: t0, CPUUserSec: 10, CPUSystemSec: 5},
		Cur:  joule.UsageSample{Time: t0.Add(time.Second), CPUUserSec: 10 + cpu*0.75, CPUSystemSec: 5 + cpu*0.25, GPUPIDs: pids},
	}
}

// relClose reports whether a and b agree to rel relative (absolute near 0).
func relClose(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestAttribute(t *testing.T) {
	t.Parallel()
	est := "estimated:tdp-curve@1"
	node := NodeInterval{
		Start: t0, End: t0.Add(time.Second),
		CPU: []ComponentEnergy{
			{Component: "package-0", Joules: 40, IdleWatts: 10, Method: MethodRAPL},
			{Component: "memory", Joules: 2, Method: est},
		},
		CPUSeconds: 4,
	}
	tests := []struct {
		name   string
		jobs   []JobUsage
		policy IdlePolicy
		want   Attribution
	}{
		{
			name:   "separate, one second of non-job CPU time",
			jobs:   []JobUsage{usage("b", 2), usage("a", 1), usage("idle-job", 0)},
			policy: IdleSeparate,
			want: Attribution{
				Start: t0, End: t0.Add(time.Second), Policy: IdleSeparate,
				Node: Joules{Measured: 40, Estimated: 2, Method: "estimated:tdp-curve@1+measured:rapl"},
				Jobs: []JobShare{
					{ID: "a", CPUSeconds: 1, Dynamic: Joules{Measured: 7.5, Estimated: 0.5, Method: "estimated:tdp-curve@1+measured:rapl"}},
					{ID: "b", CPUSeconds: 2, Dynamic: Joules{Measured: 15, Estimated: 1, Method: "estimated:tdp-curve@1+measured:rapl"}},
					{ID: "idle-job"},
				},
				Idle:         Joules{Measured: 10, Method: "estimated:tdp-curve@1+measured:rapl"},
				Unattributed: Joules{Measured: 7.5, Estimated: 0.5, Method: "estimated:tdp-curve@1+measured:rapl"},
			},
		},
		{
			name:   "proportional shares idle by CPU time; the non-job share stays idle",
			jobs:   []JobUsage{usage("a", 1), usage("b", 2)},
			policy: IdleProportional,
			want: Attribution{
				Start: t0, End: t0.Add(time.Second), Policy: IdleProportional,
				Node: Joules{Measured: 40, Estimated: 2, Method: "estimated:tdp-curve@1+measured:rapl"},
				Jobs: []JobShare{
					{ID: "a", CPUSeconds: 1, Dynamic: Joules{Measured: 7.5, Estimated: 0.5, Method: "estimated:tdp-curve@1+measured:rapl"}, Idle: Joules{Measured: 2.5, Method: "estimated:tdp-curve@1+measured:rapl"}},
					{ID: "b", CPUSeconds: 2, Dynamic: Joules{Measured: 15, Estimated: 1, Method: "estimated:tdp-curve@1+measured:rapl"}, Idle: Joules{Measured: 5, Method: "estimated:tdp-curve@1+measured:rapl"}},
				},
				Idle:         Joules{Measured: 2.5, Method: "estimated:tdp-curve@1+measured:rapl"},
				Unattributed: Joules{Measured: 7.5, Estimated: 0.5, Method: "estimated:tdp-curve@1+measured:rapl"},
			},
		},
		{
			name:   "no jobs: dynamic is unattributed",
			policy: IdleProportional,
			want: Attribution{
				Start: t0, End: t0.Add(time.Second), Policy: IdleProportional,
				Node:         Joules{Measured: 40, Estimated: 2, Method: "estimated:tdp-curve@1+measured:rapl"},
				Jobs:         []JobShare{},
				Idle:         Joules{Measured: 10, Method: "estimated:tdp-curve@1+measured:rapl"},
				Unattributed: Joules{Measured: 30, Estimated: 2, Method: "estimated:tdp-curve@1+measured:rapl"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Attribute(node, tt.jobs, tt.policy)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Attribute (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttributeGPU(t *testing.T) {
	t.Parallel()
	node := NodeInterval{
		Start: t0, End: t0.Add(time.Second),
		GPU: []ComponentEnergy{
			{Component: "gpu-0", Joules: 250, IdleWatts: 50, Method: MethodNVML, Device: 0},
			{Component: "gpu-1", Joules: 60, IdleWatts: 60, Method: MethodNVML, Device: 1},
		},
		GPUProcesses: []GPUProcess{
			{GPU: 0, PID: 100, Fraction: 0.6},
			{GPU: 0, PID: 101, Fraction: 0.2},
			{GPU: 0, PID: 999, Fraction: 0.2}, // not a job's
			{GPU: 1, PID: 100, Fraction: 0.5}, // gpu-1 has no dynamic energy
		},
	}
	got := Attribute(node, []JobUsage{usage("a", 0, 100), usage("b", 0, 101)}, IdleSeparate)
	want := []JobShare{
		{ID: "a", GPUFraction: 1.1, Dynamic: Joules{Measured: 120, Method: MethodNVML}},
		{ID: "b", GPUFraction: 0.2, Dynamic: Joules{Measured: 40, Method: MethodNVML}},
	}
	if diff := cmp.Diff(want, got.Jobs, cmpFloat); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if !relClose(got.Unattributed.Measured, 40, 1e-12) || got.Idle.Measured != 110 {
		t.Errorf("unattributed %v idle %v, want 40 and 110", got.Unattributed, got.Idle)
	}
}

var cmpFloat = cmp.Comparer(func(a, b float64) bool { return relClose(a, b, 1e-12) })

func TestJobUsageCPUSecondsRestart(t *testing.T) {
	t.Parallel()
	u := JobUsage{
		Prev: joule.UsageSample{CPUUserSec: 50},
		Cur:  joule.UsageSample{CPUUserSec: 1.5, CPUSystemSec: 0.5},
	}
	if got := u.CPUSeconds(); got != 2 {
		t.Errorf("CPUSeconds after a restart = %v, want 2", got)
	}
}

// TestAttributeOneToTwo is the acceptance "two concurrent jobs, one burning
// 1 thread and one 2 threads for 5 s, get dynamic energy in a 1:2 ratio
// ±10%" as a pure test: the node's power follows the estimation model at
// the combined utilisation, sampled at 1 Hz. With pure inputs the ratio is
// exact (to rounding), not merely within 10%.
func TestAttributeOneToTwo(t *testing.T) {
	t.Parallel()
	m := DefaultModel()
	const tdp, threads = 65.0, 4.0
	series := map[string][]joule.UsageSample{}
	var nodes []NodeInterval
	for s := 0; s <= 5; s++ {
		ts := t0.Add(time.Duration(s) * time.Second)
		series["one"] = append(series["one"], joule.UsageSample{Time: ts, CPUUserSec: float64(s)})
		series["two"] = append(series["two"], joule.UsageSample{Time: ts, CPUUserSec: 1.5 * float64(s), CPUSystemSec: 0.5 * float64(s)})
	}
	// The estimated meter, driven through its own Read, at u = 3/4.
	clk := &clock{t: t0}
	meter, err := NewEstimated(EstimatedConfig{
		Model: m, TDP: TDP{Watts: tdp},
		Usage: func(ctx context.Context) (float64, int64, error) { return 3 / threads, 0, nil },
		Now:   clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	prev, err := meter.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 5; s++ {
		clk.t = t0.Add(time.Duration(s) * time.Second)
		cur, err := meter.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n := NodeIntervalFromReadings(prev, cur, func(c string) float64 {
			if c == "cpu" {
				return meter.IdleWatts()
			}
			return 0
		})
		n.CPUSeconds = 3
		nodes = append(nodes, n)
		prev = cur
	}
	var one, two Joules
	for _, a := range AttributeSeries(nodes, series, nil, IdleSeparate) {
		for _, j := range a.Jobs {
			switch j.ID {
			case "one":
				one = one.Add(j.Dynamic)
			case "two":
				two = two.Add(j.Dynamic)
			}
		}
	}
	if one.Total() <= 0 {
		t.Fatalf("job one got %v", one)
	}
	if r := two.Total() / one.Total(); !relClose(r, 2, 1e-12) {
		t.Errorf("dynamic energy ratio two/one = %v, want 2 (acceptance: 2 ± 10%%)", r)
	}
	wantDyn := 5 * (m.CPUWatts(tdp, 0.75) - m.IdleWatts(tdp))
	if got := one.Total() + two.Total(); !relClose(got, wantDyn, 1e-9) {
		t.Errorf("dynamic energy of both jobs = %v J, want %v J", got, wantDyn)
	}
	for _, j := range []Joules{one, two} {
		if j.Method != "estimated:tdp-curve@1" || j.Measured != 0 {
			t.Errorf("job energy %+v: want all estimated by estimated:tdp-curve@1", j)
		}
	}
}

func TestAttributeSeriesInterpolates(t *testing.T) {
	t.Parallel()
	// Samples every 2 s; intervals every 1 s: CPU time is interpolated.
	s := []joule.UsageSample{
		{Time: t0, CPUUserSec: 0},
		{Time: t0.Add(2 * time.Second), CPUUserSec: 4},
	}
	nodes := []NodeInterval{
		{Start: t0.Add(-time.Second), End: t0, CPU: []ComponentEnergy{{Joules: 5, Method: MethodRAPL}}},
		{Start: t0, End: t0.Add(time.Second), CPU: []ComponentEnergy{{Joules: 5, Method: MethodRAPL}}},
		{Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), CPU: []ComponentEnergy{{Joules: 5, Method: MethodRAPL}}},
		{Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second), CPU: []ComponentEnergy{{Joules: 5, Method: MethodRAPL}}},
	}
	got := AttributeSeries(nodes, map[string][]joule.UsageSample{"a": s}, map[string]float64{"a": 0.5}, IdleSeparate)
	wantJobs := []int{0, 1, 1, 0}
	for i, a := range got {
		if len(a.Jobs) != wantJobs[i] {
			t.Fatalf("interval %d: %d jobs, want %d", i, len(a.Jobs), wantJobs[i])
		}
		if len(a.Jobs) == 1 && (a.Jobs[0].CPUSeconds != 2 || a.Jobs[0].Dynamic.Measured != 5 || a.Jobs[0].ReservedShare != 0.5) {
			t.Errorf("interval %d: job %+v, want 2 CPU s, 5 J, reserved 0.5", i, a.Jobs[0])
		}
	}
}

func TestNodeIntervalFromReadings(t *testing.T) {
	t.Parallel()
	prev := []Reading{
		{Time: t0, Component: "package-0", Joules: 100, Method: MethodRAPL},
		{Time: t0, Component: "gpu-1", Joules: 1000, Method: MethodNVML},
		{Time: t0, Component: "dram-0", Joules: 50, Method: MethodRAPL},
	}
	cur := []Reading{
		{Time: t0.Add(time.Second), Component: "package-0", Joules: 130, Method: MethodRAPL},
		{Time: t0.Add(time.Second), Component: "gpu-1", Joules: 1200, Method: MethodNVML},
		{Time: t0.Add(time.Second), Component: "new", Joules: 7, Method: MethodRAPL},
	}
	got := NodeIntervalFromReadings(prev, cur, func(c string) float64 { return 1 })
	want := NodeInterval{
		Start: t0, End: t0.Add(time.Second),
		CPU: []ComponentEnergy{{Component: "package-0", Joules: 30, IdleWatts: 1, Method: MethodRAPL}},
		GPU: []ComponentEnergy{{Component: "gpu-1", Joules: 200, IdleWatts: 1, Method: MethodNVML, Device: 1}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NodeIntervalFromReadings (-want +got):\n%s", diff)
	}
}

var methods = []string{MethodRAPL, MethodNVML, "estimated:tdp-curve@1", MethodHwmon}

func genNode(t *rapid.T) NodeInterval {
	dt := time.Duration(rapid.IntRange(1, 10_000).Draw(t, "dt_ms")) * time.Millisecond
	n := NodeInterval{Start: t0, End: t0.Add(dt), CPUSeconds: rapid.Float64Range(0, 64).Draw(t, "node_cpu")}
	comp := func(label string, dev int) ComponentEnergy {
		return ComponentEnergy{
			Component: label,
			Joules:    rapid.Float64Range(0, 1e4).Draw(t, label+"_j"),
			IdleWatts: rapid.Float64Range(0, 500).Draw(t, label+"_idle"),
			Method:    rapid.SampledFrom(methods).Draw(t, label+"_method"),
			Device:    dev,
		}
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "ncpu") {
		n.CPU = append(n.CPU, comp(fmt.Sprintf("cpu%d", i), 0))
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "ngpu") {
		n.GPU = append(n.GPU, comp(fmt.Sprintf("gpu-%d", i), i))
	}
	for i := range rapid.IntRange(0, 6).Draw(t, "nproc") {
		n.GPUProcesses = append(n.GPUProcesses, GPUProcess{
			GPU: rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("proc%d_gpu", i)), PID: 100 + i,
			Fraction: rapid.Float64Range(0, 1).Draw(t, fmt.Sprintf("proc%d_frac", i)),
		})
	}
	return n
}

func genJobs(t *rapid.T) []JobUsage {
	var jobs []JobUsage
	for i := range rapid.IntRange(0, 5).Draw(t, "njobs") {
		cpu := rapid.SampledFrom([]float64{0, 0.5, 1, 2, 3.25}).Draw(t, fmt.Sprintf("job%d_cpu", i))
		var pids []int
		for p := range 6 {
			if rapid.IntRange(0, 5).Draw(t, fmt.Sprintf("job%d_pid%d", i, p)) == 0 {
				pids = append(pids, 100+p)
			}
		}
		jobs = append(jobs, usage(fmt.Sprintf("job%d", i), cpu, pids...))
	}
	return jobs
}

func sumParts(a Attribution) Joules {
	s := a.Idle.Add(a.Unattributed)
	for _, j := range a.Jobs {
		s = s.Add(j.Energy())
	}
	return s
}

func TestAttributeProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		node, jobs := genNode(t), genJobs(t)
		sep := Attribute(node, jobs, IdleSeparate)
		prop := Attribute(node, jobs, IdleProportional)
		var wantM, wantE float64
		for _, c := range append(node.CPU, node.GPU...) {
			if IsMeasured(c.Method) {
				wantM += c.Joules
			} else {
				wantE += c.Joules
			}
		}
		for _, a := range []Attribution{sep, prop} {
			// Conservation, per part.
			s := sumParts(a)
			if !relClose(s.Measured, wantM, 1e-9) || !relClose(s.Estimated, wantE, 1e-9) ||
				a.Node.Measured != wantM && !relClose(a.Node.Measured, wantM, 1e-12) {
				t.Fatalf("%s: parts %+v, node %+v, want measured %v estimated %v", a.Policy, s, a.Node, wantM, wantE)
			}
			// Non-negativity.
			all := []Joules{a.Idle, a.Unattributed}
			for _, j := range a.Jobs {
				all = append(all, j.Dynamic, j.Idle)
			}
			for _, j := range all {
				if j.Measured < 0 || j.Estimated < 0 {
					t.Fatalf("%s: negative energy %+v", a.Policy, j)
				}
			}
			// No use, no energy.
			for _, j := range a.Jobs {
				if j.CPUSeconds == 0 && j.GPUFraction == 0 && j.Energy().Total() != 0 {
					t.Fatalf("%s: job %s used nothing but got %+v", a.Policy, j.ID, j.Energy())
				}
			}
		}
		// Policy invariants: dynamic is the same; separate gives no idle
		// to jobs; proportional moves idle from Idle to jobs, never more.
		var jobIdle float64
		for i := range sep.Jobs {
			if !relClose(sep.Jobs[i].Dynamic.Total(), prop.Jobs[i].Dynamic.Total(), 1e-12) {
				t.Fatalf("dynamic differs by policy: %+v vs %+v", sep.Jobs[i], prop.Jobs[i])
			}
			if sep.Jobs[i].Idle.Total() != 0 {
				t.Fatalf("separate gave job %s idle %+v", sep.Jobs[i].ID, sep.Jobs[i].Idle)
			}
			jobIdle += prop.Jobs[i].Idle.Total()
		}
		if !relClose(jobIdle+prop.Idle.Total(), sep.Idle.Total(), 1e-9) || prop.Idle.Total() > sep.Idle.Total()*(1+1e-9)+1e-12 {
			t.Fatalf("idle: separate %v, proportional jobs %v + left %v", sep.Idle.Total(), jobIdle, prop.Idle.Total())
		}
		if !relClose(sep.Unattributed.Total(), prop.Unattributed.Total(), 1e-12) {
			t.Fatalf("unattributed differs by policy")
		}
	})
}

func TestAttributeProportionality(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		node := genNode(t)
		node.GPU, node.GPUProcesses = nil, nil
		jobs := genJobs(t)
		// Job "double" uses twice the CPU time of "single".
		c := rapid.Float64Range(0.001, 8).Draw(t, "c")
		jobs = append(jobs, usage("single", c), usage("double", 2*c))
		a := Attribute(node, jobs, rapid.SampledFrom([]IdlePolicy{IdleSeparate, IdleProportional}).Draw(t, "policy"))
		var single, double JobShare
		for _, j := range a.Jobs {
			switch j.ID {
			case "single":
				single = j
			case "double":
				double = j
			}
		}
		if !relClose(double.Dynamic.Total(), 2*single.Dynamic.Total(), 1e-9) || !relClose(double.Idle.Total(), 2*single.Idle.Total(), 1e-9) {
			t.Fatalf("double %+v, single %+v: want 2:1", double, single)
		}
		// Every job's dynamic energy per CPU second is the same.
		for _, j := range a.Jobs {
			if !relClose(j.Dynamic.Total()*single.CPUSeconds, single.Dynamic.Total()*j.CPUSeconds, 1e-9) {
				t.Fatalf("job %s: %v J for %v s; single %v J for %v s", j.ID, j.Dynamic.Total(), j.CPUSeconds, single.Dynamic.Total(), single.CPUSeconds)
			}
		}
	})
}

func TestMergeMethods(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"measured:rapl", ""}, "measured:rapl"},
		{[]string{"measured:rapl+measured:nvml", "estimated:tdp-curve@1", "measured:rapl"}, "estimated:tdp-curve@1+measured:nvml+measured:rapl"},
	} {
		if got := MergeMethods(tt.in...); got != tt.want {
			t.Errorf("MergeMethods(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
