package nodeinfo

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Heartbeater is the part of joule.Store that a [Reporter] uses.
type Heartbeater interface {
	// Heartbeat records that the node is alive at the given time with the
	// given usage, which may be nil (ENOTFOUND).
	Heartbeat(ctx context.Context, nodeID string, at time.Time, usage *joule.NodeUsage) error
	// MarkLostNodes marks ready nodes whose last heartbeat is before cutoff
	// as lost and returns them.
	MarkLostNodes(ctx context.Context, cutoff time.Time) ([]joule.Node, error)
}

// UsageSampler supplies a node's usage.
type UsageSampler interface {
	Sample(ctx context.Context) (joule.NodeUsage, error)
}

// ReporterConfig configures a [Reporter].
type ReporterConfig struct {
	// Store receives the heartbeats. Required.
	Store Heartbeater
	// NodeID is the registered node to heartbeat for. Required.
	NodeID string
	// Sampler supplies the usage sent with each heartbeat; nil sends none.
	// *Sampler is one; the server wraps it to add the node's power.
	Sampler UsageSampler
	// Interval is the time between heartbeats; 0 means 10s.
	Interval time.Duration
	// LostAfter is how long a node may go without a heartbeat before each
	// tick marks it lost; 0 means 3 × Interval.
	LostAfter time.Duration
	// OnLost, if set, is called from the reporter's goroutine with each node
	// marked lost, for example to record an event.
	OnLost func(joule.Node)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives failures and lost nodes; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ReporterConfig) WithDefaults() ReporterConfig {
	c.Interval = cmp.Or(c.Interval, 10*time.Second)
	c.LostAfter = cmp.Or(c.LostAfter, 3*c.Interval)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports the first invalid field, naming it.
func (c ReporterConfig) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("nodeinfo: ReporterConfig.Store is nil")
	case c.NodeID == "":
		return errors.New("nodeinfo: ReporterConfig.NodeID is empty")
	case c.Interval <= 0:
		return errors.New("nodeinfo: ReporterConfig.Interval must be positive")
	case c.LostAfter <= 0:
		return errors.New("nodeinfo: ReporterConfig.LostAfter must be positive")
	case c.Now == nil:
		return errors.New("nodeinfo: ReporterConfig.Now is nil")
	case c.Logger == nil:
		return errors.New("nodeinfo: ReporterConfig.Logger is nil")
	}
	return nil
}

// Reporter is the heartbeat service. Every Interval it samples the node,
// sends a heartbeat and marks nodes whose heartbeats stopped as lost.
// Failures are logged, not returned: a failing tick is logged once at
// warning level, repeats at debug level, and the recovery at info level.
type Reporter struct {
	cfg ReporterConfig

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// Used only by the reporter's goroutine.
	failing map[string]bool // step -> its last attempt failed
}

// NewReporter returns a Reporter; [Reporter.Start] checks cfg.
func NewReporter(cfg ReporterConfig) *Reporter {
	return &Reporter{cfg: cfg.WithDefaults(), failing: map[string]bool{}}
}

// Start checks the configuration and starts the heartbeat goroutine, which
// sends the first heartbeat at once. It runs until ctx is done or
// [Reporter.Stop] is called. Start fails if called twice or after Stop.
func (r *Reporter) Start(ctx context.Context) error {
	if err := r.cfg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("nodeinfo: reporter already started or stopped")
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Go(func() { r.run(ctx) })
	return nil
}

// Stop stops the goroutine and waits for it to return. It may be called more
// than once, and before Start.
func (r *Reporter) Stop() {
	r.mu.Lock()
	r.stopped = true
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.wg.Wait()
}

func (r *Reporter) run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick sends one heartbeat and marks lost nodes.
func (r *Reporter) tick(ctx context.Context) {
	now := r.cfg.Now().UTC()
	var usage *joule.NodeUsage
	if r.cfg.Sampler != nil {
		u, err := r.cfg.Sampler.Sample(ctx)
		r.report(ctx, "sample", err)
		if err == nil {
			usage = &u
		}
	}
	r.report(ctx, "heartbeat", r.cfg.Store.Heartbeat(ctx, r.cfg.NodeID, now, usage))

	lost, err := r.cfg.Store.MarkLostNodes(ctx, now.Add(-r.cfg.LostAfter))
	r.report(ctx, "mark lost nodes", err)
	for _, n := range lost {
		r.cfg.Logger.WarnContext(ctx, "node lost",
			"node_id", n.ID, "node", n.Name, "last_heartbeat", n.LastHeartbeat)
		if r.cfg.OnLost != nil {
			r.cfg.OnLost(n)
		}
	}
}

// report logs the outcome of a step: the first failure in a row at warning
// level, the following ones at debug level, and the first success after
// them at info level. Errors caused by stopping are not logged.
func (r *Reporter) report(ctx context.Context, step string, err error) {
	if ctx.Err() != nil {
		return
	}
	log := r.cfg.Logger.With("node_id", r.cfg.NodeID)
	switch {
	case err != nil && !r.failing[step]:
		log.WarnContext(ctx, step+" failed", "err", err)
	case err != nil:
		log.DebugContext(ctx, step+" still failing", "err", err)
	case r.failing[step]:
		log.InfoContext(ctx, step+" recovered")
	}
	r.failing[step] = err != nil
}
