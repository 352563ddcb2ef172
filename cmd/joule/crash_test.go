package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// processGroupAlive reports whether a process of group pgid exists that is
// not a zombie (an orphan whose parent does not reap it stays a zombie, and
// runs nothing).
func processGroupAlive(pgid int) bool {
	return len(groupMembers(pgid)) > 0
}

// groupMembers lists the live (non-zombie) processes of group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// proc is a real joule process started by a test.
type proc struct {
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error
}

// startProc starts the joule binary with args, its output going to a file
// (not a pipe, so that nothing it leaves behind can hold Wait up), in a
// process group of its own. Cleanup kills the group if it still runs.
func startProc(t *testing.T, bin, logPath string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(logPath), "JOULE_CONFIG="+filepath.Join(filepath.Dir(logPath), "no-config"))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitURL waits until the process prints its console URL.
func (p *proc) waitURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := consoleRE.FindStringSubmatch(p.output()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited early: %v\n%s", p.cmd.Args[1], p.err, p.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no URL in 60 s:\n%s", p.cmd.Args[1], p.output())
		}
	}
}

// terminate sends SIGTERM and waits for a clean exit.
func (p *proc) terminate(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM\n%s", p.cmd.Args[1], p.err, p.output())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s still running 15 s after SIGTERM", p.cmd.Args[1])
	}
}

// killJobGroupsAtCleanup SIGKILLs every process group recorded for the
// jobs, so that no job process outlives the test whatever happened.
func killJobGroupsAtCleanup(t *testing.T, pgids map[int]bool) {
	t.Cleanup(func() {
		for pgid := range pgids {
			if members := groupMembers(pgid); len(members) > 0 {
				t.Errorf("job process group %d still has processes %v at the end of the test; killing it", pgid, members)
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	})
}

// TestCrashKill9WhileJobsRun is the crash-safety acceptance line: kill -9
// the server while 5 jobs run, start it again on the same data dir, and
// every job reaches a terminal state or carries on, none is lost, and none
// ran twice at once.
//
// What is true with this worker and executor (and what the test asserts):
// job processes run in process groups of their own, so kill -9 of the
// server leaves them running as orphans. On start the new server's worker
// reconciles the jobs the store says run on its node: a job whose process
// group is still alive is adopted (the executor watches it through a
// pidfd) and carries on — the job's own file in $JOULE_OUTPUT_DIR gets its
// every tick, before and after the restart, from one process. Its stdout
// pipe to the dead server is gone, so output after the crash is not in its
// log (the job must not print to stdout, or it dies of SIGPIPE). The exit
// status of a process that is not the server's child cannot be read from
// the kernel, so the executor runs each command under a small shell that
// writes its exit status to a file; the adopted attempt reads it when the
// process ends. So, with retries 0 or 1 alike, every job's first and only
// attempt succeeds ("exit code 0 (adopted after a restart)").
//
// "None ran twice at once" is checked on both the store's attempt times and
// the jobs' own tick files, where each line names the attempt that wrote it.
func TestCrashKill9WhileJobsRun(t *testing.T) {
	t.Parallel()
	bin := joulebin(t)
	for _, retries := range []int{0, 1} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			crashAndRestart(t, bin, retries)
		})
	}
}

func crashAndRestart(t *testing.T, bin string, retries int) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	args := []string{"up", "--data-dir", data, "--listen", "127.0.0.1:0", "--node-name", "crash-node", "--log-level", "info"}
	pgids := map[int]bool{}
	killJobGroupsAtCleanup(t, pgids)

	first := startProc(t, bin, filepath.Join(dir, "up-1.log"), args...)
	base := first.waitURL(t)
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	c := httpapi.NewClient(base, token)
	ctx := t.Context()

	// Two plain sleeps, and three jobs that append a line per second to a
	// file of their own: "<attempt> <tick>".
	const ticks = 8
	tick := fmt.Sprintf(`for i in $(seq 1 %d); do echo "$JOULE_ATTEMPT $i" >> "$JOULE_OUTPUT_DIR/ticks"; sleep 1; done`, ticks)
	specs := []joule.JobSpec{
		{Name: "sleep-a", Command: []string{"sleep", "6"}},
		{Name: "sleep-b", Command: []string{"sleep", "6"}},
		{Name: "tick-a", Command: []string{"sh", "-c", tick}},
		{Name: "tick-b", Command: []string{"sh", "-c", tick}},
		{Name: "tick-c", Command: []string{"sh", "-c", tick}},
	}
	var ids []string
	for _, spec := range specs {
		// 100m each, so that all five fit on a 2-core node at once.
		spec.Resources.CPUMillis = 100
		spec.Retries = retries
		spec.Backoff = joule.Duration(100 * time.Millisecond)
		j, err := c.SubmitJob(ctx, joule.DefaultWorkspace, spec)
		if err != nil {
			t.Fatalf("submit %s: %v", spec.Name, err)
		}
		ids = append(ids, j.ID)
	}

	// Wait until all five run and their attempts carry their process
	// groups (the worker records the pid just after the start).
	deadline := time.Now().Add(30 * time.Second)
	for {
		running := 0
		for _, id := range ids {
			d, err := c.GetJob(ctx, joule.DefaultWorkspace, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.State == joule.JobRunning && len(d.History) == 1 && d.History[0].PID > 0 {
				running++
				pgids[d.History[0].PID] = true
			}
		}
		if running == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs running after 30 s\n%s", running, len(ids), first.output())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// kill -9 the server.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	killedAt := time.Now()
	alive := 0
	for pgid := range pgids {
		if processGroupAlive(pgid) {
			alive++
		}
	}
	t.Logf("killed the server with 5 jobs running; %d of their process groups outlive it", alive)
	if alive == 0 {
		t.Fatalf("no job process outlived the server: they should run in process groups of their own")
	}

	second := startProc(t, bin, filepath.Join(dir, "up-2.log"), args...)
	base = second.waitURL(t)
	t.Logf("restarted in %v", time.Since(killedAt).Round(time.Millisecond))
	c = httpapi.NewClient(base, token)

	// Every job reaches a terminal state within 60 s.
	final := map[string]httpapi.JobDetail{}
	deadline = time.Now().Add(60 * time.Second)
	for len(final) < len(ids) {
		for _, id := range ids {
			d, err := c.GetJob(ctx, joule.DefaultWorkspace, id)
			if err != nil {
				t.Fatalf("job %s after the restart: %v", id, err) // lost
			}
			for _, a := range d.History {
				if a.PID > 0 {
					pgids[a.PID] = true
				}
			}
			if d.State.Terminal() {
				final[id] = d
			}
		}
		if time.Now().After(deadline) {
			var open []string
			for _, id := range ids {
				if _, ok := final[id]; !ok {
					open = append(open, id)
				}
			}
			t.Fatalf("jobs %v not terminal 60 s after the restart\n%s", open, second.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// None is lost, and none invented: the store lists exactly these five,
	// all ended.
	p, err := c.ListJobs(ctx, joule.DefaultWorkspace, httpapi.JobQuery{ListOptions: joule.ListOptions{Limit: joule.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, j := range p.Items {
		listed = append(listed, j.ID)
		if !j.State.Terminal() {
			t.Errorf("job %s is %s after the restart, want terminal", j.ID, j.State)
		}
	}
	slices.Sort(listed)
	if want := slices.Sorted(slices.Values(ids)); !slices.Equal(listed, want) {
		t.Errorf("store lists jobs %v, want exactly %v", listed, want)
	}
	second.terminate(t)

	for i, id := range ids {
		d := final[id]
		var ends []string
		for _, a := range d.History {
			code := "-"
			if a.ExitCode != nil {
				code = strconv.Itoa(*a.ExitCode)
			}
			ends = append(ends, fmt.Sprintf("attempt %d %s exit %s (%s)", a.N, a.State, code, a.Reason))
		}
		t.Logf("%s: %s (%s) after %d attempts: %s", specs[i].Name, d.State, d.Reason, d.Attempts, strings.Join(ends, "; "))

		// None ran twice at once: attempts are recorded one per number, all
		// closed, each starting after the previous one finished.
		if len(d.History) != d.Attempts || d.Attempts < 1 || d.Attempts > retries+1 {
			t.Errorf("%s: %d attempts recorded, job says %d (retries %d)", specs[i].Name, len(d.History), d.Attempts, retries)
		}
		slices.SortFunc(d.History, func(a, b joule.Attempt) int { return a.N - b.N })
		for k, a := range d.History {
			if a.N != k+1 || a.FinishedAt == nil || a.State == joule.JobRunning {
				t.Errorf("%s: attempt %d (n=%d) is open or misnumbered: %s, finished %v", specs[i].Name, k+1, a.N, a.State, a.FinishedAt)
				continue
			}
			if k > 0 && a.StartedAt.Before(*d.History[k-1].FinishedAt) {
				t.Errorf("%s: attempt %d started %v, before attempt %d finished %v: ran twice at once",
					specs[i].Name, a.N, a.StartedAt, k, *d.History[k-1].FinishedAt)
			}
		}

		// Every job's process outlived the server, so the restarted server
		// adopts it, and reads its real exit status from the status file
		// the job's shell wrote: the first attempt succeeds, and no job runs
		// a second time whatever its retries.
		first := d.History[0]
		adopted := strings.Contains(first.Reason, "adopted after a restart")
		if first.State != joule.JobSucceeded || !adopted {
			t.Errorf("%s: first attempt %s (%s), want succeeded after adoption", specs[i].Name, first.State, first.Reason)
		}
		if d.State != joule.JobSucceeded || d.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s), want succeeded on attempt 1 (retries %d)", specs[i].Name, d.State, d.Attempts, d.Reason, retries)
		}

		if !strings.HasPrefix(specs[i].Name, "tick") {
			continue
		}
		// The tick file: attempt 1 carried on through the restart to its
		// last tick (it was adopted, not killed), and no two attempts
		// interleave.
		b, err := os.ReadFile(filepath.Join(data, "jobs", id, "output", "ticks"))
		if err != nil {
			t.Errorf("%s: %v", specs[i].Name, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var seq []string
		count := map[string]int{}
		for _, l := range lines {
			att, _, _ := strings.Cut(l, " ")
			if len(seq) == 0 || seq[len(seq)-1] != att {
				seq = append(seq, att)
			}
			count[att]++
		}
		wantSeq := []string{"1"}
		if !slices.Equal(seq, wantSeq) {
			t.Errorf("%s: attempts in the tick file ran in the order %v, want %v (interleaved means twice at once):\n%s", specs[i].Name, seq, wantSeq, b)
		}
		if adopted && count["1"] != ticks {
			t.Errorf("%s: adopted attempt 1 wrote %d of %d ticks: it did not carry on", specs[i].Name, count["1"], ticks)
		}
	}

	// No job process is left.
	for pgid := range pgids {
		if members := groupMembers(pgid); len(members) > 0 {
			t.Errorf("process group %d still has processes %v after every job ended", pgid, members)
		}
	}
}
