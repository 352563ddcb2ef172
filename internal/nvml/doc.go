// Package nvml reads NVIDIA GPU inventory, utilisation, power, energy
// counters and per-process utilisation through
// NVML (libnvidia-ml). It is the only package that imports
// github.com/NVIDIA/go-nvml.
//
// The library is loaded at run time with dlopen, so the package builds and
// runs on machines without a GPU or driver: there [Open] returns an error
// wrapping [ErrUnavailable] and the caller carries on without GPUs.
//
// Other packages do not depend on this one. They declare the small interface
// they need (for example nodeinfo.GPUSource), which *Lib satisfies, and
// cmd/joule wires the two together; their tests use hand-written fakes
// instead of real GPUs.
//
// go-nvml needs cgo. A build without cgo compiles a stub whose [Open] always
// returns [ErrUnavailable].
package nvml

import "errors"

// ErrUnavailable reports that NVML cannot be used on this machine: the
// library or the NVIDIA driver is not installed.
var ErrUnavailable = errors.New("nvml unavailable")

// ErrClosed is returned by the methods of a [Lib] after [Lib.Close].
var ErrClosed = errors.New("nvml closed")
