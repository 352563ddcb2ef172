package compute

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Adopter re-attaches to a job's process that outlived its worker.
type Adopter interface {
	Adopt(ctx context.Context, pid int, req joule.RunRequest) (joule.Run, error)
	// FindGroup finds the process group of an attempt by its environment,
	// for an attempt whose process group was never recorded; 0 if none.
	FindGroup(jobID string, attempt int) int
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Store   joule.Store
	Runtime joule.Runtime // required
	NodeID  string        // required: the node this worker runs jobs for
	// NodeName labels the worker's metrics (default NodeID).
	NodeName string
	// DataDir holds jobs/<id>/ with logs, outputs and metrics files.
	DataDir string
	// ServerURL is given to jobs as JOULE_SERVER.
	ServerURL string
	// Grace between SIGTERM and SIGKILL when a job is cancelled (default 10 s).
	Grace time.Duration
	// Poll is how often a running job's state is checked for cancellation
	// (default 500 ms).
	Poll time.Duration
	// OnFinish, when set, is called after a job leaves running (the server
	// wakes its dispatcher with it).
	OnFinish func(joule.Job)
	// Metrics, when set, observes waits and run times.
	Metrics *Metrics
	// Account, when set, gives an ended attempt its energy, emissions and
	// cost from its usage series; nil (or a nil result) leaves them unset.
	Account func(j joule.Job, a joule.Attempt, usage []joule.UsageSample) *joule.JobEnergy
	// Intensity, when set, gives the actual grid intensity over a period,
	// for the realised saving of a carbon-shifted job.
	Intensity IntensityFunc
	Now       func() time.Time
	Logger    *slog.Logger
}

// Worker runs the jobs placed on one node.
type Worker struct {
	cfg WorkerConfig
	wg  sync.WaitGroup
}

// NewWorker returns a Worker.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("compute: WorkerConfig.Store is required")
	case cfg.Runtime == nil:
		return nil, errors.New("compute: WorkerConfig.Runtime is required")
	case cfg.NodeID == "":
		return nil, errors.New("compute: WorkerConfig.NodeID is required")
	case cfg.DataDir == "":
		return nil, errors.New("compute: WorkerConfig.DataDir is required")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg}, nil
}

func (w *Worker) now() time.Time { return w.cfg.Now().UTC().Truncate(time.Microsecond) }

// JobDir is where a job's logs, outputs and metrics live.
func JobDir(dataDir, jobID string) string { return filepath.Join(dataDir, "jobs", jobID) }

// LogPath is the log file of one attempt.
func LogPath(dataDir, jobID string, attempt int) string {
	return filepath.Join(JobDir(dataDir, jobID), fmt.Sprintf("attempt-%d.log", attempt))
}

// OutputDir is the job's JOULE_OUTPUT_DIR: its artifacts.
func OutputDir(dataDir, jobID string) string { return filepath.Join(JobDir(dataDir, jobID), "output") }

// Handle runs one placed job to its end. The queue calls it; it returns nil
// once the job's outcome is recorded (retries go back through the
// dispatcher, not the queue), and an error only when the store failed, so
// the queue tries again.
func (w *Worker) Handle(ctx context.Context, jobID string) error {
	now := w.now()
	j, err := w.cfg.Store.UpdateJob(ctx, jobID, []joule.JobState{joule.JobScheduled}, "started on its node", func(j *joule.Job) error {
		if j.NodeID != w.cfg.NodeID {
			return joule.Errorf(joule.ECONFLICT, "job %s is placed on node %s, not %s", j.ID, j.NodeID, w.cfg.NodeID)
		}
		j.State = joule.JobRunning
		j.Attempts++
		j.Reason = fmt.Sprintf("running attempt %d", j.Attempts)
		j.StartedAt = &now
		j.FinishedAt = nil
		j.ExitCode = nil
		j.UpdatedAt = now
		return nil
	}, nil)
	if joule.ErrorCode(err) == joule.ECONFLICT || joule.ErrorCode(err) == joule.ENOTFOUND {
		w.cfg.Logger.Debug("job not runnable here; skipping", "job_id", jobID, "reason", joule.ErrorMessage(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("start job %s: %w", jobID, err)
	}
	w.cfg.Metrics.Started(j)
	req := w.request(j)
	if err := os.MkdirAll(req.OutputDir, 0o755); err != nil {
		return w.finish(ctx, j, nil, joule.RunResult{State: joule.JobFailed, Reason: "create output dir: " + err.Error(), StartedAt: now, FinishedAt: w.now()})
	}
	secret, tokID, err := w.jobToken(ctx, j)
	if err != nil {
		return fmt.Errorf("job token for %s: %w", jobID, err)
	}
	defer w.revoke(j, tokID)
	req.Env["JOULE_TOKEN"] = secret
	run, err := w.cfg.Runtime.Start(ctx, req)
	if err != nil {
		res := joule.RunResult{State: joule.JobFailed, ExitCode: -1, Reason: joule.ErrorMessage(err), StartedAt: now, FinishedAt: w.now()}
		if joule.ErrorCode(err) == joule.EINTERNAL {
			res.Reason = "could not start: " + err.Error()
		}
		return w.finish(ctx, j, nil, res)
	}
	if err := w.cfg.Store.PutAttempt(ctx, joule.Attempt{JobID: j.ID, N: j.Attempts, NodeID: w.cfg.NodeID, PID: run.PID(), State: joule.JobRunning, StartedAt: now, LogPath: req.LogPath}); err != nil {
		w.cfg.Logger.Error("record attempt", "job_id", j.ID, "err", err)
	}
	return w.watch(ctx, j, run)
}

// watch waits for a run, stopping it when the job is cancelled in the store,
// and records the outcome.
func (w *Worker) watch(ctx context.Context, j joule.Job, run joule.Run) error {
	done := make(chan struct{})
	var res joule.RunResult
	var werr error
	go func() {
		defer close(done)
		res, werr = run.Wait(context.WithoutCancel(ctx))
	}()
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	stopped := false
	slots := w.newSlotKeeper(j, run)
	slots.tick(ctx, w.now())
	for {
		select {
		case <-done:
			if werr != nil {
				res = joule.RunResult{State: joule.JobFailed, Reason: "wait: " + werr.Error(), FinishedAt: w.now()}
			}
			return w.finish(context.WithoutCancel(ctx), j, run, res)
		case <-ctx.Done():
			// The worker is shutting down: leave the process running; the
			// next start adopts it.
			return ctx.Err()
		case <-t.C:
			if stopped {
				continue
			}
			slots.tick(ctx, w.now())
			cur, err := w.cfg.Store.GetJob(ctx, "", j.ID)
			if err == nil && cur.State == joule.JobCancelled {
				stopped = true
				if err := run.Stop(joule.JobCancelled, w.cfg.Grace); err != nil {
					w.cfg.Logger.Warn("stop cancelled job", "job_id", j.ID, "err", err)
				}
			}
		}
	}
}

// finish records the attempt and moves the job to its end state, or back to
// queued while retries are left.
func (w *Worker) finish(ctx context.Context, j joule.Job, run joule.Run, res joule.RunResult) error {
	now := w.now()
	if res.FinishedAt.IsZero() {
		res.FinishedAt = now
	}
	if res.StartedAt.IsZero() && j.StartedAt != nil {
		res.StartedAt = *j.StartedAt
	}
	fin := res.FinishedAt.UTC().Truncate(time.Microsecond)
	code := res.ExitCode
	a := joule.Attempt{
		JobID: j.ID, N: j.Attempts, NodeID: w.cfg.NodeID, State: res.State, Reason: res.Reason, Signal: res.Signal,
		StartedAt: res.StartedAt.UTC().Truncate(time.Microsecond), FinishedAt: &fin, LogPath: LogPath(w.cfg.DataDir, j.ID, j.Attempts),
		Limits: res.Limits, CPUUserSec: res.CPUUserSec, CPUSysSec: res.CPUSystemSec, PeakMemory: res.PeakMemory,
	}
	if run != nil {
		a.PID = run.PID()
		if us := run.Usage(); len(us) > 0 {
			if err := w.cfg.Store.AppendUsage(ctx, j.ID, j.Attempts, us); err != nil {
				w.cfg.Logger.Error("record usage", "job_id", j.ID, "err", err)
			}
			if w.cfg.Account != nil {
				a.Energy = w.cfg.Account(j, a, us)
				w.cfg.Metrics.Accounted(cmp.Or(w.cfg.NodeName, w.cfg.NodeID), a.Energy)
			}
		}
	}
	if res.State != joule.JobCancelled || res.Signal == "" {
		a.ExitCode = &code
	}
	if err := w.cfg.Store.PutAttempt(ctx, a); err != nil {
		return fmt.Errorf("record attempt of %s: %w", j.ID, err)
	}
	w.cfg.Metrics.Ended(a)
	if len(res.Metrics) > 0 {
		if err := w.cfg.Store.AppendJobMetrics(ctx, j.ID, j.Attempts, res.Metrics); err != nil {
			w.cfg.Logger.Error("record metrics", "job_id", j.ID, "err", err)
		}
	}
	retry := (res.State == joule.JobFailed || res.State == joule.JobTimedOut) && j.Attempts <= j.Spec.Retries
	reason := res.Reason
	transition := reason
	if retry {
		transition = fmt.Sprintf("attempt %d %s (%s); will retry", j.Attempts, res.State, reason)
	}
	var realised *joule.JobShift // looked up outside the store's transaction
	if !retry && j.Shift != nil && j.Shift.Fallback == "" && j.StartedAt != nil {
		jj := j
		jj.Energy = AddEnergy(j.Energy, a.Energy)
		realised = w.realise(ctx, jj, fin)
	}
	final, err := w.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobRunning}, transition, func(cur *joule.Job) error {
		cur.ExitCode = &code
		cur.UpdatedAt = now
		cur.Energy = AddEnergy(cur.Energy, a.Energy)
		if retry {
			backoff := time.Duration(cur.Spec.Backoff) << min(cur.Attempts-1, 20)
			at := now.Add(backoff)
			cur.State = joule.JobQueued
			cur.StartAt = &at
			cur.NodeID = ""
			cur.GPUIndices = nil
			cur.Reason = fmt.Sprintf("attempt %d %s (%s); retrying after %s (%d of %d retries)", cur.Attempts, res.State, reason, backoff, cur.Attempts, cur.Spec.Retries)
			return nil
		}
		cur.State = res.State
		cur.Reason = reason
		cur.FinishedAt = &fin
		if realised != nil {
			cur.Shift = realised
		}
		return nil
	}, nil)
	if joule.ErrorCode(err) == joule.ECONFLICT {
		// Cancelled (or failed by a lost-node sweep) meanwhile: the
		// attempt is recorded; the job's state stands.
		final, err = w.cfg.Store.GetJob(ctx, "", j.ID)
	}
	if err != nil {
		return fmt.Errorf("finish job %s: %w", j.ID, err)
	}
	w.cfg.Logger.Info("job attempt ended", "job_id", j.ID, "attempt", j.Attempts, "state", res.State, "job_state", final.State, "reason", reason)
	if w.cfg.OnFinish != nil {
		w.cfg.OnFinish(final)
	}
	return nil
}

// request builds the runtime request for the job's current attempt.
func (w *Worker) request(j joule.Job) joule.RunRequest {
	env := map[string]string{}
	for k, v := range j.Spec.Env {
		env[k] = v
	}
	env["JOULE_JOB_ID"] = j.ID
	env["JOULE_JOB_NAME"] = j.Spec.Name
	env["JOULE_ATTEMPT"] = strconv.Itoa(j.Attempts)
	env["JOULE_WORKSPACE_ID"] = j.WorkspaceID
	if w.cfg.ServerURL != "" {
		env["JOULE_SERVER"] = w.cfg.ServerURL
	}
	dir := JobDir(w.cfg.DataDir, j.ID)
	return joule.RunRequest{
		JobID: j.ID, Attempt: j.Attempts, Command: j.Spec.Command, Env: env, WorkDir: j.Spec.WorkDir,
		Resources: j.Spec.Resources, GPUIndices: j.GPUIndices, Timeout: runTimeout(j),
		LogPath:     LogPath(w.cfg.DataDir, j.ID, j.Attempts),
		OutputDir:   OutputDir(w.cfg.DataDir, j.ID),
		MetricsFile: filepath.Join(dir, fmt.Sprintf("metrics-%d.json", j.Attempts)),
		StatusFile:  filepath.Join(dir, fmt.Sprintf("status-%d", j.Attempts)),
	}
}

// jobToken issues the short-lived token a job gets as JOULE_TOKEN: editor
// in the job's workspace, valid for the job's timeout plus an hour (or a
// day), revoked when the attempt ends.
func (w *Worker) jobToken(ctx context.Context, j joule.Job) (secret, id string, err error) {
	ttl := 24 * time.Hour
	if j.Spec.Timeout > 0 {
		ttl = time.Duration(j.Spec.Timeout) + time.Hour
	}
	name := fmt.Sprintf("job-%s-%d", strings.ToLower(strings.TrimPrefix(j.ID, "job_")), j.Attempts)
	tok, secret, err := joule.NewToken(j.WorkspaceID, name, joule.RoleEditor, ttl, j.ID, w.now())
	if err != nil {
		return "", "", err
	}
	if err := w.cfg.Store.CreateToken(ctx, tok); err != nil {
		return "", "", err
	}
	return secret, tok.ID, nil
}

func (w *Worker) revoke(j joule.Job, tokID string) {
	if err := w.cfg.Store.RevokeToken(context.Background(), j.WorkspaceID, tokID, w.now()); err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
		w.cfg.Logger.Warn("revoke job token", "job_id", j.ID, "err", err)
	}
}

// Reconcile runs at start: for every job the store says is running on this
// node, it adopts the process if it is still alive (watching it in the
// background), and otherwise retries or fails the job with the reason
// "worker restarted". Jobs scheduled here are left to the queue.
func (w *Worker) Reconcile(ctx context.Context, adopter Adopter) error {
	running, err := listAll(ctx, w.cfg.Store, joule.JobFilter{States: []joule.JobState{joule.JobRunning}, NodeID: w.cfg.NodeID})
	if err != nil {
		return fmt.Errorf("list running jobs: %w", err)
	}
	for _, j := range running {
		var pid int
		if as, err := w.cfg.Store.ListAttempts(ctx, j.ID); err == nil {
			for _, a := range as {
				if a.N == j.Attempts {
					pid = a.PID
				}
			}
		}
		if adopter != nil {
			if pid == 0 {
				// The worker died between starting the process and
				// recording it: look for the process by its environment.
				pid = adopter.FindGroup(j.ID, j.Attempts)
			}
		}
		if pid > 0 && adopter != nil {
			if run, err := adopter.Adopt(ctx, pid, w.request(j)); err == nil {
				w.cfg.Logger.Info("adopted running job after restart", "job_id", j.ID, "pid", pid)
				w.wg.Go(func() {
					if err := w.watch(ctx, j, run); err != nil && ctx.Err() == nil {
						w.cfg.Logger.Error("watch adopted job", "job_id", j.ID, "err", err)
					}
				})
				continue
			}
		}
		res := joule.RunResult{State: joule.JobFailed, ExitCode: -1, Reason: "worker restarted; the job's process was gone"}
		if err := w.finish(ctx, j, nil, res); err != nil {
			return err
		}
	}
	return nil
}

// Wait waits for jobs adopted by Reconcile to be recorded.
func (w *Worker) Wait() { w.wg.Wait() }

// NodeLost retries or fails the jobs that were scheduled or running on a
// node that stopped sending heartbeats, with the reason "node lost".
func NodeLost(ctx context.Context, s joule.Store, node joule.Node, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	jobs, err := listAll(ctx, s, joule.JobFilter{States: []joule.JobState{joule.JobScheduled, joule.JobRunning}, NodeID: node.ID})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		_, err := s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobScheduled, joule.JobRunning}, "node lost", func(cur *joule.Job) error {
			cur.UpdatedAt = now
			cur.NodeID = ""
			cur.GPUIndices = nil
			if cur.State == joule.JobScheduled || cur.Attempts <= cur.Spec.Retries {
				cur.State = joule.JobQueued
				cur.Reason = "node lost: " + node.Name + "; placing it again"
				return nil
			}
			cur.State = joule.JobFailed
			cur.Reason = "node lost: " + node.Name
			cur.FinishedAt = &now
			return nil
		}, nil)
		if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
			return err
		}
	}
	return nil
}

// AddEnergy returns the sum of two energy records (either may be nil):
// joules, emissions and cost add up; intensity and PUE are energy-weighted;
// methods and sources are listed, never hidden.
func AddEnergy(a, b *joule.JobEnergy) *joule.JobEnergy {
	switch {
	case b == nil:
		return a
	case a == nil:
		c := *b
		return &c
	}
	s := *a
	s.Joules += b.Joules
	s.MeasuredJoules += b.MeasuredJoules
	s.EstimatedJoules += b.EstimatedJoules
	s.EmissionsG += b.EmissionsG
	s.Cost += b.Cost
	if s.Joules > 0 {
		s.PUE = (a.PUE*a.Joules + b.PUE*b.Joules) / s.Joules
		s.IntensityGPerKWh = (a.IntensityGPerKWh*a.Joules + b.IntensityGPerKWh*b.Joules) / s.Joules
	}
	s.Method = joinDistinct(a.Method, b.Method)
	s.IntensitySource = joinDistinct(a.IntensitySource, b.IntensitySource)
	if s.Currency == "" {
		s.Currency = b.Currency
	}
	return &s
}

func joinDistinct(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	return a + " | " + b
}
