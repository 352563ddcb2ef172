package energy

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// GPUSource is what [GPU] needs from NVML. *nvml.Lib satisfies it; cmd/joule
// wires the two, and tests use a hand-written fake.
type GPUSource interface {
	// TotalEnergy returns each GPU's energy counter in joules, in index
	// order. A negative value means that GPU has no energy counter
	// (nvmlDeviceGetTotalEnergyConsumption is supported from Volta on).
	TotalEnergy() ([]float64, error)
	// Power returns each GPU's power draw in watts, in index order.
	Power() ([]float64, error)
	// ProcessUtilization returns, per GPU in index order, each process's
	// share of the GPU's SM time (0..1) over the samples since the previous
	// call, keyed by PID. A GPU that cannot report it gives nil.
	ProcessUtilization() ([]map[int]float64, error)
}

// GPU meters NVIDIA GPUs: from each GPU's total-energy counter where it has
// one, else by integrating power samples between reads (trapezoidal rule).
// Components are "gpu-N" after the NVML index. Both ways are measurements,
// so readings carry [MethodNVML].
type GPU struct {
	src   GPUSource
	now   func() time.Time
	log   *slog.Logger
	gpus  []*gpuState
	count int
}

// gpuState is the running state of one GPU.
type gpuState struct {
	started   bool
	lastJ     float64 // last counter value
	lastT     time.Time
	joules    float64
	usesPower bool
	p         integrator
}

// NewGPU returns a GPU meter over src. It fails with [ErrNoMeter] when src
// reports no GPUs.
func NewGPU(src GPUSource, cfg Config) (*GPU, error) {
	cfg = cfg.WithDefaults()
	w, err := src.Power()
	if err != nil {
		return nil, fmt.Errorf("gpu: %v", err)
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("gpu: %w: no GPUs", ErrNoMeter)
	}
	g := &GPU{src: src, now: cfg.Now, log: cfg.Logger, count: len(w)}
	for range w {
		g.gpus = append(g.gpus, &gpuState{})
	}
	return g, nil
}

// Name returns "nvml".
func (g *GPU) Name() string { return "nvml" }

// Method returns [MethodNVML].
func (g *GPU) Method() string { return MethodNVML }

// Read samples every GPU. A GPU whose counter went backwards (the driver
// was reloaded) drops that sample and starts again from the new value.
func (g *GPU) Read(ctx context.Context) ([]Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := g.now().UTC()
	energy, errE := g.src.TotalEnergy()
	if errE != nil || len(energy) != g.count {
		energy = nil
	}
	var power []float64
	needPower := energy == nil
	for _, j := range energy {
		if j < 0 || math.IsNaN(j) {
			needPower = true
		}
	}
	if needPower {
		var err error
		if power, err = g.src.Power(); err != nil || len(power) != g.count {
			if err == nil {
				err = fmt.Errorf("%d power readings for %d GPUs", len(power), g.count)
			}
			return nil, fmt.Errorf("gpu: %v", err)
		}
	}
	out := make([]Reading, 0, g.count)
	for i, s := range g.gpus {
		comp := fmt.Sprintf("gpu-%d", i)
		var w float64
		if energy != nil && energy[i] >= 0 && !math.IsInf(energy[i], 0) && !s.usesPower {
			j := energy[i]
			switch {
			case !s.started:
				s.started, s.lastJ, s.lastT = true, j, now
			case j < s.lastJ:
				g.log.LogAttrs(ctx, slog.LevelWarn, "GPU energy counter went backwards; sample dropped",
					slog.Int("gpu", i), slog.Float64("joules", j))
				s.lastJ, s.lastT = j, now
				continue
			default:
				if dt := now.Sub(s.lastT).Seconds(); dt > 0 {
					w = (j - s.lastJ) / dt
				}
				s.joules += j - s.lastJ
				s.lastJ, s.lastT = j, now
			}
			out = append(out, Reading{Time: now, Component: comp, Joules: s.joules, Watts: w, Method: MethodNVML})
			continue
		}
		if !s.usesPower && s.started {
			// The counter stopped answering: go on from the energy so
			// far by integrating power.
			s.p.joules = s.joules
		}
		s.usesPower = true
		w, s.joules = s.p.add(power[i], now)
		s.started = true
		out = append(out, Reading{Time: now, Component: comp, Joules: s.joules, Watts: w, Method: MethodNVML})
	}
	return out, nil
}

// GPUProcess is one process's use of one GPU over an interval.
type GPUProcess struct {
	GPU      int     `json:"gpu"`
	PID      int     `json:"pid"`
	Fraction float64 `json:"fraction"` // share of the GPU's SM time, 0..1
}

// Processes returns each process's GPU utilisation since the previous call,
// for splitting GPU power across jobs. Fractions are clamped to 0..1.
func (g *GPU) Processes(ctx context.Context) ([]GPUProcess, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	per, err := g.src.ProcessUtilization()
	if err != nil {
		return nil, fmt.Errorf("gpu processes: %v", err)
	}
	var out []GPUProcess
	for i, m := range per {
		for _, pid := range sortedKeys(m) {
			f := m[pid]
			if !(f > 0) {
				f = 0
			}
			out = append(out, GPUProcess{GPU: i, PID: pid, Fraction: min(f, 1)})
		}
	}
	return out, nil
}
