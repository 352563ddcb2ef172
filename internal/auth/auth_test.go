package auth_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/auth"
	"github.com/joule-dev/joule/internal/sqlite"
)

func mustOpenStore(t *testing.T) joule.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBootstrapOnce(t *testing.T) {
	t.Parallel()
	s := mustOpenStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	secret, created, err := auth.Bootstrap(ctx, s, now)
	if err != nil || !created || secret == "" {
		t.Fatalf("first Bootstrap = %q, %v, %v; want a secret", secret, created, err)
	}
	again, created, err := auth.Bootstrap(ctx, s, now.Add(time.Hour))
	if err != nil || created || again != "" {
		t.Errorf("second Bootstrap = %q, %v, %v; want nothing new", again, created, err)
	}
	a := &auth.Authenticator{Store: s, Now: func() time.Time { return now }}
	p, err := a.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != joule.RoleAdmin || p.WorkspaceName != joule.DefaultWorkspace || !p.PlatformAdmin() {
		t.Errorf("principal = %+v, want platform admin", p)
	}
	rep, err := s.VerifyAudit(ctx)
	if err != nil || !rep.OK || rep.Entries != 2 {
		t.Errorf("audit after bootstrap = %+v, %v; want 2 intact entries", rep, err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := mustOpenStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	if _, _, err := auth.Bootstrap(ctx, s, now); err != nil {
		t.Fatal(err)
	}
	ws, err := s.GetWorkspace(ctx, joule.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, ttl time.Duration) (joule.Token, string) {
		tok, secret, err := joule.NewToken(ws.ID, name, joule.RoleViewer, ttl, "test", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok, secret
	}
	_, live := mk("live", 0)
	_, short := mk("short", time.Minute)
	revoked, revokedSecret := mk("revoked", 0)
	if err := s.RevokeToken(ctx, ws.ID, revoked.ID, now); err != nil {
		t.Fatal(err)
	}
	a := &auth.Authenticator{Store: s, Now: func() time.Time { return now.Add(2 * time.Minute) }}
	for _, tc := range []struct {
		name, secret string
		want         string
	}{
		{"live", live, ""},
		{"with spaces", "  " + live + "\n", ""},
		{"expired", short, joule.EUNAUTHORIZED},
		{"revoked", revokedSecret, joule.EUNAUTHORIZED},
		{"unknown", "joule_nope", joule.EUNAUTHORIZED},
		{"empty", "", joule.EUNAUTHORIZED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(ctx, tc.secret)
			if got := joule.ErrorCode(err); got != tc.want {
				t.Errorf("Authenticate(%s) = %v, want code %q", tc.name, err, tc.want)
			}
		})
	}
	if _, err := a.Principal(ctx, revoked.ID); joule.ErrorCode(err) != joule.EUNAUTHORIZED {
		t.Errorf("Principal(revoked) = %v, want unauthorized", err)
	}
	if _, err := a.Principal(ctx, "tok_missing"); joule.ErrorCode(err) != joule.EUNAUTHORIZED {
		t.Errorf("Principal(missing) = %v, want unauthorized", err)
	}
}
