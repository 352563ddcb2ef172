package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/joule-dev/joule"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is `joule up` running in process.
type server struct {
	base   string
	out    *syncBuffer
	stop   context.CancelFunc
	done   chan error
	token  string // printed on first start
	stderr *syncBuffer
}

var consoleRE = regexp.MustCompile(`console:\s+(http://\S+)/`)
var tokenRE = regexp.MustCompile(`(?m)^  (joule_\S+)$`)

// startServer runs `joule up` on a free port with dir as its data dir and
// waits until it prints its URL.
func startServer(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	args := append([]string{"up", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "warn", "--node-name", "test-node"}, extra...)
	go func() {
		s.done <- run(ctx, args, strings.NewReader(""), s.out, s.stderr, func(string) string { return "" })
	}()
	deadline := time.After(60 * time.Second)
	for {
		// The URL and the admin token are separate writes: wait for both,
		// or for the line that says the token was printed before.
		out := s.out.String()
		if m := consoleRE.FindStringSubmatch(out); m != nil && (tokenRE.MatchString(out) || strings.Contains(out, "admin token: printed on first start")) {
			s.base = m[1]
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("joule up exited early: %v\n%s", err, s.out.String())
		case <-deadline:
			cancel()
			t.Fatalf("joule up printed no URL in 60 s:\n%s", s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if m := tokenRE.FindStringSubmatch(s.out.String()); m != nil {
		s.token = m[1]
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

func (s *server) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("joule up returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("joule up did not stop within 10 s")
	}
}

// cli runs a joule command in process against the server.
func (s *server) cli(t *testing.T, token string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	all := append([]string{"--server", s.base, "--token", token}, args...)
	getenv := func(k string) string { return env[k] }
	err := run(t.Context(), all, strings.NewReader(""), &out, &out, getenv)
	return out.String(), err
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFirstStartAndRestart is the first-ten-minutes journey: up prints the
// console URL and an admin token, writes admin.token, serves the API; a
// restart keeps everything and prints no new token.
func TestFirstStartAndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir)
	if s.token == "" {
		t.Fatalf("first start printed no admin token:\n%s", s.out.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode = %v, want 0600", fi.Mode().Perm())
	}
	saved, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if strings.TrimSpace(string(saved)) != s.token {
		t.Errorf("admin.token = %q, printed %q", saved, s.token)
	}
	st, body := get(t, s.base+"/v1/workspaces", s.token)
	if st != 200 || !strings.Contains(body, `"name": "default"`) {
		t.Fatalf("GET /v1/workspaces = %d %s", st, body)
	}
	for _, tok := range []string{"", "joule_wrong"} {
		st, body := get(t, s.base+"/v1/workspaces", tok)
		if st != 401 || !strings.Contains(body, `"code": "unauthorized"`) {
			t.Errorf("GET /v1/workspaces with token %q = %d %s, want 401 JSON", tok, st, body)
		}
	}
	if st, body := get(t, s.base+"/metrics", ""); st != 200 || !strings.Contains(body, "joule_http_requests_total") {
		t.Errorf("/metrics = %d, lacks joule_http_requests_total", st)
	}
	if out, err := s.cli(t, s.token, nil, "workspace", "create", "team-b"); err != nil {
		t.Fatalf("workspace create: %v\n%s", err, out)
	}
	s.shutdown(t)

	s2 := startServer(t, dir)
	if s2.token != "" || strings.Contains(s2.out.String(), "shown once") {
		t.Errorf("restart printed a new admin token:\n%s", s2.out.String())
	}
	out, err := s2.cli(t, s.token, nil, "workspace", "list")
	if err != nil || !strings.Contains(out, "team-b") || !strings.Contains(out, "default") {
		t.Errorf("after restart, workspace list = %v\n%s", err, out)
	}
	out, err = s2.cli(t, s.token, nil, "audit", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []joule.AuditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 3 {
		t.Errorf("after restart, audit list = %d entries (%v), want 3:\n%s", len(entries), err, out)
	}
}

// TestCLIJourney drives every command group through the real server.
func TestCLIJourney(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	cfgPath := filepath.Join(t.TempDir(), "config")
	env := map[string]string{"JOULE_CONFIG": cfgPath}

	// login saves server and token; later commands need no flags.
	var out bytes.Buffer
	err := run(t.Context(), []string{"login", "--server", s.base, "--token", s.token}, nil, &out, &out, func(k string) string { return env[k] })
	if err != nil || !strings.Contains(out.String(), "Logged in") {
		t.Fatalf("login: %v\n%s", err, out.String())
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v", fi, err)
	}
	plain := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), args, nil, &out, &out, func(k string) string { return env[k] })
		return out.String(), err
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "test-node"},
		{[]string{"node", "list"}, "test-node"},
		{[]string{"node", "get", "test-node"}, "Memory:"},
		{[]string{"node", "list", "-o", "yaml"}, "name: test-node"},
		{[]string{"workspace", "list", "-o", "json"}, `"name": "default"`},
		{[]string{"token", "create", "ci-bot", "--role", "viewer", "--expires", "720h"}, "Save the token now"},
		{[]string{"token", "list"}, "ci-bot"},
		{[]string{"audit", "list", "--action", "token."}, "token.create"},
		{[]string{"audit", "verify"}, "Audit chain intact"},
		{[]string{"version"}, joule.Version},
		{[]string{"energy"}, "COMPONENT"},
	} {
		got, err := plain(tc.args...)
		if err != nil || !strings.Contains(got, tc.want) {
			t.Errorf("joule %s = %v\n%s\nwant it to contain %q", strings.Join(tc.args, " "), err, got, tc.want)
		}
	}
	// A viewer token is refused, and the CLI shows the server's message.
	outJSON, err := plain("token", "create", "v2", "--role", "viewer", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Secret string      `json:"secret"`
		Token  joule.Token `json:"token"`
	}
	if err := json.Unmarshal([]byte(outJSON), &created); err != nil {
		t.Fatal(err)
	}
	_, err = s.cli(t, created.Secret, nil, "workspace", "create", "nope")
	if err == nil || joule.ErrorCode(err) != joule.EFORBIDDEN {
		t.Errorf("viewer workspace create: %v, want forbidden", err)
	}
	if _, err := plain("token", "revoke", created.Token.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli(t, created.Secret, nil, "status"); joule.ErrorCode(err) != joule.EUNAUTHORIZED {
		t.Errorf("revoked token: %v, want unauthorized", err)
	}
	// Shell completion is generated.
	if got, err := plain("completion", "bash"); err != nil || !strings.Contains(got, "__start_joule") {
		t.Errorf("completion bash: %v", err)
	}
}

// TestAuditTamperDetected edits and deletes audit rows directly in the
// SQLite file and checks that `joule audit verify` names the first broken
// entry.
func TestAuditTamperDetected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sql string
		want      string
	}{
		{"edit", `UPDATE audit_log SET action = 'workspace.delete' WHERE seq = 3`, "audit chain broken at entry 3"},
		{"delete middle", `DELETE FROM audit_log WHERE seq = 2`, "audit chain broken at entry 2"},
		{"delete newest", `DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)`, "audit chain broken at entry 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := startServer(t, dir)
			for _, ws := range []string{"a", "b"} {
				if out, err := s.cli(t, s.token, nil, "workspace", "create", ws); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			}
			if out, err := s.cli(t, s.token, nil, "audit", "verify"); err != nil {
				t.Fatalf("verify before tampering: %v\n%s", err, out)
			}
			s.shutdown(t)

			db, err := sql.Open("sqlite", filepath.Join(dir, "joule.db"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%s changed %d rows", tc.sql, n)
			}
			db.Close()

			s2 := startServer(t, dir)
			out, err := s2.cli(t, s.token, nil, "audit", "verify")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify after %s: %v\n%s\nwant error %q", tc.name, err, out, tc.want)
			}
		})
	}
}

// TestBadConfigExits checks that bad settings stop start-up with one line
// naming the field.
func TestBadConfigExits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "joule.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nstorage: sqlite\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"--config", cfg}, cfg + `:2: unknown key "storage"`},
		{"listen nonsense", []string{"--listen", "nonsense"}, `listen: "nonsense" is not HOST:PORT`},
		{"unreachable postgres", []string{"--store", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"}, "store:"},
		{"listen in use", []string{"--listen", busy.Addr().String()}, "listen:"},
		{"powercap root without RAPL", []string{"--listen", "127.0.0.1:0", "--powercap-root", dir}, "powercap_root: rapl: energy: nothing to meter"},
		{"bad energy retention", []string{"--listen", "127.0.0.1:0", "--energy-retention", "a week"}, `energy_retention: "a week" is not a duration`},
		{"provider without a key", []string{"--listen", "127.0.0.1:0", "--carbon-zone", "DE", "--carbon-provider", "electricitymaps"}, "carbon_provider: electricitymaps needs a token"},
		{"unknown provider", []string{"--listen", "127.0.0.1:0", "--carbon-provider", "wattime"}, `carbon_provider: "wattime" is not electricitymaps, watttime, uk or file`},
		{"bad price", []string{"--listen", "127.0.0.1:0", "--price", "00:00-07:00=cheap", "--currency", "EUR"}, `price: tariff 1`},
		{"price without currency", []string{"--listen", "127.0.0.1:0", "--price", "0.25"}, "currency: required"},
		{"bad idle policy", []string{"--listen", "127.0.0.1:0", "--idle", "shared"}, `idle: "shared" is not separate or proportional`},
		{"pue below 1", []string{"--listen", "127.0.0.1:0", "--pue", "0.9"}, `pue: "0.9" is not a number ≥ 1`},
		{"unknown carbon zone", []string{"--listen", "127.0.0.1:0", "--carbon-zone", "XX-NOPE"}, `carbon_zone: carbon zone "XX-NOPE" is not in the static table`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			args := append([]string{"up", "--data-dir", t.TempDir()}, tc.args...)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := run(ctx, args, nil, &out, &out, func(string) string { return "" })
			if err == nil {
				t.Fatalf("up %v started, want an error", tc.args)
			}
			line := fmt.Sprint(errorLine(err))
			if !strings.Contains(line, tc.want) || strings.Contains(line, "\n") {
				t.Errorf("up %v: %q, want one line containing %q", tc.args, line, tc.want)
			}
		})
	}
}

// TestJobMetrics checks the compute layer's Prometheus metrics after a job.
func TestJobMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "m", "--wait", "--", "true"); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	if st, body := get(t, s.base+"/v1/workspaces/default/jobs/m/usage", s.token); st != 200 || !strings.Contains(body, "cpu_user_seconds") {
		t.Errorf("GET usage = %d %s, want samples", st, body)
	}
	// The node's power comes with its heartbeat (every 10 s), measured or
	// estimated.
	var st int
	var nodes string
	for deadline := time.Now().Add(25 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if st, nodes = get(t, s.base+"/v1/nodes", s.token); strings.Contains(nodes, `"power": [`) {
			break
		}
	}
	if st != 200 || !strings.Contains(nodes, `"power": [`) || !(strings.Contains(nodes, `"method": "measured:`) || strings.Contains(nodes, `"method": "estimated:`)) {
		t.Errorf("GET /v1/nodes = %d, want usage.power with a method:\n%s", st, nodes)
	}
	_, body := get(t, s.base+"/metrics", "")
	for _, want := range []string{
		`joule_node_power_watts{component=`,
		`joule_jobs{state="queued"} 0`,
		`joule_jobs{state="running"} 0`,
		`joule_job_wait_seconds_count 1`,
		`joule_job_duration_seconds_count{state="succeeded"} 1`,
		`joule_http_requests_total{code="201",method="POST",route="/v1/workspaces/{workspace}/jobs"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
