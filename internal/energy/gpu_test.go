package energy

import (
	"cmp"
	"errors"
	"math"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// fakeGPUs stands in for *nvml.Lib at the NVML boundary.
type fakeGPUs struct {
	energy []float64 // joules; -1 = no counter
	power  []float64
	procs  []map[int]float64
	err    error
}

var _ GPUSource = (*fakeGPUs)(nil)

func (f *fakeGPUs) TotalEnergy() ([]float64, error) {
	if f.err != nil || f.energy == nil {
		return nil, cmp.Or(f.err, errors.New("fake: no energy"))
	}
	return append([]float64(nil), f.energy...), nil
}

func (f *fakeGPUs) Power() ([]float64, error) {
	if f.err != nil {
		return nil, f.err
	}
	return append([]float64(nil), f.power...), nil
}

func (f *fakeGPUs) ProcessUtilization() ([]map[int]float64, error) { return f.procs, f.err }

func TestGPU(t *testing.T) {
	t.Parallel()
	// gpu-0 has an energy counter; gpu-1 (older) does not: its power is
	// integrated.
	src := &fakeGPUs{energy: []float64{1000, -1}, power: []float64{300, 50}}
	clk := newClock()
	var logs logBuffer
	g, err := NewGPU(src, Config{Now: clk.Now, Logger: logs.Logger()})
	if err != nil {
		t.Fatalf("NewGPU() = %v", err)
	}
	steps := []struct {
		energy0, power1 float64
		want            map[string][2]float64 // component -> joules, watts
	}{
		{1000, 50, map[string][2]float64{"gpu-0": {0, 0}, "gpu-1": {0, 0}}},
		{1600, 70, map[string][2]float64{"gpu-0": {600, 300}, "gpu-1": {120, 60}}},
		{900, 70, map[string][2]float64{"gpu-1": {260, 70}}}, // counter went backwards (driver reload): dropped
		{1100, 30, map[string][2]float64{"gpu-0": {800, 100}, "gpu-1": {360, 50}}},
	}
	for i, s := range steps {
		if i > 0 {
			clk.Advance("2s")
		}
		src.energy[0], src.power[1] = s.energy0, s.power1
		rs, err := g.Read(t.Context())
		if err != nil {
			t.Fatalf("Read() #%d = %v", i, err)
		}
		got := map[string][2]float64{}
		for _, r := range rs {
			got[r.Component] = [2]float64{r.Joules, r.Watts}
			if r.Method != MethodNVML {
				t.Errorf("method = %q, want %q", r.Method, MethodNVML)
			}
		}
		if diff := gocmp.Diff(s.want, got, gocmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
			t.Errorf("Read() #%d mismatch (-want +got):\n%s", i, diff)
		}
	}

	src.procs = []map[int]float64{{42: 0.5, 7: 1.5}, nil}
	procs, err := g.Processes(t.Context())
	if err != nil {
		t.Fatalf("Processes() = %v", err)
	}
	want := []GPUProcess{{GPU: 0, PID: 7, Fraction: 1}, {GPU: 0, PID: 42, Fraction: 0.5}}
	if diff := gocmp.Diff(want, procs); diff != "" {
		t.Errorf("Processes() mismatch (-want +got):\n%s", diff)
	}
}

func TestGPUErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewGPU(&fakeGPUs{}, Config{}); !errors.Is(err, ErrNoMeter) {
		t.Errorf("NewGPU(no GPUs) = %v, want ErrNoMeter", err)
	}
	src := &fakeGPUs{power: []float64{100}}
	g, err := NewGPU(src, Config{})
	if err != nil {
		t.Fatalf("NewGPU() = %v", err)
	}
	src.err = errors.New("fake: GPU lost")
	if _, err := g.Read(t.Context()); err == nil {
		t.Error("Read() with NVML failing = nil error, want one")
	}
	if _, err := g.Processes(t.Context()); err == nil {
		t.Error("Processes() with NVML failing = nil error, want one")
	}
}
