package main

import (
	"context"
	"log/slog"
	"os"
	"slices"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/nodeinfo"
)

// powerSampler adds the node's power to each usage sample: measured by
// RAPL or hwmon where the machine exposes them (plus NVML for GPUs), and
// otherwise estimated by the model from the same sample's utilisation.
type powerSampler struct {
	usage  nodeinfo.UsageSampler
	meters []energy.Meter
	last   joule.NodeUsage // the sample the estimated meter reads
	logger *slog.Logger
	warned bool
}

// newPowerSampler picks the node's meters. gpus may be nil.
func newPowerSampler(ctx context.Context, usage nodeinfo.UsageSampler, gpus energy.GPUSource, logger *slog.Logger) *powerSampler {
	p := &powerSampler{usage: usage, logger: logger}
	cfg := energy.Config{Logger: logger}
	if m, err := energy.NewRAPL(ctx, cfg); err == nil {
		p.meters = append(p.meters, m)
	} else if m, err := energy.NewHwmon(ctx, cfg); err == nil {
		p.meters = append(p.meters, m)
	} else {
		info, _ := os.ReadFile("/proc/cpuinfo")
		tdp := energy.DefaultTDPTable().ForCPU(energy.ParseCPUInfo(info))
		est, err := energy.NewEstimated(energy.EstimatedConfig{TDP: tdp, Usage: func(context.Context) (float64, int64, error) {
			return p.last.CPUFraction, p.last.MemoryUsed, nil
		}})
		if err != nil {
			logger.Warn("no power meter and no estimate: node power will not be reported", "err", err)
		} else {
			logger.Info("no power meter: node power is estimated", "method", est.Method(), "tdp_watts", tdp.Watts, "tdp_match", tdp.Match)
			p.meters = append(p.meters, est)
		}
	}
	if gpus != nil {
		if m, err := energy.NewGPU(gpus, cfg); err == nil {
			p.meters = append(p.meters, m)
		}
	}
	return p
}

// Sample implements nodeinfo.UsageSampler.
func (p *powerSampler) Sample(ctx context.Context) (joule.NodeUsage, error) {
	u, err := p.usage.Sample(ctx)
	if err != nil {
		return u, err
	}
	p.last = u
	for _, m := range p.meters {
		rs, err := m.Read(ctx)
		if err != nil {
			if !p.warned {
				p.logger.Warn("power meter read failed", "meter", m.Name(), "err", err)
				p.warned = true
			}
			continue
		}
		for _, r := range rs {
			u.Power = append(u.Power, joule.PowerReading{Component: r.Component, Watts: r.Watts, Method: r.Method})
		}
	}
	slices.SortFunc(u.Power, func(a, b joule.PowerReading) int {
		if a.Component < b.Component {
			return -1
		}
		if a.Component > b.Component {
			return 1
		}
		return 0
	})
	return u, nil
}
