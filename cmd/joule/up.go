package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/auth"
	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/model"
	"github.com/joule-dev/joule/internal/postgres"
	"github.com/joule-dev/joule/internal/serving"
	"github.com/joule-dev/joule/internal/sqlite"
	"github.com/joule-dev/joule/web"
)

// cpuProcs returns the runtime's GOMAXPROCS as the process started (the
// CPUs it may use), and, unless GOMAXPROCS is set in the environment,
// gives the runtime one P more, once per process. In-process predict calls
// compute on at most that many threads (serving.Config.ComputeSlots), so
// the extra P is always free to read and refuse requests while the model
// work fills every CPU; the OS scheduler then runs that thread promptly
// (docs/decisions.md, "Predict calls compute on at most one thread per
// CPU").
var cpuProcs = sync.OnceValue(func() int {
	n := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(n + 1)
	}
	return n
})

// up wires every part of the server together and runs it until ctx is done.
func up(ctx context.Context, cfg cli.UpConfig, out, errOut io.Writer) error {
	procs := cpuProcs()
	logger := newLogger(cfg, errOut)
	started := time.Now().UTC()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return joule.Errorf(joule.EINVALID, "data_dir: %v", err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	secret, created, err := auth.Bootstrap(ctx, store, started)
	if err != nil {
		return err
	}
	tokenPath := filepath.Join(cfg.DataDir, "admin.token")
	if created {
		if err := os.WriteFile(tokenPath, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", tokenPath, err)
		}
	}
	sessionKey, err := loadOrCreateKey(filepath.Join(cfg.DataDir, "session.key"))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return joule.Errorf(joule.EINVALID, "listen: %v", err)
	}
	base := "http://" + displayAddr(ln.Addr().String())

	// The compute layer: the dispatcher places jobs; this node's worker
	// runs those placed here.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := compute.NewMetrics(reg, store)
	if err != nil {
		ln.Close()
		return err
	}
	var shift compute.ShiftConfig
	var intensity compute.IntensityFunc
	if cfg.CarbonForecast != "" {
		s, name, err := loadForecast(cfg.CarbonForecast, logger)
		if err != nil {
			ln.Close()
			return err
		}
		shift.Forecast, intensity = forecastFunc(s, name), intensityFunc(s, name)
		logger.Info("flexible jobs are timed by a carbon forecast", "file", cfg.CarbonForecast,
			"from", s.Start().Format(time.RFC3339), "to", s.End().Format(time.RFC3339), "step", s.Step())
	}
	var dispatcher *compute.Dispatcher
	local, err := startNode(ctx, store, nodeOptions{
		storeURL: cfg.Store, dataDir: cfg.DataDir, name: cfg.NodeName, serverURL: base, carbonZone: cfg.CarbonZone, energy: cfg.Energy,
		intensity: intensity,
		onFinish:  func(joule.Job) { dispatcher.Wake() },
		metrics:   metrics,
		logger:    logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer local.stop()
	node := local.node
	// The server prunes the energy samples of every node.
	es, _ := parseEnergySettings(cfg.Energy, cfg.CarbonZone, logger) // checked by startNode
	pctx, stopPrune := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		pruner{store: store, retention: es.retention, every: 10 * time.Minute, logger: logger.With("subsystem", "energy")}.run(pctx)
	}()
	defer func() { stopPrune(); <-pdone }()
	shift.JobWatts, shift.PUE = jobWatts(node.CPUCores), es.account.PUE
	var power *compute.PowerConfig
	if cfg.OnIdle != "" {
		power = &compute.PowerConfig{OnIdle: cfg.OnIdle, OnWake: cfg.OnWake}
		// Validate has checked both durations.
		power.Policy.IdleAfter, _ = time.ParseDuration(cmp.Or(cfg.IdleAfter, "0s"))
		power.Policy.MinDwell, _ = time.ParseDuration(cmp.Or(cfg.MinDwell, "0s"))
		logger.Info("idle nodes are put to sleep", "on_idle", cfg.OnIdle, "on_wake", cfg.OnWake)
	}
	dcfg := compute.DispatcherConfig{Store: store, Enqueue: enqueuer(local.queue), Shift: shift, Power: power, Logger: logger.With("subsystem", "dispatcher")}
	if cfg.PreferGreenNodes {
		g := &greenPlacer{store: store, energy: cfg.Energy, pue: es.account.PUE, logger: logger.With("subsystem", "placement"), now: time.Now,
			lookups: map[string]*carbon.Lookup{}, eff: map[string]effEntry{}}
		dcfg.NodeCarbon = g.gramsPerCPUSecond
		logger.Info("placement prefers the greenest node per CPU-second (zone intensity × measured efficiency)")
	}
	dispatcher, err = compute.NewDispatcher(dcfg)
	if err != nil {
		ln.Close()
		return err
	}
	if err := dispatcher.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer dispatcher.Stop()
	monitor, err := sustainMonitor(cfg, store, logger.With("subsystem", "sustain"))
	if err != nil {
		ln.Close()
		return err
	}
	if err := monitor.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer monitor.Stop()
	jobs := &compute.Service{Store: store, DataDir: cfg.DataDir, Wake: dispatcher.Wake}
	exe, err := os.Executable()
	if err != nil {
		ln.Close()
		return fmt.Errorf("find the joule binary for recipe jobs: %w", err)
	}
	datasets := &dataset.Service{Store: store, DataDir: cfg.DataDir, Executable: exe, Submit: jobs.Submit,
		AllowPrivateURLs: cfg.AllowPrivateURLs, Logger: logger.With("subsystem", "dataset")}
	models := &model.Service{Store: store, DataDir: cfg.DataDir, Executable: exe, Submit: jobs.Submit, Logger: logger.With("subsystem", "model")}

	// Alerts go to the webhook (serving_monitor.go); drift alerts also
	// trigger the retraining loop, which starts after the manager.
	// The manager's hooks run on its goroutines, so the loop they reach is
	// published atomically once it has started.
	var loop atomic.Pointer[serving.Lifecycle]
	monitorCfg, err := servingMonitor(cfg, logger.With("subsystem", "serving"), func(ctx context.Context, d joule.Deployment, reason string) {
		if l := loop.Load(); l != nil {
			l.OnDrift(ctx, d, reason)
		}
	})
	if err != nil {
		ln.Close()
		return err
	}
	deployments := serving.NewManager(serving.Config{Store: store, DataDir: cfg.DataDir, Runtime: local.exec, Monitor: monitorCfg, ComputeSlots: procs,
		Engine: dataset.EngineConfig{TempDir: filepath.Join(cfg.DataDir, "datasets", "tmp")}, Logger: logger.With("subsystem", "serving"),
		LifecycleStatus: func(id string) *joule.LifecycleStatus { return loop.Load().Status(id) }})
	if err := deployments.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer deployments.Stop()
	lifecycle, err := startLifecycle(ctx, store, deployments, models, logger.With("subsystem", "lifecycle"))
	if err != nil {
		ln.Close()
		return err
	}
	loop.Store(lifecycle)
	defer lifecycle.Stop()
	meter := &servingMeter{mgr: deployments, power: local.power, cfg: es.account, policy: es.policy, logger: logger.With("subsystem", "serving")}
	meter.Start(ctx)
	defer meter.Stop()
	reg.MustRegister(newServingCollector(deployments))
	reg.MustRegister(newMonitorCollector(deployments)) // monitor: drift and live quality (serving_monitor.go)

	authn := &auth.Authenticator{Store: store}
	status := func(ctx context.Context) (joule.ServerStatus, error) {
		nodes, _, err := store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
		if err != nil {
			return joule.ServerStatus{}, err
		}
		return joule.ServerStatus{Version: joule.Version, StartedAt: started, Store: store.Kind(), DataDir: cfg.DataDir, Nodes: nodes}, nil
	}
	modelCard := func(ctx context.Context, ws, m string, n int) (string, error) {
		return models.Card(ctx, ws, m, n, "fragment")
	}
	console, err := web.New(web.Config{
		Store:        store,
		Authenticate: authn.Authenticate,
		Principal:    authn.Principal,
		Status:       status,
		SessionKey:   sessionKey,
		JobDir:       func(id string) string { return compute.JobDir(cfg.DataDir, id) },
		Datasets:     datasets,
		ModelCard:    modelCard,
		Deployments:  deployments,
		Logger:       logger.With("subsystem", "console"),
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	api, err := httpapi.New(httpapi.Config{
		Store:        store,
		Authenticate: authn.Authenticate,
		Status:       status,
		Jobs:         jobs,
		Datasets:     datasets,
		Models:       models,
		Deployments:  deployments,
		Lifecycle:    lifecycle,
		Registry:     reg,
		Console:      console,
		Logger:       logger.With("subsystem", "http"),
	})
	if err != nil {
		ln.Close()
		return err
	}

	fmt.Fprintf(out, "joule %s is up\n", joule.Version)
	fmt.Fprintf(out, "  console:  %s/\n", base)
	fmt.Fprintf(out, "  api:      %s/v1  (OpenAPI: %s/v1/openapi.json)\n", base, base)
	fmt.Fprintf(out, "  metrics:  %s/metrics\n", base)
	fmt.Fprintf(out, "  store:    %s\n", store.Kind())
	fmt.Fprintf(out, "  data dir: %s\n", cfg.DataDir)
	fmt.Fprintf(out, "  node:     %s (%s)\n", node.Name, meterWords(node))
	if created {
		fmt.Fprintf(out, "\nAdmin token (shown once, also saved to %s):\n\n  %s\n\n", tokenPath, secret)
		fmt.Fprintf(out, "Log in with:\n\n  joule login --server %s --token %s\n\n", base, secret)
	} else {
		fmt.Fprintf(out, "  admin token: printed on first start; see %s\n", tokenPath)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "store", store.Kind(), "data_dir", cfg.DataDir)
	err = api.Serve(ctx, ln)
	logger.Info("stopped")
	return err
}

func openStore(ctx context.Context, cfg cli.UpConfig) (joule.Store, error) {
	kind, target, err := cli.ParseStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "postgres":
		s, err := postgres.Open(ctx, target)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "store: %s", oneLine(err))
		}
		return s, nil
	default:
		if target == "" {
			target = filepath.Join(cfg.DataDir, "joule.db")
		}
		s, err := sqlite.Open(ctx, target)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "store: %s", oneLine(err))
		}
		return s, nil
	}
}

func oneLine(err error) string {
	msg := err.Error()
	if e, ok := errors.AsType[*joule.Error](err); ok && e.Code != joule.EINTERNAL {
		msg = e.Message
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

// loadOrCreateKey returns the 32-byte key in path, creating it on first use.
func loadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func meterWords(n joule.Node) string {
	if len(n.Meters) == 0 {
		return "no power meter detected: energy will be estimated"
	}
	kinds := map[string]bool{}
	var names []string
	for _, m := range n.Meters {
		if !kinds[m.Kind] {
			kinds[m.Kind] = true
			names = append(names, m.Kind)
		}
	}
	return "power measured by " + strings.Join(names, ", ")
}

func newLogger(cfg cli.UpConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
