package serving

import (
	"context"
	"fmt"
	"slices"

	"github.com/joule-dev/joule"
)

// maxTokens bounds a deployment's own tokens.
const maxTokens = 100

// public returns d without its token hashes, for answers.
func public(d joule.Deployment) joule.Deployment {
	if len(d.Tokens) > 0 {
		d.Tokens = slices.Clone(d.Tokens)
		for i := range d.Tokens {
			d.Tokens[i].Hash = ""
		}
	}
	return d
}

// update applies fn to a copy of a live deployment's settings, stores the
// result and makes it live. Updates are serialised, so that two changes
// at once cannot lose one another.
func (m *Manager) update(ctx context.Context, d *deployment, fn func(*joule.Deployment) error) (joule.Deployment, error) {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	d.mu.Lock()
	spec := d.spec
	spec.Tokens = slices.Clone(spec.Tokens)
	d.mu.Unlock()
	if err := fn(&spec); err != nil {
		return spec, err
	}
	spec.UpdatedAt = m.cfg.Now().UTC()
	if err := m.cfg.Store.UpdateDeployment(ctx, spec); err != nil {
		return spec, err
	}
	d.mu.Lock()
	d.spec = spec
	d.mu.Unlock()
	return spec, nil
}

// CreateToken makes a token for one deployment: its holder may call the
// deployment's predict endpoint and nothing else. The secret is returned
// once; only its hash is kept.
func (m *Manager) CreateToken(ctx context.Context, workspaceID, ref, name, by string) (joule.DeploymentToken, string, error) {
	if err := joule.ValidateName("name", name); err != nil {
		return joule.DeploymentToken{}, "", err
	}
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.DeploymentToken{}, "", err
	}
	secret, hash := joule.NewTokenSecret()
	now := m.cfg.Now().UTC()
	tok := joule.DeploymentToken{ID: joule.NewID("dtk", now), Name: name, Hash: hash, CreatedAt: now, CreatedBy: by}
	spec, err := m.update(ctx, d, func(s *joule.Deployment) error {
		switch {
		case slices.ContainsFunc(s.Tokens, func(t joule.DeploymentToken) bool { return t.Name == name }):
			return joule.Errorf(joule.ECONFLICT, "name: deployment %q already has a token named %q", s.Name, name)
		case len(s.Tokens) >= maxTokens:
			return joule.Errorf(joule.EINVALID, "deployment %q has %d tokens, the most it may have; revoke one first", s.Name, len(s.Tokens))
		}
		s.Tokens = append(s.Tokens, tok)
		return nil
	})
	if err != nil {
		return joule.DeploymentToken{}, "", err
	}
	m.event(ctx, spec, joule.DeploymentUpdated, 0, 0, fmt.Sprintf("token %s (%s) created: it may call predict on this deployment only", name, tok.ID))
	tok.Hash = ""
	return tok, secret, nil
}

// Tokens lists a deployment's tokens, without their hashes.
func (m *Manager) Tokens(_ context.Context, workspaceID, ref string) ([]joule.DeploymentToken, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	return public(spec).Tokens, nil
}

// RevokeToken deletes a deployment token by ID or name; the next request
// with it gets 401.
func (m *Manager) RevokeToken(ctx context.Context, workspaceID, ref, token string) (joule.DeploymentToken, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.DeploymentToken{}, err
	}
	var gone joule.DeploymentToken
	spec, err := m.update(ctx, d, func(s *joule.Deployment) error {
		i := slices.IndexFunc(s.Tokens, func(t joule.DeploymentToken) bool { return t.ID == token || t.Name == token })
		if i < 0 {
			return joule.Errorf(joule.ENOTFOUND, "deployment %q has no token %q", s.Name, token)
		}
		gone = s.Tokens[i]
		s.Tokens = slices.Delete(s.Tokens, i, i+1)
		return nil
	})
	if err != nil {
		return joule.DeploymentToken{}, err
	}
	m.event(ctx, spec, joule.DeploymentUpdated, 0, 0, fmt.Sprintf("token %s (%s) revoked", gone.Name, gone.ID))
	gone.Hash = ""
	return gone, nil
}
