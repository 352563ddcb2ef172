package energy

import (
	"context"
	"errors"
	"math"
	"testing"
)

// TestEstimatedOnVM plays this VM: a 2-vCPU "AMD EPYC" guest with no
// powercap or hwmon. The method names the model and version, and an idle
// node still uses power.
func TestEstimatedOnVM(t *testing.T) {
	t.Parallel()
	cpu := ParseCPUInfo([]byte("processor : 0\nmodel name : AMD EPYC\nphysical id : 0\nflags : fpu hypervisor\nprocessor : 1\nmodel name : AMD EPYC\nphysical id : 0\nflags : fpu hypervisor\n"))
	tdp := DefaultTDPTable().ForCPU(cpu)
	load := 0.0
	usage := func(context.Context) (float64, int64, error) { return load, 4 << 30, nil }
	clk := newClock()
	e, err := NewEstimated(EstimatedConfig{TDP: tdp, Usage: usage, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewEstimated() = %v", err)
	}
	if got, want := e.Method(), "estimated:tdp-curve@1"; got != want {
		t.Errorf("Method() = %q, want %q", got, want)
	}
	if _, err := e.Read(t.Context()); err != nil {
		t.Fatalf("first Read() = %v", err)
	}
	clk.Advance("10s")
	rs, err := e.Read(t.Context())
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	got := byComponent(rs)
	idle := e.IdleWatts()
	if !(idle > 0) {
		t.Errorf("IdleWatts() = %v, want > 0", idle)
	}
	if c := got["cpu"]; math.Abs(c.Watts-idle) > 1e-9 || math.Abs(c.Joules-10*idle) > 1e-9 || c.Method != e.Method() {
		t.Errorf("idle cpu reading = %+v, want %v W, %v J, method %q", c, idle, 10*idle, e.Method())
	}
	if m := got["memory"]; math.Abs(m.Watts-4*MemoryWattsPerGB) > 1e-9 {
		t.Errorf("memory watts = %v, want %v", m.Watts, 4*MemoryWattsPerGB)
	}

	// Busier means more power, never more than TDP × (idle + dynamic).
	load = 1
	clk.Advance("1s")
	rs, _ = e.Read(t.Context())
	full := byComponent(rs)["cpu"].Watts
	m := e.Model()
	if !(full > idle) || full > tdp.Watts*(m.Idle+m.Dynamic)+1e-9 {
		t.Errorf("full-load watts = %v, want in (%v, %v]", full, idle, tdp.Watts*(m.Idle+m.Dynamic))
	}
	t.Logf("this VM: TDP %+v, idle %.2f W, full %.2f W, model %s", tdp, idle, full, m.Method())
}

func TestEstimatedErrors(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) (float64, int64, error) { return 0, 0, nil }
	if _, err := NewEstimated(EstimatedConfig{TDP: TDP{Watts: 10}}); err == nil {
		t.Error("NewEstimated(no Usage) = nil error, want one")
	}
	if _, err := NewEstimated(EstimatedConfig{TDP: TDP{Watts: math.NaN()}, Usage: ok}); err == nil {
		t.Error("NewEstimated(NaN TDP) = nil error, want one")
	}
	bad := func(context.Context) (float64, int64, error) { return 0, 0, errors.New("no /proc") }
	e, err := NewEstimated(EstimatedConfig{TDP: TDP{Watts: 10}, Usage: bad})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Read(t.Context()); err == nil {
		t.Error("Read() with failing usage = nil error, want one")
	}
}

func TestModelCurve(t *testing.T) {
	t.Parallel()
	m := DefaultModel()
	prev := -1.0
	for _, u := range []float64{-1, 0, 0.1, 0.5, 0.9, 1, 2, math.NaN()} {
		w := m.CPUWatts(100, u)
		if math.IsNaN(w) || w < MinIdleFraction*100 {
			t.Errorf("CPUWatts(100, %v) = %v, want ≥ the idle floor", u, w)
		}
		if u >= 0 && u <= 1 && w < prev {
			t.Errorf("CPUWatts(100, %v) = %v < %v: not monotonic", u, w, prev)
		}
		if u >= 0 && u <= 1 {
			prev = w
		}
	}
	if m.MemoryWatts(-5) != 0 {
		t.Errorf("MemoryWatts(-5) = %v, want 0", m.MemoryWatts(-5))
	}
}
