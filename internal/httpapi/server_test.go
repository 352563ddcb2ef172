package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/auth"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/sqlite"
)

// env is a running API on a real SQLite store, bootstrapped like `joule up`.
type env struct {
	srv    *httptest.Server
	api    *httpapi.Server
	store  joule.Store
	admin  string // admin token of default
	viewer string // viewer token of default
	editor string // editor token of default
	other  string // admin token of workspace "other"
	tokID  string // a token ID in default
	node   joule.Node
}

func mustOpenSQLite(tb testing.TB) joule.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "joule.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func newEnv(tb testing.TB, store joule.Store) *env {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	admin, created, err := auth.Bootstrap(ctx, store, now)
	if err != nil || !created {
		tb.Fatalf("Bootstrap = %v, %v", created, err)
	}
	def, err := store.GetWorkspace(ctx, joule.DefaultWorkspace)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{store: store, admin: admin}
	mk := func(wsID, name string, role joule.Role) (joule.Token, string) {
		t, secret, err := joule.NewToken(wsID, name, role, 0, "test", now)
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.CreateToken(ctx, t); err != nil {
			tb.Fatal(err)
		}
		return t, secret
	}
	_, e.viewer = mk(def.ID, "viewer", joule.RoleViewer)
	_, e.editor = mk(def.ID, "editor", joule.RoleEditor)
	victim, _ := mk(def.ID, "victim", joule.RoleViewer)
	e.tokID = victim.ID
	other := joule.Workspace{ID: joule.NewID("ws", now), Name: "other", CreatedAt: now}
	if err := store.CreateWorkspace(ctx, other); err != nil {
		tb.Fatal(err)
	}
	_, e.other = mk(other.ID, "other-admin", joule.RoleAdmin)
	e.node, err = store.UpsertNode(ctx, joule.Node{ID: joule.NewID("node", now), Name: "node-a", Hostname: "node-a", CPUCores: 2, MemoryBytes: 1 << 30, State: joule.NodeReady, CreatedAt: now, LastHeartbeat: now})
	if err != nil {
		tb.Fatal(err)
	}
	authn := &auth.Authenticator{Store: store}
	e.api, err = httpapi.New(httpapi.Config{
		Store:        store,
		Authenticate: authn.Authenticate,
		Status: func(ctx context.Context) (joule.ServerStatus, error) {
			return joule.ServerStatus{Version: joule.Version, Store: store.Kind()}, nil
		},
		MaxBodyBytes: 4 << 10,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = httptest.NewServer(e.api)
	tb.Cleanup(e.srv.Close)
	return e
}

// do sends a request and returns the status and body.
func (e *env) do(tb testing.TB, method, path, token, body string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// errorShape checks the JSON error shape and returns code and message.
func errorShape(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("body %q is not {\"error\":{\"code\",\"message\"}}: %v", body, err)
	}
	return eb.Error.Code, eb.Error.Message
}

func TestWorkspacesWithAdminToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	status, body := e.do(t, "GET", "/v1/workspaces", e.admin, "")
	if status != 200 {
		t.Fatalf("GET /v1/workspaces = %d %s, want 200", status, body)
	}
	var page httpapi.Page[joule.Workspace]
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range page.Items {
		names = append(names, w.Name)
	}
	slices.Sort(names)
	if len(names) != 2 || names[0] != "default" || names[1] != "other" {
		t.Errorf("workspaces = %v, want [default other]", names)
	}
	// A token of another workspace sees only its own.
	_, body = e.do(t, "GET", "/v1/workspaces", e.other, "")
	if !strings.Contains(string(body), `"other"`) || strings.Contains(string(body), `"default"`) {
		t.Errorf("other's workspaces = %s, want only other", body)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	for _, tc := range []struct{ name, header string }{
		{"no header", ""},
		{"wrong token", "Bearer joule_not-a-real-token"},
		{"wrong scheme", "Basic dXNlcjpwYXNz"},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/v1/workspaces", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			if code, _ := errorShape(t, body); code != joule.EUNAUTHORIZED {
				t.Errorf("code = %q, want %q", code, joule.EUNAUTHORIZED)
			}
		})
	}
}

// fillPath replaces path parameters with values that exist.
func (e *env) fillPath(p, ws string) string {
	return strings.NewReplacer("{workspace}", ws, "{token}", e.tokID, "{node}", e.node.Name,
		"{job}", "job_none", "{schedule}", "sch_none", "{path...}", "model.bin").Replace(p)
}

// TestAuthorizationEveryRoute walks the whole route table: no token is 401;
// a token of another workspace is 403 on this workspace's routes; a role
// below the route's is 403; the right role is not refused.
func TestAuthorizationEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	body := map[string]string{
		"POST /v1/workspaces":                    `{"name":"ws-%d"}`,
		"POST /v1/workspaces/{workspace}/tokens": `{"name":"t-%d","role":"viewer"}`,
	}
	n := 0
	for _, rt := range e.api.Routes() {
		if rt.Role == "" {
			continue
		}
		key := rt.Method + " " + rt.Path
		t.Run(key, func(t *testing.T) {
			send := func(token string) (int, []byte) {
				n++
				b := ""
				if f, ok := body[key]; ok {
					b = strings.ReplaceAll(f, "%d", string(rune('a'+n%26))+strings.Repeat("x", n/26))
				}
				return e.do(t, rt.Method, e.fillPath(rt.Path, "default"), token, b)
			}
			if st, b := send(""); st != 401 {
				t.Errorf("no token: %d %s, want 401", st, b)
			}
			if rt.Workspace {
				if st, b := send(e.other); st != 403 {
					t.Errorf("other workspace's admin token: %d %s, want 403", st, b)
				} else if code, _ := errorShape(t, b); code != joule.EFORBIDDEN {
					t.Errorf("code = %q, want forbidden", code)
				}
			}
			if rt.PlatformAdmin {
				if st, b := send(e.other); st != 403 {
					t.Errorf("admin of another workspace: %d %s, want 403", st, b)
				}
			}
			for _, tc := range []struct {
				role  joule.Role
				token string
			}{{joule.RoleViewer, e.viewer}, {joule.RoleEditor, e.editor}, {joule.RoleAdmin, e.admin}} {
				st, b := send(tc.token)
				allowed := tc.role == rt.Role || tc.role == joule.RoleAdmin || (tc.role == joule.RoleEditor && rt.Role == joule.RoleViewer)
				switch {
				case allowed && (st == 401 || st == 403):
					t.Errorf("%s token: %d %s, want allowed", tc.role, st, b)
				case !allowed && st != 403:
					t.Errorf("%s token: %d %s, want 403", tc.role, st, b)
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	big := `{"name":"x","description":"` + strings.Repeat("a", 8<<10) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, contains           string
	}{
		{"malformed json", "POST", "/v1/workspaces", "{\n  \"name\": \"x\",\n  oops\n}", 400, joule.EINVALID, "line 3, column 3"},
		{"truncated json", "POST", "/v1/workspaces", `{"name":`, 400, joule.EINVALID, "unexpected end"},
		{"wrong type", "POST", "/v1/workspaces", `{"name": 12}`, 400, joule.EINVALID, "field name"},
		{"unknown field", "POST", "/v1/workspaces", `{"name":"x","colour":"red"}`, 400, joule.EINVALID, `unknown field "colour"`},
		{"trailing data", "POST", "/v1/workspaces", `{"name":"x"} {}`, 400, joule.EINVALID, "after the JSON value"},
		{"empty body", "POST", "/v1/workspaces", ``, 400, joule.EINVALID, "empty"},
		{"bad name", "POST", "/v1/workspaces", `{"name":"Bad Name"}`, 400, joule.EINVALID, "name:"},
		{"oversized", "POST", "/v1/workspaces", big, 413, joule.ETOOLARGE, "larger than"},
		{"unknown route", "GET", "/v1/nope", "", 404, joule.ENOTFOUND, "no route"},
		{"wrong method", "PATCH", "/v1/workspaces", "", 405, joule.EMETHOD, "not allowed"},
		{"bad limit", "GET", "/v1/nodes?limit=0", "", 400, joule.EINVALID, "limit"},
		{"bad cursor", "GET", "/v1/nodes?cursor=not-a-cursor!", "", 400, joule.EINVALID, "cursor"},
		{"bad role", "POST", "/v1/workspaces/default/tokens", `{"name":"t","role":"root"}`, 400, joule.EINVALID, "role"},
		{"bad expiry", "POST", "/v1/workspaces/default/tokens", `{"name":"t","role":"viewer","expires_in":"soon"}`, 400, joule.EINVALID, "expires_in"},
		{"missing workspace", "GET", "/v1/workspaces/nope/tokens", "", 404, joule.ENOTFOUND, "nope"},
		{"duplicate workspace", "POST", "/v1/workspaces", `{"name":"other"}`, 409, joule.ECONFLICT, "other"},
		{"bad since", "GET", "/v1/workspaces/default/audit?since=yesterday", "", 400, joule.EINVALID, "since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := e.do(t, tc.method, tc.path, e.admin, tc.body)
			if st != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, st, b, tc.status)
			}
			code, msg := errorShape(t, b)
			if code != tc.code || !strings.Contains(msg, tc.contains) {
				t.Errorf("error = %s %q, want %s containing %q", code, msg, tc.code, tc.contains)
			}
		})
	}
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	e.do(t, "GET", "/v1/whoami", e.admin, "")
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, b := e.do(t, "GET", p, "", ""); st != 200 || !strings.Contains(string(b), `"ok"`) {
			t.Errorf("GET %s = %d %s, want 200 ok", p, st, b)
		}
	}
	st, b := e.do(t, "GET", "/metrics", "", "")
	if st != 200 {
		t.Fatalf("GET /metrics = %d", st)
	}
	for _, want := range []string{
		`joule_http_requests_total{code="200",method="GET",route="/v1/whoami"} 1`,
		`joule_http_request_duration_seconds_bucket{method="GET",route="/v1/whoami"`,
		"go_goroutines",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestOpenAPICoversEveryRoute parses the served document and checks that
// every route is in it, and that every documented operation is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	st, b := e.do(t, "GET", "/v1/openapi.json", "", "")
	if st != 200 {
		t.Fatalf("GET /v1/openapi.json = %d", st)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	documented := 0
	for _, rt := range e.api.Routes() {
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s is missing from openapi.json", rt.Method, rt.Path)
			continue
		}
		var o struct {
			Summary   string                     `json:"summary"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(op, &o); err != nil || o.Summary == "" || len(o.Responses) == 0 {
			t.Errorf("%s %s: operation lacks summary or responses", rt.Method, rt.Path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented++
			st, b := e.do(t, strings.ToUpper(method), e.fillPath(path, "default"), e.admin, "")
			if st == 404 || st == 405 {
				if code, _ := errorShape(t, b); code == joule.EMETHOD || strings.Contains(string(b), "no route") {
					t.Errorf("documented %s %s is not served: %d %s", method, path, st, b)
				}
			}
		}
	}
	if documented != len(e.api.Routes()) {
		t.Errorf("openapi.json documents %d operations, the server has %d routes", documented, len(e.api.Routes()))
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	c := httpapi.NewClient(e.srv.URL, e.admin)
	ctx := t.Context()
	if _, err := c.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "team-a"}); err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateToken(ctx, "default", httpapi.CreateTokenRequest{Name: "ci", Role: joule.RoleEditor, ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Secret, joule.TokenPrefix) || r.Token.ExpiresAt == nil {
		t.Errorf("CreateToken = %+v, want a secret and an expiry", r)
	}
	// The new token works, and stops working when revoked.
	ci := httpapi.NewClient(e.srv.URL, r.Secret)
	if _, err := ci.Whoami(ctx); err != nil {
		t.Fatalf("new token: %v", err)
	}
	if _, err := c.RevokeToken(ctx, "default", r.Token.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Whoami(ctx); joule.ErrorCode(err) != joule.EUNAUTHORIZED {
		t.Errorf("revoked token: err = %v, want unauthorized", err)
	}
	// A refused call is audited too.
	viewer := httpapi.NewClient(e.srv.URL, e.viewer)
	if _, err := viewer.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "nope"}); joule.ErrorCode(err) != joule.EFORBIDDEN {
		t.Errorf("viewer CreateWorkspace: err = %v, want forbidden", err)
	}
	page, err := c.ListAudit(ctx, "default", httpapi.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Items {
		actions = append(actions, a.Action+":"+a.Outcome)
		if a.Seq > 2 && a.RequestID == "" {
			t.Errorf("entry %d has no request ID", a.Seq)
		}
	}
	want := "workspace.create:success token.create:success workspace.create:success token.create:success token.revoke:success workspace.create:error: forbidden"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit actions = %s\nwant %s", got, want)
	}
	page, err = c.ListAudit(ctx, "default", httpapi.AuditQuery{Action: "token."})
	if err != nil || len(page.Items) != 3 {
		t.Errorf("ListAudit(action=token.) = %d entries, %v; want 3", len(page.Items), err)
	}
	rep, err := c.VerifyAudit(ctx, "default")
	if err != nil || !rep.OK || rep.Entries != 6 {
		t.Errorf("VerifyAudit = %+v, %v; want ok with 6 entries", rep, err)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	c := httpapi.NewClient(e.srv.URL, e.admin)
	ctx := t.Context()
	for i := range 7 {
		if _, err := c.CreateToken(ctx, "default", httpapi.CreateTokenRequest{Name: "p" + string(rune('a'+i)), Role: joule.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	opt := joule.ListOptions{Limit: 3}
	pages := 0
	for {
		p, err := c.ListTokens(ctx, "default", opt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tk := range p.Items {
			if seen[tk.ID] {
				t.Errorf("token %s listed twice", tk.ID)
			}
			seen[tk.ID] = true
		}
		if p.NextCursor == "" {
			break
		}
		opt.Cursor = p.NextCursor
	}
	// admin + viewer + editor + victim + 7
	if len(seen) != 11 || pages != 4 {
		t.Errorf("listed %d tokens in %d pages, want 11 in 4", len(seen), pages)
	}
}

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	c := httpapi.NewClient("http://127.0.0.1:1", "x")
	_, err := c.Whoami(t.Context())
	if joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(joule.ErrorMessage(err), "cannot reach") {
		t.Errorf("Whoami on a closed port: %v, want unavailable 'cannot reach'", err)
	}
}
