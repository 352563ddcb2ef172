package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
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
	if err := f.store.Heartbeat(ctx, small.ID, now.Add(-12*time.Second), &joule.NodeUsage{Time: now.Add(-12 * time.Second), CPUFraction: 0.375, MemoryUsed: 3 << 30, Load1: 0.8}); err != nil {
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
