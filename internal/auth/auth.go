// Package auth turns token secrets into principals and bootstraps an
// installation's first workspace and admin token.
//
// Tokens are 256-bit random secrets (see joule.NewTokenSecret); the store keeps
// only their SHA-256 hashes. Authorisation itself is one rule,
// joule.Authorize, applied by every handler.
package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// TokenStore is the part of joule.Store that authentication needs.
type TokenStore interface {
	GetToken(ctx context.Context, id string) (joule.Token, error)
	GetTokenByHash(ctx context.Context, hash string) (joule.Token, error)
	GetWorkspace(ctx context.Context, idOrName string) (joule.Workspace, error)
}

// Authenticator resolves token secrets and token IDs to principals.
type Authenticator struct {
	Store TokenStore
	Now   func() time.Time // nil means time.Now
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

var errBadToken = joule.Errorf(joule.EUNAUTHORIZED, "invalid, expired or revoked token")

// Authenticate returns the principal for a token secret, or an EUNAUTHORIZED
// error when the secret is unknown, revoked or expired.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (joule.Principal, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "authentication required: send Authorization: Bearer <token>")
	}
	t, err := a.Store.GetTokenByHash(ctx, joule.HashToken(secret))
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		return joule.Principal{}, errBadToken
	} else if err != nil {
		return joule.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	return a.principal(ctx, t)
}

// Principal returns the principal for a token ID, re-checking that the token
// is still active (used by console sessions).
func (a *Authenticator) Principal(ctx context.Context, tokenID string) (joule.Principal, error) {
	t, err := a.Store.GetToken(ctx, tokenID)
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		return joule.Principal{}, errBadToken
	} else if err != nil {
		return joule.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	return a.principal(ctx, t)
}

func (a *Authenticator) principal(ctx context.Context, t joule.Token) (joule.Principal, error) {
	if !t.Active(a.now()) {
		return joule.Principal{}, errBadToken
	}
	ws, err := a.Store.GetWorkspace(ctx, t.WorkspaceID)
	if err != nil {
		return joule.Principal{}, fmt.Errorf("look up workspace of token %s: %w", t.ID, err)
	}
	return joule.Principal{
		TokenID:       t.ID,
		TokenName:     t.Name,
		WorkspaceID:   ws.ID,
		WorkspaceName: ws.Name,
		Role:          t.Role,
	}, nil
}

// BootstrapStore is the part of joule.Store that Bootstrap needs.
type BootstrapStore interface {
	GetWorkspace(ctx context.Context, idOrName string) (joule.Workspace, error)
	CreateWorkspace(ctx context.Context, w joule.Workspace) error
	CreateToken(ctx context.Context, t joule.Token) error
	AppendAudit(ctx context.Context, e joule.AuditEntry) (joule.AuditEntry, error)
}

// Bootstrap creates the default workspace and its first admin token when the
// workspace does not exist yet. It returns the token secret and true on first
// start, and "" and false when the installation was already set up.
func Bootstrap(ctx context.Context, s BootstrapStore, now time.Time) (string, bool, error) {
	_, err := s.GetWorkspace(ctx, joule.DefaultWorkspace)
	if err == nil {
		return "", false, nil
	}
	if joule.ErrorCode(err) != joule.ENOTFOUND {
		return "", false, fmt.Errorf("look up default workspace: %w", err)
	}
	now = now.UTC().Truncate(time.Microsecond)
	ws := joule.Workspace{ID: joule.NewID("ws", now), Name: joule.DefaultWorkspace, Description: "created on first start", CreatedAt: now}
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		return "", false, fmt.Errorf("create default workspace: %w", err)
	}
	tok, secret, err := joule.NewToken(ws.ID, "admin", joule.RoleAdmin, 0, "system", now)
	if err != nil {
		return "", false, err
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		return "", false, fmt.Errorf("create admin token: %w", err)
	}
	for _, e := range []joule.AuditEntry{
		{Time: now, WorkspaceID: ws.ID, Principal: "system", Action: "workspace.create", Resource: ws.ID, Outcome: "success", Detail: "bootstrap"},
		{Time: now, WorkspaceID: ws.ID, Principal: "system", Action: "token.create", Resource: tok.ID, Outcome: "success", Detail: "bootstrap admin token"},
	} {
		if _, err := s.AppendAudit(ctx, e); err != nil {
			return "", false, fmt.Errorf("audit bootstrap: %w", err)
		}
	}
	return secret, true, nil
}
