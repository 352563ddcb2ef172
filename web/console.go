// Package web is the joule console: server-rendered HTML pages over the
// metadata store, for people with a browser rather than the CLI.
//
// The console is html/template plus plain static files, embedded in the
// binary (see embed.go), so it works from a clean clone without Node and
// makes no external requests. The API server mounts a [Console] at "/": it
// owns /v1/, /metrics and the health endpoints, and everything else reaches
// the console.
//
// People sign in by pasting an API token. The console then keeps a session
// cookie that holds the token's ID, an expiry and an HMAC-SHA256 signature,
// never the secret, and re-checks on every request that the token is still
// active, so revoking a token ends its console sessions too. Every form
// carries a CSRF token (a signed double-submit cookie), and every response
// carries a strict Content-Security-Policy: the pages use no inline script
// or style.
package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/joule-dev/joule"
)

// Config configures a [Console]. Store, Authenticate, Principal and
// SessionKey are required.
type Config struct {
	// Store is where the pages read from.
	Store joule.Store
	// Authenticate turns a pasted token secret into a principal. It returns
	// an EUNAUTHORIZED *joule.Error for an unknown, expired or revoked token.
	Authenticate func(ctx context.Context, secret string) (joule.Principal, error)
	// Principal returns the principal of a session's token ID, re-checking
	// that the token is still active. It returns an EUNAUTHORIZED
	// *joule.Error when it is not.
	Principal func(ctx context.Context, tokenID string) (joule.Principal, error)
	// Status reports the server. nil means a status built from Store alone:
	// the build's version, the store kind and its nodes.
	Status func(ctx context.Context) (joule.ServerStatus, error)
	// SessionKey is the HMAC key, at least 32 bytes, that signs session
	// cookies and CSRF tokens. Keep it stable across restarts, or everyone
	// signs in again.
	SessionKey []byte
	// SessionTTL is how long a session lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// Secure sets the Secure flag on cookies; set it when serving TLS.
	Secure bool
	// JobDir returns a job's directory on this server: its logs are
	// attempt-<n>.log in it and its artifacts are under output/. nil means
	// the console shows no logs or artifacts.
	JobDir func(jobID string) string
	// Datasets reads dataset previews and rejects; nil shows neither.
	Datasets DatasetReader
	// ModelCard renders model cards for the model version pages; nil shows none.
	ModelCard ModelCardFunc
	// Deployments reads the served models for the deployment pages; nil
	// means this server serves none.
	Deployments DeploymentReader
	// Chromium is the Chromium or Chrome binary that prints reports to PDF:
	// a path or a name on PATH. "" looks for chromium, chromium-browser,
	// google-chrome and google-chrome-stable; without one the Reports page
	// offers no PDF and says why.
	Chromium string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
}

// DefaultSessionTTL is the session lifetime when Config.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// MinSessionKeyLen is the shortest Config.SessionKey accepted, in bytes.
const MinSessionKeyLen = 32

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.SessionTTL = cmp.Or(c.SessionTTL, DefaultSessionTTL)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Status == nil && c.Store != nil {
		store := c.Store
		c.Status = func(ctx context.Context) (joule.ServerStatus, error) {
			nodes, _, err := store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
			if err != nil {
				return joule.ServerStatus{}, err
			}
			return joule.ServerStatus{Version: joule.Version, Store: store.Kind(), Nodes: nodes}, nil
		}
	}
	return c
}

// Validate reports the first missing or invalid field, naming it.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return joule.Errorf(joule.EINVALID, "web: Store: required")
	case c.Authenticate == nil:
		return joule.Errorf(joule.EINVALID, "web: Authenticate: required")
	case c.Principal == nil:
		return joule.Errorf(joule.EINVALID, "web: Principal: required")
	case len(c.SessionKey) < MinSessionKeyLen:
		return joule.Errorf(joule.EINVALID, "web: SessionKey: must be at least %d bytes, got %d", MinSessionKeyLen, len(c.SessionKey))
	case c.SessionTTL < 0:
		return joule.Errorf(joule.EINVALID, "web: SessionTTL: must not be negative")
	}
	return nil
}

// Console serves the web console. It is an [http.Handler].
type Console struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static *staticFiles
	keys   keys
	pdf    *pdfPrinter
}

var _ http.Handler = (*Console)(nil)

// New returns a console for cfg, after applying its defaults and checking
// it.
func New(cfg Config) (*Console, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	static, err := loadStatic()
	if err != nil {
		return nil, fmt.Errorf("web: %v", err)
	}
	c := &Console{cfg: cfg, static: static, keys: deriveKeys(cfg.SessionKey), pdf: newPDFPrinter(cfg.Chromium)}
	if c.pages, err = c.parseTemplates(); err != nil {
		return nil, fmt.Errorf("web: %v", err)
	}
	c.routes()
	return c, nil
}

// securityHeaders are set on every response.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "same-origin",
	"X-Frame-Options":         "DENY",
}

// ServeHTTP sets the security headers and serves the page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	c.mux.ServeHTTP(w, r)
}

// routes registers the pages. Patterns without a method check it in the
// handler, so that a wrong method gets the console's error page.
func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(c.serveStatic)))
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.logout)
	m.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) })
	m.HandleFunc("GET /{$}", c.authed(c.overview))
	m.HandleFunc("GET /audit", c.authed(c.audit))
	m.HandleFunc("GET /settings", c.authed(c.settings))
	m.HandleFunc("GET /datasets", c.authed(c.datasetsList))
	m.HandleFunc("GET /datasets/{name}", c.authed(c.datasetPage))
	m.HandleFunc("GET /jobs", c.authed(c.jobsList))
	m.HandleFunc("GET /jobs/{id}", c.authed(c.jobPage))
	m.HandleFunc("GET /jobs/{id}/log", c.authedJSON(c.jobLog))
	m.HandleFunc("GET /jobs/{id}/artifacts/{path...}", c.authed(c.jobArtifact))
	m.HandleFunc("GET /energy", c.authed(c.energy))
	c.sustainRoutes(m)
	c.modelRoutes(m)
	c.deploymentRoutes(m)
	for _, s := range sections {
		if s.soon != "" {
			m.HandleFunc("GET "+s.path, c.authed(c.comingSoon))
		}
	}
	m.HandleFunc("/", c.notFound)
	c.mux = m
}

// section is one entry of the navigation.
type section struct {
	path, name string
	soon       string // what the section will hold; "" once it is built
}

var sections = []section{
	{"/", "Overview", ""},
	{"/datasets", "Datasets", ""},
	{"/jobs", "Jobs", ""},
	{"/models", "Models", ""},
	{"/deployments", "Deployments", ""},
	{"/energy", "Energy & Carbon", ""},
	{"/targets", "Targets", ""},
	{"/reports", "Reports", ""},
	{"/audit", "Audit", ""},
	{"/settings", "Settings", ""},
}

func sectionFor(path string) section {
	for _, s := range sections {
		if s.path == path {
			return s
		}
	}
	return section{}
}

// view is what every page template receives.
type view struct {
	Title     string
	Path      string // the active section
	Sections  []section
	Principal joule.Principal
	CSRF      string
	Version   string
	Data      any
}

// navItem is how the layout reads a section (templates cannot read
// unexported fields).
type navItem struct {
	Path, Name string
	Active     bool
}

// Nav returns the navigation with the active section marked.
func (v view) Nav() []navItem {
	items := make([]navItem, len(v.Sections))
	for i, s := range v.Sections {
		items[i] = navItem{s.path, s.name, s.path == v.Path}
	}
	return items
}

// render executes the named page into a buffer and writes it with status,
// so a failing template never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := c.pages[name]
	if !ok {
		c.internal(w, r, fmt.Errorf("no template %q", name))
		return
	}
	v.Sections = sections
	v.Version = joule.Version
	if v.CSRF == "" {
		v.CSRF = c.csrfToken(w, r)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: render page", "template", name, "path", r.URL.Path, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// errorView is the data of the error page.
type errorView struct {
	Status  int
	Heading string
	Message string
}

// fail renders the error page. The principal, if any, keeps the layout's
// navigation.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	c.render(w, r, status, "error.html", view{
		Title:     heading,
		Principal: joule.PrincipalFromContext(r.Context()),
		Data:      errorView{status, heading, message},
	})
}

// internal logs err and shows "internal error".
func (c *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	c.cfg.Logger.ErrorContext(r.Context(), "console: internal error", "path", r.URL.Path, "err", err)
	c.fail(w, r, http.StatusInternalServerError, "Internal error", "internal error")
}

// failErr renders err: the user-facing message of EINVALID, ENOTFOUND and
// EFORBIDDEN errors, and "internal error" (logged) for anything else.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch joule.ErrorCode(err) {
	case joule.EINVALID:
		c.fail(w, r, http.StatusBadRequest, "Bad request", joule.ErrorMessage(err))
	case joule.ENOTFOUND:
		c.fail(w, r, http.StatusNotFound, "Not found", joule.ErrorMessage(err))
	case joule.EFORBIDDEN:
		c.fail(w, r, http.StatusForbidden, "Forbidden", joule.ErrorMessage(err))
	default:
		c.internal(w, r, err)
	}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	// Show the navigation to signed-in people; never redirect from here.
	if p, err := c.session(r); err == nil {
		r = r.WithContext(joule.NewContextWithPrincipal(r.Context(), p))
	}
	if known := sectionFor(r.URL.Path).path != "" || r.URL.Path == "/login" || r.URL.Path == "/logout"; known && r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This page does not accept "+r.Method+" requests.")
		return
	}
	c.fail(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
}
