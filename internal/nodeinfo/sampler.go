package nodeinfo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/joule-dev/joule"
)

// Sampler reads a node's utilisation. It keeps the previous CPU counters so
// that each sample covers the time since the one before; it is safe for
// concurrent use.
type Sampler struct {
	cfg Config

	mu   sync.Mutex
	prev cpuTimes // zero before the first sample
}

// NewSampler returns a Sampler reading under cfg.Root. Zero fields of cfg
// take their defaults; Name and Labels are not used.
func NewSampler(cfg Config) *Sampler {
	return &Sampler{cfg: cfg.WithDefaults()}
}

// Sample returns the node's utilisation now:
//
//   - CPUFraction: the busy share of all CPUs since the previous call, from
//     proc/stat; the first call reports the average since boot;
//   - MemoryUsed: MemTotal minus MemAvailable from proc/meminfo;
//   - Load1: the 1-minute load average from proc/loadavg;
//   - GPUFractions: from the GPU source. If it fails, the error is logged and
//     GPUFractions is left nil, so the rest of the sample still counts.
//
// It fails when one of the proc files cannot be read or parsed; parse
// errors name the file and line.
func (s *Sampler) Sample(ctx context.Context) (joule.NodeUsage, error) {
	if err := ctx.Err(); err != nil {
		return joule.NodeUsage{}, err
	}
	u := joule.NodeUsage{Time: s.cfg.Now().UTC()}

	path := filepath.Join(s.cfg.Root, "proc/stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return joule.NodeUsage{}, fmt.Errorf("nodeinfo: %v", err)
	}
	cur, err := parseStat(path, b)
	if err != nil {
		return joule.NodeUsage{}, err
	}

	path = filepath.Join(s.cfg.Root, "proc/meminfo")
	if b, err = os.ReadFile(path); err != nil {
		return joule.NodeUsage{}, fmt.Errorf("nodeinfo: %v", err)
	}
	mem, err := parseMeminfo(path, b)
	if err != nil {
		return joule.NodeUsage{}, err
	}
	u.MemoryUsed = max(mem.Total-mem.Available, 0)

	path = filepath.Join(s.cfg.Root, "proc/loadavg")
	if b, err = os.ReadFile(path); err != nil {
		return joule.NodeUsage{}, fmt.Errorf("nodeinfo: %v", err)
	}
	if u.Load1, err = parseLoadavg(path, b); err != nil {
		return joule.NodeUsage{}, err
	}

	if s.cfg.GPUs != nil {
		fr, err := s.cfg.GPUs.Utilization()
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "GPU utilisation not sampled", "err", err)
		} else {
			u.GPUFractions = fr
		}
	}

	s.mu.Lock()
	u.CPUFraction = busyFraction(s.prev, cur) // prev is zero on the first call: since boot
	s.prev = cur
	s.mu.Unlock()
	return u, nil
}
