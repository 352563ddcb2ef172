package serving

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Promoter switches a deployment's primary version to another version of
// the same model, keeping the version it served for rollback and writing a
// promote event. The Manager implements it.
type Promoter interface {
	Promote(ctx context.Context, workspaceID, ref string, version int, reason string) (joule.Deployment, error)
}

// LifecycleConfig configures a Lifecycle. Training and evaluation live in
// the model layer, which serving does not import: cmd/joule passes them in
// as functions.
type LifecycleConfig struct {
	// Deployments are the deployments the loop retrains. Required.
	Deployments *Manager
	// Store reads model versions and jobs. Required.
	Store joule.Store
	// Train queues a train job that repeats the training of production on
	// the newest version of its dataset (model.Service.SubmitRetrain).
	// Required.
	Train func(ctx context.Context, workspaceID string, production joule.ModelVersion, by string) (joule.Job, error)
	// Compare scores production and candidate on the candidate's holdout
	// rows (model.Service.Compare). Required.
	Compare func(ctx context.Context, workspaceID string, production, candidate joule.ModelVersion, metric string, margin float64) (joule.ModelComparison, error)
	// Stage moves version n of a model to a registry stage
	// (model.Service.Promote). Required.
	Stage func(ctx context.Context, workspaceID, modelID string, n int, stage string) error
	// Promote switches the deployment to the candidate (default:
	// Deployments).
	Promote Promoter
	// Live returns a deployment's live quality on labelled feedback by
	// metric name ("accuracy", "rmse"), or nil when there is none yet
	// (nil: the live-quality trigger is off).
	Live func(d joule.Deployment) map[string]float64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Poll is how often a train job's state is read (default 1s);
	// Interval how often Start's loop checks schedules and live quality
	// (default 10s).
	Poll     time.Duration
	Interval time.Duration
	Logger   *slog.Logger
}

// WithDefaults returns c with its defaults filled in.
func (c LifecycleConfig) WithDefaults() LifecycleConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Promote == nil && c.Deployments != nil {
		c.Promote = c.Deployments
	}
	c.Poll = cmp.Or(c.Poll, time.Second)
	c.Interval = cmp.Or(c.Interval, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate names the first missing field.
func (c LifecycleConfig) Validate() error {
	switch {
	case c.Deployments == nil:
		return errors.New("serving: LifecycleConfig.Deployments is required")
	case c.Store == nil:
		return errors.New("serving: LifecycleConfig.Store is required")
	case c.Train == nil:
		return errors.New("serving: LifecycleConfig.Train is required")
	case c.Compare == nil:
		return errors.New("serving: LifecycleConfig.Compare is required")
	case c.Stage == nil:
		return errors.New("serving: LifecycleConfig.Stage is required")
	}
	return nil
}

// Lifecycle is the retraining loop: a trigger (drift, a schedule tick, a
// live-quality drop or a manual call) starts a train job with the served
// version's spec on the newest version of its dataset; when the job ends
// the candidate and the served version are scored on the candidate's
// holdout rows, and the candidate is promoted (registry stage production,
// and the deployment switched to it) if it wins by the policy's margin, or
// else kept in staging. Every step is a retrain event with its reason.
type Lifecycle struct {
	cfg LifecycleConfig

	mu      sync.Mutex
	state   map[string]*joule.LifecycleStatus // by deployment ID
	next    map[string]time.Time              // next schedule tick, by deployment ID
	cancels map[int]context.CancelFunc        // runs under way
	seq     int
	stopped bool

	stop func()
	wg   sync.WaitGroup // the Start loop
	runs sync.WaitGroup // retrains under way
}

// NewLifecycle returns a Lifecycle; Start runs its schedule loop.
func NewLifecycle(cfg LifecycleConfig) (*Lifecycle, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Lifecycle{cfg: cfg, state: map[string]*joule.LifecycleStatus{}, next: map[string]time.Time{}, cancels: map[int]context.CancelFunc{}}, nil
}

// Start resumes the retrains that were waiting for a train job when the
// server stopped, then checks schedules and live quality every Interval
// until ctx ends or Stop.
func (l *Lifecycle) Start(ctx context.Context) error {
	l.resume(ctx)
	ctx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.stop = cancel
	l.mu.Unlock()
	l.wg.Go(func() {
		t := time.NewTicker(l.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l.Tick(ctx)
			}
		}
	})
	return nil
}

// Stop ends the loop and any retrain under way: one waiting for its train
// job (which goes on) is recorded as such and resumes at the next Start;
// one in another step is recorded as failed. Safe before Start and more
// than once.
func (l *Lifecycle) Stop() {
	l.mu.Lock()
	l.stopped = true
	if l.stop != nil {
		l.stop()
	}
	for _, c := range l.cancels {
		c()
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.runs.Wait()
}

// Wait blocks until no retrain is under way; tests use it.
func (l *Lifecycle) Wait() { l.runs.Wait() }

// Status returns a deployment's loop state (idle with nothing else before
// its first retrain); nil on a nil Lifecycle.
func (l *Lifecycle) Status(deploymentID string) *joule.LifecycleStatus {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.statusLocked(deploymentID)
	out := *st
	if n, ok := l.next[deploymentID]; ok {
		out.NextScheduled = &n
	}
	return &out
}

func (l *Lifecycle) statusLocked(id string) *joule.LifecycleStatus {
	st := l.state[id]
	if st == nil {
		st = &joule.LifecycleStatus{State: joule.LifecycleIdle, Since: l.cfg.Now().UTC()}
		l.state[id] = st
	}
	return st
}

// Retrain is a manual trigger: it starts a retrain of the deployment now,
// whatever its policy's cooldown (ECONFLICT while one is under way), and
// returns the loop's state.
func (l *Lifecycle) Retrain(ctx context.Context, workspaceID, ref, reason, by string) (joule.LifecycleStatus, error) {
	d, err := l.cfg.Deployments.Lookup(ctx, workspaceID, ref)
	if err != nil {
		return joule.LifecycleStatus{}, err
	}
	reason = cmp.Or(strings.TrimSpace(reason), "asked for by "+cmp.Or(by, "a user"))
	if err := l.trigger(ctx, d, joule.RetrainTrigger{Kind: joule.TriggerManual, Reason: reason, By: by}); err != nil {
		return joule.LifecycleStatus{}, err
	}
	return *l.Status(d.ID), nil
}

// OnDrift is the drift monitor's hook: when the deployment's policy has
// on_drift, it starts a retrain unless one is under way or the cooldown
// holds. reason says what drifted.
func (l *Lifecycle) OnDrift(ctx context.Context, d joule.Deployment, reason string) {
	d, err := l.cfg.Deployments.Lookup(ctx, d.WorkspaceID, d.ID)
	if err != nil || d.Retrain == nil || !d.Retrain.OnDrift {
		return
	}
	_ = l.trigger(ctx, d, joule.RetrainTrigger{Kind: joule.TriggerDrift, Reason: reason, By: "lifecycle"})
}

// Tick checks every deployment's schedule and live quality at the
// clock's time, and starts the retrains due.
func (l *Lifecycle) Tick(ctx context.Context) {
	now := l.cfg.Now()
	live := map[string]bool{}
	for _, d := range l.cfg.Deployments.Deployments() {
		live[d.ID] = true
		if d.Retrain == nil {
			l.mu.Lock()
			delete(l.next, d.ID)
			l.mu.Unlock()
			continue
		}
		if l.scheduleDue(d, now) {
			_ = l.trigger(ctx, d, joule.RetrainTrigger{Kind: joule.TriggerSchedule, Reason: fmt.Sprintf("the schedule: every %s", time.Duration(d.Retrain.Every)), By: "lifecycle"})
			continue
		}
		if why := l.qualityDrop(d); why != "" {
			_ = l.trigger(ctx, d, joule.RetrainTrigger{Kind: joule.TriggerLive, Reason: why, By: "lifecycle"})
		}
	}
	// Forget deployments deleted since the last tick.
	l.mu.Lock()
	for id, st := range l.state {
		if !live[id] && st.State == joule.LifecycleIdle {
			delete(l.state, id)
			delete(l.next, id)
		}
	}
	l.mu.Unlock()
}

// scheduleDue reports whether d's schedule is due at now, and moves the
// next tick on when it is. The first call for a deployment, or one whose
// interval shrank, starts the interval.
func (l *Lifecycle) scheduleDue(d joule.Deployment, now time.Time) bool {
	every := time.Duration(d.Retrain.Every)
	l.mu.Lock()
	defer l.mu.Unlock()
	if every <= 0 {
		delete(l.next, d.ID)
		return false
	}
	n, ok := l.next[d.ID]
	if !ok || n.Sub(now) > every {
		l.next[d.ID] = now.Add(every)
		return false
	}
	if now.Before(n) {
		return false
	}
	l.next[d.ID] = now.Add(every) // the next tick, whether or not this one starts a retrain
	return true
}

// qualityDrop says why d's live quality calls for a retrain ("" if it
// does not, or if there is no live quality yet).
func (l *Lifecycle) qualityDrop(d joule.Deployment) string {
	p := d.Retrain
	if l.cfg.Live == nil || (p.MinAccuracy == 0 && p.MaxRMSE == 0) {
		return ""
	}
	live := l.cfg.Live(d)
	if a, ok := live["accuracy"]; ok && p.MinAccuracy > 0 && a < p.MinAccuracy {
		return fmt.Sprintf("live accuracy %.4f is below min_accuracy %.4f", a, p.MinAccuracy)
	}
	if r, ok := live["rmse"]; ok && p.MaxRMSE > 0 && r > p.MaxRMSE {
		return fmt.Sprintf("live RMSE %.4f is above max_rmse %.4f", r, p.MaxRMSE)
	}
	return ""
}

// trigger starts a retrain of d unless one is under way (ECONFLICT) or,
// for an automatic trigger, the cooldown holds (the trigger is counted as
// ignored).
func (l *Lifecycle) trigger(ctx context.Context, d joule.Deployment, tr joule.RetrainTrigger) error {
	now := l.cfg.Now().UTC()
	tr.Time = now
	p := policyOf(d)
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return joule.Errorf(joule.EUNAVAILABLE, "the server is stopping")
	}
	st := l.statusLocked(d.ID)
	manual := tr.Kind == joule.TriggerManual
	switch {
	case st.State != joule.LifecycleIdle:
		state, job := st.State, st.LastJob
		if !manual {
			st.Ignored++
		}
		l.mu.Unlock()
		l.cfg.Logger.DebugContext(ctx, "retrain trigger ignored: one is under way", "deployment", d.Name, "trigger", tr.Kind)
		return joule.Errorf(joule.ECONFLICT, "deployment %q is already retraining (state %s, job %s)", d.Name, state, cmp.Or(job, "not started yet"))
	case !manual && st.CooldownUntil != nil && now.Before(*st.CooldownUntil):
		st.Ignored++
		until := *st.CooldownUntil
		l.mu.Unlock()
		l.cfg.Logger.DebugContext(ctx, "retrain trigger ignored: cooldown", "deployment", d.Name, "trigger", tr.Kind)
		return joule.Errorf(joule.ECONFLICT, "deployment %q is in its retrain cooldown until %s", d.Name, until.Format(time.RFC3339))
	}
	until := now.Add(time.Duration(p.Cooldown))
	*st = joule.LifecycleStatus{State: joule.LifecycleTraining, Since: now, LastTrigger: &tr, CooldownUntil: &until,
		Ignored: st.Ignored, LastComparison: st.LastComparison, LastOutcome: st.LastOutcome, LastReason: st.LastReason}
	if p.Every > 0 {
		l.next[d.ID] = now.Add(time.Duration(p.Every))
	}
	l.seq++
	id := l.seq
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancels[id] = cancel
	l.runs.Add(1) // under mu, so that Stop's Wait sees it
	l.mu.Unlock()

	l.event(ctx, d, d.ModelVersion, 0, fmt.Sprintf("triggered (%s): %s; the deployment serves version %d", tr.Kind, tr.Reason, d.ModelVersion))
	go func() {
		defer l.done(id)
		l.run(rctx, d, p, tr)
	}()
	return nil
}

// done ends run id.
func (l *Lifecycle) done(id int) {
	l.mu.Lock()
	if c := l.cancels[id]; c != nil {
		c()
	}
	delete(l.cancels, id)
	l.mu.Unlock()
	l.runs.Done()
}

// policyOf returns d's policy with its defaults (a manual retrain of a
// deployment without a policy uses them all).
func policyOf(d joule.Deployment) joule.RetrainPolicy {
	var p joule.RetrainPolicy
	if d.Retrain != nil {
		p = *d.Retrain
	}
	_ = p.Normalize("") // fills defaults; a stored policy was checked
	return p
}

// run is one retrain, from the train job to the outcome.
func (l *Lifecycle) run(ctx context.Context, d joule.Deployment, p joule.RetrainPolicy, tr joule.RetrainTrigger) {
	by := cmp.Or(tr.By, "lifecycle")
	prod, err := l.cfg.Store.GetModelVersion(ctx, d.ModelID, d.ModelVersion)
	if err != nil {
		l.finish(ctx, d, nil, 0, fmt.Sprintf("the served version %d cannot be read: %s", d.ModelVersion, joule.ErrorMessage(err)))
		return
	}
	job, err := l.cfg.Train(ctx, d.WorkspaceID, prod, by)
	if err != nil {
		l.finish(ctx, d, nil, 0, "no train job started: "+joule.ErrorMessage(err))
		return
	}
	l.mu.Lock()
	l.statusLocked(d.ID).LastJob = job.ID
	l.mu.Unlock()
	lb := job.Spec.Labels
	l.event(ctx, d, prod.Version, 0, fmt.Sprintf("train job %s started: %s on dataset %s version %s (the newest), with the training spec of version %d",
		job.ID, cmp.Or(lb["algorithm"], prod.Algorithm), cmp.Or(lb["dataset"], prod.DatasetName), cmp.Or(lb["dataset_version"], "?"), prod.Version))
	l.afterJob(ctx, d, p, tr, prod, job.ID)
}

// afterJob is a retrain from its train job on: wait for the job, find its
// version, evaluate, promote or keep.
func (l *Lifecycle) afterJob(ctx context.Context, d joule.Deployment, p joule.RetrainPolicy, tr joule.RetrainTrigger, prod joule.ModelVersion, jobID string) {
	by := cmp.Or(tr.By, "lifecycle")
	job, err := l.waitJob(ctx, d.WorkspaceID, jobID)
	if errors.Is(err, errStopping) {
		l.mu.Lock()
		st := l.statusLocked(d.ID)
		st.State, st.Since = joule.LifecycleIdle, l.cfg.Now().UTC()
		l.mu.Unlock()
		l.event(ctx, d, prod.Version, 0, fmt.Sprintf("%s%s ran; the retrain goes on when the server starts again", stoppedPrefix, jobID))
		return
	}
	if err != nil {
		l.finish(ctx, d, nil, 0, fmt.Sprintf("stopped waiting for train job %s: %s", jobID, joule.ErrorMessage(err)))
		return
	}
	if job.State != joule.JobSucceeded {
		l.finish(ctx, d, nil, 0, fmt.Sprintf("train job %s %s: %s", job.ID, job.State, cmp.Or(job.Reason, "no reason given")))
		return
	}
	cand, err := l.versionOf(ctx, prod.ModelID, job.ID)
	if err != nil {
		l.finish(ctx, d, nil, 0, fmt.Sprintf("train job %s succeeded but its version cannot be found: %s", job.ID, joule.ErrorMessage(err)))
		return
	}
	l.mu.Lock()
	st := l.statusLocked(d.ID)
	st.State, st.Since, st.Candidate = joule.LifecycleEvaluating, l.cfg.Now().UTC(), cand.Version
	l.mu.Unlock()
	// The served version may have changed while the job ran (a promote or
	// a rollback): the candidate must beat the one served now.
	if cur, err := l.cfg.Deployments.Lookup(ctx, d.WorkspaceID, d.ID); err == nil && cur.ModelVersion != prod.Version {
		served, err := l.cfg.Store.GetModelVersion(ctx, cur.ModelID, cur.ModelVersion)
		if err != nil {
			l.finish(ctx, d, nil, cand.Version, fmt.Sprintf("the deployment now serves version %d, which cannot be read: %s", cur.ModelVersion, joule.ErrorMessage(err)))
			return
		}
		l.event(ctx, d, prod.Version, served.Version, fmt.Sprintf("the deployment switched from version %d to %d while job %s ran: the candidate is judged against version %d", prod.Version, served.Version, job.ID, served.Version))
		d, prod = cur, served
	}
	metric, _ := p.MetricFor(prod.Task)
	l.event(ctx, d, prod.Version, cand.Version, fmt.Sprintf("train job %s made version %d (dataset %s version %d, %d training rows); evaluating it against version %d on %s",
		job.ID, cand.Version, cand.DatasetName, cand.DatasetVersion, cand.TrainRows, prod.Version, metric))

	c, err := l.cfg.Compare(ctx, d.WorkspaceID, prod, cand, metric, p.Margin)
	if err != nil {
		l.stage(ctx, d, cand, joule.StageStaging)
		l.finish(ctx, d, nil, cand.Version, fmt.Sprintf("the evaluation of version %d failed: %s; it stays in staging", cand.Version, joule.ErrorMessage(err)))
		return
	}
	dir := "higher is better"
	if !c.HigherIsBetter {
		dir = "lower is better"
	}
	scores := fmt.Sprintf("%s %.4f for version %d vs %.4f for version %d on %d holdout rows of dataset %s version %d (%s; gain %+.4f, margin %.4f)",
		c.Metric, c.CandidateScore, c.Candidate, c.ProductionScore, c.Production, c.Rows, c.Dataset, c.DatasetVersion, dir, c.Gain, c.Margin)
	l.mu.Lock()
	l.statusLocked(d.ID).LastComparison = &c
	l.mu.Unlock()
	l.event(ctx, d, prod.Version, cand.Version, "evaluated: "+scores)

	if !c.Wins {
		if err := l.stage(ctx, d, cand, joule.StageStaging); err != nil {
			l.finish(ctx, d, &c, cand.Version, fmt.Sprintf("version %d lost (%s) but could not be moved to staging: %s", cand.Version, scores, joule.ErrorMessage(err)))
			return
		}
		l.finish(ctx, d, &c, cand.Version, "")
		l.outcome(ctx, d, joule.RetrainKept, prod.Version, cand.Version,
			fmt.Sprintf("kept version %d in staging: it does not beat version %d by the margin: %s; the deployment still serves version %d", cand.Version, prod.Version, scores, prod.Version))
		return
	}
	// The deployment switches first: if it cannot, the registry is left as
	// it was and the candidate waits in staging.
	reason := fmt.Sprintf("retrain (%s, by %s): version %d beats version %d: %s", tr.Kind, by, cand.Version, prod.Version, scores)
	if _, err := l.cfg.Promote.Promote(ctx, d.WorkspaceID, d.ID, cand.Version, reason); err != nil {
		l.stage(ctx, d, cand, joule.StageStaging)
		l.finish(ctx, d, &c, cand.Version, fmt.Sprintf("version %d won (%s) but the deployment could not switch to it: %s; it stays in staging", cand.Version, scores, joule.ErrorMessage(err)))
		return
	}
	if err := l.stage(ctx, d, cand, joule.StageProduction); err != nil {
		l.finish(ctx, d, &c, cand.Version, fmt.Sprintf("the deployment now serves version %d, which won (%s), but the registry could not move it to production: %s", cand.Version, scores, joule.ErrorMessage(err)))
		return
	}
	l.finish(ctx, d, &c, cand.Version, "")
	l.outcome(ctx, d, joule.RetrainPromoted, prod.Version, cand.Version,
		fmt.Sprintf("promoted version %d: registry stage production, and the deployment now serves it instead of version %d (kept for rollback): %s", cand.Version, prod.Version, scores))
}

// finish returns the loop to idle; a non-empty failure records the
// retrain as failed with that reason.
func (l *Lifecycle) finish(ctx context.Context, d joule.Deployment, c *joule.ModelComparison, cand int, failure string) {
	l.mu.Lock()
	st := l.statusLocked(d.ID)
	st.State, st.Since, st.Candidate = joule.LifecycleIdle, l.cfg.Now().UTC(), cand
	if c != nil {
		st.LastComparison = c
	}
	if failure != "" {
		st.LastOutcome, st.LastReason = joule.RetrainFailed, failure
	}
	l.mu.Unlock()
	if failure != "" {
		l.cfg.Logger.WarnContext(ctx, "retrain failed", "deployment", d.Name, "reason", failure)
		l.event(ctx, d, d.ModelVersion, cand, "failed: "+failure)
	}
}

// outcome records a promoted or kept retrain.
func (l *Lifecycle) outcome(ctx context.Context, d joule.Deployment, outcome string, from, to int, reason string) {
	l.mu.Lock()
	st := l.statusLocked(d.ID)
	st.LastOutcome, st.LastReason = outcome, reason
	l.mu.Unlock()
	l.event(ctx, d, from, to, reason)
}

func (l *Lifecycle) stage(ctx context.Context, d joule.Deployment, v joule.ModelVersion, stage string) error {
	if err := l.cfg.Stage(ctx, d.WorkspaceID, v.ModelID, v.Version, stage); err != nil {
		l.cfg.Logger.WarnContext(ctx, "retrain: set stage", "deployment", d.Name, "version", v.Version, "stage", stage, "err", err)
		return err
	}
	return nil
}

func (l *Lifecycle) event(ctx context.Context, d joule.Deployment, from, to int, reason string) {
	l.cfg.Deployments.event(ctx, d, joule.DeploymentRetrain, from, to, reason)
}

// errStopping ends a wait when the loop stops.
var errStopping = joule.Errorf(joule.EUNAVAILABLE, "the server is stopping")

// Event texts that resume reads back.
const (
	triggeredPrefix = "triggered ("
	startedPrefix   = "train job "
	startedInfix    = " started: "
	stoppedPrefix   = "the server stopped while train job "
	servesInfix     = "; the deployment serves version "
)

// resume picks up the retrains that were waiting for their train job when
// the server stopped (or crashed): a deployment whose latest retrain
// events name a started job and no outcome waits for that job again, then
// evaluates and promotes or keeps as usual.
func (l *Lifecycle) resume(ctx context.Context) {
	for _, d := range l.cfg.Deployments.Deployments() {
		var tr *joule.RetrainTrigger
		jobID := ""
		cursor := ""
		for {
			es, next, err := l.cfg.Store.ListDeploymentEvents(ctx, d.ID, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			if err != nil {
				l.cfg.Logger.WarnContext(ctx, "retrain: read events to resume", "deployment", d.Name, "err", err)
				break
			}
			for _, e := range es {
				if e.Kind != joule.DeploymentRetrain {
					continue
				}
				r := e.Reason
				switch {
				case strings.HasPrefix(r, triggeredPrefix):
					kind, rest, _ := strings.Cut(r[len(triggeredPrefix):], "): ")
					reason, _, _ := strings.Cut(rest, servesInfix)
					tr, jobID = &joule.RetrainTrigger{Kind: kind, Reason: reason, By: "lifecycle", Time: e.Time}, ""
				case strings.HasPrefix(r, startedPrefix) && strings.Contains(r, startedInfix):
					jobID, _, _ = strings.Cut(r[len(startedPrefix):], startedInfix)
				case strings.HasPrefix(r, "failed: "), strings.HasPrefix(r, "kept version "), strings.HasPrefix(r, "promoted version "):
					tr, jobID = nil, ""
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if tr == nil || jobID == "" {
			continue
		}
		prod, err := l.cfg.Store.GetModelVersion(ctx, d.ModelID, d.ModelVersion)
		if err != nil {
			continue
		}
		p := policyOf(d)
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return
		}
		st := l.statusLocked(d.ID)
		until := tr.Time.Add(time.Duration(p.Cooldown))
		*st = joule.LifecycleStatus{State: joule.LifecycleTraining, Since: l.cfg.Now().UTC(), LastTrigger: tr, LastJob: jobID, CooldownUntil: &until}
		l.seq++
		id := l.seq
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		l.cancels[id] = cancel
		l.runs.Add(1)
		l.mu.Unlock()
		l.event(ctx, d, prod.Version, 0, fmt.Sprintf("resumed after a restart: waiting for train job %s (triggered (%s): %s)", jobID, tr.Kind, tr.Reason))
		go func() {
			defer l.done(id)
			l.afterJob(rctx, d, p, *tr, prod, jobID)
		}()
	}
}

// waitJob reads the job's state every Poll until it ends.
func (l *Lifecycle) waitJob(ctx context.Context, workspaceID, id string) (joule.Job, error) {
	t := time.NewTicker(l.cfg.Poll)
	defer t.Stop()
	for {
		j, err := l.cfg.Store.GetJob(ctx, workspaceID, id)
		if err == nil && j.State.Terminal() {
			return j, nil
		}
		if joule.ErrorCode(err) == joule.ENOTFOUND {
			return joule.Job{ID: id}, err
		}
		select {
		case <-ctx.Done():
			return joule.Job{ID: id}, errStopping
		case <-t.C:
		}
	}
}

// versionOf finds the version of a model that job made.
func (l *Lifecycle) versionOf(ctx context.Context, modelID, jobID string) (joule.ModelVersion, error) {
	cursor := ""
	for {
		vs, next, err := l.cfg.Store.ListModelVersions(ctx, modelID, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
		if err != nil {
			return joule.ModelVersion{}, err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].JobID == jobID {
				return vs[i], nil
			}
		}
		if next == "" {
			return joule.ModelVersion{}, joule.Errorf(joule.ENOTFOUND, "no version of the model names job %s", jobID)
		}
		cursor = next
	}
}

// History returns the deployment's policy, loop state and retrain events
// (with the promote events they caused), oldest first.
func (l *Lifecycle) History(ctx context.Context, workspaceID, ref string) (joule.DeploymentLifecycle, error) {
	d, err := l.cfg.Store.GetDeployment(ctx, workspaceID, ref)
	if err != nil {
		return joule.DeploymentLifecycle{}, err
	}
	out := joule.DeploymentLifecycle{Deployment: d.Name, Model: d.Model, ModelVersion: d.ModelVersion, Policy: d.Retrain, Status: *l.Status(d.ID), History: []joule.DeploymentEvent{}}
	if out.Policy != nil {
		p := *out.Policy
		_ = p.Normalize("")
		out.Policy = &p
	}
	cursor := ""
	for {
		es, next, err := l.cfg.Store.ListDeploymentEvents(ctx, d.ID, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
		if err != nil {
			return out, err
		}
		for _, e := range es {
			if e.Kind == joule.DeploymentRetrain || e.Kind == joule.DeploymentPromote {
				out.History = append(out.History, e)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// SetRetrain sets (nil: removes) a deployment's retrain policy, checking
// its metric against the served model's task.
func (m *Manager) SetRetrain(ctx context.Context, workspaceID, ref string, p *joule.RetrainPolicy) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	d.mu.Lock()
	spec, task := d.spec, d.primary().mv.Task
	d.mu.Unlock()
	if p != nil {
		c := *p
		if err := c.Normalize(task); err != nil {
			return spec, err
		}
		p = &c
	}
	spec, err = m.update(ctx, d, func(s *joule.Deployment) error {
		s.Retrain = p
		return nil
	})
	if err != nil {
		return public(spec), err
	}
	m.event(ctx, spec, joule.DeploymentUpdated, 0, 0, "retrain policy "+p.Describe())
	return m.withStatus(spec), nil
}

// SetPolicy sets or (nil) removes a deployment's retrain policy; the
// schedule, if any, restarts from now.
func (l *Lifecycle) SetPolicy(ctx context.Context, workspaceID, ref string, p *joule.RetrainPolicy) (joule.Deployment, error) {
	d, err := l.cfg.Deployments.SetRetrain(ctx, workspaceID, ref, p)
	if err != nil {
		return d, err
	}
	l.mu.Lock()
	delete(l.next, d.ID)
	l.mu.Unlock()
	return d, nil
}
