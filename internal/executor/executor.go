package executor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/joule-dev/joule"
)

// Defaults for [Config].
const (
	DefaultGrace          = 10 * time.Second
	DefaultSampleInterval = time.Second
	DefaultLogLimit       = 64 << 20
)

// procRoot is where the process table is read.
const procRoot = "/proc"

// Config configures an [Executor]. The zero value is usable after
// [Config.WithDefaults].
type Config struct {
	// CgroupRoot is the mount point of the cgroup v2 (unified) hierarchy; ""
	// detects it from /proc/self/mountinfo (e.g. /sys/fs/cgroup, or
	// /sys/fs/cgroup/unified in a hybrid layout).
	CgroupRoot string
	// DisableCgroups runs every job without cgroups: no limits, accounting
	// by process group only.
	DisableCgroups bool
	// Grace is the time between SIGTERM and SIGKILL on a timeout, and for
	// processes left behind when a job's leader exits; 0 means
	// DefaultGrace. Stop takes its own grace.
	Grace time.Duration
	// SampleInterval is how often usage is sampled; 0 means
	// DefaultSampleInterval.
	SampleInterval time.Duration
	// LogLimit caps each attempt's log, in bytes, where the request sets no
	// cap; 0 means DefaultLogLimit.
	LogLimit int64
	// GPUProcesses, when set, returns the pids that use a GPU now (from
	// NVML); each usage sample then lists those of the job in GPUPIDs. nil
	// leaves GPUPIDs empty.
	GPUProcesses func() (map[int]bool, error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings (running without limits, bad metrics files)
	// and debug messages; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Grace = cmp.Or(c.Grace, DefaultGrace)
	c.SampleInterval = cmp.Or(c.SampleInterval, DefaultSampleInterval)
	c.LogLimit = cmp.Or(c.LogLimit, DefaultLogLimit)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	switch {
	case c.Grace < 0:
		return fmt.Errorf("executor: Grace is %v, want at least 0", c.Grace)
	case c.SampleInterval < 10*time.Millisecond:
		return fmt.Errorf("executor: SampleInterval is %v, want at least 10ms", c.SampleInterval)
	case c.LogLimit <= 0:
		return fmt.Errorf("executor: LogLimit is %d, want more than 0", c.LogLimit)
	case c.CgroupRoot != "" && !filepath.IsAbs(c.CgroupRoot):
		return fmt.Errorf("executor: CgroupRoot %q is not an absolute path", c.CgroupRoot)
	case c.Now == nil:
		return errors.New("executor: Now is nil")
	case c.Logger == nil:
		return errors.New("executor: Logger is nil")
	}
	return nil
}

// Executor runs job attempts as local processes. It implements
// [joule.Runtime]. It is safe for concurrent use.
type Executor struct {
	cfg    Config
	log    *slog.Logger
	layout Layout
	cgRoot string // the unified mount in use; "" when cgroups are off
	cg     cgroupSetup
}

var _ joule.Runtime = (*Executor)(nil)

// New returns an Executor for cfg after filling in defaults. It detects the
// cgroup layout, creates the joule parent cgroup where it can and logs, once,
// at warn level, when jobs will run without CPU and memory limits.
func New(cfg Config) (*Executor, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Executor{cfg: cfg, log: cfg.Logger.With("subsystem", "executor")}
	switch {
	case cfg.DisableCgroups:
		e.layout = Layout{Version: LayoutNone}
		e.cg = cgroupSetup{note: "none: cgroups are disabled in the executor's configuration; the job ran without CPU or memory limits"}
	default:
		l, err := Detect("/")
		if err != nil {
			e.log.Warn("cannot detect the cgroup layout", "err", err)
			l = Layout{Version: LayoutNone}
		}
		e.layout = l
		e.cgRoot = cmp.Or(cfg.CgroupRoot, l.Unified)
		e.cg = setupCgroups(l, e.cgRoot)
		if e.cg.mode == cgroupOff {
			e.cgRoot = ""
		}
	}
	if e.cg.note != "" {
		e.log.Warn("jobs will run without CPU or memory limits", "limits", e.cg.note, "cgroup_layout", e.layout.Version)
	} else {
		e.log.Info("jobs run in cgroup v2 with CPU and memory limits", "cgroup_parent", e.cg.parent)
	}
	return e, nil
}

// Layout returns the cgroup layout New detected.
func (e *Executor) Layout() Layout { return e.layout }

// Limits says how jobs' limits are enforced: "cgroup v2" when they are, or
// the "none: …" explanation jobs get in RunResult.Limits.
func (e *Executor) Limits() string {
	if e.cg.mode == cgroupLimit {
		return "cgroup v2: cpu.max and memory.max under " + e.cg.parent
	}
	return e.cg.note
}

// Start launches one attempt and returns at once; see the package comment
// for what the process gets. ctx bounds only the start: the attempt runs
// until it exits or is stopped. Errors are EINVALID when the request cannot
// run (bad fields, command not found or not executable, work dir missing),
// internal otherwise.
func (e *Executor) Start(ctx context.Context, req joule.RunRequest) (joule.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req, err := e.checkRequest(req)
	if err != nil {
		return nil, err
	}
	env := e.environ(req)
	workDir := cmp.Or(req.WorkDir, req.OutputDir)
	if err := os.MkdirAll(req.OutputDir, 0o755); err != nil {
		return nil, &joule.Error{Code: joule.EINTERNAL, Message: "cannot create the output directory", Err: err}
	}
	if fi, err := os.Stat(workDir); err != nil || !fi.IsDir() {
		return nil, joule.Errorf(joule.EINVALID, "work_dir: %q is not a directory", req.WorkDir)
	}
	path, err := lookCommand(req.Command[0], envValue(env, "PATH"), workDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(req.LogPath), 0o755); err != nil {
		return nil, &joule.Error{Code: joule.EINTERNAL, Message: "cannot create the log directory", Err: err}
	}
	logf, err := os.OpenFile(req.LogPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &joule.Error{Code: joule.EINTERNAL, Message: "cannot create the log file", Err: err}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, &joule.Error{Code: joule.EINTERNAL, Message: "cannot create the output pipe", Err: err}
	}
	log := e.log.With("job_id", req.JobID, "attempt", req.Attempt)

	argv := slices.Clone(req.Command)
	cmdPath := path
	if req.StatusFile != "" {
		// A shell between the runner and the command records the exit
		// status in a file, which a restarted worker can read after adopting
		// the job (the status of a process that is not our child is lost
		// otherwise). A command killed by a signal is re-raised, so the
		// result still says which signal.
		cmdPath, argv = "/bin/sh", append([]string{"sh", "-c", statusScript, path}, req.Command[1:]...)
		env = append(env, "JOULE_STATUS_FILE="+req.StatusFile)
		_ = os.Remove(req.StatusFile)
	}
	newCmd := func() *exec.Cmd {
		return &exec.Cmd{
			Path:        cmdPath,
			Args:        argv,
			Env:         env,
			Dir:         workDir,
			Stdout:      pw,
			Stderr:      pw,
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		}
	}
	var (
		cg     *jobCgroup
		limits = e.cg.note
		cmd    = newCmd()
	)
	if e.cg.mode != cgroupOff {
		cg, err = e.cg.createJobCgroup(req.JobID, req.Attempt, req.Resources.CPUMillis, req.Resources.MemoryBytes)
		if err != nil {
			limits = fmt.Sprintf("none: could not create the job's cgroup (%v); the job ran without CPU or memory limits", err)
			log.Warn("running without a cgroup", "err", err)
		}
	}
	if cg != nil {
		if e.cg.mode == cgroupLimit {
			limits = cg.limits
		}
		err = startInCgroup(cmd, cg.dir)
		if err != nil {
			// clone3 into a cgroup may be unavailable (an old kernel, a seccomp
			// filter): try without the cgroup, which also tells a bad command
			// from a cgroup problem.
			_ = cg.remove(time.Second)
			cg = nil
			cgErr := err
			cmd = newCmd()
			if err = cmd.Start(); err == nil {
				log.Warn("cannot start the job in its cgroup; running it without one", "err", cgErr)
				limits = fmt.Sprintf("none: could not start the job in its cgroup (%v); the job ran without CPU or memory limits", errors.Unwrap(cgErr))
			}
		}
	} else {
		err = cmd.Start()
	}
	pw.Close()
	if err != nil {
		pr.Close()
		logf.Close()
		if cg != nil {
			_ = cg.remove(time.Second)
		}
		if isCommandError(err) {
			return nil, joule.Errorf(joule.EINVALID, "command: cannot run %q: %v", req.Command[0], errors.Unwrap(err))
		}
		return nil, &joule.Error{Code: joule.EINTERNAL, Message: "cannot start the job", Err: err}
	}
	r := e.newRun(req, cmd.Process.Pid, cg, limits, e.cfg.Now(), log)
	r.cmd = cmd
	r.pipe = pr
	r.sink = newLogSink(logf, req.LogLimit, e.cfg.Now)
	r.copyDone = make(chan struct{})
	go func() {
		defer close(r.copyDone)
		r.sink.copyFrom(pr)
	}()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExitNoReap(r.pgid)
	}()
	log.Debug("job started", "pid", r.pgid, "command", req.Command[0], "cgroup", cgDir(cg), "limits", limits)
	r.sample()
	go r.supervise(exited)
	return r, nil
}

// statusScript runs "$0" "$@" and writes its exit status to
// $JOULE_STATUS_FILE; a death by signal is passed on by re-raising it.
const statusScript = `"$0" "$@"; s=$?; printf '%s\n' "$s" > "$JOULE_STATUS_FILE"; if [ "$s" -gt 128 ] && [ "$s" -lt 160 ]; then trap - $((s-128)) 2>/dev/null; kill -$((s-128)) $$; fi; exit "$s"`

// startInCgroup starts cmd directly inside the cgroup at dir (clone3 with
// CLONE_INTO_CGROUP), so that no process of the job is ever outside it.
func startInCgroup(cmd *exec.Cmd, dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening cgroup: %w", err)
	}
	defer unix.Close(fd)
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return cmd.Start()
}

// isCommandError reports whether a start error is the command's fault (not
// executable, bad format, missing interpreter).
func isCommandError(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ETXTBSY)
}

// waitExitNoReap blocks until pid exits, leaving it a zombie so that its pid,
// which is also the job's process group ID, cannot be reused while the rest
// of the group is being killed.
func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// checkRequest validates req, fills the log cap and makes paths absolute.
func (e *Executor) checkRequest(req joule.RunRequest) (joule.RunRequest, error) {
	switch {
	case len(req.Command) == 0 || strings.TrimSpace(req.Command[0]) == "":
		return req, joule.Errorf(joule.EINVALID, "command: must not be empty")
	case req.OutputDir == "":
		return req, joule.Errorf(joule.EINVALID, "output_dir: must be set")
	case req.LogPath == "":
		return req, joule.Errorf(joule.EINVALID, "log_path: must be set")
	case req.LogLimit < 0:
		return req, joule.Errorf(joule.EINVALID, "log_limit: must not be negative")
	case req.Timeout < 0:
		return req, joule.Errorf(joule.EINVALID, "timeout: must not be negative")
	case req.Resources.CPUMillis < 0 || req.Resources.MemoryBytes < 0:
		return req, joule.Errorf(joule.EINVALID, "resources: must not be negative")
	}
	for i, a := range req.Command {
		if strings.ContainsRune(a, 0) {
			return req, joule.Errorf(joule.EINVALID, "command[%d]: contains a NUL byte", i)
		}
	}
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return req, joule.Errorf(joule.EINVALID, "env: %q is not a valid variable", k)
		}
	}
	for _, g := range req.GPUIndices {
		if g < 0 {
			return req, joule.Errorf(joule.EINVALID, "gpu_indices: %d is negative", g)
		}
	}
	req.LogLimit = cmp.Or(req.LogLimit, e.cfg.LogLimit)
	for _, p := range []*string{&req.OutputDir, &req.LogPath, &req.WorkDir, &req.MetricsFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return req, &joule.Error{Code: joule.EINTERNAL, Message: "cannot resolve a path", Err: err}
		}
		*p = abs
	}
	return req, nil
}

// environ builds the job's environment: the server's PATH, HOME, LANG and
// TMPDIR, then req.Env, then the variables the executor owns.
func (e *Executor) environ(req joule.RunRequest) []string {
	m := map[string]string{}
	for _, k := range []string{"PATH", "HOME", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			m[k] = v
		}
	}
	if m["PATH"] == "" {
		m["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	maps.Copy(m, req.Env)
	m["JOULE_OUTPUT_DIR"] = req.OutputDir
	if req.MetricsFile != "" {
		m["JOULE_METRICS_FILE"] = req.MetricsFile
	} else {
		delete(m, "JOULE_METRICS_FILE")
	}
	gpus := make([]string, len(req.GPUIndices))
	for i, g := range req.GPUIndices {
		gpus[i] = strconv.Itoa(g)
	}
	m["CUDA_VISIBLE_DEVICES"] = strings.Join(gpus, ",")
	m["NVIDIA_VISIBLE_DEVICES"] = cmp.Or(strings.Join(gpus, ","), "void")
	env := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		env = append(env, k+"="+m[k])
	}
	return env
}

// envValue returns the value of key in an environment list.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// lookCommand resolves a command name the way a shell would: a name with a
// slash is a path (relative to dir), any other is looked up in the absolute
// directories of pathEnv (empty and relative entries are skipped, so a job
// never runs a program from its own work dir by accident).
func lookCommand(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if executable(p) {
			return p, nil
		}
		return "", joule.Errorf(joule.EINVALID, "command: %q not found or not executable", name)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		if p := filepath.Join(d, name); executable(p) {
			return p, nil
		}
	}
	return "", joule.Errorf(joule.EINVALID, "command: %q not found in PATH", name)
}

// executable reports whether p is a regular file with an execute bit.
func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Adopt watches an attempt started before a restart of this server, given
// its process group ID (the leader's pid, from [joule.Run.PID]) and its
// request. It succeeds only when the leader is still alive, leads its own
// process group and looks like the same command: the basename of
// req.Command[0] must equal the basename of one of the first three words of
// /proc/<pid>/cmdline (three, because a script run through a "#!" line shows
// its interpreter and the interpreter's optional argument first). That check
// guards against a reused pid; it is not proof.
//
// The adopted Run samples usage, honours req.Timeout (counted from the
// process's start time), Stop and the process-group kill guarantee like a
// started one, and uses the job's cgroup when the job is in one under this
// executor's parent. Its output is no longer captured: the pipe to the old
// server is gone, so the job gets EPIPE (or SIGPIPE) when it next writes to
// stdout or stderr; a line saying so is appended to req.LogPath. The exit
// status of a process that is not our child cannot be read, so an adopted
// attempt that ends on its own is reported as failed with Reason "exit
// status unknown after restart" and ExitCode -1; callers that need better
// should have the job write a marker to its output directory.
//
// Errors: EINVALID for a bad pid or request, ENOTFOUND when no matching
// process group is alive.
func (e *Executor) Adopt(ctx context.Context, pid int, req joule.RunRequest) (joule.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if pid <= 0 {
		return nil, joule.Errorf(joule.EINVALID, "pid: %d is not a process ID", pid)
	}
	if len(req.Command) == 0 {
		return nil, joule.Errorf(joule.EINVALID, "command: must not be empty")
	}
	req.LogLimit = cmp.Or(req.LogLimit, e.cfg.LogLimit)
	notFound := joule.Errorf(joule.ENOTFOUND, "process group %d is not running", pid)
	st, err := readProcStat(procRoot, pid)
	if err != nil || st.state == 'Z' || st.state == 'X' || st.pgrp != pid {
		return nil, notFound
	}
	argv := cmdline(procRoot, pid)
	want := filepath.Base(req.Command[0])
	// The command, an interpreter running it (#!), or the status shell
	// (sh -c SCRIPT COMMAND …) leads the group.
	if !slices.ContainsFunc(argv[:min(len(argv), 4)], func(a string) bool { return filepath.Base(a) == want }) {
		return nil, joule.Errorf(joule.ENOTFOUND, "process group %d runs %q, not %q: its pid was reused", pid, strings.Join(argv[:min(len(argv), 4)], " "), want)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, notFound
		}
		pidfd = -1 // old kernel: poll /proc instead
	}
	startedAt := e.cfg.Now()
	if bt, ok := bootTime(procRoot); ok {
		startedAt = bt.Add(time.Duration(st.starttime) * time.Second / clockTicks)
	}
	var cg *jobCgroup
	limits := e.cg.note
	if e.cgRoot != "" {
		dir := filepath.Join(e.cgRoot, cgroupOf(procRoot, pid))
		if filepath.Dir(dir) == e.cg.parent && strings.HasPrefix(filepath.Base(dir), "job-") {
			cg = &jobCgroup{dir: dir}
			if e.cg.mode == cgroupLimit {
				cpu, _ := os.ReadFile(filepath.Join(dir, "cpu.max"))
				mem, _ := os.ReadFile(filepath.Join(dir, "memory.max"))
				limits = fmt.Sprintf("cgroup v2: cpu.max=%s, memory.max=%s", strings.TrimSpace(string(cpu)), strings.TrimSpace(string(mem)))
			}
		}
	}
	log := e.log.With("job_id", req.JobID, "attempt", req.Attempt)
	if req.LogPath != "" {
		_ = os.MkdirAll(filepath.Dir(req.LogPath), 0o755)
		if f, err := os.OpenFile(req.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "[joule: adopted after a server restart at %s; output after the restart is not captured]\n", e.cfg.Now().UTC().Format(time.RFC3339))
			f.Close()
		}
	}
	r := e.newRun(req, pid, cg, limits, startedAt, log)
	r.adopted = true
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitAdopted(pidfd, pid)
	}()
	log.Info("adopted a running job", "pid", pid, "cgroup", cgDir(cg))
	r.sample()
	go r.supervise(exited)
	return r, nil
}

// waitAdopted blocks until pid, which is not our child, exits: through its
// pidfd where there is one, else by polling /proc.
func waitAdopted(pidfd, pid int) {
	if pidfd >= 0 {
		defer unix.Close(pidfd)
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, -1)
			if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
				return
			}
		}
	}
	for {
		st, err := readProcStat(procRoot, pid)
		if err != nil || st.state == 'Z' || st.state == 'X' || st.pgrp != pid {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cgDir returns the directory of cg for logs; "" for none.
func cgDir(cg *jobCgroup) string {
	if cg == nil {
		return ""
	}
	return cg.dir
}
