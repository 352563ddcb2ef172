//go:build !linux

package serving

// threadCPUMethod names how a replica's CPU time is measured.
const threadCPUMethod = "wall time of predict calls (no per-thread CPU time on this OS): an upper bound"

// threadCPU is unavailable off Linux: workers count wall time instead.
func threadCPU() (int64, bool) { return 0, false }
