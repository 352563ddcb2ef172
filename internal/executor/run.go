package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/joule-dev/joule"
)

// stopReq asks the supervisor to stop the attempt.
type stopReq struct {
	state joule.JobState
	grace time.Duration
	text  string // the result's Reason
}

// run is one attempt, started or adopted. Its supervisor goroutine owns the
// process from start to reaping; other methods talk to it through stopCh and
// read what it publishes under mu or after done is closed.
type run struct {
	e         *Executor
	req       joule.RunRequest
	pgid      int
	cg        *jobCgroup // nil: accounting by process group
	limits    string
	startedAt time.Time
	log       *slog.Logger

	// Started runs only.
	cmd      *exec.Cmd
	pipe     *os.File
	sink     *logSink
	copyDone chan struct{}
	// adopted: not our child; exit status unknown, output not captured.
	adopted bool

	stopCh chan stopReq
	ctlCh  chan syscall.Signal // SIGSTOP or SIGCONT, from Suspend and Resume
	done   chan struct{}
	result joule.RunResult // set before done is closed

	mu      sync.Mutex
	samples []joule.UsageSample
	user    float64 // the most cumulative CPU seen, seconds
	sys     float64
	peak    int64 // bytes
}

var _ joule.Run = (*run)(nil)

func (e *Executor) newRun(req joule.RunRequest, pgid int, cg *jobCgroup, limits string, startedAt time.Time, log *slog.Logger) *run {
	return &run{
		e: e, req: req, pgid: pgid, cg: cg, limits: limits, startedAt: startedAt, log: log,
		stopCh: make(chan stopReq),
		ctlCh:  make(chan syscall.Signal),
		done:   make(chan struct{}),
	}
}

// Wait blocks until the attempt ends and returns its result, the same for
// every caller. It returns ctx's error if ctx ends first, leaving the
// attempt running.
func (r *run) Wait(ctx context.Context) (joule.RunResult, error) {
	select {
	case <-r.done:
		res := r.result
		res.Metrics = slices.Clone(res.Metrics)
		return res, nil
	case <-ctx.Done():
		return joule.RunResult{}, ctx.Err()
	}
}

// Stop sends SIGTERM to the attempt's process group and SIGKILL (plus
// cgroup.kill when in a cgroup) after grace. reason, JobCancelled or
// JobTimedOut, becomes the result's state. A second Stop can only shorten
// the grace. Stopping an attempt that has ended does nothing. The error is
// EINVALID for another reason.
func (r *run) Stop(reason joule.JobState, grace time.Duration) error {
	var text string
	switch reason {
	case joule.JobCancelled:
		text = "cancelled"
	case joule.JobTimedOut:
		text = "timed out"
	default:
		return joule.Errorf(joule.EINVALID, "reason: %q is not %s or %s", reason, joule.JobCancelled, joule.JobTimedOut)
	}
	select {
	case r.stopCh <- stopReq{state: reason, grace: max(grace, 0), text: text}:
	case <-r.done:
	}
	return nil
}

// Suspend stops every process of the attempt (SIGSTOP to its process
// group) until Resume continues them (SIGCONT). Both do nothing once the
// attempt is ending. A stopped attempt that is cancelled or times out is
// continued after its SIGTERM so that it can exit.
func (r *run) Suspend() error { return r.control(syscall.SIGSTOP) }

// Resume continues an attempt stopped by Suspend.
func (r *run) Resume() error { return r.control(syscall.SIGCONT) }

func (r *run) control(sig syscall.Signal) error {
	select {
	case r.ctlCh <- sig:
	case <-r.done:
	}
	return nil
}

// Usage returns a copy of the usage samples taken so far, oldest first.
func (r *run) Usage() []joule.UsageSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.samples)
	for i := range out {
		out[i].GPUPIDs = slices.Clone(out[i].GPUPIDs)
	}
	return out
}

// PID returns the process group ID, which is the leader's pid.
func (r *run) PID() int { return r.pgid }

// signalGroup sends sig to the whole process group. After the leader has
// been reaped its pid may be reused, so this is only called before.
func (r *run) signalGroup(sig syscall.Signal) {
	if err := syscall.Kill(-r.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		r.log.Warn("cannot signal the job's process group", "signal", unix.SignalName(sig), "err", err)
	}
}

// killAll is the final word: SIGKILL to the group and cgroup.kill.
func (r *run) killAll() {
	r.signalGroup(syscall.SIGKILL)
	if r.cg != nil {
		_ = r.cg.kill()
	}
}

// remaining returns the processes of the attempt that are still alive: the
// group's members other than the (exited) leader, and anything in its
// cgroup.
func (r *run) remaining() []int {
	pids := liveMembers(procRoot, r.pgid, r.pgid)
	if r.cg != nil {
		for _, p := range r.cg.procs() {
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// supervise owns the attempt: it samples usage, applies the timeout and stop
// requests, and once the leader has exited kills what is left of the group,
// reaps, collects output and metrics, removes the cgroup and publishes the
// result.
func (r *run) supervise(leaderExited <-chan struct{}) {
	defer close(r.done)
	cfg := r.e.cfg
	ticker := time.NewTicker(cfg.SampleInterval)
	defer ticker.Stop()
	var timeoutC <-chan time.Time
	if r.req.Timeout > 0 {
		t := time.NewTimer(max(r.req.Timeout-cfg.Now().Sub(r.startedAt), 0))
		defer t.Stop()
		timeoutC = t.C
	}
	var (
		stop      *stopReq
		killAt    time.Time // zero until a stop or the leader's exit
		killT     = time.NewTimer(time.Hour)
		suspended bool
	)
	killT.Stop()
	defer killT.Stop()
	setKillAt := func(at time.Time) {
		if killAt.IsZero() || at.Before(killAt) {
			killAt = at
			killT.Reset(max(time.Until(at), 0))
		}
	}
	beginStop := func(req stopReq) {
		if stop == nil {
			stop = &req
			r.log.Debug("stopping job", "reason", req.state, "grace", req.grace)
			r.signalGroup(syscall.SIGTERM)
			if suspended {
				r.signalGroup(syscall.SIGCONT)
				suspended = false
			}
		}
		setKillAt(time.Now().Add(req.grace))
	}

wait:
	for {
		select {
		case <-ticker.C:
			r.sample()
		case req := <-r.stopCh:
			beginStop(req)
		case sig := <-r.ctlCh:
			if stop == nil && suspended != (sig == syscall.SIGSTOP) {
				suspended = sig == syscall.SIGSTOP
				r.signalGroup(sig)
			}
		case <-timeoutC:
			beginStop(stopReq{state: joule.JobTimedOut, grace: cfg.Grace, text: "timed out after " + r.req.Timeout.String()})
		case <-killT.C:
			r.killAll()
		case <-leaderExited:
			break wait
		}
	}
	r.sample() // the leader is an unreaped zombie: its times still count

	// The leader is gone, so the attempt is over. Whatever is left of its
	// group gets SIGTERM and, after the grace (of the stop, if one is under
	// way), SIGKILL.
	if len(r.remaining()) > 0 {
		if stop == nil {
			r.signalGroup(syscall.SIGTERM)
			setKillAt(time.Now().Add(cfg.Grace))
		}
		if suspended {
			r.signalGroup(syscall.SIGCONT)
		}
		poll := time.NewTicker(50 * time.Millisecond)
		for len(r.remaining()) > 0 {
			if !time.Now().Before(killAt) {
				r.killAll()
				if time.Since(killAt) > 5*time.Second {
					r.log.Warn("processes of the job survive SIGKILL", "pids", r.remaining())
					break
				}
			}
			select {
			case <-poll.C:
			case <-ticker.C:
				r.sample()
			case req := <-r.stopCh:
				setKillAt(time.Now().Add(req.grace))
			case <-r.ctlCh: // ending: no more suspending
			}
		}
		poll.Stop()
	}
	r.killAll() // no-op when the group is empty; the leader is still unreaped

	var ps *os.ProcessState
	if r.cmd != nil {
		err := r.cmd.Wait()
		ps = r.cmd.ProcessState
		if ps == nil {
			r.log.Warn("cannot reap the job's leader", "err", err)
		}
	}
	if r.pipe != nil {
		select {
		case <-r.copyDone:
		case <-time.After(2 * time.Second):
			// A process that left the group still holds the pipe open.
			_ = r.pipe.SetReadDeadline(time.Now())
			<-r.copyDone
		}
		r.pipe.Close()
	}
	finishedAt := cfg.Now()
	var metrics []joule.Metric
	if r.sink != nil {
		if err := r.sink.finish(); err != nil {
			r.log.Warn("cannot write the job's log", "err", err, "path", r.req.LogPath)
		}
		if r.sink.dropped > 0 {
			r.log.Warn("the job printed too many metrics; later ones were dropped", "dropped", r.sink.dropped, "max", maxMetricsPerRun)
		}
		metrics = r.sink.metrics
	}
	metrics = append(metrics, r.readMetricsFile()...)
	if len(metrics) > maxMetricsPerRun {
		metrics = metrics[:maxMetricsPerRun]
	}

	r.finalSample(ps, finishedAt)
	var oom bool
	if r.cg != nil {
		oom = r.cg.oomKills() > 0
		if err := r.cg.remove(5 * time.Second); err != nil {
			r.log.Warn("cannot remove the job's cgroup", "err", err, "cgroup", r.cg.dir)
		}
	}

	statusKnown := false
	res := joule.RunResult{
		StartedAt:  r.startedAt,
		FinishedAt: finishedAt,
		Limits:     r.limits,
		Metrics:    metrics,
	}
	r.mu.Lock()
	res.CPUUserSec, res.CPUSystemSec, res.PeakMemory = r.user, r.sys, r.peak
	r.mu.Unlock()
	switch {
	case ps != nil:
		res.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = unix.SignalName(ws.Signal())
			if res.Signal == "" {
				res.Signal = fmt.Sprintf("signal %d", int(ws.Signal()))
			}
			res.ExitCode = 128 + int(ws.Signal())
		}
	default:
		res.ExitCode = -1
		if code, ok := readStatusFile(r.req.StatusFile); ok {
			res.ExitCode, statusKnown = code, true
		}
	}
	switch {
	case stop != nil:
		res.State, res.Reason = stop.state, stop.text
	case ps == nil && statusKnown:
		if res.ExitCode == 0 {
			res.State, res.Reason = joule.JobSucceeded, "exit code 0 (adopted after a restart)"
		} else {
			res.State, res.Reason = joule.JobFailed, fmt.Sprintf("exit code %d (adopted after a restart)", res.ExitCode)
		}
	case ps == nil:
		res.State, res.Reason = joule.JobFailed, "exit status unknown after restart"
	case res.Signal != "":
		res.State, res.Reason = joule.JobFailed, "killed by "+res.Signal
		if oom {
			res.Reason += ": out of memory (" + r.limits + ")"
		}
	case res.ExitCode == 0:
		res.State, res.Reason = joule.JobSucceeded, "exit code 0"
	default:
		res.State, res.Reason = joule.JobFailed, fmt.Sprintf("exit code %d", res.ExitCode)
	}
	r.result = res
	r.log.Debug("job ended", "state", res.State, "reason", res.Reason, "cpu_user_seconds", res.CPUUserSec, "peak_memory_bytes", res.PeakMemory)
}

// readMetricsFile reads JOULE_METRICS_FILE if the job wrote one. A bad file
// is logged and gives nothing; it never fails the job.
func (r *run) readMetricsFile() []joule.Metric {
	if r.req.MetricsFile == "" {
		return nil
	}
	f, err := os.Open(r.req.MetricsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(f, maxMetricsFileLen+1))
		f.Close()
	}
	if err != nil {
		r.log.Warn("cannot read the job's metrics file", "err", err, "path", r.req.MetricsFile)
		return nil
	}
	ms, err := ParseMetricsFile(data, r.e.cfg.Now())
	if err != nil {
		r.log.Warn("ignoring the job's metrics file", "err", err, "path", r.req.MetricsFile)
		return nil
	}
	return ms
}

// sample records one usage sample.
func (r *run) sample() {
	var (
		user, sys float64
		mem, peak int64
		pids      []int
	)
	if r.cg != nil {
		pids = r.cg.procs()
		user, sys, _ = r.cg.cpu()
		var ok bool
		if mem, peak, ok = r.cg.memory(); !ok {
			for _, p := range pids {
				mem += vmRSS(procRoot, p)
			}
		}
	} else {
		page := int64(os.Getpagesize())
		for _, s := range groupMembers(procRoot, r.pgid) {
			user += float64(s.utime+s.cutime) / clockTicks
			sys += float64(s.stime+s.cstime) / clockTicks
			if s.state != 'Z' {
				pids = append(pids, s.pid)
				mem += s.rssPages * page
			}
		}
	}
	var gpu []int
	if f := r.e.cfg.GPUProcesses; f != nil && len(pids) > 0 {
		// cmd/joule wires NVML's per-process utilisation here: the
		// job's processes that used a GPU in the latest interval.
		if using, err := f(); err == nil {
			for _, p := range pids {
				if using[p] {
					gpu = append(gpu, p)
				}
			}
		}
	}
	now := r.e.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(user, sys)
	r.peak = max(r.peak, mem, peak)
	r.samples = append(r.samples, joule.UsageSample{
		Time: now, CPUUserSec: r.user, CPUSystemSec: r.sys,
		MemoryBytes: mem, Processes: len(pids), GPUPIDs: gpu,
	})
	r.trimSamples()
}

// advance moves the cumulative CPU times to a reading of them (user and
// system seconds) when the reading's total is larger, without letting
// either go down; the caller holds mu. The readings (the cgroup's
// cpu.stat, the group's /proc/PID/stat, the reaped leader's rusage) agree
// on the total but not on how it splits between user and system time,
// for example for a shell loop that forks one $(date) after another.
// Taking the larger user time and the larger system time of two readings
// separately counted such a job's CPU time up to 1.4 times its wall time
// on one core (docs/decisions.md, "A job's CPU time is the larger total,
// not the larger parts"). The increase is shared between user and system
// time as the reading's own increases are.
func (r *run) advance(user, sys float64) {
	extra := user + sys - (r.user + r.sys)
	du, ds := max(user-r.user, 0), max(sys-r.sys, 0)
	if extra <= 0 || du+ds <= 0 {
		return
	}
	r.user += extra * du / (du + ds)
	r.sys += extra * ds / (du + ds)
}

// trimSamples keeps the latest req.KeepSamples samples when it is set; the
// caller holds mu.
func (r *run) trimSamples() {
	if k := r.req.KeepSamples; k > 0 && len(r.samples) > k {
		r.samples = slices.Delete(r.samples, 0, len(r.samples)-k)
	}
}

// finalSample records the last sample, when nothing of the attempt runs:
// the cgroup's final cpu.stat, or the reaped leader's rusage (whose Utime
// and Stime cover the children it waited for), whichever total is more
// (advance). Its Maxrss is not used for PeakMemory: Go starts children with
// CLONE_VM|CLONE_VFORK, and exec folds the shared (server's) address space's
// high-water mark into the child's maxrss, so it reports the server's size.
func (r *run) finalSample(ps *os.ProcessState, at time.Time) {
	var cgUser, cgSys, ruUser, ruSys float64
	var peak int64 // memory.peak; 0 without the memory controller
	if r.cg != nil {
		cgUser, cgSys, _ = r.cg.cpu()
		_, peak, _ = r.cg.memory()
	}
	if ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			ruUser, ruSys = time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(cgUser, cgSys)
	r.advance(ruUser, ruSys)
	r.peak = max(r.peak, peak)
	r.samples = append(r.samples, joule.UsageSample{Time: at, CPUUserSec: r.user, CPUSystemSec: r.sys})
	r.trimSamples()
}

// readStatusFile reads the exit status the status shell wrote.
func readStatusFile(path string) (int, bool) {
	if path == "" {
		return 0, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}
