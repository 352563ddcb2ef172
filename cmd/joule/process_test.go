package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// joulebin builds the real binary once per test run.
func joulebin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "joule-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "joule")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestSIGTERMExitsCleanly runs the real binary, sends SIGTERM and checks it
// exits 0 within the 5 s graceful-shutdown bound.
func TestSIGTERMExitsCleanly(t *testing.T) {
	t.Parallel()
	bin := joulebin(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "up", "--data-dir", dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := consoleRE.FindStringSubmatch(sc.Text()); m != nil {
				url <- m[1]
			}
		}
		close(url)
	}()
	var base string
	select {
	case base = <-url:
	case <-time.After(60 * time.Second):
		t.Fatalf("no URL printed in 60 s; stderr:\n%s", stderr.String())
	}
	if base == "" {
		t.Fatalf("joule up exited before serving; stderr:\n%s", stderr.String())
	}
	if st, _ := get(t, base+"/healthz", ""); st != 200 {
		t.Fatalf("/healthz = %d", st)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
		t.Logf("exited 0 %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM")
	}
}

// TestBadFlagsExitNonZero checks the real process: exit 1 and one line on
// stderr naming the field.
func TestBadFlagsExitNonZero(t *testing.T) {
	t.Parallel()
	bin := joulebin(t)
	cmd := exec.Command(bin, "up", "--data-dir", t.TempDir(), "--listen", "nonsense")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", err)
	}
	got := strings.TrimSpace(stderr.String())
	if strings.Count(got, "\n") != 0 || !strings.HasPrefix(got, "Error: listen:") {
		t.Errorf("stderr = %q, want one line starting with \"Error: listen:\"", got)
	}
}
