package serving

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// MonitorConfig configures drift and live-quality monitoring
// (Config.Monitor).
type MonitorConfig struct {
	// Alert receives every alert event (drift, live quality) once it is
	// recorded, on a goroutine of its own; cmd/joule sends it to the
	// alert webhook. nil: alerts are events only.
	Alert func(ctx context.Context, d joule.Deployment, e joule.DeploymentEvent)
	// FeedbackRows bounds the predicted rows each deployment remembers
	// for feedback (default 100,000); older predictions are forgotten,
	// oldest first.
	FeedbackRows int
}

// DefaultFeedbackRows is MonitorConfig.FeedbackRows's default.
const DefaultFeedbackRows = 100_000

// historyReports is how many drift reports a deployment keeps.
const historyReports = 50

// monitor keeps the drift windows, the references and the feedback of a
// Manager's deployments. Evaluations run on goroutines it owns, off the
// request path; close cancels and waits for them.
type monitor struct {
	m      *Manager
	ctx    context.Context
	cancel func()
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool                   // no goroutine starts once set
	deps     map[string]*depMonitor // by deployment ID
	refs     map[string]*refEntry   // by model version ID
	versions map[string]joule.ModelVersion
}

// refEntry is a version's reference, computed once: ready is closed when
// ref or err is set.
type refEntry struct {
	ready chan struct{}
	ref   *reference
	err   error
}

func newMonitor(m *Manager) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	return &monitor{m: m, ctx: ctx, cancel: cancel, deps: map[string]*depMonitor{}, refs: map[string]*refEntry{}, versions: map[string]joule.ModelVersion{}}
}

// close cancels the evaluations and alert deliveries under way and waits
// for them; safe more than once.
func (mon *monitor) close() {
	mon.mu.Lock()
	mon.closed = true
	mon.mu.Unlock()
	mon.cancel()
	mon.wg.Wait()
}

// spawn runs f on a goroutine of the monitor's, unless it is closed.
func (mon *monitor) spawn(f func()) bool {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	if mon.closed {
		return false
	}
	mon.wg.Go(f)
	return true
}

// forget drops a deleted deployment's windows and feedback.
func (mon *monitor) forget(deploymentID string) {
	mon.mu.Lock()
	delete(mon.deps, deploymentID)
	mon.mu.Unlock()
}

func (mon *monitor) dep(id string) *depMonitor {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	dm := mon.deps[id]
	if dm == nil {
		dm = &depMonitor{tracks: map[int]*versionWatch{}, predictionStore: newPredictionStore(cmpInt(mon.m.cfg.Monitor.FeedbackRows, DefaultFeedbackRows))}
		mon.deps[id] = dm
	}
	return dm
}

// depMonitor is one deployment's monitoring state: a track per served
// version, the recent drift reports and the predictions remembered for
// feedback.
type depMonitor struct {
	mu      sync.Mutex
	tracks  map[int]*versionWatch
	history []joule.DriftReport // oldest first
	dropped int64
	predictionStore
}

func (dm *depMonitor) track(version int) *versionWatch {
	t := dm.tracks[version]
	if t == nil {
		t = &versionWatch{version: version}
		dm.tracks[version] = t
	}
	return t
}

// versionWatch is one served version's current window, drift state and live
// quality.
type versionWatch struct {
	version   int
	cur       *window
	busy      bool     // an evaluation is running
	queued    *window  // the next full window, evaluated after it
	drifted   []string // the features that drifted in the last window
	inDrift   bool     // the last window drifted
	predDrift bool     // the last window's prediction drifted
	live      liveState
}

// window is an evaluation window: live model-input rows (flat, nfeat per
// row) and their predictions, labels for a classifier, values for a
// regressor.
type window struct {
	version    int
	nfeat      int
	x          []float64
	labels     []string
	values     []float64
	start, end time.Time
}

func (w *window) rows() int {
	if w.nfeat == 0 {
		return 0
	}
	return len(w.x) / w.nfeat
}

// inputsKey carries a predict call's capture of its model-input rows.
type inputsKey struct{}

// capturedInputs holds the model-input rows the predictors of one predict
// call built, by model version (a mirrored shadow call may add its own).
// It holds a few versions without a map: it is made on every call.
type capturedInputs struct {
	mu   sync.Mutex
	n    int
	vers [4]int
	rows [4][][]float64
}

// withInputs returns a context under which Predictor.Predict hands its
// model-input rows to the returned capture.
func withInputs(ctx context.Context) (context.Context, *capturedInputs) {
	c := &capturedInputs{}
	return context.WithValue(ctx, inputsKey{}, c), c
}

// keepInputs records x, the model-input rows version built, in ctx's
// capture, if any. Manager.Predict copies the rows into the window after
// Predictor.Predict returns and before it answers: x must not be reused
// (pooled) before then.
func keepInputs(ctx context.Context, version int, x [][]float64) {
	c, ok := ctx.Value(inputsKey{}).(*capturedInputs)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.n {
		if c.vers[i] == version {
			c.rows[i] = x
			return
		}
	}
	if c.n < len(c.vers) {
		c.vers[c.n], c.rows[c.n] = version, x
		c.n++
	}
}

func (c *capturedInputs) take(version int) [][]float64 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.n {
		if c.vers[i] == version {
			return c.rows[i]
		}
	}
	return nil
}

// observe is the predict path's hook: it names the response with an ID,
// remembers its predictions for feedback, and copies its rows into the
// served version's window, handing a full window to an evaluation. It
// holds the deployment's monitor lock only to append.
func (m *Manager) observe(d *deployment, in *capturedInputs, resp *joule.PredictResponse, err error) {
	if err != nil || len(resp.Predictions) == 0 {
		return
	}
	d.mu.Lock()
	id, set := d.spec.ID, d.spec.Monitor.WithDefaults() // not the whole spec: this runs on every call
	d.mu.Unlock()
	if set.Disabled {
		return
	}
	now := m.cfg.Now().UTC()
	x := in.take(resp.ModelVersion)
	dm := m.mon.dep(id)
	dm.mu.Lock()
	defer dm.mu.Unlock()
	dm.remember(resp, now)
	t := dm.track(resp.ModelVersion)
	t.live.predictions += int64(len(resp.Predictions))
	_, t.live.classifier = resp.Predictions[0].(string)
	if len(x) != len(resp.Predictions) || len(x[0]) == 0 {
		return // no rows captured (or a predictor that does not hand them over)
	}
	for i, row := range x {
		w := t.cur
		if w != nil && set.Window > 0 && w.rows() >= joule.MinWindowRows && now.Sub(w.start) >= time.Duration(set.Window) {
			m.mon.full(id, dm, t) // closed by time
			w = nil
		}
		if w == nil {
			w = &window{version: resp.ModelVersion, nfeat: len(row), start: now, x: make([]float64, 0, set.WindowRows*len(row))}
			t.cur = w
		}
		if len(row) != w.nfeat {
			return
		}
		w.x = append(w.x, row...)
		switch p := resp.Predictions[i].(type) {
		case string:
			w.labels = append(w.labels, p)
		case float64:
			w.values = append(w.values, p)
		}
		w.end = now
		if w.rows() >= set.WindowRows {
			m.mon.full(id, dm, t)
		}
	}
}

func cmpInt(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// full takes t's current window for evaluation: at once when none is
// running, else as the next one (a third is dropped and counted). The
// caller holds dm.mu.
func (mon *monitor) full(depID string, dm *depMonitor, t *versionWatch) {
	w := t.cur
	t.cur = nil
	if w == nil {
		return
	}
	switch {
	case !t.busy:
		t.busy = mon.spawn(func() { mon.evaluateLoop(depID, dm, t, w) })
	case t.queued == nil:
		t.queued = w
	default:
		dm.dropped++
	}
}

func (mon *monitor) evaluateLoop(depID string, dm *depMonitor, t *versionWatch, w *window) {
	for w != nil {
		mon.evaluate(depID, dm, t, w)
		dm.mu.Lock()
		w, t.queued = t.queued, nil
		if w == nil {
			t.busy = false
		}
		dm.mu.Unlock()
	}
}

// liveSpec returns a live deployment's current settings.
func (m *Manager) liveSpec(id string) (joule.Deployment, bool) {
	m.mu.Lock()
	d := m.deps[id]
	m.mu.Unlock()
	if d == nil {
		return joule.Deployment{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.spec, true
}

// version returns a model version, cached.
func (mon *monitor) version(ctx context.Context, modelID string, n int) (joule.ModelVersion, error) {
	key := fmt.Sprintf("%s@%d", modelID, n)
	mon.mu.Lock()
	mv, ok := mon.versions[key]
	mon.mu.Unlock()
	if ok {
		return mv, nil
	}
	mv, err := mon.m.cfg.Store.GetModelVersion(ctx, modelID, n)
	if err != nil {
		return mv, err
	}
	mon.mu.Lock()
	mon.versions[key] = mv
	mon.mu.Unlock()
	return mv, nil
}

// reference returns a version's reference, computing it on first use
// (once, however many windows wait for it) and keeping it in memory for
// the server's life. A failure is kept too: every later window reports it.
func (mon *monitor) reference(ctx context.Context, mv joule.ModelVersion) (*reference, error) {
	mon.mu.Lock()
	e := mon.refs[mv.ID]
	if e == nil {
		e = &refEntry{ready: make(chan struct{})}
		mon.refs[mv.ID] = e
		mon.mu.Unlock()
		e.ref, e.err = mon.computeReference(ctx, mv)
		if e.err != nil && ctx.Err() != nil {
			mon.mu.Lock()
			delete(mon.refs, mv.ID) // cancelled, not failed: try again later
			mon.mu.Unlock()
		}
		close(e.ready)
	} else {
		mon.mu.Unlock()
	}
	select {
	case <-e.ready:
		return e.ref, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (mon *monitor) computeReference(ctx context.Context, mv joule.ModelVersion) (*reference, error) {
	m := mon.m
	start := time.Now()
	p, err := m.cfg.Load(ctx, mv)
	if err != nil {
		return nil, fmt.Errorf("loading model version %d: %s", mv.Version, joule.ErrorMessage(err))
	}
	x, source, err := trainingRows(ctx, m.cfg.Store, m.cfg.Engine, m.cfg.DataDir, mv, p)
	if err != nil {
		return nil, err
	}
	ref := newReference(mv, p, x, source)
	m.logger.LogAttrs(ctx, slog.LevelInfo, "drift reference computed", slog.String("model_version_id", mv.ID),
		slog.Int("rows", ref.rows), slog.String("source", source), slog.Duration("took", time.Since(start)))
	return ref, nil
}

// evaluate compares a full window with its version's reference, keeps the
// report, and records drift events and alerts.
func (mon *monitor) evaluate(depID string, dm *depMonitor, t *versionWatch, w *window) {
	ctx := mon.ctx
	spec, ok := mon.m.liveSpec(depID)
	if !ok {
		return // deleted meanwhile
	}
	set := spec.Monitor.WithDefaults()
	rep := joule.DriftReport{ModelVersion: w.version, Time: mon.m.cfg.Now().UTC(), WindowStart: w.start, WindowEnd: w.end, Rows: w.rows(),
		PSIThreshold: set.PSIThreshold, KSThreshold: set.KSThreshold}
	ref, err := mon.windowReference(ctx, spec, w)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		rep.Error = err.Error()
	} else {
		rep.Reference, rep.ReferenceRows = ref.source, ref.rows
		col := make([]float64, w.rows())
		for j, rf := range ref.features {
			for i := range col {
				col[i] = w.x[i*w.nfeat+j]
			}
			rep.Features = append(rep.Features, rf.drift(col, set.PSIThreshold, set.KSThreshold))
		}
		var pd joule.FeatureDrift
		switch {
		case ref.classes && len(w.labels) == w.rows():
			pd = ref.pred.labelDrift(w.labels, set.PSIThreshold)
			rep.Prediction = &pd
		case !ref.classes && len(w.values) == w.rows():
			pd = ref.pred.drift(slices.Clone(w.values), set.PSIThreshold, set.KSThreshold)
			rep.Prediction = &pd
		}
		rep.DriftedFeatures = driftedNames(rep.Features)
		rep.Drifted = len(rep.DriftedFeatures) > 0 || (rep.Prediction != nil && rep.Prediction.Drifted)
	}
	dm.mu.Lock()
	dm.history = append(dm.history, rep)
	if len(dm.history) > historyReports {
		dm.history = slices.Delete(dm.history, 0, len(dm.history)-historyReports)
	}
	was, before, predBefore := t.inDrift, t.drifted, t.predDrift
	predNow := rep.Prediction != nil && rep.Prediction.Drifted
	if rep.Error == "" {
		t.inDrift, t.drifted, t.predDrift = rep.Drifted, rep.DriftedFeatures, predNow
	}
	dm.mu.Unlock()
	switch {
	case rep.Error != "":
		mon.m.logger.Warn("drift window not evaluated", "deployment", spec.Name, "model_version", w.version, "err", rep.Error)
	case rep.Drifted:
		// Events mark changes: a window that drifts as the one before did
		// adds only its report (Drift), so that a deployment that stays
		// drifted does not write an event per window, which at 1,000 rows
		// a window can be many a second (docs/decisions.md, "A drift event
		// marks a change").
		reason := driftReason(rep)
		newFeatures := slices.ContainsFunc(rep.DriftedFeatures, func(f string) bool { return !slices.Contains(before, f) })
		if !was || !slices.Equal(rep.DriftedFeatures, before) || predNow != predBefore {
			mon.m.event(ctx, spec, joule.DeploymentDrift, 0, 0, reason)
		}
		if !was || newFeatures || (predNow && !predBefore) {
			mon.alert(ctx, spec, "drift: "+reason)
		}
	case was:
		mon.m.event(ctx, spec, joule.DeploymentDrift, 0, 0, fmt.Sprintf("version %d: window of %d rows is within the thresholds again (PSI < %g, KS < %g)", w.version, rep.Rows, set.PSIThreshold, set.KSThreshold))
	}
}

func (mon *monitor) windowReference(ctx context.Context, spec joule.Deployment, w *window) (*reference, error) {
	mv, err := mon.version(ctx, spec.ModelID, w.version)
	if err != nil {
		return nil, fmt.Errorf("model version %d: %s", w.version, joule.ErrorMessage(err))
	}
	ref, err := mon.reference(ctx, mv)
	if err != nil {
		return nil, err
	}
	if len(ref.features) != w.nfeat {
		return nil, fmt.Errorf("the window's rows have %d features, the reference %d", w.nfeat, len(ref.features))
	}
	return ref, nil
}

// driftReason names the drifted features (worst first, up to five) with
// their PSI and KS, and the prediction's drift.
func driftReason(rep joule.DriftReport) string {
	var parts []string
	shown := 0
	for _, f := range worst(rep.Features) {
		if !f.Drifted {
			continue
		}
		if shown == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rep.DriftedFeatures)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s PSI %.3f KS %.3f", f.Name, f.PSI, deref(f.KS)))
		shown++
	}
	if p := rep.Prediction; p != nil && p.Drifted {
		s := fmt.Sprintf("prediction PSI %.3f", p.PSI)
		if p.KS != nil {
			s += fmt.Sprintf(" KS %.3f", *p.KS)
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("version %d: window of %d rows (%s to %s) drifted from the %s: %s (thresholds: PSI %g, KS %g)",
		rep.ModelVersion, rep.Rows, rep.WindowStart.Format(time.RFC3339), rep.WindowEnd.Format(time.RFC3339), rep.Reference,
		strings.Join(parts, ", "), rep.PSIThreshold, rep.KSThreshold)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// alert records an alert event and hands it to the Alert hook on a
// goroutine of the monitor's.
func (mon *monitor) alert(ctx context.Context, spec joule.Deployment, reason string) {
	e := mon.m.event(ctx, spec, joule.DeploymentAlert, 0, 0, reason)
	if f := mon.m.cfg.Monitor.Alert; f != nil {
		mon.spawn(func() { f(mon.ctx, spec, e) })
	}
}

// monitorStatus adds the primary version's latest drift report and live
// quality to d's status.
func (m *Manager) monitorStatus(d *joule.Deployment) {
	if d.Status == nil {
		return
	}
	m.mon.mu.Lock()
	dm := m.mon.deps[d.ID]
	m.mon.mu.Unlock()
	if dm == nil {
		return
	}
	set := d.Monitor.WithDefaults()
	dm.mu.Lock()
	defer dm.mu.Unlock()
	for i := len(dm.history) - 1; i >= 0; i-- {
		if dm.history[i].ModelVersion == d.ModelVersion {
			r := withoutBins(dm.history[i])
			d.Status.Drift = &r
			break
		}
	}
	if t := dm.tracks[d.ModelVersion]; t != nil && t.live.predictions > 0 {
		q := t.live.quality(t.version, set)
		d.Status.Live = &q
	}
}

// Drift returns a deployment's monitoring state: the settings in force,
// the latest report and the recent ones, and live quality per version.
func (m *Manager) Drift(ctx context.Context, workspaceID, ref string) (joule.DeploymentMonitorState, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.DeploymentMonitorState{}, err
	}
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	set := spec.Monitor.WithDefaults()
	out := joule.DeploymentMonitorState{Deployment: spec.Name, ModelVersion: spec.ModelVersion, Monitor: set, History: []joule.DriftReport{}}
	m.mon.mu.Lock()
	dm := m.mon.deps[spec.ID]
	m.mon.mu.Unlock()
	if dm == nil {
		return out, nil
	}
	dm.mu.Lock()
	defer dm.mu.Unlock()
	out.DroppedWindows = dm.dropped
	for i := len(dm.history) - 1; i >= 0; i-- {
		out.History = append(out.History, withoutBins(dm.history[i]))
		if out.Latest == nil && dm.history[i].ModelVersion == spec.ModelVersion {
			r := dm.history[i]
			out.Latest = &r
		}
	}
	versions := make([]int, 0, len(dm.tracks))
	for v := range dm.tracks {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		t := dm.tracks[v]
		if v == spec.ModelVersion && t.cur != nil {
			out.PendingRows = t.cur.rows()
		}
		if t.live.predictions > 0 {
			out.Live = append(out.Live, t.live.quality(v, set))
		}
	}
	return out, nil
}

// withoutBins returns r without its per-bin shares (kept in the latest
// report of GET …/drift only, to keep statuses and history small).
func withoutBins(r joule.DriftReport) joule.DriftReport {
	r.Features = slices.Clone(r.Features)
	for i := range r.Features {
		r.Features[i].Bins = nil
	}
	if r.Prediction != nil {
		p := *r.Prediction
		p.Bins = nil
		r.Prediction = &p
	}
	return r
}

// SetMonitor replaces a deployment's monitor settings (validated, defaults
// filled in); the current windows go on under the new ones.
func (m *Manager) SetMonitor(ctx context.Context, workspaceID, ref string, mon joule.DeploymentMonitor) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	if err := mon.Validate(); err != nil {
		return joule.Deployment{}, err
	}
	mon = mon.WithDefaults()
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	spec.Monitor = &mon
	if err := spec.Normalize(); err != nil {
		return spec, err
	}
	spec.UpdatedAt = m.cfg.Now().UTC()
	if err := m.cfg.Store.UpdateDeployment(ctx, spec); err != nil {
		return spec, err
	}
	d.mu.Lock()
	d.spec.Monitor, d.spec.UpdatedAt = spec.Monitor, spec.UpdatedAt
	d.mu.Unlock()
	m.event(ctx, spec, joule.DeploymentUpdated, 0, 0, "monitor: "+describeMonitor(mon))
	return m.withStatus(spec), nil
}

func describeMonitor(s joule.DeploymentMonitor) string {
	if s.Disabled {
		return "disabled"
	}
	parts := []string{fmt.Sprintf("windows of %d rows", s.WindowRows)}
	if s.Window > 0 {
		parts[0] += fmt.Sprintf(" or %s", time.Duration(s.Window))
	}
	parts = append(parts, fmt.Sprintf("drift at PSI ≥ %g or KS ≥ %g", s.PSIThreshold, s.KSThreshold))
	if s.MinAccuracy > 0 {
		parts = append(parts, fmt.Sprintf("alert below accuracy %g", s.MinAccuracy))
	}
	if s.MaxRMSE > 0 {
		parts = append(parts, fmt.Sprintf("alert above RMSE %g", s.MaxRMSE))
	}
	parts = append(parts, fmt.Sprintf("quality checked from %d labels", s.MinLabels))
	return strings.Join(parts, "; ")
}
