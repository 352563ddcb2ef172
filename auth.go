package joule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what a token may do inside its workspace. Roles are ordered:
// viewer < editor < admin.
type Role string

// The roles.
const (
	RoleViewer Role = "viewer" // read
	RoleEditor Role = "editor" // read and change resources
	RoleAdmin  Role = "admin"  // everything, including tokens and audit
)

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleViewer, RoleEditor, RoleAdmin:
		return r, nil
	}
	return "", Errorf(EINVALID, "role: %q is not one of admin, editor, viewer", s)
}

// rank orders roles; unknown roles rank below viewer.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r includes the rights of want.
func (r Role) Allows(want Role) bool { return r.rank() >= want.rank() && want.rank() > 0 }

// Token is an API credential. Only a hash of the secret is stored.
type Token struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Name        string     `json:"name"`
	Role        Role       `json:"role"`
	Hash        string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether t can be used at now: not revoked, not expired.
func (t Token) Active(now time.Time) bool {
	if t.RevokedAt != nil {
		return false
	}
	return t.ExpiresAt == nil || now.Before(*t.ExpiresAt)
}

// TokenPrefix starts every token secret, so that leaked tokens are easy to
// find with secret scanners.
const TokenPrefix = "joule_"

// NewTokenSecret returns a new 256-bit random token secret and its hash.
func NewTokenSecret() (secret, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a token secret: hex SHA-256. The
// secret has 256 bits of entropy, so a fast hash is enough.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Principal is who is calling: the token, its workspace and role.
type Principal struct {
	TokenID       string `json:"token_id"`
	TokenName     string `json:"token_name"`
	WorkspaceID   string `json:"workspace_id"`
	WorkspaceName string `json:"workspace"`
	Role          Role   `json:"role"`
}

// String names the principal in logs and audit entries.
func (p Principal) String() string {
	if p.TokenID == "" {
		return "anonymous"
	}
	return p.TokenName + " (" + p.TokenID + ")"
}

// PlatformAdmin reports whether p administers the whole installation: an
// admin of the default workspace.
func (p Principal) PlatformAdmin() bool {
	return p.Role == RoleAdmin && p.WorkspaceName == DefaultWorkspace
}

// Authorize is the one authorisation rule: p may act with role want in
// workspace ws (a workspace ID; "" for installation-wide resources). It
// returns nil, or an EUNAUTHORIZED or EFORBIDDEN *Error.
func Authorize(p Principal, want Role, ws string) error {
	if p.TokenID == "" {
		return Errorf(EUNAUTHORIZED, "authentication required: send Authorization: Bearer <token>")
	}
	if ws != "" && ws != p.WorkspaceID && !p.PlatformAdmin() {
		return Errorf(EFORBIDDEN, "token %s belongs to workspace %q, not to this workspace", p.TokenID, p.WorkspaceName)
	}
	if !p.Role.Allows(want) {
		return Errorf(EFORBIDDEN, "role %s may not do this: %s role required", p.Role, want)
	}
	return nil
}

type principalKey struct{}

// NewContextWithPrincipal returns a copy of ctx carrying p.
func NewContextWithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the caller in ctx, or the zero (anonymous)
// Principal.
func PrincipalFromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

type requestIDKey struct{}

// NewContextWithRequestID returns a copy of ctx carrying a request ID.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request ID in ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewToken builds a token for a workspace and returns it with its secret,
// which is shown once and never stored. ttl 0 means no expiry.
func NewToken(workspaceID, name string, role Role, ttl time.Duration, createdBy string, now time.Time) (Token, string, error) {
	if err := ValidateName("name", name); err != nil {
		return Token{}, "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Token{}, "", err
	}
	if ttl < 0 {
		return Token{}, "", Errorf(EINVALID, "expires_in: must not be negative")
	}
	now = now.UTC().Truncate(time.Microsecond)
	secret, hash := NewTokenSecret()
	t := Token{
		ID:          NewID("tok", now),
		WorkspaceID: workspaceID,
		Name:        name,
		Role:        role,
		Hash:        hash,
		CreatedAt:   now,
		CreatedBy:   createdBy,
	}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	return t, secret, nil
}
