package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule/internal/cli"
)

func errorLine(err error) string { return cli.ErrorText(err) }

// binServer is the real joule binary running `joule up`, for the tests
// that need jobs to run the binary itself (train, recipe and predict jobs).
type binServer struct {
	*server
	dir    string      // its data dir, also its HOME
	token  string      // the admin token
	stderr *syncBuffer // its log
}

// startBinary runs `joule up` from the real binary on a free port with a
// fresh data dir (and extra flags), waits until it prints its URL, and kills
// it when the test ends.
func startBinary(t *testing.T, extra ...string) *binServer {
	t.Helper()
	return startBinaryEnv(t, nil, extra...)
}

// startBinaryEnv is startBinary with env (KEY=value) added to the
// process's environment.
func startBinaryEnv(t *testing.T, env []string, extra ...string) *binServer {
	t.Helper()
	bin := joulebin(t)
	dir := t.TempDir()
	args := append([]string{"up", "--data-dir", dir, "--listen", "127.0.0.1:0", "--node-name", "test-node", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "HOME="+dir), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := consoleRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	var base string
	select {
	case base = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("no URL in 60 s; stderr:\n%s", stderr.String())
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return &binServer{server: &server{base: base}, dir: dir, token: strings.TrimSpace(string(tok)), stderr: stderr}
}
