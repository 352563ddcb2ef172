package main

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

var gomaxprocsRE = regexp.MustCompile(`(?m)^go_sched_gomaxprocs_threads (\d+)$`)

// TestUpProcs runs the real binary: `joule up` gives the Go runtime one P
// more than the CPUs it found (so that reading and refusing requests keeps
// a thread while predict calls fill every CPU; cpuProcs), and leaves a
// GOMAXPROCS set in the environment as it is. The runtime's own figure is
// read from /metrics.
func TestUpProcs(t *testing.T) {
	t.Parallel()
	procs := func(env ...string) int {
		t.Helper()
		s := startBinaryEnv(t, env)
		_, body := get(t, s.base+"/metrics", "")
		m := gomaxprocsRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics lacks go_sched_gomaxprocs_threads")
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	// cpuProcs is the runtime's default here too (other tests run up in
	// this process, which adds a P to it; cpuProcs keeps the first value).
	if os.Getenv("GOMAXPROCS") == "" {
		if got, want := procs(), cpuProcs()+1; got != want {
			t.Errorf("joule up's GOMAXPROCS = %d, want %d (the CPUs, %d, and one more)", got, want, want-1)
		}
	}
	if got := procs("GOMAXPROCS=1"); got != 1 {
		t.Errorf("joule up with GOMAXPROCS=1 runs with %d, want 1", got)
	}
}
