package serving

import "golang.org/x/sys/unix"

// threadCPUMethod names how a replica's CPU time is measured.
const threadCPUMethod = "thread cpu time (clock_gettime CLOCK_THREAD_CPUTIME_ID) of every 16th predict call; the others charged their wall time times the measured calls' cpu/wall ratio"

// threadCPU returns the calling OS thread's CPU time (user + system) in
// nanoseconds. The caller must be locked to its thread.
func threadCPU() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
