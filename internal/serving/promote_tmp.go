package serving

import (
	"context"
	"fmt"

	"github.com/joule-dev/joule"
)

// Promote makes version of the deployment's model its primary version,
// records the version it served as PreviousVersion and writes a promote
// event; the old replicas stop and the new version's start on demand.
//
// TEMPORARY: the lifecycle branch's stand-in for the lead's Promote in
// manager.go (tracks, canary, shadow); it only switches spec.ModelVersion.
// Delete this file when the real one lands.
func (m *Manager) Promote(ctx context.Context, workspaceID, ref string, version int, by, reason string) (joule.Deployment, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.Deployment{}, err
	}
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	mv, err := m.cfg.Store.GetModelVersion(ctx, spec.ModelID, version)
	if err != nil {
		return spec, joule.Errorf(joule.EINVALID, "model_version: %s", joule.ErrorMessage(err))
	}
	if mv.Version == spec.ModelVersion {
		return spec, joule.Errorf(joule.ECONFLICT, "deployment %q already serves version %d", spec.Name, mv.Version)
	}
	from := spec.ModelVersion
	spec.PreviousVersion, spec.ModelVersion, spec.UpdatedAt = from, mv.Version, m.cfg.Now().UTC()
	if err := m.cfg.Store.UpdateDeployment(ctx, spec); err != nil {
		return spec, err
	}
	d.mu.Lock()
	d.spec.PreviousVersion, d.spec.ModelVersion, d.spec.UpdatedAt = spec.PreviousVersion, spec.ModelVersion, spec.UpdatedAt
	d.mv = mv
	old := d.replicas
	for _, r := range old {
		r.stop()
	}
	d.retired = append(d.retired, old...)
	d.replicas = nil
	d.mu.Unlock()
	m.event(ctx, spec, joule.DeploymentPromote, from, mv.Version, fmt.Sprintf("version %d replaces version %d (by %s): %s", mv.Version, from, by, reason))
	return m.withStatus(spec), nil
}
