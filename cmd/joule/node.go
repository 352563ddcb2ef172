package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/executor"
	"github.com/joule-dev/joule/internal/nodeinfo"
	"github.com/joule-dev/joule/internal/nvml"
	"github.com/joule-dev/joule/internal/queue"
)

// localNode is this machine as a node: its inventory and heartbeat, and the
// worker that runs the jobs placed on it.
type localNode struct {
	node     joule.Node
	worker   *compute.Worker
	queue    *queue.Queue
	reporter *nodeinfo.Reporter
	power    *powerSampler
	exec     *executor.Executor // runs jobs, and the model servers of command deployments
	closers  []func()
}

type nodeOptions struct {
	storeURL, dataDir, name, serverURL string
	labels                             map[string]string
	carbonZone                         string
	intensity                          compute.IntensityFunc // actual intensities, for realised savings
	energy                             cli.EnergyConfig
	onFinish                           func(joule.Job)
	metrics                            *compute.Metrics
	logger                             *slog.Logger
}

// startNode registers this machine, starts its heartbeat, reconciles the
// jobs the store says run here, and starts working its queue.
func startNode(ctx context.Context, store joule.Store, o nodeOptions) (*localNode, error) {
	es, err := parseEnergySettings(o.energy, o.carbonZone, o.logger)
	if err != nil {
		return nil, err
	}
	trackGridIntensity(o.metrics, o.carbonZone, &es)
	ln := &localNode{}
	started := time.Now().UTC().Truncate(time.Microsecond)
	var gpus nodeinfo.GPUSource
	var gpuPower energy.GPUSource
	if lib, err := nvml.Open(); err == nil {
		ln.closers = append(ln.closers, func() { lib.Close() })
		gpus, gpuPower = lib, lib
	} else {
		o.logger.Debug("no NVIDIA GPUs visible", "reason", err)
	}
	labels := o.labels
	if o.carbonZone != "" && labels[ZoneLabel] == "" {
		// The node's grid zone, for carbon-aware placement on the server.
		labels = maps.Clone(labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[ZoneLabel] = o.carbonZone
	}
	ncfg := nodeinfo.Config{Name: o.name, GPUs: gpus, Labels: labels, Logger: o.logger.With("subsystem", "node")}
	node, err := nodeinfo.Detect(ctx, ncfg)
	if err != nil {
		return nil, fmt.Errorf("detect node: %w", err)
	}
	ln.power, err = newPowerSampler(ctx, nodeinfo.NewSampler(ncfg), node.CPUCores, gpuPower, es.roots, o.logger.With("subsystem", "power"))
	if err != nil {
		ln.stop()
		return nil, err
	}
	node.Meters = ln.power.inventory(node.Meters)
	node.ID = joule.NewID("node", started)
	node.CreatedAt = started
	node.LastHeartbeat = started
	if ln.node, err = store.UpsertNode(ctx, node); err != nil {
		return nil, fmt.Errorf("register node: %w", err)
	}
	node = ln.node
	_ = store.AppendEvent(ctx, joule.Event{ID: joule.NewID("evt", started), Time: started, Kind: "node.registered", Subject: node.ID,
		Message: fmt.Sprintf("node %s registered: %d CPUs, %d GPUs, %s", node.Name, node.CPUCores, len(node.GPUs), meterWords(node))})
	ln.power.store, ln.power.nodeID, ln.power.account = store, node.ID, es.account
	ln.power.Start(ctx)
	ln.closers = append(ln.closers, ln.power.Stop)
	ln.reporter = nodeinfo.NewReporter(nodeinfo.ReporterConfig{
		Store:   store,
		NodeID:  node.ID,
		Sampler: ln.power,
		Logger:  o.logger.With("subsystem", "heartbeat"),
		OnLost: func(n joule.Node) {
			now := time.Now().UTC()
			bg := context.WithoutCancel(ctx)
			_ = store.AppendEvent(bg, joule.Event{ID: joule.NewID("evt", now), Time: now, Kind: "node.lost", Subject: n.ID,
				Message: fmt.Sprintf("node %s missed its heartbeats since %s", n.Name, n.LastHeartbeat.Format(time.RFC3339))})
			if err := compute.NodeLost(bg, store, n, now); err != nil {
				o.logger.Error("handle lost node", "node", n.Name, "err", err)
			}
		},
	})
	if err := ln.reporter.Start(ctx); err != nil {
		return nil, fmt.Errorf("start heartbeat: %w", err)
	}

	acct := &accountant{power: ln.power, store: store, cfg: es.account, policy: es.policy, nodeID: node.ID,
		cores: node.CPUCores, gpus: len(node.GPUs), logger: o.logger.With("subsystem", "energy")}
	ecfg := executor.Config{Logger: o.logger}
	if ln.power.gpu != nil {
		// NVML's per-process utilisation names the PIDs on a GPU; the
		// usage samples keep a job's, and attribution splits each GPU's
		// energy by them.
		ecfg.GPUProcesses = ln.power.gpuProcesses
	}
	exec, err := executor.New(ecfg)
	if err != nil {
		ln.stop()
		return nil, fmt.Errorf("executor: %w", err)
	}
	ln.exec = exec
	ln.worker, err = compute.NewWorker(compute.WorkerConfig{
		Store: store, Runtime: exec, NodeID: node.ID, DataDir: o.dataDir, ServerURL: o.serverURL,
		OnFinish: o.onFinish, Metrics: o.metrics, Logger: o.logger.With("subsystem", "worker"),
		Account: acct.Account, NodeName: node.Name, Intensity: o.intensity,
	})
	if err != nil {
		ln.stop()
		return nil, err
	}
	if err := ln.worker.Reconcile(ctx, exec); err != nil {
		ln.stop()
		return nil, fmt.Errorf("reconcile running jobs: %w", err)
	}
	// River logs every migration and start at info; keep its warnings.
	quiet := slog.New(minLevel{o.logger.Handler(), slog.LevelWarn}).With("subsystem", "queue")
	q, closeQ, err := openQueue(ctx, o.storeURL, o.dataDir, node.ID, ln.worker.Handle, quiet)
	if err != nil {
		ln.stop()
		return nil, err
	}
	ln.queue = q
	ln.closers = append(ln.closers, closeQ)
	if err := q.Start(ctx); err != nil {
		ln.stop()
		return nil, err
	}
	return ln, nil
}

// trackGridIntensity sets the joule_grid_intensity gauge of the node's
// zone ("world" without one) to the intensity now, and makes es's lookup
// update it as the node's power and its jobs' energy are accounted, one
// interval at a time.
func trackGridIntensity(m *compute.Metrics, zone string, es *energySettings) {
	zone = cmp.Or(zone, "world")
	m.GridIntensity(zone, es.source, es.gPerKWh)
	es.account.Intensity = m.TrackIntensity(zone, es.account.Intensity)
}

// stop stops working the queue (running jobs keep running, and the next
// start adopts them) and the heartbeat.
func (ln *localNode) stop() {
	if ln.queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = ln.queue.Stop(ctx)
		cancel()
	}
	if ln.reporter != nil {
		ln.reporter.Stop()
	}
	for i := len(ln.closers) - 1; i >= 0; i-- {
		ln.closers[i]()
	}
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
