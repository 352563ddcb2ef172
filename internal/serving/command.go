package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Health checks of command replicas.
const (
	healthEvery    = 5 * time.Second
	healthTimeout  = 2 * time.Second
	healthFailures = 3 // consecutive failures before a replica is replaced
	stopGrace      = 5 * time.Second
	logTail        = 2048 // bytes of a server's log quoted in errors
)

// server is one replica's model server process of a command deployment,
// started by the runtime (the executor, as for jobs) and reached over
// HTTP on 127.0.0.1:PORT. It implements predictor by forwarding the
// predict body and checking the answer.
type server struct {
	run     joule.Run
	base    string // http://127.0.0.1:PORT
	spec    joule.DeploymentServer
	logPath string
	client  *http.Client
	exited  chan struct{} // closed when the process ends
	result  joule.RunResult

	mu        sync.Mutex
	checkedAt time.Time
	failures  int
}

// freePort asks the kernel for a free TCP port on the loopback. The port
// is free when this returns; a process that races for it makes the start
// fail, and the next request tries again.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts a command replica's process and waits until its
// health path answers 200, the process exits, or ctx ends.
func (m *Manager) startServer(ctx context.Context, spec joule.Deployment, id string) (*server, error) {
	if m.cfg.Runtime == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server runs no processes, so it cannot serve a deployment of kind command")
	}
	c := *spec.Command
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	dir := filepath.Join(m.cfg.DataDir, "deployments", spec.ID, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := maps.Clone(c.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["PORT"] = strconv.Itoa(port)
	env["JOULE_DEPLOYMENT"] = spec.Name
	env["JOULE_REPLICA"] = id
	logPath := filepath.Join(dir, "server.log")
	run, err := m.cfg.Runtime.Start(ctx, joule.RunRequest{
		JobID: spec.ID + "-" + id, Attempt: 1, Command: c.Args, Env: env, WorkDir: c.WorkDir,
		LogPath: logPath, OutputDir: dir, KeepSamples: 4,
	})
	if err != nil {
		return nil, err
	}
	s := &server{run: run, base: "http://127.0.0.1:" + strconv.Itoa(port), spec: c, logPath: logPath, exited: make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}}
	go func() {
		s.result, _ = run.Wait(context.Background())
		close(s.exited)
	}()
	for {
		hctx, cancel := context.WithTimeout(ctx, healthTimeout)
		err := s.health(hctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("model server %q exited before it was ready (%s)%s", strings.Join(c.Args, " "), s.result.Reason, s.tail())
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("model server %q was not healthy on %s%s in time (%v)%s", strings.Join(c.Args, " "), s.base, c.HealthPath, err, s.tail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// health asks the server's health path once.
func (s *server) health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+s.spec.HealthPath, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check answered %d", resp.StatusCode)
	}
	return nil
}

// check is the autoscaler's health check: nil while the server is alive
// and healthy, or why it must be replaced. It asks the health path at most
// every healthEvery, and gives up after healthFailures failures in a row.
func (s *server) check(now time.Time) error {
	select {
	case <-s.exited:
		return fmt.Errorf("its model server exited (%s)%s", s.result.Reason, s.tail())
	default:
	}
	s.mu.Lock()
	due := now.Sub(s.checkedAt) >= healthEvery
	if due {
		s.checkedAt = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	err := s.health(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.failures = 0
		return nil
	}
	s.failures++
	if s.failures >= healthFailures {
		return fmt.Errorf("its model server failed %d health checks in a row: %v", s.failures, err)
	}
	return nil
}

// stop ends the process: SIGTERM, then SIGKILL after the grace.
func (s *server) stop() {
	select {
	case <-s.exited:
	default:
		_ = s.run.Stop(joule.JobCancelled, stopGrace)
	}
}

// cpuNanos is the process's CPU time so far (user + system), from the
// runtime's usage samples.
func (s *server) cpuNanos() int64 {
	u := s.run.Usage()
	if len(u) == 0 {
		return 0
	}
	last := u[len(u)-1]
	return int64((last.CPUUserSec + last.CPUSystemSec) * 1e9)
}

// tail returns the end of the server's log, for error messages.
func (s *server) tail() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTail {
		f.Seek(fi.Size()-logTail, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	if t := strings.TrimSpace(string(b)); t != "" {
		return "; its log ends: " + t
	}
	return ""
}

// Predict forwards a predict body to the model server. The body's shape
// and batch size are checked first, as for built-in models; the answer
// must hold one prediction per row.
func (s *server) Predict(ctx context.Context, body []byte, maxBatch int) (joule.PredictResponse, error) {
	q, err := parseRequest(body, maxBatch)
	if err != nil {
		return joule.PredictResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+s.spec.PredictPath, bytes.NewReader(body))
	if err != nil {
		return joule.PredictResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "request ended while the model server was answering")
		}
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "the model server did not answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "reading the model server's answer: %v", err)
	}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return joule.PredictResponse{}, joule.Errorf(joule.EINVALID, "the model server refused the request (%d): %s", resp.StatusCode, truncate(b, 500))
	case resp.StatusCode != http.StatusOK:
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "the model server answered %d: %s", resp.StatusCode, truncate(b, 500))
	}
	var out struct {
		Predictions   []any                `json:"predictions"`
		Probabilities []map[string]float64 `json:"probabilities"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "the model server's answer is not {\"predictions\": [...]}: %v", err)
	}
	if len(out.Predictions) != len(q.rows) {
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "the model server answered %d predictions for %d rows", len(out.Predictions), len(q.rows))
	}
	if out.Probabilities != nil && len(out.Probabilities) != len(q.rows) {
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "the model server answered %d probabilities for %d rows", len(out.Probabilities), len(q.rows))
	}
	return joule.PredictResponse{Predictions: out.Predictions, Probabilities: out.Probabilities}, nil
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// createCommand stores a deployment of kind command that serves no
// registered model.
func (m *Manager) createCommand(ctx context.Context, workspaceID string, d joule.Deployment, by string) (joule.Deployment, error) {
	now := m.cfg.Now().UTC()
	d.ID, d.WorkspaceID, d.ModelID, d.ModelVersion, d.PreviousVersion = joule.NewID("dep", now), workspaceID, "", 0, 0
	d.CreatedAt, d.UpdatedAt, d.CreatedBy, d.Status = now, now, by, nil
	if err := m.cfg.Store.CreateDeployment(ctx, d); err != nil {
		return d, err
	}
	if err := m.add(ctx, d); err != nil {
		return d, err
	}
	m.event(ctx, d, joule.DeploymentCreated, 0, 0, fmt.Sprintf("runs the model server %q; replicas %d to %d, target concurrency %d", strings.Join(d.Command.Args, " "), d.MinReplicas, d.MaxReplicas, d.TargetConcurrency))
	return m.withStatus(d), nil
}

// checkServers replaces the replicas of a command track whose model server
// exited or failed its health checks: they leave the track (the
// autoscaler starts others to keep the size), and each is an event.
func (m *Manager) checkServers(ctx context.Context, d *deployment, t *track) {
	d.mu.Lock()
	spec := d.spec
	var procs []*replica
	for _, r := range t.replicas {
		if r.proc != nil {
			procs = append(procs, r)
		}
	}
	d.mu.Unlock()
	now := m.cfg.Now()
	for _, r := range procs {
		err := r.proc.check(now)
		if err == nil {
			continue
		}
		d.mu.Lock()
		i := slices.Index(t.replicas, r)
		if i < 0 {
			d.mu.Unlock()
			continue
		}
		cur := len(t.replicas)
		t.replicas = slices.Delete(t.replicas, i, i+1)
		d.retired = append(d.retired, r)
		d.mu.Unlock()
		r.stop()
		m.logger.Warn("model server replaced", "deployment", spec.Name, "replica", r.id, "err", err)
		m.event(ctx, spec, joule.DeploymentScale, cur, cur-1, fmt.Sprintf("replica %s removed: %v", r.id, err))
	}
}
