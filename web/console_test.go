package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// mustOpenStore opens a fresh SQLite store in a temporary directory.
func mustOpenStore(t testing.TB) joule.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fixture is a store seeded with a workspace "acme", an admin and a viewer
// token in it, and a second workspace "other".
type fixture struct {
	store         joule.Store
	acme, other   joule.Workspace
	admin, viewer joule.Token
	adminSecret   string
	viewerSecret  string
	clock         *clock
	logs          *bytes.Buffer
	server        *httptest.Server
	console       *Console
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustCreateToken(t testing.TB, s joule.Store, ws joule.Workspace, name string, role joule.Role) (joule.Token, string) {
	t.Helper()
	tok, secret, err := joule.NewToken(ws.ID, name, role, 0, "system", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("create token: %v", err)
	}
	return tok, secret
}

// authFuncs are Config.Authenticate and Config.Principal written directly
// over the store, as the server wires them.
func authFuncs(s joule.Store, now func() time.Time) (func(context.Context, string) (joule.Principal, error), func(context.Context, string) (joule.Principal, error)) {
	bad := joule.Errorf(joule.EUNAUTHORIZED, "invalid, expired or revoked token")
	principal := func(ctx context.Context, tok joule.Token) (joule.Principal, error) {
		if !tok.Active(now()) {
			return joule.Principal{}, bad
		}
		ws, err := s.GetWorkspace(ctx, tok.WorkspaceID)
		if err != nil {
			return joule.Principal{}, err
		}
		return joule.Principal{TokenID: tok.ID, TokenName: tok.Name, WorkspaceID: ws.ID, WorkspaceName: ws.Name, Role: tok.Role}, nil
	}
	authenticate := func(ctx context.Context, secret string) (joule.Principal, error) {
		tok, err := s.GetTokenByHash(ctx, joule.HashToken(secret))
		if joule.ErrorCode(err) == joule.ENOTFOUND {
			return joule.Principal{}, bad
		} else if err != nil {
			return joule.Principal{}, err
		}
		return principal(ctx, tok)
	}
	byID := func(ctx context.Context, id string) (joule.Principal, error) {
		tok, err := s.GetToken(ctx, id)
		if joule.ErrorCode(err) == joule.ENOTFOUND {
			return joule.Principal{}, bad
		} else if err != nil {
			return joule.Principal{}, err
		}
		return principal(ctx, tok)
	}
	return authenticate, byID
}

var sessionKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// newFixture seeds a store and serves a console over it. edit, if set,
// changes the config before New.
func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{store: mustOpenStore(t), clock: &clock{t: now}, logs: &bytes.Buffer{}}
	ctx := t.Context()
	f.acme = joule.Workspace{ID: joule.NewID("ws", now), Name: "acme", CreatedAt: now.Add(-2 * time.Hour)}
	f.other = joule.Workspace{ID: joule.NewID("ws", now), Name: "other", CreatedAt: now.Add(-2 * time.Hour)}
	for _, ws := range []joule.Workspace{f.acme, f.other} {
		if err := f.store.CreateWorkspace(ctx, ws); err != nil {
			t.Fatalf("create workspace: %v", err)
		}
	}
	f.admin, f.adminSecret = mustCreateToken(t, f.store, f.acme, "alice", joule.RoleAdmin)
	f.viewer, f.viewerSecret = mustCreateToken(t, f.store, f.acme, "victor", joule.RoleViewer)

	authenticate, principal := authFuncs(f.store, f.clock.Now)
	cfg := Config{
		Store:        f.store,
		Authenticate: authenticate,
		Principal:    principal,
		Status: func(ctx context.Context) (joule.ServerStatus, error) {
			nodes, _, err := f.store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
			return joule.ServerStatus{Version: "v9.9.9-test", StartedAt: now.Add(-3 * time.Hour), Store: f.store.Kind(), Nodes: nodes}, err
		},
		SessionKey: sessionKey,
		Now:        f.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(syncWriter{w: f.logs}, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.console = c
	f.server = httptest.NewServer(c)
	t.Cleanup(f.server.Close)
	return f
}

// syncWriter guards a buffer that handlers write logs to.
type syncWriter struct {
	w io.Writer
}

var logMu sync.Mutex

func (s syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return s.w.Write(p)
}

// client is a browser-like HTTP client that keeps cookies and does not
// follow redirects, so that tests see them.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func (f *fixture) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: f.server.URL, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read response.
type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{res, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), "GET", c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), "POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form in body.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", body)
	}
	return m[1]
}

// login signs c in with secret and returns the POST's response.
func (c *client) login(secret string) response {
	c.t.Helper()
	page := c.get("/login")
	if page.StatusCode != http.StatusOK {
		c.t.Fatalf("GET /login: status %d", page.StatusCode)
	}
	return c.post("/login", url.Values{"token": {secret}, "csrf": {csrf(c.t, page.body)}, "next": {"/"}})
}

// mustLogin signs c in and fails unless it worked.
func (c *client) mustLogin(secret string) {
	c.t.Helper()
	res := c.login(secret)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		c.t.Fatalf("login: status %d, Location %q, want 303 to /\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, ck := range res.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestRedirectToLoginWhenSignedOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	for path, want := range map[string]string{
		"/":             "/login",
		"/audit":        "/login?next=%2Faudit",
		"/settings":     "/login?next=%2Fsettings",
		"/jobs?x=1":     "/login?next=%2Fjobs%3Fx%3D1",
		"/energy":       "/login?next=%2Fenergy",
		"/deployments/": "", // unknown: 404, not a redirect
	} {
		res := c.get(path)
		if want == "" {
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
			}
			continue
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("GET %s: status %d Location %q, want 303 to %q", path, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
}

func TestLoginSetsSessionCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	res := c.login(f.adminSecret)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("login: status %d Location %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
	}
	ck := cookieNamed(res.Response, SessionCookie)
	if ck == nil {
		t.Fatal("login set no session cookie")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%v Path=%q Secure=%v, want HttpOnly, Strict, /, not Secure", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
	}
	if want := int(DefaultSessionTTL / time.Second); ck.MaxAge != want {
		t.Errorf("session cookie MaxAge = %d, want %d", ck.MaxAge, want)
	}
	if strings.Contains(ck.Value, f.adminSecret) || strings.Contains(ck.Value, strings.TrimPrefix(f.adminSecret, joule.TokenPrefix)) {
		t.Error("session cookie contains the token secret")
	}
	page := c.get("/")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET / after login: status %d", page.StatusCode)
	}
	for _, want := range []string{"acme", "alice", "admin", "Sign out", "Overview", "Energy &amp; Carbon", "Targets", "Audit", "Settings"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// The login page now forwards to the console.
	if res := c.get("/login?next=/settings"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings" {
		t.Errorf("GET /login when signed in: status %d Location %q, want 303 to /settings", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestLoginSecureCookies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Secure = true; c.SessionTTL = time.Hour })
	// The client is plain HTTP, so read the cookies off the responses.
	c := f.client(t)
	page := c.get("/login")
	if ck := cookieNamed(page.Response, CSRFCookie); ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie = %+v, want Secure, HttpOnly, SameSite=Strict", ck)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", f.server.URL+"/login",
		strings.NewReader(url.Values{"token": {f.adminSecret}, "csrf": {csrf(t, page.body)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookieNamed(page.Response, CSRFCookie))
	res := c.do(req)
	ck := cookieNamed(res.Response, SessionCookie)
	if ck == nil || !ck.Secure || ck.MaxAge != 3600 {
		t.Fatalf("session cookie = %+v, want Secure with MaxAge 3600 (status %d)", ck, res.StatusCode)
	}
}

func TestLoginBadToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	for _, secret := range []string{"joule_not-a-real-token", "", "<script>"} {
		res := c.login(secret)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("login with %q: status %d, want 401", secret, res.StatusCode)
		}
		if !strings.Contains(res.body, "not accepted") || !strings.Contains(res.body, `name="token"`) {
			t.Errorf("login with %q: the page does not explain the failure or lacks the form:\n%s", secret, res.body)
		}
		if cookieNamed(res.Response, SessionCookie) != nil {
			t.Errorf("login with %q set a session cookie", secret)
		}
	}
	if res := c.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / after failed logins: status %d, want 303", res.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)

	t.Run("login without token", func(t *testing.T) {
		c := f.client(t)
		c.get("/login") // sets the CSRF cookie
		res := c.post("/login", url.Values{"token": {f.adminSecret}})
		if res.StatusCode != http.StatusForbidden || cookieNamed(res.Response, SessionCookie) != nil {
			t.Errorf("POST /login without CSRF: status %d, want 403 and no session", res.StatusCode)
		}
	})
	t.Run("login with another cookie's token", func(t *testing.T) {
		a, b := f.client(t), f.client(t)
		tokenOfA := csrf(t, a.get("/login").body)
		b.get("/login")
		if res := b.post("/login", url.Values{"token": {f.adminSecret}, "csrf": {tokenOfA}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST /login with a CSRF token of another browser: status %d, want 403", res.StatusCode)
		}
	})
	t.Run("login without cookie", func(t *testing.T) {
		c := f.client(t)
		token := csrf(t, c.get("/login").body)
		plain := &client{t: t, base: c.base, http: &http.Client{CheckRedirect: c.http.CheckRedirect}}
		if res := plain.post("/login", url.Values{"token": {f.adminSecret}, "csrf": {token}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST /login with the field but no cookie: status %d, want 403", res.StatusCode)
		}
	})
	t.Run("logout", func(t *testing.T) {
		c := f.client(t)
		c.mustLogin(f.adminSecret)
		page := c.get("/")
		if res := c.post("/logout", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST /logout without CSRF: status %d, want 403", res.StatusCode)
		}
		if res := c.post("/logout", url.Values{"csrf": {"AAAA" + csrf(t, page.body)[4:]}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST /logout with a wrong CSRF token: status %d, want 403", res.StatusCode)
		}
		if res := c.get("/"); res.StatusCode != http.StatusOK {
			t.Fatalf("still signed in after rejected logouts: status %d", res.StatusCode)
		}
		res := c.post("/logout", url.Values{"csrf": {csrf(t, page.body)}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("POST /logout: status %d Location %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
		}
		if ck := cookieNamed(res.Response, SessionCookie); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout did not clear the session cookie: %+v", ck)
		}
		if res := c.get("/"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("GET / after logout: status %d, want 303", res.StatusCode)
		}
	})
}

func TestOverviewListsNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	small, err := f.store.UpsertNode(ctx, joule.Node{
		ID: joule.NewID("node", now), Name: "edge-01", Hostname: "edge-01.lab", OS: "linux", Arch: "amd64",
		CPUModel: "Intel(R) Xeon(R) CPU @ 2.20GHz", CPUCores: 2, MemoryBytes: 8 << 30,
		State: joule.NodeReady, Version: "v0.1.0", CreatedAt: now.Add(-time.Hour), LastHeartbeat: now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Heartbeat(ctx, small.ID, now.Add(-12*time.Second), &joule.NodeUsage{Time: now.Add(-12 * time.Second), CPUFraction: 0.375, MemoryUsed: 3 << 30, Load1: 0.8,
		Power: []joule.PowerReading{{Component: "cpu", Watts: 5.5, Method: "estimated:tdp-curve@1"}, {Component: "memory", Watts: 0.5, Method: "estimated:tdp-curve@1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpsertNode(ctx, joule.Node{
		ID: joule.NewID("node", now), Name: "gpu-01", Hostname: "gpu-01", OS: "linux", Arch: "amd64", CPUModel: "AMD EPYC 9454", CPUCores: 96,
		MemoryBytes: 768 << 30, State: joule.NodeLost, CreatedAt: now.Add(-time.Hour), LastHeartbeat: now.Add(-time.Hour),
		GPUs:   []joule.GPU{{Index: 0, Name: "NVIDIA H100 80GB HBM3"}, {Index: 1, Name: "NVIDIA H100 80GB HBM3"}},
		Meters: []joule.Meter{{Kind: joule.MeterRAPL, Name: "package-0"}, {Kind: joule.MeterNVML, Name: "GPU 0"}},
	}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	c.mustLogin(f.viewerSecret) // any role sees the overview
	res := c.get("/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d", res.StatusCode)
	}
	for _, want := range []string{
		"v9.9.9-test", "sqlite", "3 h 0 min", "started 2026-03-14 06:30:00 UTC",
		"edge-01", "Intel(R) Xeon(R) CPU @ 2.20GHz", ">2<", "8.0 GiB", "none",
		"no power meter detected: energy will be estimated", "12 s ago", "37.5 %",
		"gpu-01", "2 × NVIDIA H100 80GB HBM3", "rapl: package-0", "nvml: GPU 0", "768.0 GiB", "state-lost",
		`<svg xmlns="http://www.w3.org/2000/svg" class="chart"`, "edge-01: 37.5 %",
		"6.0 W", "estimated:tdp-curve@1",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if n := strings.Count(res.body, "no power meter detected"); n != 1 {
		t.Errorf("overview says %d times that no meter was detected, want 1 (gpu-01 has meters)", n)
	}
}

func TestOverviewWithoutNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Status = nil }) // the default status
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "No node has registered yet") || strings.Contains(res.body, "<svg") {
		t.Errorf("GET / without nodes: status %d, want 200 with the empty message and no chart:\n%s", res.StatusCode, res.body)
	}
	if !strings.Contains(res.body, joule.Version) {
		t.Errorf("default status does not show version %s", joule.Version)
	}
}

func mustAppendAudit(t testing.TB, s joule.Store, e joule.AuditEntry) joule.AuditEntry {
	t.Helper()
	e, err := s.AppendAudit(t.Context(), e)
	if err != nil {
		t.Fatalf("append audit: %v", err)
	}
	return e
}

func TestAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now.Add(-time.Minute), WorkspaceID: f.acme.ID, Principal: f.admin.ID,
		Action: "token.create", Resource: f.viewer.ID, RequestID: "req-1", Outcome: "success", Detail: "viewer for <dashboards>"})
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.acme.ID, Principal: "system",
		Action: "workspace.update", Resource: f.acme.ID, Outcome: "error: conflict"})
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.other.ID, Principal: "system",
		Action: "secret.other-workspace", Resource: f.other.ID, Outcome: "success"})

	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/audit")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit: status %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{"token.create", f.viewer.ID, "req-1", "viewer for &lt;dashboards&gt;", "workspace.update", "error: conflict"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "secret.other-workspace") {
		t.Error("audit page shows an entry of another workspace")
	}

	res = c.get("/audit?action=token.&principal=" + f.admin.ID)
	if !strings.Contains(res.body, "token.create") || strings.Contains(res.body, "workspace.update") {
		t.Errorf("filtered audit page is wrong:\n%s", res.body)
	}
	if res := c.get("/audit?action=nothing.matches"); !strings.Contains(res.body, "No audit entries match") {
		t.Error("empty filtered page does not say so")
	}
	if res := c.get("/audit?cursor=%21bad"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /audit with a bad cursor: status %d, want 400", res.StatusCode)
	}
}

func TestAuditPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for i := range auditPageSize + 5 {
		mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.acme.ID, Principal: f.admin.ID,
			Action: "node.label", Resource: fmt.Sprintf("res-%03d", i), Outcome: "success"})
	}
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	first := c.get("/audit?action=node.label")
	if !strings.Contains(first.body, "res-000") || strings.Contains(first.body, fmt.Sprintf("res-%03d", auditPageSize)) {
		t.Fatal("first page holds the wrong entries")
	}
	m := regexp.MustCompile(`href="(/audit\?[^"]*cursor=[^"]*)" rel="next"`).FindStringSubmatch(first.body)
	if m == nil {
		t.Fatalf("first page has no next link:\n%s", first.body)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(next, "action=node.label") {
		t.Errorf("next link %q drops the filter", next)
	}
	second := c.get(next)
	if !strings.Contains(second.body, fmt.Sprintf("res-%03d", auditPageSize+4)) || strings.Contains(second.body, "res-000") {
		t.Errorf("second page holds the wrong entries")
	}
	if strings.Contains(second.body, `rel="next"`) {
		t.Error("last page has a next link")
	}
}

func TestAuditPlatformAdminSeesAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	def := joule.Workspace{ID: joule.NewID("ws", now), Name: joule.DefaultWorkspace, CreatedAt: now}
	if err := f.store.CreateWorkspace(t.Context(), def); err != nil {
		t.Fatal(err)
	}
	_, secret := mustCreateToken(t, f.store, def, "root", joule.RoleAdmin)
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.other.ID, Principal: "system", Action: "model.create", Resource: "m1", Outcome: "success"})
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.acme.ID, Principal: "system", Action: "job.create", Resource: "j1", Outcome: "success"})
	c := f.client(t)
	c.mustLogin(secret)
	res := c.get("/audit")
	for _, want := range []string{"model.create", "job.create", ">other<", ">acme<", `name="workspace"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("platform admin's audit page lacks %q", want)
		}
	}
	res = c.get("/audit?workspace=" + f.other.ID)
	if !strings.Contains(res.body, "model.create") || strings.Contains(res.body, "job.create") {
		t.Error("workspace filter does not filter")
	}
}

func TestAuditForbiddenForViewer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now, WorkspaceID: f.acme.ID, Principal: "system", Action: "token.create", Resource: "x", Outcome: "success"})
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/audit")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer GET /audit: status %d, want 403", res.StatusCode)
	}
	if !strings.Contains(res.body, "admin role") || strings.Contains(res.body, "token.create") {
		t.Errorf("403 page should explain the admin role and show no entries:\n%s", res.body)
	}
	if !strings.Contains(res.body, "Sign out") {
		t.Error("403 page lost the layout")
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	for _, path := range []string{"/login", "/", "/static/console.css", "/no/such/page", "/static/nope.css"} {
		res := c.get(path)
		h := res.Header
		if got := h.Get("Content-Security-Policy"); got != "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'" {
			t.Errorf("GET %s: Content-Security-Policy = %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("GET %s: X-Content-Type-Options %q, Referrer-Policy %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
}

func TestPagesUseNoInlineScriptOrStyle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if _, err := f.store.UpsertNode(t.Context(), joule.Node{ID: joule.NewID("node", now), Name: "n1", CPUCores: 2,
		Usage: &joule.NodeUsage{CPUFraction: 0.5}, State: joule.NodeReady, LastHeartbeat: now}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	check := func(path string, res response) {
		if m := inline.FindString(res.body); m != "" {
			t.Errorf("%s has inline script or style (%q), which the CSP blocks", path, m)
		}
		body := strings.ReplaceAll(res.body, `xmlns="http://www.w3.org/2000/svg"`, "") // a namespace name, never fetched
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s refers to an external URL", path)
		}
	}
	check("/login", c.get("/login"))
	c.mustLogin(f.adminSecret)
	for _, s := range sections {
		check(s.path, c.get(s.path))
	}
}

// flipFirst changes the first character of a base64 string, which always
// changes the decoded bytes.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestTamperedSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	res := c.login(f.viewerSecret)
	good := cookieNamed(res.Response, SessionCookie).Value
	payload, sig, _ := strings.Cut(good, ".")
	forged, _ := b64.DecodeString(payload)
	// A session for the admin token, with the viewer session's signature.
	forgedAdmin := b64.EncodeToString([]byte(strings.Replace(string(forged), f.viewer.ID, f.admin.ID, 1))) + "." + sig
	otherKey := &Console{keys: deriveKeys([]byte("another key, also thirty-two bytes long"))}
	for name, value := range map[string]string{
		"flipped signature": payload + "." + flipFirst(sig),
		"other token":       forgedAdmin,
		"no signature":      payload,
		"garbage":           "%%%.%%%",
		"empty":             "",
		"other key":         otherKey.newSession(f.admin.ID, now.Add(time.Hour)),
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.server.URL+"/settings", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: value})
		res := c.do(req)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("%s: status %d Location %q, want a redirect to /login", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// The untampered cookie works.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.server.URL+"/settings", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: good})
	if res := c.do(req); res.StatusCode != http.StatusOK {
		t.Errorf("untampered cookie: status %d, want 200", res.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	f.clock.Add(DefaultSessionTTL - time.Second)
	if res := c.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET / before expiry: status %d", res.StatusCode)
	}
	f.clock.Add(2 * time.Second)
	res := c.get("/")
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / after expiry: status %d, want 303", res.StatusCode)
	}
	if ck := cookieNamed(res.Response, SessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Error("expired session cookie was not cleared")
	}
}

func TestRevokedTokenEndsSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	if res := c.get("/settings"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /settings: status %d", res.StatusCode)
	}
	if err := f.store.RevokeToken(t.Context(), f.acme.ID, f.admin.ID, now); err != nil {
		t.Fatal(err)
	}
	if res := c.get("/settings"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET /settings after revocation: status %d Location %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.login(f.adminSecret); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a revoked token: status %d, want 401", res.StatusCode)
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/settings")
	for _, want := range []string{"victor", f.viewer.ID, "acme", f.acme.ID, "viewer", "v9.9.9-test", "sqlite"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
}

func TestComingSoon(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	for _, s := range sections {
		if s.soon == "" {
			continue
		}
		res := c.get(s.path)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "coming soon") || !strings.Contains(res.body, `aria-current="page"`) {
			t.Errorf("GET %s: status %d, want 200 with a coming-soon page and the section marked", s.path, res.StatusCode)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	if res := c.get("/no/such/page"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "Page not found") {
		t.Errorf("GET /no/such/page signed out: status %d, want the 404 page", res.StatusCode)
	}
	c.mustLogin(f.adminSecret)
	res := c.get("/v1/workspaces")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "Sign out") {
		t.Errorf("GET /v1/workspaces signed in: status %d, want the 404 page inside the layout", res.StatusCode)
	}
	if res := c.post("/audit", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /audit: status %d, want 405", res.StatusCode)
	}
	if res := c.post("/elsewhere", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /elsewhere: status %d, want 404", res.StatusCode)
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	page := c.get("/login")
	m := regexp.MustCompile(`href="(/static/console\.css\?v=[0-9a-f]{16})"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("login page links no versioned stylesheet:\n%s", page.body)
	}
	res := c.get(m[1])
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || res.Header.Get("ETag") == "" {
		t.Errorf("GET %s: status %d, Content-Type %q, Cache-Control %q, ETag %q", m[1], res.StatusCode,
			res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), res.Header.Get("ETag"))
	}
	res = c.get("/static/favicon.svg")
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=300, must-revalidate" {
		t.Errorf("GET /static/favicon.svg: status %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.server.URL+"/static/favicon.svg", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if res := c.do(req); res.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: status %d, want 304", res.StatusCode)
	}
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) {
		c.Status = func(context.Context) (joule.ServerStatus, error) {
			return joule.ServerStatus{}, errors.New("database is on fire at /var/lib/joule")
		}
	})
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/")
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(res.body, "internal error") || strings.Contains(res.body, "on fire") {
		t.Errorf("GET / with a failing status: status %d, want 500 saying only \"internal error\":\n%s", res.StatusCode, res.body)
	}
	logMu.Lock()
	logs := f.logs.String()
	logMu.Unlock()
	if !strings.Contains(logs, "on fire") {
		t.Errorf("the internal error was not logged; logs:\n%s", logs)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	s := mustOpenStore(t)
	authn, principal := authFuncs(s, time.Now)
	good := Config{Store: s, Authenticate: authn, Principal: principal, SessionKey: sessionKey}
	if _, err := New(good); err != nil {
		t.Fatalf("New(valid config): %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Store", func(c *Config) { c.Store = nil }},
		{"Authenticate", func(c *Config) { c.Authenticate = nil }},
		{"Principal", func(c *Config) { c.Principal = nil }},
		{"SessionKey", func(c *Config) { c.SessionKey = []byte("short") }},
		{"SessionTTL", func(c *Config) { c.SessionTTL = -time.Second }},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		_, err := New(cfg)
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New with a bad %s: error %v, want EINVALID naming the field", tt.field, err)
		}
	}
	d := Config{}.WithDefaults()
	if d.SessionTTL != DefaultSessionTTL || d.Now == nil || d.Logger == nil {
		t.Errorf("WithDefaults() = %+v, want SessionTTL, Now and Logger set", d)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                   "/",
		"/audit":             "/audit",
		"/audit?action=x.":   "/audit?action=x.",
		"//evil.example":     "/",
		"/\\evil.example":    "/",
		"https://evil":       "/",
		"javascript:alert()": "/",
		"/login":             "/",
		"/%0d%0aX: y":        "/%0d%0aX: y",
		"/a\nb":              "/",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// mustCreateJob inserts a queued job named name in ws, created at at.
func mustCreateJob(t testing.TB, s joule.Store, ws joule.Workspace, name string, at time.Time, edit func(*joule.Job)) joule.Job {
	t.Helper()
	j := joule.Job{
		ID: joule.NewID("job", at), WorkspaceID: ws.ID, State: joule.JobQueued, CreatedAt: at, UpdatedAt: at, CreatedBy: "tok_test",
		Spec: joule.JobSpec{Name: name, Command: []string{"sh", "-c", "echo hi"}}.WithDefaults(),
	}
	if edit != nil {
		edit(&j)
	}
	if err := s.CreateJob(t.Context(), j, nil); err != nil {
		t.Fatalf("create job: %v", err)
	}
	return j
}

// mustMoveJob changes a job's state to to at time at, applying edit.
func mustMoveJob(t testing.TB, s joule.Store, id string, to joule.JobState, reason string, at time.Time, edit func(*joule.Job)) joule.Job {
	t.Helper()
	j, err := s.UpdateJob(t.Context(), id, nil, reason, func(j *joule.Job) error {
		j.State, j.Reason, j.UpdatedAt = to, reason, at
		if edit != nil {
			edit(j)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("update job to %s: %v", to, err)
	}
	return j
}

func ptr[T any](v T) *T { return &v }

// startJob makes a queued job run its attempt n on node at time at, with
// an attempt record.
func startJob(t testing.TB, s joule.Store, id, nodeID string, n int, at time.Time) {
	t.Helper()
	mustMoveJob(t, s, id, joule.JobScheduled, "placed on the node", at.Add(-time.Second), func(j *joule.Job) { j.NodeID = nodeID })
	mustMoveJob(t, s, id, joule.JobRunning, fmt.Sprintf("attempt %d started", n), at, func(j *joule.Job) {
		j.Attempts, j.StartedAt = n, ptr(at)
	})
	if err := s.PutAttempt(t.Context(), joule.Attempt{JobID: id, N: n, NodeID: nodeID, State: joule.JobRunning, StartedAt: at, LogPath: "attempt.log"}); err != nil {
		t.Fatal(err)
	}
}

// writeLog writes (or, with appendIt, appends to) an attempt's log in the
// job directory dir/id.
func writeLog(t testing.TB, dir, id string, attempt int, text string, appendIt bool) {
	t.Helper()
	p := filepath.Join(dir, id, fmt.Sprintf("attempt-%d.log", attempt))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendIt {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// withJobDir returns a Config edit that keeps job directories under dir.
func withJobDir(dir string) func(*Config) {
	return func(c *Config) { c.JobDir = func(id string) string { return filepath.Join(dir, id) } }
}

func TestJobsListAndFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	s := f.store
	node, err := s.UpsertNode(t.Context(), joule.Node{ID: joule.NewID("node", now), Name: "lab-01", State: joule.NodeReady, CPUCores: 4, LastHeartbeat: now})
	if err != nil {
		t.Fatal(err)
	}
	prep := mustCreateJob(t, s, f.acme, "prep-data", now.Add(-time.Hour), nil)
	startJob(t, s, prep.ID, node.ID, 1, now.Add(-59*time.Minute))
	mustMoveJob(t, s, prep.ID, joule.JobSucceeded, "exited with status 0", now.Add(-50*time.Minute), func(j *joule.Job) {
		j.ExitCode, j.FinishedAt = ptr(0), ptr(now.Add(-50*time.Minute))
	})
	train := mustCreateJob(t, s, f.acme, "train-resnet", now.Add(-10*time.Minute), nil)
	startJob(t, s, train.ID, node.ID, 1, now.Add(-5*time.Minute))
	long := strings.Repeat("word ", 40)
	mustCreateJob(t, s, f.acme, "waiting", now.Add(-time.Minute), func(j *joule.Job) { j.Reason = "no node has 64 GiB free <memory> " + long })
	mustCreateJob(t, s, f.other, "secret-job", now.Add(-2*time.Minute), nil)

	c := f.client(t)
	c.mustLogin(f.viewerSecret) // viewers see jobs
	res := c.get("/jobs")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /jobs: status %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{
		"prep-data", "train-resnet", `href="/jobs/` + train.ID + `"`, `class="badge job-running"`, `class="badge job-succeeded"`,
		"lab-01", "5 min 0 s", "9 min 0 s", `title="2026-03-14 09:20:00 UTC"`, "10 min 0 s ago",
		"no node has 64 GiB free &lt;memory&gt;", `<option value="timed_out">`, `aria-current="page"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("jobs list lacks %q", want)
		}
	}
	if strings.Contains(res.body, "secret-job") {
		t.Error("jobs list shows a job of another workspace")
	}
	if strings.Contains(res.body, "coming soon") {
		t.Error("jobs list still says coming soon")
	}
	if i, k := strings.Index(res.body, "waiting"), strings.Index(res.body, "prep-data"); i < 0 || k < 0 || i > k {
		t.Error("jobs are not listed newest first")
	}
	if strings.Contains(res.body, long+"<") {
		t.Error("a long reason is not cut")
	}

	res = c.get("/jobs?state=succeeded")
	if !strings.Contains(res.body, "prep-data") || strings.Contains(res.body, "train-resnet") || !strings.Contains(res.body, `<option value="succeeded" selected>`) {
		t.Errorf("state filter does not filter:\n%s", res.body)
	}
	res = c.get("/jobs?name=train-resnet")
	if !strings.Contains(res.body, "train-resnet") || strings.Contains(res.body, "prep-data") || !strings.Contains(res.body, `value="train-resnet"`) {
		t.Error("name filter does not filter")
	}
	if res := c.get("/jobs?state=cancelled"); !strings.Contains(res.body, "No jobs match these filters") {
		t.Error("an empty filtered list does not say so")
	}
	if res := c.get("/jobs?state=exploded"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /jobs with a bad state: status %d, want 400", res.StatusCode)
	}
	if res := c.get("/jobs?cursor=%21bad"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /jobs with a bad cursor: status %d, want 400", res.StatusCode)
	}
	if res := c.post("/jobs", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /jobs: status %d, want 405", res.StatusCode)
	}
}

func TestJobsPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for i := range jobsPageSize + 3 {
		mustCreateJob(t, f.store, f.acme, fmt.Sprintf("job-%03d", i), now.Add(time.Duration(i)*time.Second), nil)
	}
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	first := c.get("/jobs?state=queued")
	if !strings.Contains(first.body, fmt.Sprintf("job-%03d", jobsPageSize+2)) || strings.Contains(first.body, "job-002<") {
		t.Fatal("first page holds the wrong jobs")
	}
	m := regexp.MustCompile(`href="(/jobs\?[^"]*cursor=[^"]*)" rel="next">Older →`).FindStringSubmatch(first.body)
	if m == nil {
		t.Fatalf("first page has no Older link:\n%s", first.body)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(next, "state=queued") {
		t.Errorf("Older link %q drops the filter", next)
	}
	second := c.get(next)
	for _, want := range []string{"job-000", "job-001", "job-002", "← Newest"} {
		if !strings.Contains(second.body, want) {
			t.Errorf("second page lacks %q", want)
		}
	}
	if strings.Contains(second.body, fmt.Sprintf("job-%03d", jobsPageSize+2)) || strings.Contains(second.body, `rel="next"`) {
		t.Error("second page holds newer jobs or an Older link")
	}
}

// seedTrainJob seeds a job that failed its first attempt on node and
// succeeded its second, with metrics, artifacts and a log in dir.
func seedTrainJob(t testing.TB, f *fixture, dir string, node joule.Node) joule.Job {
	t.Helper()
	s := f.store
	t0 := now.Add(-20 * time.Minute)
	j := mustCreateJob(t, s, f.acme, "train-resnet", t0, func(j *joule.Job) {
		j.Spec.Command = []string{"python", "train.py", "--epochs", "3", "--note", "it's <fine>"}
		j.Spec.Resources = joule.Resources{CPUMillis: 1500, MemoryBytes: 2 << 30, GPUs: 1}
		j.Spec.Priority, j.Spec.Retries, j.Spec.Timeout = 7, 2, joule.Duration(time.Hour)
	})
	startJob(t, s, j.ID, node.ID, 1, t0.Add(time.Minute))
	mustMoveJob(t, s, j.ID, joule.JobQueued, "attempt 1 failed: exit status 1; retrying in 1s", t0.Add(3*time.Minute), nil)
	if err := s.PutAttempt(t.Context(), joule.Attempt{JobID: j.ID, N: 1, NodeID: node.ID, State: joule.JobFailed, Reason: "exit status 1",
		ExitCode: ptr(1), StartedAt: t0.Add(time.Minute), FinishedAt: ptr(t0.Add(3 * time.Minute)), Limits: "cgroup v2: cpu.max, memory.max",
		CPUUserSec: 90, CPUSysSec: 3.5, PeakMemory: 1536 << 20}); err != nil {
		t.Fatal(err)
	}
	startJob(t, s, j.ID, node.ID, 2, t0.Add(4*time.Minute))
	end := t0.Add(14 * time.Minute)
	j = mustMoveJob(t, s, j.ID, joule.JobSucceeded, "exited with status 0", end, func(j *joule.Job) {
		j.ExitCode, j.FinishedAt, j.GPUIndices = ptr(0), ptr(end), []int{3}
	})
	if err := s.PutAttempt(t.Context(), joule.Attempt{JobID: j.ID, N: 2, NodeID: node.ID, State: joule.JobSucceeded, Reason: "exited with status 0",
		ExitCode: ptr(0), StartedAt: t0.Add(4 * time.Minute), FinishedAt: ptr(end), Limits: "cgroup v2: cpu.max, memory.max",
		CPUUserSec: 512.25, CPUSysSec: 20, PeakMemory: 1900 << 20}); err != nil {
		t.Fatal(err)
	}
	var ms []joule.Metric
	for i := range 20 {
		step := int64(i * 10)
		ms = append(ms, joule.Metric{Name: "loss", Value: 2.5 / float64(i+1), Step: ptr(step), Time: t0.Add(time.Duration(i) * 30 * time.Second)})
		if i%4 == 0 {
			ms = append(ms, joule.Metric{Name: "accuracy", Value: 0.5 + float64(i)/50, Step: ptr(step), Time: t0.Add(time.Duration(i) * 30 * time.Second)})
		}
	}
	if err := s.AppendJobMetrics(t.Context(), j.ID, 2, ms); err != nil {
		t.Fatal(err)
	}
	writeLog(t, dir, j.ID, 1, "attempt one\nTraceback: boom\n", false)
	writeLog(t, dir, j.ID, 2, "epoch 1 loss=0.9\n<script>alert(1)</script>\nepoch 3 loss=0.12\ndone\n", false)
	out := filepath.Join(dir, j.ID, "output")
	if err := os.MkdirAll(filepath.Join(out, "eval"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "model.bin"), bytes.Repeat([]byte{7}, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "eval", "report <1>.json"), []byte(`{"acc":0.88}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

// mustGPUNode registers a node named gpu-01.
func mustGPUNode(t testing.TB, s joule.Store) joule.Node {
	t.Helper()
	node, err := s.UpsertNode(t.Context(), joule.Node{ID: joule.NewID("node", now), Name: "gpu-01", State: joule.NodeReady, CPUCores: 32, LastHeartbeat: now})
	if err != nil {
		t.Fatal(err)
	}
	return node
}

func TestJobPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, withJobDir(dir))
	j := seedTrainJob(t, f, dir, mustGPUNode(t, f.store))
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/jobs/" + j.ID)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /jobs/%s: status %d\n%s", j.ID, res.StatusCode, res.body)
	}
	for _, want := range []string{
		// header and details
		"train-resnet", j.ID, `id="job-state">succeeded`, "exited with status 0",
		"python train.py --epochs 3 --note &#39;it&#39;\\&#39;&#39;s &lt;fine&gt;&#39;", "1.5 cores", "2 GiB", "1 (indices 3)", "gpu-01",
		"<td>7</td>", "<td>2</td>", "1h0m0s", "2026-03-14 09:10:00 UTC", "2026-03-14 09:24:00 UTC", "<td>10 min 0 s</td>",
		// timeline
		`class="timeline"`, "attempt 1 failed: exit status 1; retrying in 1s", "placed on the node", "attempt 2 started", "from running", "+10 min 0 s",
		// attempts
		"93.5 s", "532 s", "1.5 GiB", "1.9 GiB", "cgroup v2: cpu.max, memory.max", "<code>1</code>",
		// metrics
		`<svg xmlns="http://www.w3.org/2000/svg" class="chart"`, "loss · last 0.12 at step 190", "accuracy · last 0.82 at step 160",
		// artifacts
		"model.bin", "2 KiB", "eval/report &lt;1&gt;.json", "/jobs/" + j.ID + "/artifacts/eval/report%20%3C1%3E.json",
		// the log, escaped
		"epoch 3 loss=0.12", "&lt;script&gt;alert(1)&lt;/script&gt;", `data-done="true"`, `data-attempt="2"`, "attempt 2",
		`src="/static/logtail.js?v=`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "<script>alert") {
		t.Error("the log is not escaped")
	}
	if strings.Contains(res.body, "Traceback") {
		t.Error("the job page shows attempt 1's log, want the latest attempt's")
	}
	if n := strings.Count(res.body, "<svg"); n != 2 {
		t.Errorf("job page has %d charts, want 2 (loss and accuracy)", n)
	}
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	if m := inline.FindString(res.body); m != "" {
		t.Errorf("job page has inline script or style (%q)", m)
	}
	if m := regexp.MustCompile(`data-offset="(\d+)"`).FindStringSubmatch(res.body); m == nil || m[1] != fmt.Sprint(len("epoch 1 loss=0.9\n<script>alert(1)</script>\nepoch 3 loss=0.12\ndone\n")) {
		t.Errorf("data-offset = %v, want the log's size", m)
	}

	// The job can be named by its name too.
	if res := c.get("/jobs/train-resnet"); res.StatusCode != http.StatusOK || !strings.Contains(res.body, j.ID) {
		t.Errorf("GET /jobs/train-resnet: status %d, want the job", res.StatusCode)
	}

	// Artifacts download, and nothing outside the output directory does.
	res = c.get("/jobs/" + j.ID + "/artifacts/model.bin")
	if res.StatusCode != http.StatusOK || len(res.body) != 2048 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download model.bin: status %d, %d bytes, Content-Disposition %q", res.StatusCode, len(res.body), res.Header.Get("Content-Disposition"))
	}
	if res := c.get("/jobs/" + j.ID + "/artifacts/eval/report%20%3C1%3E.json"); res.StatusCode != http.StatusOK || res.body != `{"acc":0.88}` {
		t.Errorf("download eval/report <1>.json: status %d body %q", res.StatusCode, res.body)
	}
	if err := os.Symlink("../attempt-2.log", filepath.Join(dir, j.ID, "output", "log-link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"..%2Fattempt-2.log", "..%2F..%2F" + j.ID + "%2Fattempt-2.log", "nope.bin", "eval", "log-link"} {
		res := c.get("/jobs/" + j.ID + "/artifacts/" + p)
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusNotFound {
			t.Errorf("GET artifact %s: status %d, want 400 or 404", p, res.StatusCode)
		}
		if strings.Contains(res.body, "epoch 1") {
			t.Errorf("GET artifact %s served the log", p)
		}
	}
}

// logChunk gets the log endpoint and decodes its JSON.
func (c *client) logChunk(path string) (int, logChunk, map[string]string) {
	c.t.Helper()
	res := c.get(path)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Fatalf("GET %s: Content-Type %q, want JSON\n%s", path, ct, res.body)
	}
	var chunk logChunk
	var e map[string]string
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(res.body), &chunk); err != nil {
			c.t.Fatalf("GET %s: %v\n%s", path, err, res.body)
		}
	} else if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		c.t.Fatalf("GET %s: %v\n%s", path, err, res.body)
	}
	return res.StatusCode, chunk, e
}

func TestJobLogEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, withJobDir(dir))
	s := f.store
	j := mustCreateJob(t, s, f.acme, "tail-me", now.Add(-time.Minute), nil)
	c := f.client(t)

	// Signed out: a JSON 401, not a redirect.
	if code, _, e := c.logChunk("/jobs/" + j.ID + "/log"); code != http.StatusUnauthorized || e["error"] == "" {
		t.Errorf("signed out: status %d %v, want 401 with an error", code, e)
	}
	c.mustLogin(f.viewerSecret)
	base := "/jobs/" + j.ID + "/log"

	// Queued: nothing yet, not done.
	if code, ch, _ := c.logChunk(base); code != 200 || ch.Attempt != 0 || ch.Text != "" || ch.Done || ch.State != joule.JobQueued {
		t.Errorf("queued job: %d %+v, want an empty chunk that is not done", code, ch)
	}

	startJob(t, s, j.ID, "", 1, now.Add(-30*time.Second))
	// Running, but the worker has not created the log yet.
	if code, ch, _ := c.logChunk(base + "?attempt=1&offset=0"); code != 200 || ch.Text != "" || ch.Offset != 0 || ch.Done || !ch.EOF {
		t.Errorf("running job without a log file: %d %+v", code, ch)
	}
	writeLog(t, dir, j.ID, 1, "hello\n", false)
	code, ch, _ := c.logChunk(base) // no attempt: the latest
	if code != 200 || ch.Text != "hello\n" || ch.Offset != 6 || ch.Attempt != 1 || ch.Latest != 1 || ch.Done || !ch.EOF || ch.State != joule.JobRunning {
		t.Fatalf("first read: %d %+v", code, ch)
	}
	writeLog(t, dir, j.ID, 1, "wörld <b>\n", true)
	code, ch, _ = c.logChunk(base + "?attempt=1&offset=6")
	if code != 200 || ch.Text != "wörld <b>\n" || ch.Offset != 6+int64(len("wörld <b>\n")) || ch.Done {
		t.Fatalf("read from offset 6: %d %+v", code, ch)
	}
	end := ch.Offset

	// Half a character at the end waits for the rest.
	writeLog(t, dir, j.ID, 1, "\xc3", true)
	if _, ch, _ := c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, end)); ch.Text != "" || ch.Offset != end {
		t.Errorf("a cut character was sent: %+v", ch)
	}
	writeLog(t, dir, j.ID, 1, "\xa9!\n", true)
	if _, ch, _ := c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, end)); ch.Text != "é!\n" {
		t.Errorf("completed character: %+v, want é", ch)
	}
	end += 4

	// Bad requests.
	for _, q := range []string{"?attempt=1&offset=-1", "?attempt=1&offset=abc", "?attempt=1&offset=999999", "?attempt=2", "?attempt=x", "?offset=3"} {
		if code, _, e := c.logChunk(base + q); code != http.StatusBadRequest || e["error"] == "" {
			t.Errorf("GET %s: status %d %v, want 400 with an error", q, code, e)
		}
	}

	// A big log comes in chunks of at most 256 KiB.
	big := strings.Repeat("0123456789abcdef", (logChunkBytes+1000)/16)
	writeLog(t, dir, j.ID, 1, big, true)
	_, ch, _ = c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, end))
	if len(ch.Text) != logChunkBytes || ch.EOF || ch.Done {
		t.Fatalf("big log: %d bytes, eof %v, done %v; want %d bytes and more to come", len(ch.Text), ch.EOF, ch.Done, logChunkBytes)
	}
	_, ch, _ = c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, ch.Offset))
	if len(ch.Text) != len(big)-logChunkBytes || !ch.EOF {
		t.Fatalf("rest of the big log: %d bytes, eof %v", len(ch.Text), ch.EOF)
	}
	end = ch.Offset

	// The job ends: done once the log is read to its end.
	mustMoveJob(t, s, j.ID, joule.JobFailed, "exit status 2", now, func(j *joule.Job) { j.ExitCode, j.FinishedAt = ptr(2), ptr(now) })
	if _, ch, _ := c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, end-logChunkBytes-10)); ch.Done || ch.EOF || len(ch.Text) != logChunkBytes {
		t.Errorf("ended job, read ending before EOF: done %v, eof %v, %d bytes; want a full chunk, not done", ch.Done, ch.EOF, len(ch.Text))
	}
	if _, ch, _ := c.logChunk(fmt.Sprintf("%s?attempt=1&offset=%d", base, end)); !ch.Done || ch.Text != "" || ch.State != joule.JobFailed {
		t.Errorf("ended job at the end of its log: %+v, want done", ch)
	}

	// Other workspaces' jobs and unknown jobs are not found.
	secret := mustCreateJob(t, s, f.other, "secret", now, nil)
	for _, id := range []string{secret.ID, "job_nope"} {
		if code, _, e := c.logChunk("/jobs/" + id + "/log"); code != http.StatusNotFound || e["error"] != "job not found" {
			t.Errorf("log of %s: status %d %v, want 404", id, code, e)
		}
	}
}

func TestJobsOtherWorkspaceNotFound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, withJobDir(dir))
	j := seedTrainJob(t, f, dir, mustGPUNode(t, f.store))
	_, otherSecret := mustCreateToken(t, f.store, f.other, "olga", joule.RoleAdmin)
	c := f.client(t)
	c.mustLogin(otherSecret)
	for _, p := range []string{"/jobs/" + j.ID, "/jobs/train-resnet", "/jobs/" + j.ID + "/artifacts/model.bin", "/jobs/job_nope"} {
		res := c.get(p)
		if res.StatusCode != http.StatusNotFound || strings.Contains(res.body, "gpu-01") {
			t.Errorf("GET %s from another workspace: status %d, want 404 without the job", p, res.StatusCode)
		}
	}
	if code, _, _ := c.logChunk("/jobs/" + j.ID + "/log?attempt=2&offset=0"); code != http.StatusNotFound {
		t.Errorf("log from another workspace: status %d, want 404", code)
	}
	if res := c.get("/jobs"); strings.Contains(res.body, j.ID) || !strings.Contains(res.body, "No jobs yet") {
		t.Error("another workspace's jobs list shows the job, or does not say it is empty")
	}
}

func TestJobPageWithoutJobDir(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	j := mustCreateJob(t, f.store, f.acme, "remote", now.Add(-time.Minute), nil)
	startJob(t, f.store, j.ID, "", 1, now)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/jobs/" + j.ID)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Logs are not available on this server.") || strings.Contains(res.body, `id="log"`) {
		t.Errorf("job page without JobDir: status %d, want the no-logs note and no log:\n%s", res.StatusCode, res.body)
	}
	if code, _, e := c.logChunk("/jobs/" + j.ID + "/log?attempt=1&offset=0"); code != http.StatusNotFound || !strings.Contains(e["error"], "not available") {
		t.Errorf("log endpoint without JobDir: %d %v, want 404", code, e)
	}
	if res := c.get("/jobs/" + j.ID + "/artifacts/x"); res.StatusCode != http.StatusNotFound {
		t.Errorf("artifact without JobDir: status %d, want 404", res.StatusCode)
	}
}

func TestJobPageLongLogAndQueued(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, withJobDir(dir))
	queued := mustCreateJob(t, f.store, f.acme, "waiting", now.Add(-time.Minute), nil)
	running := mustCreateJob(t, f.store, f.acme, "chatty", now.Add(-time.Minute), nil)
	startJob(t, f.store, running.ID, "", 1, now)
	var log strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&log, "line %05d of the log\n", i)
	}
	writeLog(t, dir, running.ID, 1, log.String(), false)
	c := f.client(t)
	c.mustLogin(f.adminSecret)

	res := c.get("/jobs/" + running.ID)
	if !strings.Contains(res.body, "Showing the last 64 KiB") || !strings.Contains(res.body, "line 04999 of the log") || strings.Contains(res.body, "line 00000") {
		t.Error("a long log is not cut to its tail")
	}
	if m := regexp.MustCompile(`<pre[^>]*>\n?line \d{5} of`).FindString(res.body); m == "" {
		t.Error("the tail does not start at a line")
	}
	if !strings.Contains(res.body, `data-done="false"`) || !strings.Contains(res.body, fmt.Sprintf(`data-offset="%d"`, log.Len())) {
		t.Error("a running job's log is not set up to follow from its end")
	}

	res = c.get("/jobs/" + queued.ID)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `data-attempt="0"`) || !strings.Contains(res.body, "No attempt has started yet") {
		t.Errorf("queued job page: status %d, want an empty log that follows:\n%s", res.StatusCode, res.body)
	}
}

func TestOverviewJobsCard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	s := f.store
	for i, st := range []joule.JobState{joule.JobRunning, joule.JobQueued, joule.JobScheduled, joule.JobFailed, joule.JobTimedOut, joule.JobSucceeded, joule.JobCancelled} {
		j := mustCreateJob(t, s, f.acme, fmt.Sprintf("j%d", i), now.Add(time.Duration(i)*time.Second), nil)
		if st != joule.JobQueued {
			mustMoveJob(t, s, j.ID, st, "test", now.Add(time.Minute), nil)
		}
	}
	mustCreateJob(t, s, f.other, "elsewhere", now, func(j *joule.Job) { j.State = joule.JobRunning })
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/")
	for _, want := range []string{`href="/jobs"`, "1 running", "2 queued", "2 failed", "7 in all"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("overview's jobs card lacks %q", want)
		}
	}
}

func TestJobPageShowsCarbonShift(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	j := mustCreateJob(t, f.store, f.acme, "flexible", now.Add(-time.Minute), nil)
	saving := 812.5
	start := now.Add(6 * time.Hour)
	_, err := f.store.UpdateJob(t.Context(), j.ID, nil, "", func(j *joule.Job) error {
		j.Shift = &joule.JobShift{
			PlannedAt: now, Start: start, Deadline: now.Add(12 * time.Hour), ExpectedDuration: joule.Duration(time.Hour),
			ForecastGPerKWh: 180, NowGPerKWh: 320, ExpectedWatts: 1000, ExpectedSavingG: 210, Source: "file de.csv",
			RealisedSavingG: &saving, RealisedNote: "actual intensities from file de.csv",
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/jobs/" + j.ID)
	for _, want := range []string{"Carbon shift", "forecast 180 gCO2e/kWh in the window vs 320 at submission (file de.csv)",
		"expected saving 210 gCO2e (estimated, 1000 W assumed)", "realised saving 812 gCO2e: actual intensities from file de.csv"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
}
