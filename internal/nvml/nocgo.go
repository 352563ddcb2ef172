//go:build !cgo

package nvml

import (
	"fmt"

	"github.com/joule-dev/joule"
)

// Lib is an initialised NVML library. Without cgo it cannot be opened.
type Lib struct{}

// Open returns an error wrapping [ErrUnavailable]: go-nvml needs cgo.
func Open() (*Lib, error) {
	return nil, fmt.Errorf("nvml: built without cgo: %w", ErrUnavailable)
}

// GPUs returns [ErrClosed].
func (l *Lib) GPUs() ([]joule.GPU, error) { return nil, ErrClosed }

// Utilization returns [ErrClosed].
func (l *Lib) Utilization() ([]float64, error) { return nil, ErrClosed }

// Power returns [ErrClosed].
func (l *Lib) Power() ([]float64, error) { return nil, ErrClosed }

// TotalEnergy returns [ErrClosed].
func (l *Lib) TotalEnergy() ([]float64, error) { return nil, ErrClosed }

// ProcessUtilization returns [ErrClosed].
func (l *Lib) ProcessUtilization() ([]map[int]float64, error) { return nil, ErrClosed }

// Close does nothing.
func (l *Lib) Close() error { return nil }
