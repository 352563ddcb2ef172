//go:build cgo

package nvml

import (
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/joule-dev/joule"
)

// Lib is an initialised NVML library and the GPUs it found. Its methods are
// safe for concurrent use.
type Lib struct {
	mu     sync.Mutex
	lib    nvml.Interface
	devs   []nvml.Device
	closed bool
	// lastSeen is, per GPU, the newest process-utilisation sample
	// timestamp returned so far (microseconds, NVML's clock).
	lastSeen []uint64
}

// Open loads and initialises NVML and enumerates the GPUs. When the library
// or driver is missing, the error wraps [ErrUnavailable]. A machine with NVML
// but no GPUs gives a Lib that reports none.
func Open() (*Lib, error) {
	return open(nvml.New())
}

// open initialises lib; tests pass a mock.
func open(lib nvml.Interface) (*Lib, error) {
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED:
		return nil, fmt.Errorf("nvml init: %s: %w", ret.Error(), ErrUnavailable)
	default:
		return nil, fmt.Errorf("nvml init: %s", ret.Error())
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		_ = lib.Shutdown()
		return nil, fmt.Errorf("nvml device count: %s", ret.Error())
	}
	devs := make([]nvml.Device, 0, n)
	for i := range n {
		d, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			_ = lib.Shutdown()
			return nil, fmt.Errorf("nvml GPU %d: handle: %s", i, ret.Error())
		}
		devs = append(devs, d)
	}
	return &Lib{lib: lib, devs: devs, lastSeen: make([]uint64, len(devs))}, nil
}

// GPUs returns the inventory of each GPU, in NVML index order. A power limit
// the device does not report is 0.
func (l *Lib) GPUs() ([]joule.GPU, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	gpus := make([]joule.GPU, 0, len(l.devs))
	for i, d := range l.devs {
		uuid, ret := d.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml GPU %d: uuid: %s", i, ret.Error())
		}
		name, ret := d.GetName()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml GPU %d: name: %s", i, ret.Error())
		}
		mem, ret := d.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml GPU %d: memory: %s", i, ret.Error())
		}
		var limitW float64
		limit, ret := d.GetEnforcedPowerLimit()
		switch ret {
		case nvml.SUCCESS:
			limitW = float64(limit) / 1000 // milliwatts
		case nvml.ERROR_NOT_SUPPORTED:
		default:
			return nil, fmt.Errorf("nvml GPU %d: power limit: %s", i, ret.Error())
		}
		gpus = append(gpus, joule.GPU{
			Index:       i,
			UUID:        uuid,
			Name:        name,
			MemoryBytes: int64(min(mem.Total, 1<<63-1)),
			PowerLimitW: limitW,
		})
	}
	return gpus, nil
}

// Utilization returns the fraction of time, from 0 to 1, that each GPU was
// busy over NVML's last sample period, in index order.
func (l *Lib) Utilization() ([]float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	out := make([]float64, len(l.devs))
	for i, d := range l.devs {
		u, ret := d.GetUtilizationRates()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml GPU %d: utilization: %s", i, ret.Error())
		}
		out[i] = min(float64(u.Gpu)/100, 1)
	}
	return out, nil
}

// Power returns the power draw of each GPU in watts, in index order.
func (l *Lib) Power() ([]float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	out := make([]float64, len(l.devs))
	for i, d := range l.devs {
		mw, ret := d.GetPowerUsage()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml GPU %d: power: %s", i, ret.Error())
		}
		out[i] = float64(mw) / 1000
	}
	return out, nil
}

// TotalEnergy returns each GPU's energy counter in joules since the driver
// was loaded, in index order. NVML keeps it in millijoules and supports it
// from Volta on; a GPU without it reports -1.
func (l *Lib) TotalEnergy() ([]float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	out := make([]float64, len(l.devs))
	for i, d := range l.devs {
		mj, ret := d.GetTotalEnergyConsumption()
		switch ret {
		case nvml.SUCCESS:
			out[i] = float64(mj) / 1000
		case nvml.ERROR_NOT_SUPPORTED:
			out[i] = -1
		default:
			return nil, fmt.Errorf("nvml GPU %d: total energy: %s", i, ret.Error())
		}
	}
	return out, nil
}

// ProcessUtilization returns, per GPU in index order, each process's share
// of SM time (0..1), averaged over the samples NVML took since the previous
// call, keyed by PID. A GPU with no new samples gives an empty map; one that
// does not support per-process accounting gives nil.
func (l *Lib) ProcessUtilization() ([]map[int]float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	out := make([]map[int]float64, len(l.devs))
	for i, d := range l.devs {
		samples, ret := d.GetProcessUtilization(l.lastSeen[i])
		switch ret {
		case nvml.SUCCESS:
		case nvml.ERROR_NOT_FOUND: // no samples since lastSeen
			out[i] = map[int]float64{}
			continue
		case nvml.ERROR_NOT_SUPPORTED:
			continue
		default:
			return nil, fmt.Errorf("nvml GPU %d: process utilization: %s", i, ret.Error())
		}
		out[i] = averageSM(samples, &l.lastSeen[i])
	}
	return out, nil
}

// averageSM averages the SM utilisation of samples newer than *seen per
// PID, as a fraction, and advances *seen to the newest timestamp.
func averageSM(samples []nvml.ProcessUtilizationSample, seen *uint64) map[int]float64 {
	sum := map[int]float64{}
	n := map[int]int{}
	newest := *seen
	for _, s := range samples {
		if s.TimeStamp <= *seen {
			continue
		}
		pid := int(s.Pid)
		sum[pid] += min(float64(s.SmUtil), 100) / 100
		n[pid]++
		newest = max(newest, s.TimeStamp)
	}
	for pid := range sum {
		sum[pid] /= float64(n[pid])
	}
	*seen = newest
	return sum
}

// Close shuts NVML down. Calling it again does nothing.
func (l *Lib) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.devs = nil
	if ret := l.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %s", ret.Error())
	}
	return nil
}
