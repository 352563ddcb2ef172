package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/joule-dev/joule"
)

// Route is one API operation. The table of routes drives the mux, the
// authorisation, the audit log and the OpenAPI document.
type Route struct {
	Method  string // GET, POST, …
	Path    string // a ServeMux path, e.g. /v1/workspaces/{workspace}/tokens
	Summary string // one line for the OpenAPI document
	// Role is the least role a caller needs; "" means public (no token).
	Role joule.Role
	// Workspace is true when Path has a {workspace} segment (an ID or name)
	// that the caller's token must belong to.
	Workspace bool
	// PlatformAdmin requires an admin token of the default workspace.
	PlatformAdmin bool
	// Audit is the action recorded for state-changing routes, e.g.
	// "token.create"; "" records nothing.
	Audit string
	// Query documents the query parameters.
	Query []Param
	// Request and Response are sample values whose types document the
	// bodies (nil for none). Status is the success status (default 200).
	Request  any
	Response any
	Status   int
	// Raw marks a route whose response is not JSON (metrics).
	Raw bool
	// MaxBody overrides Config.MaxBodyBytes for this route (uploads).
	MaxBody int64

	handle func(w http.ResponseWriter, r *http.Request, c *call) error
}

// Param documents a query parameter.
type Param struct {
	Name, Description string
}

// call carries what the middleware learned about a request to its handler,
// and what the handler wants audited.
type call struct {
	principal joule.Principal
	workspace joule.Workspace // resolved for Workspace routes
	resource  string          // audited resource ID
	detail    string          // audited detail
}

// Page is the shape of every list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) register(rt Route) {
	s.routes = append(s.routes, rt)
	s.api.Handle(rt.Method+" "+rt.Path, s.instrument(rt.Path, s.wrap(rt)))
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument adds the request ID, metrics, panic recovery and the access log.
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	obs := &routeMetrics{s: s, route: route}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		r = r.WithContext(joule.NewContextWithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w}
		s.inflight.Inc()
		defer func() {
			s.inflight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, s.logger, joule.Errorf(joule.EINTERNAL, "internal error"))
				}
			}
			status := cmp.Or(sw.status, http.StatusOK)
			elapsed := time.Since(start)
			obs.observe(r.Method, status, elapsed)
			if s.logger.Enabled(r.Context(), slog.LevelDebug) {
				s.logger.LogAttrs(r.Context(), slog.LevelDebug, "http request",
					slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", status), slog.Duration("duration", elapsed))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeMetrics keeps one route's metric children, so that a request
// does not hash its labels to find them (the predict path's cost,
// docs/perf.md "Serving"). The set is copied on write: a route sees few
// methods and statuses.
type routeMetrics struct {
	s     *Server
	route string
	mu    sync.Mutex // serialises writers
	kids  atomic.Pointer[[]routeMetric]
}

type routeMetric struct {
	method   string
	status   int
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *routeMetrics) observe(method string, status int, elapsed time.Duration) {
	if kids := m.kids.Load(); kids != nil {
		for _, k := range *kids {
			if k.status == status && k.method == method {
				k.requests.Inc()
				k.duration.Observe(elapsed.Seconds())
				return
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var kids []routeMetric
	if old := m.kids.Load(); old != nil {
		kids = *old
	}
	k := routeMetric{method: method, status: status,
		requests: m.s.requests.WithLabelValues(method, m.route, strconv.Itoa(status)),
		duration: m.s.duration.WithLabelValues(method, m.route)}
	if len(kids) < 32 { // any method string counts in the labels, but is kept only this far
		kids = append(slices.Clip(kids), k)
		m.kids.Store(&kids)
	}
	k.requests.Inc()
	k.duration.Observe(elapsed.Seconds())
}

// wrap authenticates, authorises, limits the body, runs the handler and
// records the audit entry.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		if rt.Role != "" {
			p, err := s.authenticate(r)
			if err != nil {
				writeError(w, r, s.logger, err)
				return
			}
			c.principal = p
			r = r.WithContext(joule.NewContextWithPrincipal(r.Context(), p))
		}
		// An audited call's response is held until its audit entry is
		// written, so that a client that has its answer (and a job that
		// exits on it) always finds the entry, and a client that hangs up
		// cannot cancel it.
		var held *heldWriter
		if rt.Audit != "" && c.principal.TokenID != "" {
			held = &heldWriter{ResponseWriter: w}
			w = held
		}
		sw := &statusWriter{ResponseWriter: w}
		err := s.authorize(r, rt, c)
		if err == nil {
			r.Body = http.MaxBytesReader(sw, r.Body, cmp.Or(rt.MaxBody, s.cfg.MaxBodyBytes))
			err = rt.handle(sw, r, c)
		}
		if err != nil {
			writeError(sw, r, s.logger, err)
		}
		if held != nil {
			s.audit(r, rt, c, err)
			held.release()
		}
	})
}

// heldWriter keeps a response's status and body until release.
type heldWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *heldWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *heldWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// release sends what was held.
func (w *heldWriter) release() {
	w.ResponseWriter.WriteHeader(cmp.Or(w.status, http.StatusOK))
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}

func (s *Server) authenticate(r *http.Request) (joule.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "authentication required: send Authorization: Bearer <token>")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimLeft(secret, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\"")
	}
	return s.cfg.Authenticate(r.Context(), secret)
}

func (s *Server) authorize(r *http.Request, rt Route, c *call) error {
	if rt.Role == "" {
		return nil
	}
	p := c.principal
	if rt.Workspace {
		ref := r.PathValue("workspace")
		if !p.PlatformAdmin() && ref != p.WorkspaceID && ref != p.WorkspaceName {
			return joule.Errorf(joule.EFORBIDDEN, "token %s belongs to workspace %q, not to workspace %q", p.TokenID, p.WorkspaceName, ref)
		}
		ws, err := s.store.GetWorkspace(r.Context(), ref)
		if err != nil {
			return err
		}
		c.workspace = ws
		return joule.Authorize(p, rt.Role, ws.ID)
	}
	if err := joule.Authorize(p, rt.Role, ""); err != nil {
		return err
	}
	if rt.PlatformAdmin && !p.PlatformAdmin() {
		return joule.Errorf(joule.EFORBIDDEN, "only an admin token of the %q workspace may do this", joule.DefaultWorkspace)
	}
	return nil
}

func (s *Server) audit(r *http.Request, rt Route, c *call, err error) {
	outcome := "success"
	if err != nil {
		outcome = "error: " + joule.ErrorCode(err)
	}
	ws := cmp.Or(c.workspace.ID, c.principal.WorkspaceID)
	e := joule.AuditEntry{
		Time:        s.cfg.Now().UTC(),
		WorkspaceID: ws,
		Principal:   c.principal.TokenID,
		Action:      rt.Audit,
		Resource:    cmp.Or(c.resource, r.URL.Path),
		RequestID:   joule.RequestIDFromContext(r.Context()),
		Outcome:     outcome,
		Detail:      c.detail,
	}
	if _, aerr := s.store.AppendAudit(context.WithoutCancel(r.Context()), e); aerr != nil {
		s.logger.ErrorContext(r.Context(), "audit entry not written", "err", aerr, "action", rt.Audit, "request_id", e.RequestID)
	}
}

// listOptions parses limit and cursor.
func listOptions(r *http.Request) (joule.ListOptions, error) {
	q := r.URL.Query()
	opt := joule.ListOptions{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > joule.MaxLimit {
			return opt, errField("limit", "%q must be a whole number from 1 to %d", v, joule.MaxLimit)
		}
		opt.Limit = n
	}
	return opt.WithDefaults(), nil
}

func parseTimeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if d, derr := time.ParseDuration(v); derr == nil && d > 0 {
			return time.Now().UTC().Add(-d), nil
		}
		return time.Time{}, errField(name, "%q is not an RFC 3339 time (2026-11-27T10:00:00Z) or a duration ago (24h)", v)
	}
	return t.UTC(), nil
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry})
}
