package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// TestStatusFile: with a status file, exit codes and signals are reported
// as without one, and the status is written.
func TestStatusFile(t *testing.T) {
	t.Parallel()
	e := mustNew(t, Config{})
	for _, tc := range []struct {
		name   string
		cmd    []string
		state  joule.JobState
		code   int
		signal string
	}{
		{"exit 0", []string{"true"}, joule.JobSucceeded, 0, ""},
		{"exit 3", []string{"sh", "-c", "exit 3"}, joule.JobFailed, 3, ""},
		{"killed", []string{"sh", "-c", "kill -KILL $$"}, joule.JobFailed, 137, "SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(t, tc.cmd...)
			req.StatusFile = filepath.Join(t.TempDir(), "status")
			res := runToEnd(t, e, req)
			if res.State != tc.state || res.ExitCode != tc.code || res.Signal != tc.signal {
				t.Errorf("result = %s %d %q, want %s %d %q", res.State, res.ExitCode, res.Signal, tc.state, tc.code, tc.signal)
			}
			b, err := os.ReadFile(req.StatusFile)
			if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(tc.code) {
				t.Errorf("status file = %q, %v", b, err)
			}
		})
	}
}

// TestAdoptReadsStatus: a job started by one executor and adopted by
// another (a restarted worker) gets its real exit status from the status
// file, and FindGroup finds it by its environment.
func TestAdoptReadsStatus(t *testing.T) {
	t.Parallel()
	a, b := mustNew(t, Config{}), mustNew(t, Config{})
	req := request(t, "sh", "-c", "sleep 1; exit 4")
	req.Env["JOULE_JOB_ID"] = "job_adopt_status"
	req.Env["JOULE_ATTEMPT"] = "1"
	req.StatusFile = filepath.Join(t.TempDir(), "status")
	first := mustStart(t, a, req)
	pg := b.FindGroup("job_adopt_status", 1)
	if pg != first.PID() {
		t.Fatalf("FindGroup = %d, want %d", pg, first.PID())
	}
	if b.FindGroup("job_adopt_status", 2) != 0 || b.FindGroup("job_other", 1) != 0 {
		t.Error("FindGroup matched another attempt or job")
	}
	adopted, err := b.Adopt(t.Context(), pg, req)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	res := mustWait(t, adopted, 20*time.Second)
	if res.State != joule.JobFailed || res.ExitCode != 4 || !strings.Contains(res.Reason, "adopted") {
		t.Errorf("adopted result = %s %d %q, want failed 4 (adopted)", res.State, res.ExitCode, res.Reason)
	}
	mustWait(t, first, 20*time.Second)
}
