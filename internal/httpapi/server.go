package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/joule-dev/joule"
)

// Config configures a Server. The zero value of every optional field is a
// sane default.
type Config struct {
	// Store keeps the metadata. Required.
	Store joule.Store
	// Authenticate turns a bearer token secret into a principal. Required.
	Authenticate func(ctx context.Context, secret string) (joule.Principal, error)
	// Status describes the running server for /v1/status. Required.
	Status func(ctx context.Context) (joule.ServerStatus, error)
	// Jobs changes jobs and schedules. nil: job routes that change things
	// answer 503.
	Jobs JobService
	// Datasets keeps datasets. nil: dataset routes that need it answer 503.
	Datasets DatasetService
	// Models keeps the model registry. nil: model routes answer 503.
	Models ModelService
	// Deployments serves model deployments. nil: deployment routes answer
	// 503.
	Deployments DeploymentService
	// Lifecycle runs the retraining loop. nil: retrain routes answer 503.
	Lifecycle LifecycleService
	// Console serves everything outside /v1, /metrics, /healthz and /readyz.
	// nil answers those paths with 404.
	Console http.Handler
	// Registry receives the HTTP metrics and serves /metrics. nil creates a
	// registry with the Go and process collectors.
	Registry *prometheus.Registry
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// ShutdownTimeout bounds graceful shutdown (default 5 s).
	ShutdownTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives request and error logs (nil discards).
	Logger *slog.Logger
}

// WithDefaults returns c with defaults filled in.
func (c Config) WithDefaults() Config {
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 1<<20)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 5*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
		c.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return c
}

// Validate reports the first missing or bad field.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("httpapi: Config.Store is required")
	case c.Authenticate == nil:
		return errors.New("httpapi: Config.Authenticate is required")
	case c.Status == nil:
		return errors.New("httpapi: Config.Status is required")
	case c.MaxBodyBytes < 0:
		return errors.New("httpapi: Config.MaxBodyBytes must not be negative")
	}
	return nil
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	cfg     Config
	store   joule.Store
	logger  *slog.Logger
	api     *http.ServeMux
	routes  []Route
	openapi []byte

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge

	predictWorkspaces workspaceIDs // predict's workspace lookups (deployments.go)
}

// New returns a Server with every route registered.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: cfg.Store, logger: cfg.Logger, api: http.NewServeMux()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "joule_http_requests_total",
		Help: "HTTP requests served, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "joule_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by method and route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	s.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "joule_http_requests_in_flight",
		Help: "HTTP requests being served now.",
	})
	if err := registerAll(cfg.Registry, s.requests, s.duration, s.inflight); err != nil {
		return nil, err
	}
	for _, r := range slices.Concat(s.routeTable(), s.jobRoutes(), s.energyRoutes(), s.sustainRoutes(), s.datasetRoutes(), s.modelRoutes(),
		s.deploymentRoutes(), s.deploymentTrafficRoutes(), s.deploymentTokenRoutes(), s.deploymentMonitorRoutes(), s.deploymentLifecycleRoutes()) {
		s.register(r)
	}
	doc, err := buildOpenAPI(s.routes)
	if err != nil {
		return nil, fmt.Errorf("build openapi document: %w", err)
	}
	s.openapi = doc
	return s, nil
}

func registerAll(reg *prometheus.Registry, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Routes returns the route table, for documentation and tests.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// OpenAPI returns the OpenAPI 3 document served at /v1/openapi.json.
func (s *Server) OpenAPI() []byte { return s.openapi }

// isAPIPath reports whether the API, not the console, owns a path.
func isAPIPath(p string) bool {
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/metrics" || p == "/healthz" || p == "/readyz"
}

// ServeHTTP routes API paths through the API mux and the rest to the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isAPIPath(r.URL.Path) {
		if s.cfg.Console != nil {
			s.cfg.Console.ServeHTTP(w, r)
			return
		}
	}
	if _, pattern := s.api.Handler(r); pattern == "" {
		// Unknown route or wrong method: let the mux decide which, and
		// answer in the JSON error shape.
		s.instrument("unmatched", s.jsonMuxError()).ServeHTTP(w, r)
		return
	}
	s.api.ServeHTTP(w, r)
}

// jsonMuxError turns the mux's plain-text 404 and 405 into JSON errors.
func (s *Server) jsonMuxError() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iw := &muxErrorWriter{ResponseWriter: w, r: r, logger: s.logger}
		s.api.ServeHTTP(iw, r)
	})
}

type muxErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	logger  *slog.Logger
	written bool
}

func (w *muxErrorWriter) WriteHeader(code int) {
	if w.written {
		return
	}
	w.written = true
	w.Header().Del("Content-Type")
	w.Header().Del("X-Content-Type-Options")
	switch code {
	case http.StatusMethodNotAllowed:
		writeError(w.ResponseWriter, w.r, w.logger, joule.Errorf(joule.EMETHOD, "method %s is not allowed on %s (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow")))
	default:
		writeError(w.ResponseWriter, w.r, w.logger, joule.Errorf(joule.ENOTFOUND, "no route %s %s: see /v1/openapi.json for the API", w.r.Method, w.r.URL.Path))
	}
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil
}

// Serve serves HTTP on ln until ctx is done, then shuts down gracefully:
// in-flight requests get up to Config.ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      0, // log streams follow for long; handlers bound their own work
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		s.logger.Warn("http shutdown did not finish in time; closed remaining connections", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// newRequestID returns a random request ID.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// validRequestID accepts a caller's X-Request-ID when it is short and plain.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
