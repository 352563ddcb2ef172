// Package executor runs job attempts as local processes: it implements
// [joule.Runtime] for a worker's own machine.
//
// # Lifecycle
//
// [Executor.Start] resolves req.Command[0] (a name with a slash is a path
// relative to the work dir; any other is looked up in the absolute entries
// of the job's PATH, or the server's), creates the output directory and the
// log file, and starts the command in a process group of its own, with its
// pgid equal to its pid ([joule.Run.PID]). The job's environment is the
// server's PATH, HOME, LANG and TMPDIR, then req.Env (JOULE_JOB_ID,
// JOULE_SERVER, JOULE_TOKEN…), then the variables the executor owns:
//
//   - JOULE_OUTPUT_DIR: req.OutputDir, also the default working directory;
//   - JOULE_METRICS_FILE: req.MetricsFile, when set;
//   - CUDA_VISIBLE_DEVICES: exactly the comma-joined req.GPUIndices, or ""
//     (CUDA's "no devices") when the job has none;
//   - NVIDIA_VISIBLE_DEVICES: the same list, or "void", the value the NVIDIA
//     container runtime documents for "no GPUs" ("" would mean "unset" to
//     it).
//
// Stdin is /dev/null. Stdout and stderr share one pipe, so their lines
// interleave in the order the OS delivers them; a goroutine copies it to
// req.LogPath up to req.LogLimit bytes, then appends one line
// "[joule: log truncated at N bytes]" and keeps draining, so a job never
// blocks on a full pipe.
//
// Metrics come from output lines "joule:metric name=value [name=value…]
// [step=N]" (see [ParseMetricLine]; lines past the log cap still count) and,
// at the end, from the JSON in req.MetricsFile (see [ParseMetricsFile]). A
// bad line or file records nothing and never fails the job.
//
// The attempt ends when its leader exits. Whatever else is left of its
// process group then gets SIGTERM and, after the grace, SIGKILL; the leader
// is kept as an unreaped zombie until then so that its pid, the group's ID,
// cannot be reused meanwhile. Only then is the leader reaped and the result
// built: succeeded on exit code 0, failed otherwise (Reason "exit code 3",
// or "killed by SIGKILL" with Signal set and ExitCode 128+signal), or
// cancelled / timed_out when [joule.Run.Stop] or req.Timeout stopped it
// (Reason "cancelled", "timed out after 1s").
//
// # Kill guarantee
//
// Stop and the timeout send SIGTERM to the whole process group, then SIGKILL
// to the group after the grace, then write cgroup.kill when the job has a
// cgroup, which also catches processes that left the group (setsid). The
// executor then polls /proc (and cgroup.procs) until no process of the group
// is left, repeating SIGKILL, before it reports the end. Without a cgroup, a
// process that both left the group and outlived its parent cannot be found;
// cgroups close that gap.
//
// # Limits
//
// [New] reads the cgroup layout with [Detect] and uses cgroup v2 only where
// the unified hierarchy is mounted and writable. It creates a parent cgroup
// "joule.slice" beside its own cgroup (or under the root), because a cgroup
// that holds processes cannot pass controllers to children, and enables the
// cpu and memory controllers in its cgroup.subtree_control. Each attempt gets
// "<parent>/job-<id>-<attempt>" and is started directly inside it
// (clone3 with CLONE_INTO_CGROUP through SysProcAttr.UseCgroupFD), so no
// process of it ever runs outside. With both controllers, cpu.max is
// "<CPUMillis×100> 100000" and memory.max is MemoryBytes ("max" for 0), and
// RunResult.Limits reads "cgroup v2: cpu.max=100000 100000,
// memory.max=536870912". Without them (cgroup v1 or hybrid layouts, where
// cpu and memory are bound to v1) the job still gets a cgroup for accounting
// and cgroup.kill where the unified hierarchy is writable, but runs without
// limits, and RunResult.Limits says so: "none: cgroup v2 cpu/memory
// controllers are not available here (…); the job ran without CPU or memory
// limits". The same "none: …" form explains every other case (no unified
// mount, not writable, cgroups disabled); New logs it once at warn level.
// The job's cgroup is removed when nothing in it runs any more.
//
// # Usage accounting
//
// Usage is sampled at start, every [Config.SampleInterval] and once at the
// end. In a cgroup it comes from cpu.stat (user_usec, system_usec, which
// include exited descendants), memory.current and memory.peak (or the sum of
// VmRSS of cgroup.procs without the memory controller) and cgroup.procs.
// Otherwise every /proc/<pid>/stat whose pgrp is the job's pgid is summed:
// utime+cutime and stime+cstime in USER_HZ ticks (100 per second, fixed by
// the kernel ABI) and rss pages. The final figures also take the reaped
// leader's rusage (Utime, Stime, covering the children it waited for), so
// that short jobs, over before the first sample, still get CPU figures. Its
// ru_maxrss is not used: Go spawns with CLONE_VM|CLONE_VFORK, and exec folds
// the server's own high-water mark into the child's maxrss. CPU figures are
// cumulative and never decrease; PeakMemory is the largest resident size
// seen (memory.peak in a cgroup with the memory controller), so a job over
// before the first sample may report 0. GPU processes are listed only when
// [Config.GPUProcesses] is set.
//
// # Restarts
//
// A job outlives a crash of the server that started it (there is no
// parent-death signal). [Executor.Adopt] takes such a job back by its pgid.
package executor
