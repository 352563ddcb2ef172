package serving

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
)

// Config configures a Manager.
type Config struct {
	// Store keeps deployments and their events and reads model versions
	// and datasets.
	Store joule.Store
	// DataDir is where model files live.
	DataDir string
	// Engine configures the data engine that replays fitted recipes.
	Engine dataset.EngineConfig
	// Now is the clock (default time.Now); tests pass a fake one and call
	// Tick themselves.
	Now func() time.Time
	// Load loads a model version (default: read its model file from
	// DataDir, and its recipe's input columns from the store).
	Load func(ctx context.Context, mv joule.ModelVersion) (*Predictor, error)
	// Runtime starts the model server processes of deployments of kind
	// command (the executor, as for jobs); nil refuses them.
	Runtime joule.Runtime
	// QueuePerWorker bounds each replica's queue: workers × this many
	// requests may wait (default DefaultQueuePerWorker). A deployment
	// admits at most max replicas × workers × (1 + this) requests at
	// once; beyond that a request gets 503 at once. The bound is for
	// memory (each admitted call holds its body); it is set well above
	// the connection counts of ordinary clients, because requests are
	// read at once even while the model work fills the CPUs
	// (ComputeSlots) and a short stall lets every open connection's
	// request in.
	QueuePerWorker int
	// ComputeSlots bounds the in-process predict calls that compute at
	// once, over all deployments (default: GOMAXPROCS). Calls past it wait
	// their turn off the CPU, so that, with the runtime given a P more
	// than this (joule up does), reading and refusing requests never
	// waits behind model work (docs/decisions.md, "Predict calls compute
	// on at most one thread per CPU").
	ComputeSlots int
	// LifecycleStatus returns the retraining loop's state for a
	// deployment, shown in its status (nil: none).
	LifecycleStatus func(deploymentID string) *joule.LifecycleStatus
	Logger          *slog.Logger
	Monitor         MonitorConfig // drift, feedback and alerts (monitor.go)
}

// Manager runs the deployments of this server.
type Manager struct {
	cfg    Config
	logger *slog.Logger

	mu       sync.Mutex
	updateMu sync.Mutex             // serialises changes to deployments' settings
	deps     map[string]*deployment // by deployment ID
	lastID   time.Time              // for event IDs in order

	stop func()
	wg   sync.WaitGroup
	mon  *monitor // monitor: drift windows, references, feedback (monitor.go)
	// compute holds one token per in-process predict call computing now
	// (Config.ComputeSlots), shared by every replica.
	compute chan struct{}
}

// DefaultQueuePerWorker is Config.QueuePerWorker's default: with it a
// deployment admits max replicas × workers × 17 calls at once.
const DefaultQueuePerWorker = 16

// NewManager returns a Manager; Start loads the stored deployments.
func NewManager(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QueuePerWorker <= 0 {
		cfg.QueuePerWorker = DefaultQueuePerWorker
	}
	if cfg.ComputeSlots <= 0 {
		cfg.ComputeSlots = runtime.GOMAXPROCS(0)
	}
	m := &Manager{cfg: cfg, logger: cfg.Logger, deps: map[string]*deployment{}, compute: make(chan struct{}, cfg.ComputeSlots)}
	m.mon = newMonitor(m) // monitor
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.cfg.Load == nil {
		m.cfg.Load = m.loadFile
	}
	return m
}

// loadFile reads a version's model file and, when it carries a fitted
// recipe, the columns of the dataset version the recipe was fitted on.
func (m *Manager) loadFile(ctx context.Context, mv joule.ModelVersion) (*Predictor, error) {
	data, err := os.ReadFile(filepath.Join(m.cfg.DataDir, mv.Path))
	if err != nil {
		return nil, fmt.Errorf("model file of version %d: %w", mv.Version, err)
	}
	mdl, h, err := ml.Load(data)
	if err != nil {
		return nil, fmt.Errorf("model file of version %d: %w", mv.Version, err)
	}
	var rec *dataset.Recipe
	var inputs []joule.DatasetColumn
	if len(h.Recipe) > 0 {
		rec = new(dataset.Recipe)
		if err := json.Unmarshal(h.Recipe, rec); err != nil {
			return nil, fmt.Errorf("model version %d: its recipe does not read: %w", mv.Version, err)
		}
		dv, err := m.cfg.Store.GetDatasetVersion(ctx, mv.DatasetID, mv.DatasetVersion)
		if err != nil {
			return nil, fmt.Errorf("model version %d: the dataset version its recipe was fitted on: %w", mv.Version, err)
		}
		inputs = dv.Columns
	}
	return NewPredictor(mv, mdl, h.Classes, rec, inputs, m.cfg.Engine)
}

// Start loads the stored deployments and runs the autoscaler every second
// until ctx ends or Stop.
func (m *Manager) Start(ctx context.Context) error {
	cursor := ""
	for {
		ds, next, err := m.cfg.Store.ListDeployments(ctx, "", joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("start serving: %w", err)
		}
		for _, d := range ds {
			if err := m.add(ctx, d); err != nil {
				m.logger.Warn("deployment not served", "deployment", d.Name, "err", err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	ctx, cancel := context.WithCancel(ctx)
	m.stop = cancel
	m.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.Tick(ctx)
			}
		}
	})
	return nil
}

// Stop ends the autoscaler and every replica; safe before Start and more
// than once.
func (m *Manager) Stop() {
	if m.stop != nil {
		m.stop()
	}
	m.mon.close() // monitor: ends evaluations and alert deliveries
	m.wg.Wait()
	m.mu.Lock()
	deps := slices.Collect(mapsValues(m.deps))
	m.mu.Unlock()
	var procs []*replica
	for _, d := range deps {
		d.mu.Lock()
		procs = append(procs, d.stopAll()...)
		for _, r := range d.retired {
			if r.proc != nil {
				procs = append(procs, r)
			}
		}
		d.mu.Unlock()
	}
	// Model server processes are not left behind: wait for each to end
	// (SIGTERM, SIGKILL after the grace).
	for _, r := range procs {
		r.stop()
		select {
		case <-r.proc.exited:
		case <-time.After(stopGrace + 2*time.Second):
			m.logger.Error("model server did not stop", "replica", r.id)
		}
	}
}

// stopAll stops every replica of every track and returns those with a
// model server process; the caller holds mu.
func (d *deployment) stopAll() []*replica {
	var procs []*replica
	for _, t := range d.tracks {
		for _, r := range t.replicas {
			r.stop()
			if r.proc != nil {
				procs = append(procs, r)
			}
		}
		t.replicas = nil
	}
	return procs
}

func mapsValues(m map[string]*deployment) func(func(*deployment) bool) {
	return func(yield func(*deployment) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// add makes d live.
func (m *Manager) add(ctx context.Context, d joule.Deployment) error {
	mvs := map[int]joule.ModelVersion{}
	for _, r := range roles(d) {
		if d.Kind == joule.DeploymentCommand && d.ModelID == "" {
			break // a server the user brings, with no registered model
		}
		mv, err := m.cfg.Store.GetModelVersion(ctx, d.ModelID, r.version)
		if err != nil {
			return fmt.Errorf("%s version %d: %w", r.role, r.version, err)
		}
		mvs[r.version] = mv
	}
	rt := &deployment{spec: d, now: m.cfg.Now}
	rt.bucket = float64(max(1, int(math.Ceil(d.RateLimit))))
	rt.bucketAt = m.cfg.Now()
	rt.lastRequest = m.cfg.Now()
	rt.rebuild(mvs)
	m.mu.Lock()
	m.deps[d.ID] = rt
	m.mu.Unlock()
	return nil
}

// Create validates d, resolves its model version (the latest when
// ModelVersion is 0), stores it and makes it live; the autoscaler brings
// it to MinReplicas.
func (m *Manager) Create(ctx context.Context, workspaceID string, d joule.Deployment, by string) (joule.Deployment, error) {
	if err := d.Normalize(); err != nil {
		return d, err
	}
	if d.Kind == joule.DeploymentCommand && d.Model == "" && d.ModelID == "" {
		return m.createCommand(ctx, workspaceID, d, by)
	}
	if d.Model == "" && d.ModelID == "" {
		return d, joule.Errorf(joule.EINVALID, "model: required")
	}
	mdl, err := m.cfg.Store.GetModel(ctx, workspaceID, cmp.Or(d.ModelID, d.Model))
	if err != nil {
		return d, joule.Errorf(joule.EINVALID, "model: %s", joule.ErrorMessage(err))
	}
	mv, err := m.cfg.Store.GetModelVersion(ctx, mdl.ID, d.ModelVersion)
	if err != nil {
		return d, joule.Errorf(joule.EINVALID, "model_version: %s", joule.ErrorMessage(err))
	}
	if mv.Task != "classification" && mv.Task != "regression" && d.Kind != joule.DeploymentCommand {
		return d, joule.Errorf(joule.EINVALID, "model: a %s model does not predict rows", mv.Task)
	}
	now := m.cfg.Now().UTC()
	d.ID, d.WorkspaceID, d.ModelID, d.Model, d.ModelVersion = joule.NewID("dep", now), workspaceID, mdl.ID, mdl.Name, mv.Version
	d.PreviousVersion = 0
	if err := checkTraffic(d); err != nil {
		return d, err
	}
	if d.Canary != nil {
		if _, err := m.versionOf(ctx, d, "canary.model_version", d.Canary.ModelVersion); err != nil {
			return d, err
		}
	}
	if d.Shadow != nil {
		if _, err := m.versionOf(ctx, d, "shadow.model_version", d.Shadow.ModelVersion); err != nil {
			return d, err
		}
	}
	d.CreatedAt, d.UpdatedAt, d.CreatedBy, d.Status = now, now, by, nil
	if err := m.cfg.Store.CreateDeployment(ctx, d); err != nil {
		return d, err
	}
	if err := m.add(ctx, d); err != nil {
		return d, err
	}
	m.event(ctx, d, joule.DeploymentCreated, 0, 0, fmt.Sprintf("serves model %s version %d; replicas %d to %d, target concurrency %d", d.Model, d.ModelVersion, d.MinReplicas, d.MaxReplicas, d.TargetConcurrency))
	return m.withStatus(d), nil
}

// lookup returns the live deployment of the workspace by ID or name.
func (m *Manager) lookup(workspaceID, ref string) (*deployment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.deps {
		if d.spec.WorkspaceID == workspaceID && (d.spec.ID == ref || d.spec.Name == ref) {
			return d, nil
		}
	}
	return nil, joule.Errorf(joule.ENOTFOUND, "deployment %q not found", ref)
}

// Lookup returns a deployment's settings (no status), for the API to
// decide whether predict needs a token.
func (m *Manager) Lookup(_ context.Context, workspaceID, ref string) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.spec, nil
}

// Get returns a deployment with its live status.
func (m *Manager) Get(ctx context.Context, workspaceID, ref string) (joule.Deployment, error) {
	d, err := m.cfg.Store.GetDeployment(ctx, workspaceID, ref)
	if err != nil {
		return d, err
	}
	return m.withStatus(d), nil
}

// List lists a workspace's deployments with their live status.
func (m *Manager) List(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Deployment, string, error) {
	ds, next, err := m.cfg.Store.ListDeployments(ctx, workspaceID, opt)
	for i := range ds {
		ds[i] = m.withStatus(ds[i])
	}
	return ds, next, err
}

func (m *Manager) withStatus(d joule.Deployment) joule.Deployment {
	d = public(d)
	m.mu.Lock()
	rt := m.deps[d.ID]
	m.mu.Unlock()
	if rt != nil {
		d.Status = rt.status()
		if m.cfg.LifecycleStatus != nil {
			d.Status.Lifecycle = m.cfg.LifecycleStatus(d.ID)
		}
	}
	m.monitorStatus(&d) // monitor: status.drift and status.live
	return d
}

// Scale changes a deployment's min and max replicas (nil keeps one); the
// autoscaler acts on it at its next tick.
func (m *Manager) Scale(ctx context.Context, workspaceID, ref string, minR, maxR *int) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	spec, err := m.update(ctx, d, func(s *joule.Deployment) error {
		if minR != nil {
			s.MinReplicas = *minR
		}
		if maxR != nil {
			s.MaxReplicas = *maxR
		}
		return s.Normalize()
	})
	if err != nil {
		return public(spec), err
	}
	m.event(ctx, spec, joule.DeploymentUpdated, 0, 0, fmt.Sprintf("replicas now %d to %d", spec.MinReplicas, spec.MaxReplicas))
	return m.withStatus(spec), nil
}

// Delete stops a deployment's replicas and removes it.
func (m *Manager) Delete(ctx context.Context, workspaceID, ref string) error {
	d, err := m.cfg.Store.GetDeployment(ctx, workspaceID, ref)
	if err != nil {
		return err
	}
	if err := m.cfg.Store.DeleteDeployment(ctx, workspaceID, d.ID); err != nil {
		return err
	}
	m.mu.Lock()
	rt := m.deps[d.ID]
	delete(m.deps, d.ID)
	m.mu.Unlock()
	m.mon.forget(d.ID) // monitor
	if rt != nil {
		rt.mu.Lock()
		rt.stopAll()
		rt.mu.Unlock()
	}
	return nil
}

// Events lists a deployment's events, oldest first.
func (m *Manager) Events(ctx context.Context, workspaceID, ref string, opt joule.ListOptions) ([]joule.DeploymentEvent, string, error) {
	d, err := m.cfg.Store.GetDeployment(ctx, workspaceID, ref)
	if err != nil {
		return nil, "", err
	}
	return m.cfg.Store.ListDeploymentEvents(ctx, d.ID, opt)
}

// event records a deployment event; a failed write is logged.
func (m *Manager) event(ctx context.Context, d joule.Deployment, kind string, from, to int, reason string) joule.DeploymentEvent {
	m.mu.Lock()
	now := m.cfg.Now().UTC()
	at := now.Truncate(time.Millisecond) // IDs hold milliseconds
	if !at.After(m.lastID) {
		at = m.lastID.Add(time.Millisecond) // IDs order by millisecond
	}
	m.lastID = at
	m.mu.Unlock()
	e := joule.DeploymentEvent{ID: joule.NewID("dev", at), DeploymentID: d.ID, WorkspaceID: d.WorkspaceID, Time: now, Kind: kind, From: from, To: to, Reason: reason}
	m.logger.LogAttrs(ctx, slog.LevelInfo, "deployment event", slog.String("deployment", d.Name), slog.String("kind", kind),
		slog.Int("from", from), slog.Int("to", to), slog.String("reason", reason))
	if err := m.cfg.Store.AppendDeploymentEvent(context.WithoutCancel(ctx), e); err != nil && joule.ErrorCode(err) != joule.ENOTFOUND {
		m.logger.Error("deployment event not recorded", "deployment", d.Name, "err", err)
	}
	return e
}

// Predict runs one predict call: rate limit, body limit, the route to the
// primary or the canary, a replica (woken from zero if need be), the model;
// then, when the deployment has a shadow, a mirrored copy in the
// background.
func (m *Manager) Predict(ctx context.Context, workspaceID, ref string, body io.Reader) (joule.PredictResponse, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.PredictResponse{}, err
	}
	start := m.cfg.Now()
	ctx, in := withInputs(ctx) // Predictor.Predict hands its model-input rows back through ctx
	t, resp, err := m.predict(ctx, d, body)
	m.observe(d, in, &resp, err) // response ID, feedback store, drift window
	d.finish(t, start, m.cfg.Now(), len(resp.Predictions), err)
	return resp, err
}

func (m *Manager) predict(ctx context.Context, d *deployment, body io.Reader) (*track, joule.PredictResponse, error) {
	d.mu.Lock()
	spec := d.spec
	if !d.admit() {
		d.mu.Unlock()
		return nil, joule.PredictResponse{}, joule.Errorf(joule.ERATELIMITED, "deployment %q is over its rate limit of %g requests per second; retry later", spec.Name, spec.RateLimit)
	}
	d.lastRequest = m.cfg.Now()
	d.mu.Unlock()
	d.enter()
	defer d.leave()
	// Refused before the body is read, so that a refusal costs little.
	if limit := int64(spec.MaxReplicas * spec.TargetConcurrency * (1 + m.cfg.QueuePerWorker)); d.inflight.Load() > limit {
		return nil, joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "deployment %q is overloaded: %d requests in flight at %d replicas × (%d running + %d queued); retry later",
			spec.Name, d.inflight.Load(), spec.MaxReplicas, spec.TargetConcurrency, spec.TargetConcurrency*m.cfg.QueuePerWorker)
	}

	data, err := io.ReadAll(io.LimitReader(body, spec.BodyLimit+1))
	if err != nil {
		if joule.ErrorCode(err) != joule.EINTERNAL {
			return nil, joule.PredictResponse{}, err
		}
		return nil, joule.PredictResponse{}, joule.Errorf(joule.EINVALID, "body: %v", err)
	}
	if int64(len(data)) > spec.BodyLimit {
		return nil, joule.PredictResponse{}, joule.Errorf(joule.ETOOLARGE, "body: over this deployment's limit of %d bytes", spec.BodyLimit)
	}
	d.mu.Lock()
	t, shadow := d.route()
	t.lastRequest = d.lastRequest
	d.mu.Unlock()
	t.enter()
	resp, err := m.run(ctx, d, t, data)
	t.leave()
	if err == nil && shadow != nil {
		m.mirror(d, shadow, data, resp)
	}
	return t, resp, err
}

// run predicts body on track t: on its least busy replica, or, at zero
// replicas, on the first one started, waiting up to the cold-start
// timeout.
func (m *Manager) run(ctx context.Context, d *deployment, t *track, data []byte) (joule.PredictResponse, error) {
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	task := &task{ctx: ctx, body: data, done: make(chan result, 1)}
	for {
		d.mu.Lock()
		if len(t.replicas) > 0 {
			r := t.pick()
			d.mu.Unlock()
			// Within the deployment's bound, a full queue waits for room
			// rather than failing: requests held during a cold start all
			// land on the first replica.
			err := r.submit(ctx, task)
			if errors.Is(err, errClosed) {
				continue // scaled down under us: pick again
			}
			if err != nil {
				return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "request ended while queued for deployment %q", spec.Name)
			}
			break
		}
		if !slices.Contains(d.tracks, t) {
			d.mu.Unlock() // the version stopped serving while the request waited
			return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "deployment %q stopped serving version %d while the request waited; retry", spec.Name, t.mv.Version)
		}
		wait := m.wake(ctx, d, t)
		d.mu.Unlock()
		timer := time.NewTimer(time.Duration(spec.ColdStartTimeout))
		select {
		case <-wait:
			timer.Stop()
			d.mu.Lock()
			lerr := t.loadErr
			d.mu.Unlock()
			if lerr != nil {
				return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "deployment %q could not start a replica: %s", spec.Name, joule.ErrorMessage(lerr))
			}
		case <-timer.C:
			return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "deployment %q is starting from zero replicas and none was ready within its cold-start timeout of %s; retry", spec.Name, time.Duration(spec.ColdStartTimeout))
		case <-ctx.Done():
			timer.Stop()
			return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "request ended while deployment %q was starting", spec.Name)
		}
	}
	select {
	case r := <-task.done:
		r.resp.Deployment, r.resp.Model = spec.Name, spec.Model
		return r.resp, r.err
	case <-ctx.Done():
		return joule.PredictResponse{}, joule.Errorf(joule.EUNAVAILABLE, "request ended before its prediction")
	}
}

// wake starts the first replica of a track at zero, once, and returns a
// channel closed when it is ready or failed. The caller holds d.mu.
func (m *Manager) wake(ctx context.Context, d *deployment, t *track) <-chan struct{} {
	if t.loading != nil {
		return t.loading
	}
	ch := make(chan struct{})
	t.loading, t.loadErr = ch, nil
	spec := d.spec
	m.wg.Go(func() {
		start := m.cfg.Now()
		r, err := m.newReplica(context.WithoutCancel(ctx), d, t)
		took := m.cfg.Now().Sub(start)
		d.mu.Lock()
		switch {
		case err != nil:
			t.loadErr = err
		case len(t.replicas) == 0 && slices.Contains(d.tracks, t):
			t.replicas = append(t.replicas, r)
			t.coldStart = took
		default:
			r.stop() // the autoscaler got there first, or the version stopped serving
			r = nil
		}
		t.loading = nil
		d.mu.Unlock()
		// The event is written before the waiting requests go on, so
		// that whoever sees their answers sees the decision too.
		switch {
		case err != nil:
			m.logger.Error("cold start failed", "deployment", spec.Name, "version", t.mv.Version, "err", err)
			m.event(ctx, spec, joule.DeploymentColdStart, 0, 0, d.label(t)+"cold start failed: "+joule.ErrorMessage(err))
		case r != nil:
			m.event(ctx, spec, joule.DeploymentScale, 0, 1, fmt.Sprintf("%sa request arrived at zero replicas: cold start, model loaded in %s", d.label(t), took.Round(time.Microsecond)))
		}
		close(ch)
	})
	return ch
}

// label names a track in event reasons when the deployment serves more
// than one version ("" otherwise).
func (d *deployment) label(t *track) string {
	d.mu.Lock()
	n := len(d.tracks)
	d.mu.Unlock()
	if n <= 1 && t.role == joule.TrafficPrimary {
		return ""
	}
	return fmt.Sprintf("version %d (%s): ", t.mv.Version, t.role)
}

func (m *Manager) newReplica(ctx context.Context, d *deployment, t *track) (*replica, error) {
	d.mu.Lock()
	mv, spec := t.mv, d.spec
	d.seq++
	id := fmt.Sprintf("%s-r%d", spec.Name, d.seq)
	d.mu.Unlock()
	if spec.Kind == joule.DeploymentCommand {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(spec.ColdStartTimeout))
		defer cancel()
		srv, err := m.startServer(ctx, spec, id)
		if err != nil {
			return nil, err
		}
		r := newReplica(id, srv, spec.TargetConcurrency, spec.TargetConcurrency*m.cfg.QueuePerWorker, spec.MaxBatch)
		r.proc = srv
		return r, nil
	}
	p, err := m.cfg.Load(ctx, mv)
	if err != nil {
		return nil, err
	}
	r := newReplica(id, p, spec.TargetConcurrency, spec.TargetConcurrency*m.cfg.QueuePerWorker, spec.MaxBatch)
	r.compute = m.compute
	return r, nil
}

// Tick is one autoscaler round at the clock's time: each track of each
// deployment is sized to ceil(peak concurrency since the last tick ÷
// target), between its min and max, kept at one replica while requests
// are recent, and scaled to zero (when min is 0) once idle for the idle
// timeout. A canary or shadow keeps at most one replica warm by min.
func (m *Manager) Tick(ctx context.Context) {
	m.mu.Lock()
	deps := slices.Collect(mapsValues(m.deps))
	m.mu.Unlock()
	slices.SortFunc(deps, func(a, b *deployment) int { return strings.Compare(a.spec.ID, b.spec.ID) })
	for _, d := range deps {
		now := m.cfg.Now()
		d.mu.Lock()
		peak := d.takePeak()
		d.rate(now)
		tracks := slices.Clone(d.tracks)
		d.mu.Unlock()
		for _, t := range tracks {
			m.tickTrack(ctx, d, t)
		}
		d.mu.Lock()
		d.record(now, peak)
		d.mu.Unlock()
	}
}

func (m *Manager) tickTrack(ctx context.Context, d *deployment, t *track) {
	m.checkServers(ctx, d, t)
	now := m.cfg.Now()
	d.mu.Lock()
	spec := d.spec
	cur := len(t.replicas)
	if t.loading != nil || !slices.Contains(d.tracks, t) {
		d.mu.Unlock()
		return // a cold start is under way, or the version stopped serving
	}
	minR := spec.MinReplicas
	if t.role != joule.TrafficPrimary {
		minR = min(minR, 1)
	}
	peak := t.takePeak()
	rps := t.rate(now)
	idle := now.Sub(t.lastRequest)
	want := int(math.Ceil(float64(peak) / float64(spec.TargetConcurrency)))
	reason := fmt.Sprintf("peak concurrency %d over a target of %d per replica", peak, spec.TargetConcurrency)
	if spec.TargetRPS > 0 {
		if byRate := int(math.Ceil(rps / spec.TargetRPS)); byRate > want {
			want, reason = byRate, fmt.Sprintf("%.1f requests per second over a target of %g per replica", rps, spec.TargetRPS)
		}
	}
	switch {
	case want > spec.MaxReplicas:
		want, reason = spec.MaxReplicas, reason+", capped at max_replicas"
	case want < minR:
		want, reason = minR, fmt.Sprintf("min_replicas is %d", minR)
	}
	if want == 0 && cur > 0 {
		if idle >= time.Duration(spec.IdleTimeout) && t.inflight.Load() == 0 {
			reason = fmt.Sprintf("idle for %s, at least the idle timeout of %s", idle.Round(time.Second), time.Duration(spec.IdleTimeout))
		} else {
			want = 1 // requests are recent: keep one warm until the idle timeout
		}
	}
	var stopped []*replica
	if want < cur {
		stopped = slices.Clone(t.replicas[want:])
		for _, r := range stopped {
			r.stop()
		}
		d.retired = append(d.retired, stopped...)
		t.replicas = t.replicas[:want]
	}
	d.mu.Unlock()
	if want < cur {
		m.event(ctx, spec, joule.DeploymentScale, cur, want, d.label(t)+reason)
		return
	}
	if want == cur {
		return
	}
	var added []*replica
	for range want - cur {
		r, err := m.newReplica(ctx, d, t)
		if err != nil {
			m.event(ctx, spec, joule.DeploymentScale, cur, cur+len(added), d.label(t)+"scale-up failed: "+joule.ErrorMessage(err))
			break
		}
		added = append(added, r)
	}
	if len(added) == 0 {
		return
	}
	d.mu.Lock()
	if !slices.Contains(d.tracks, t) {
		d.mu.Unlock()
		for _, r := range added {
			r.stop()
		}
		return
	}
	t.replicas = append(t.replicas, added...)
	n := len(t.replicas)
	d.mu.Unlock()
	m.event(ctx, spec, joule.DeploymentScale, cur, n, d.label(t)+reason)
}
