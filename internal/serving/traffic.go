package serving

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// shadowStats accumulates the comparison of a shadow's answers with the
// served ones; guarded by the deployment's mu.
type shadowStats struct {
	version  int
	requests int64
	dropped  int64
	errors   int64
	rows     int64
	labelled int64 // rows with labels to compare (classifiers)
	agree    int64
	absDiff  float64
	diffRows int64
}

// comparison returns the figures for version v (zero if the shadow
// changed version since).
func (s *shadowStats) comparison(v int) *joule.ShadowComparison {
	c := &joule.ShadowComparison{ModelVersion: v}
	if s.version != v {
		return c
	}
	c.Requests, c.Dropped, c.Errors, c.Rows = s.requests, s.dropped, s.errors, s.rows
	if s.labelled > 0 {
		c.Agreement = float64(s.agree) / float64(s.labelled)
	}
	if s.diffRows > 0 {
		c.MeanAbsDiff = s.absDiff / float64(s.diffRows)
	}
	return c
}

// compare adds one mirrored request's answers; the caller holds mu.
func (s *shadowStats) compare(served, shadow joule.PredictResponse) {
	n := min(len(served.Predictions), len(shadow.Predictions))
	s.rows += int64(n)
	for i := range n {
		a, aok := served.Predictions[i].(float64)
		b, bok := shadow.Predictions[i].(float64)
		if aok && bok { // regressors
			s.absDiff += math.Abs(a - b)
			s.diffRows++
			continue
		}
		s.labelled++
		if served.Predictions[i] == shadow.Predictions[i] {
			s.agree++
		}
		if i < len(served.Probabilities) && i < len(shadow.Probabilities) {
			if label, ok := served.Predictions[i].(string); ok {
				s.absDiff += math.Abs(served.Probabilities[i][label] - shadow.Probabilities[i][label])
				s.diffRows++
			}
		}
	}
}

// mirror sends a copy of a served request to the shadow track and compares
// its answer with the served one. It never delays the served request: a
// shadow whose queues are full drops the copy, and a shadow at zero starts
// a replica in the background.
func (m *Manager) mirror(d *deployment, sh *track, body []byte, served joule.PredictResponse) {
	d.mu.Lock()
	spec := d.spec
	limit := int64(max(1, len(sh.replicas)) * spec.TargetConcurrency * (1 + m.cfg.QueuePerWorker))
	if sh.inflight.Load() >= limit {
		d.shadow.dropped++
		d.mu.Unlock()
		return
	}
	sh.enter()
	sh.lastRequest = m.cfg.Now()
	d.mu.Unlock()
	m.wg.Go(func() {
		defer sh.leave()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(spec.ColdStartTimeout))
		defer cancel()
		start := m.cfg.Now()
		resp, err := m.run(ctx, d, sh, body)
		sh.requests.Add(1)
		d.mu.Lock()
		defer d.mu.Unlock()
		sh.lat.add(float64(m.cfg.Now().Sub(start)) / float64(time.Millisecond))
		if d.shadow.version != sh.mv.Version {
			d.shadow = shadowStats{version: sh.mv.Version}
		}
		d.shadow.requests++
		if err != nil {
			sh.errors.Add(1)
			d.shadow.errors++
			return
		}
		sh.predictions.Add(int64(len(resp.Predictions)))
		d.shadow.compare(served, resp)
	})
}

// role is one version wanted in a traffic role.
type role struct {
	version int
	role    string
	percent float64
}

// roles lists the tracks a deployment's settings call for, the primary
// first.
func roles(spec joule.Deployment) []role {
	primary := 100.0
	var rs []role
	if spec.Canary != nil {
		primary -= spec.Canary.Percent
		rs = append(rs, role{spec.Canary.ModelVersion, joule.TrafficCanary, spec.Canary.Percent})
	}
	if spec.Shadow != nil {
		rs = append(rs, role{spec.Shadow.ModelVersion, joule.TrafficShadow, cmp.Or(spec.Shadow.Percent, 100)})
	}
	return append([]role{{spec.ModelVersion, joule.TrafficPrimary, primary}}, rs...)
}

// versionOf resolves version n of the deployment's model for serving
// (EINVALID naming field when it cannot serve).
func (m *Manager) versionOf(ctx context.Context, spec joule.Deployment, field string, n int) (joule.ModelVersion, error) {
	if n <= 0 {
		return joule.ModelVersion{}, joule.Errorf(joule.EINVALID, "%s: want a version number of model %s", field, spec.Model)
	}
	mv, err := m.cfg.Store.GetModelVersion(ctx, spec.ModelID, n)
	if err != nil {
		return mv, joule.Errorf(joule.EINVALID, "%s: %s", field, joule.ErrorMessage(err))
	}
	if mv.Task != "classification" && mv.Task != "regression" {
		return mv, joule.Errorf(joule.EINVALID, "%s: version %d is a %s model, which does not predict rows", field, n, mv.Task)
	}
	return mv, nil
}

// checkTraffic validates a deployment's canary and shadow settings.
func checkTraffic(spec joule.Deployment) error {
	if c := spec.Canary; c != nil {
		switch {
		case !(c.Percent > 0 && c.Percent < 100):
			return joule.Errorf(joule.EINVALID, "canary.percent: %g is not between 0 and 100 (exclusive); promote the version to send it all traffic", c.Percent)
		case c.ModelVersion == spec.ModelVersion:
			return joule.Errorf(joule.EINVALID, "canary.model_version: version %d is already the primary", c.ModelVersion)
		}
	}
	if s := spec.Shadow; s != nil {
		switch {
		case s.Percent < 0 || s.Percent > 100 || s.Percent != s.Percent:
			return joule.Errorf(joule.EINVALID, "shadow.percent: %g is not between 0 and 100", s.Percent)
		case s.ModelVersion == spec.ModelVersion:
			return joule.Errorf(joule.EINVALID, "shadow.model_version: version %d is already the primary", s.ModelVersion)
		case spec.Canary != nil && s.ModelVersion == spec.Canary.ModelVersion:
			return joule.Errorf(joule.EINVALID, "shadow.model_version: version %d is the canary; a version takes one role", s.ModelVersion)
		}
	}
	return nil
}

// change applies fn to a copy of a live deployment's settings, checks and
// stores the result, and rebuilds the tracks: a version that keeps serving
// keeps its replicas (a promoted canary stays warm), a new one starts at
// zero, and one no longer served is stopped. The next request routes by
// the new settings. Changes are serialised with every other update.
func (m *Manager) change(ctx context.Context, d *deployment, fn func(*joule.Deployment) error) (joule.Deployment, error) {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	if spec.Kind == joule.DeploymentCommand {
		return spec, joule.Errorf(joule.EINVALID, "deployment %q is of kind command: it serves one server, so it has no versions to split, promote or roll back; deploy another as its own deployment", spec.Name)
	}
	if err := fn(&spec); err != nil {
		return spec, err
	}
	if err := checkTraffic(spec); err != nil {
		return spec, err
	}
	mvs := map[int]joule.ModelVersion{}
	for _, r := range roles(spec) {
		field := "model_version"
		if r.role != joule.TrafficPrimary {
			field = r.role + ".model_version"
		}
		mv, err := m.versionOf(ctx, spec, field, r.version)
		if err != nil {
			return spec, err
		}
		mvs[r.version] = mv
	}
	spec.UpdatedAt = m.cfg.Now().UTC()
	if err := m.cfg.Store.UpdateDeployment(ctx, spec); err != nil {
		return spec, err
	}
	d.mu.Lock()
	d.spec = spec
	d.rebuild(mvs)
	d.mu.Unlock()
	return spec, nil
}

// rebuild makes the tracks match d.spec; the caller holds mu.
func (d *deployment) rebuild(mvs map[int]joule.ModelVersion) {
	old := d.tracks
	d.tracks = nil
	for _, r := range roles(d.spec) {
		i := slices.IndexFunc(old, func(t *track) bool { return t != nil && t.mv.Version == r.version })
		var t *track
		if i >= 0 {
			t, old[i] = old[i], nil
		} else {
			t = &track{mv: mvs[r.version], lastRequest: d.now()}
		}
		t.role, t.percent = r.role, r.percent
		d.tracks = append(d.tracks, t)
	}
	for _, t := range old {
		if t == nil {
			continue
		}
		for _, r := range t.replicas {
			r.stop()
		}
		d.retired = append(d.retired, t.replicas...)
		t.replicas = nil
	}
	d.canaryCredit, d.shadowCredit = 0, 0
}

// Traffic sets or clears a deployment's canary and shadow.
func (m *Manager) Traffic(ctx context.Context, workspaceID, ref string, req joule.TrafficRequest) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	var said []string
	spec, err := m.change(ctx, d, func(spec *joule.Deployment) error {
		switch {
		case req.Canary == nil && req.Shadow == nil && !req.ClearCanary && !req.ClearShadow:
			return joule.Errorf(joule.EINVALID, "body: set canary or shadow, or clear_canary or clear_shadow")
		case req.Canary != nil && req.ClearCanary:
			return joule.Errorf(joule.EINVALID, "canary: set it or clear it, not both")
		case req.Shadow != nil && req.ClearShadow:
			return joule.Errorf(joule.EINVALID, "shadow: set it or clear it, not both")
		}
		if req.ClearCanary {
			if spec.Canary != nil {
				said = append(said, fmt.Sprintf("canary version %d removed", spec.Canary.ModelVersion))
			}
			spec.Canary = nil
		}
		if req.ClearShadow {
			if spec.Shadow != nil {
				said = append(said, fmt.Sprintf("shadow version %d removed", spec.Shadow.ModelVersion))
			}
			spec.Shadow = nil
		}
		if req.Canary != nil {
			c := *req.Canary
			spec.Canary = &c
			said = append(said, fmt.Sprintf("canary: version %d takes %g%% of requests", c.ModelVersion, c.Percent))
		}
		if req.Shadow != nil {
			s := *req.Shadow
			spec.Shadow = &s
			said = append(said, fmt.Sprintf("shadow: version %d sees %g%% of requests, its answers compared and discarded", s.ModelVersion, cmp.Or(s.Percent, 100)))
		}
		return nil
	})
	if err != nil {
		return public(spec), err
	}
	if len(said) == 0 {
		said = []string{"nothing to clear"}
	}
	m.event(ctx, spec, joule.DeploymentTraffic, 0, 0, strings.Join(said, "; "))
	return m.withStatus(spec), nil
}

// Promote makes version n (0: the canary's) the deployment's primary. The
// version served before is kept as PreviousVersion for Rollback; a
// promoted canary keeps its replicas.
func (m *Manager) Promote(ctx context.Context, workspaceID, ref string, n int, reason string) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	var from, to int
	spec, err := m.change(ctx, d, func(spec *joule.Deployment) error {
		to = n
		if to == 0 {
			if spec.Canary == nil {
				return joule.Errorf(joule.EINVALID, "model_version: deployment %q has no canary; name the version to promote", spec.Name)
			}
			to = spec.Canary.ModelVersion
		}
		if to == spec.ModelVersion {
			return joule.Errorf(joule.EINVALID, "model_version: version %d is already the primary of %q", to, spec.Name)
		}
		from = spec.ModelVersion
		spec.PreviousVersion, spec.ModelVersion = from, to
		if spec.Canary != nil && spec.Canary.ModelVersion == to {
			spec.Canary = nil
		}
		if spec.Shadow != nil && spec.Shadow.ModelVersion == to {
			spec.Shadow = nil
		}
		return nil
	})
	if err != nil {
		return public(spec), err
	}
	msg := fmt.Sprintf("version %d promoted to primary, replacing version %d (rollback returns to it)", to, from)
	if reason != "" {
		msg += ": " + reason
	}
	m.event(ctx, spec, joule.DeploymentPromote, 0, 0, msg)
	return m.withStatus(spec), nil
}

// Rollback removes a canary when there is one, so that every request goes
// to the primary; otherwise it returns to the version served before the
// latest promote. It takes effect for the next request.
func (m *Manager) Rollback(ctx context.Context, workspaceID, ref, reason string) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	var msg string
	spec, err := m.change(ctx, d, func(spec *joule.Deployment) error {
		switch {
		case spec.Canary != nil:
			msg = fmt.Sprintf("canary version %d removed; every request goes to version %d", spec.Canary.ModelVersion, spec.ModelVersion)
			spec.Canary = nil
		case spec.PreviousVersion > 0:
			msg = fmt.Sprintf("back to version %d from version %d", spec.PreviousVersion, spec.ModelVersion)
			spec.ModelVersion, spec.PreviousVersion = spec.PreviousVersion, 0
			if spec.Shadow != nil && spec.Shadow.ModelVersion == spec.ModelVersion {
				spec.Shadow = nil
			}
		default:
			return joule.Errorf(joule.ECONFLICT, "deployment %q has no canary and no previous version to roll back to", spec.Name)
		}
		return nil
	})
	if err != nil {
		return public(spec), err
	}
	if reason != "" {
		msg += ": " + reason
	}
	m.event(ctx, spec, joule.DeploymentRollback, 0, 0, msg)
	return m.withStatus(spec), nil
}

// History returns a deployment's autoscaler ticks of the last hour, oldest
// first: RPS, latency percentiles, errors, peak in flight and replicas.
func (m *Manager) History(_ context.Context, workspaceID, ref string) ([]joule.DeploymentPoint, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.historyPoints(), nil
}
