package energy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// UsageFunc reports a node's utilisation for [Estimated]: the fraction of
// all CPUs busy since the previous call (0..1) and the resident memory in
// bytes now.
type UsageFunc func(ctx context.Context) (cpuFraction float64, memoryBytes int64, err error)

// EstimatedConfig configures an [Estimated] meter.
type EstimatedConfig struct {
	// Model is the estimation model; the zero Model means DefaultModel().
	Model Model
	// TDP is the node's CPU TDP, from [TDPTable.ForCPU]; Watts must be > 0.
	TDP TDP
	// Usage reports utilisation; required.
	Usage UsageFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Estimated estimates CPU and memory power from utilisation with a [Model],
// for nodes where nothing can be measured. Its readings are "cpu" and
// "memory", with the model's method ("estimated:tdp-curve@1"). The CPU
// figure never falls below the model's idle floor, so an idle node still
// uses energy.
type Estimated struct {
	cfg     EstimatedConfig
	started bool
	lastT   time.Time
	cpuJ    float64
	memJ    float64
}

// NewEstimated returns an Estimated meter. It fails when cfg.Usage is nil or
// cfg.TDP.Watts is not positive.
func NewEstimated(cfg EstimatedConfig) (*Estimated, error) {
	if cfg.Model.Name == "" {
		cfg.Model = DefaultModel()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Usage == nil {
		return nil, errors.New("estimated meter: Usage is required")
	}
	if !(cfg.TDP.Watts > 0) || math.IsInf(cfg.TDP.Watts, 0) {
		return nil, fmt.Errorf("estimated meter: TDP.Watts %v: want a positive number", cfg.TDP.Watts)
	}
	return &Estimated{cfg: cfg}, nil
}

// Name returns "estimated".
func (e *Estimated) Name() string { return "estimated" }

// Method returns the model's method, e.g. "estimated:tdp-curve@1".
func (e *Estimated) Method() string { return e.cfg.Model.Method() }

// Model returns the model the meter uses.
func (e *Estimated) Model() Model { return e.cfg.Model }

// IdleWatts returns the node's estimated CPU power at zero load.
func (e *Estimated) IdleWatts() float64 { return e.cfg.Model.IdleWatts(e.cfg.TDP.Watts) }

// Read estimates the power over the interval since the previous Read from
// the utilisation Usage reports for it, and adds power × interval to the
// cumulative joules. The first Read only starts the clock: its Joules and
// Watts are 0.
func (e *Estimated) Read(ctx context.Context) ([]Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, mem, err := e.cfg.Usage(ctx)
	if err != nil {
		return nil, fmt.Errorf("estimated meter: usage: %v", err)
	}
	now := e.cfg.Now().UTC()
	var cpuW, memW float64
	if e.started {
		if dt := now.Sub(e.lastT).Seconds(); dt > 0 {
			cpuW = e.cfg.Model.CPUWatts(e.cfg.TDP.Watts, u)
			memW = e.cfg.Model.MemoryWatts(mem)
			e.cpuJ += cpuW * dt
			e.memJ += memW * dt
			e.lastT = now
		}
	} else {
		e.started, e.lastT = true, now
	}
	m := e.Method()
	return []Reading{
		{Time: now, Component: "cpu", Joules: e.cpuJ, Watts: cpuW, Method: m},
		{Time: now, Component: "memory", Joules: e.memJ, Watts: memW, Method: m},
	}, nil
}
