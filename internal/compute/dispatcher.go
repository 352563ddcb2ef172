package compute

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cron"
	"github.com/joule-dev/joule/internal/scheduler"
)

// EnqueueFunc puts a placed job on its node's queue (j.NodeID) inside the
// store transaction tx that marks it scheduled. The attempt it will run is
// j.Attempts+1.
type EnqueueFunc func(ctx context.Context, tx any, j joule.Job) error

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Store     joule.Store
	Enqueue   EnqueueFunc // required
	Scheduler scheduler.Config
	// Interval between dispatch rounds (default 500 ms); Wake starts one at
	// once.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// OnPlaced, when set, is called after each placement (tests, metrics).
	OnPlaced func(joule.Job)
	// Shift configures carbon-aware time shifting of flexible jobs.
	Shift ShiftConfig
	// Power, when set with an OnIdle hook, puts idle nodes to sleep.
	Power *PowerConfig
	// NodeCarbon, when set, gives a node's expected grams CO2e per
	// CPU-second of work now (0: unknown), and placement prefers the
	// greenest node that fits (Scheduler.CarbonAware).
	NodeCarbon func(ctx context.Context, n joule.Node) float64
}

// Dispatcher places queued jobs on nodes. Run one per installation.
type Dispatcher struct {
	cfg   DispatcherConfig
	shift ShiftConfig
	power *powerManager
	wake  chan struct{}
	stop  context.CancelFunc
	wg    sync.WaitGroup
	once  sync.Once
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Enqueue == nil {
		return nil, fmt.Errorf("compute: DispatcherConfig.Store and Enqueue are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeCarbon != nil {
		cfg.Scheduler.CarbonAware = true
	}
	return &Dispatcher{cfg: cfg, shift: cfg.Shift.withDefaults(), power: newPowerManager(cfg.Power), wake: make(chan struct{}, 1)}, nil
}

// Start runs dispatch rounds until ctx is done or Stop is called.
func (d *Dispatcher) Start(ctx context.Context) error {
	ctx, d.stop = context.WithCancel(ctx)
	d.wg.Go(func() {
		t := time.NewTicker(d.cfg.Interval)
		defer t.Stop()
		for {
			if err := d.Round(ctx); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Warn("dispatch round failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-d.wake:
			}
		}
	})
	return nil
}

// Stop ends the loop and waits for it. It is idempotent and safe before
// Start.
func (d *Dispatcher) Stop() {
	d.once.Do(func() {
		if d.stop != nil {
			d.stop()
		}
	})
	d.wg.Wait()
}

// Wake asks for a dispatch round now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Round runs one dispatch round: due schedules, shifted jobs whose window
// has come, dependency checks, carbon-aware planning of flexible jobs and
// placement.
func (d *Dispatcher) Round(ctx context.Context) error {
	now := d.cfg.Now().UTC().Truncate(time.Microsecond)
	if err := d.fireSchedules(ctx, now); err != nil {
		return fmt.Errorf("schedules: %w", err)
	}
	// The jobs holding nodes (and shifted jobs waiting, with no node), read
	// once per round.
	held, err := listAll(ctx, d.cfg.Store, joule.JobFilter{States: []joule.JobState{joule.JobScheduled, joule.JobRunning}})
	if err != nil {
		return fmt.Errorf("list placed jobs: %w", err)
	}
	if err := d.releaseShifted(ctx, held, now); err != nil {
		return fmt.Errorf("shifted jobs: %w", err)
	}
	queued, err := listAll(ctx, d.cfg.Store, joule.JobFilter{States: []joule.JobState{joule.JobQueued}})
	if err != nil {
		return fmt.Errorf("list queued jobs: %w", err)
	}
	if len(queued) == 0 {
		return d.idlePowerRound(ctx, held, now)
	}
	pending, err := d.resolveDependencies(ctx, queued, now)
	if err != nil {
		return err
	}
	if pending, err = d.shiftQueued(ctx, pending, held, now); err != nil {
		return err
	}
	if len(pending) == 0 {
		return d.idlePowerRound(ctx, held, now)
	}
	nodes, err := d.snapshot(ctx, held)
	if err != nil {
		return err
	}
	byID := map[string]joule.Job{}
	var ps []scheduler.Pending
	for _, j := range pending {
		byID[j.ID] = j
		ps = append(ps, scheduler.Pending{
			JobID: j.ID, Priority: j.Spec.Priority, Resources: j.Spec.Resources, Selector: j.Spec.Selector,
			QueuedAt: j.CreatedAt, NotBefore: j.StartAt,
		})
	}
	plan := scheduler.Place(d.cfg.Scheduler, nodes, ps, now)
	if d.power != nil {
		var wanted int64
		for _, u := range plan.Unplaced {
			switch u.Cause {
			case scheduler.CauseBusy, scheduler.CauseTooLarge, scheduler.CauseNoNode:
				wanted += max(byID[u.JobID].Spec.Resources.CPUMillis, 1)
			}
		}
		after := slices.Clone(nodes)
		for _, a := range plan.Assignments {
			for i := range after {
				if after[i].ID == a.NodeID {
					after[i].Allocated = after[i].Allocated.Add(byID[a.JobID].Spec.Resources)
					after[i].GPUsInUse = append(slices.Clone(after[i].GPUsInUse), a.GPUIndices...)
				}
			}
		}
		defer d.powerRound(ctx, after, wanted, now)
	}
	names := map[string]string{}
	for _, n := range nodes {
		names[n.ID] = n.Name
	}
	for _, a := range plan.Assignments {
		var placed joule.Job
		j, err := d.cfg.Store.UpdateJob(ctx, a.JobID, []joule.JobState{joule.JobQueued}, "placed on node "+names[a.NodeID],
			func(j *joule.Job) error {
				j.State = joule.JobScheduled
				j.NodeID = a.NodeID
				j.GPUIndices = a.GPUIndices
				j.Reason = "placed on node " + names[a.NodeID] + ", waiting for its worker"
				j.UpdatedAt = now
				placed = *j
				return nil
			},
			func(ctx context.Context, tx any) error { return d.cfg.Enqueue(ctx, tx, placed) })
		if err != nil {
			if joule.ErrorCode(err) == joule.ECONFLICT { // cancelled meanwhile
				continue
			}
			return fmt.Errorf("place job %s: %w", a.JobID, err)
		}
		if d.cfg.OnPlaced != nil {
			d.cfg.OnPlaced(j)
		}
	}
	for _, u := range plan.Unplaced {
		j := byID[u.JobID]
		reason := u.Reason
		if !strings.HasPrefix(reason, "waiting") {
			reason = "waiting: " + reason
		}
		if j.Reason == reason {
			continue
		}
		_, err := d.cfg.Store.UpdateJob(ctx, u.JobID, []joule.JobState{joule.JobQueued}, "", func(j *joule.Job) error {
			j.Reason = reason
			return nil
		}, nil)
		if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
			return fmt.Errorf("update job %s: %w", u.JobID, err)
		}
	}
	return nil
}

// idlePowerRound runs the power policy in a round with nothing to place.
func (d *Dispatcher) idlePowerRound(ctx context.Context, held []joule.Job, now time.Time) error {
	if d.power == nil {
		return nil
	}
	nodes, err := d.snapshot(ctx, held)
	if err != nil {
		return err
	}
	d.powerRound(ctx, nodes, 0, now)
	return nil
}

// resolveDependencies returns the queued jobs whose dependencies have all
// succeeded, and fails those with a dependency that ended otherwise.
func (d *Dispatcher) resolveDependencies(ctx context.Context, queued []joule.Job, now time.Time) ([]joule.Job, error) {
	var ready []joule.Job
	for _, j := range queued {
		waiting, failed := "", ""
		for _, dep := range j.Spec.DependsOn {
			dj, err := d.cfg.Store.GetJob(ctx, j.WorkspaceID, dep)
			if joule.ErrorCode(err) == joule.ENOTFOUND {
				failed = fmt.Sprintf("dependency %s not found", dep)
				break
			} else if err != nil {
				return nil, fmt.Errorf("look up dependency %s of %s: %w", dep, j.ID, err)
			}
			switch {
			case dj.State == joule.JobSucceeded:
			case dj.State.Terminal():
				failed = fmt.Sprintf("dependency failed: %s (%s) ended %s", dj.Spec.Name, dj.ID, dj.State)
			default:
				waiting = fmt.Sprintf("waiting for dependency %s (%s), which is %s", dj.Spec.Name, dj.ID, dj.State)
			}
			if failed != "" {
				break
			}
		}
		switch {
		case failed != "":
			_, err := d.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued}, failed, func(j *joule.Job) error {
				j.State = joule.JobFailed
				j.Reason = failed
				j.FinishedAt = &now
				j.UpdatedAt = now
				return nil
			}, nil)
			if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
				return nil, err
			}
		case waiting != "":
			if j.Reason != waiting {
				_, err := d.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued}, "", func(j *joule.Job) error {
					j.Reason = waiting
					return nil
				}, nil)
				if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
					return nil, err
				}
			}
		default:
			ready = append(ready, j)
		}
	}
	return ready, nil
}

// snapshot builds the scheduler's view of the nodes: capacity, and what the
// jobs scheduled or running on each hold.
func (d *Dispatcher) snapshot(ctx context.Context, held []joule.Job) ([]scheduler.Node, error) {
	nodes, _, err := d.cfg.Store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]scheduler.Node, 0, len(nodes))
	for _, n := range nodes {
		sn := scheduler.Node{
			ID: n.ID, Name: n.Name, Labels: n.Labels, Ready: n.State == joule.NodeReady && !d.power.asleep(n.ID),
			Capacity: joule.Resources{CPUMillis: int64(n.CPUCores) * 1000, MemoryBytes: n.MemoryBytes},
		}
		for _, g := range n.GPUs {
			sn.GPUs = append(sn.GPUs, g.Index)
		}
		if d.cfg.NodeCarbon != nil && sn.Ready {
			sn.GramsPerCPUSecond = d.cfg.NodeCarbon(ctx, n)
		}
		for _, j := range held {
			if j.NodeID != n.ID {
				continue
			}
			sn.Allocated = sn.Allocated.Add(joule.Resources{CPUMillis: j.Spec.Resources.CPUMillis, MemoryBytes: j.Spec.Resources.MemoryBytes})
			sn.GPUsInUse = append(sn.GPUsInUse, j.GPUIndices...)
		}
		slices.Sort(sn.GPUsInUse)
		out = append(out, sn)
	}
	return out, nil
}

// fireSchedules creates one job for each schedule that is due.
func (d *Dispatcher) fireSchedules(ctx context.Context, now time.Time) error {
	opt := joule.ListOptions{Limit: joule.MaxLimit}
	for {
		ss, next, err := d.cfg.Store.ListSchedules(ctx, "", opt)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if s.Paused || s.NextRunAt.IsZero() || s.NextRunAt.After(now) {
				continue
			}
			if err := d.fire(ctx, s, now); err != nil {
				d.cfg.Logger.Warn("schedule did not fire", "schedule", s.Name, "err", err)
			}
		}
		if next == "" {
			return nil
		}
		opt.Cursor = next
	}
}

func (d *Dispatcher) fire(ctx context.Context, s joule.Schedule, now time.Time) error {
	c, err := cron.Parse(s.Cron)
	if err != nil {
		return err
	}
	spec := s.Spec
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels["joule.schedule"] = s.Name
	j := NewJob(s.WorkspaceID, spec, "schedule:"+s.ID, now)
	j.Reason = "created by schedule " + s.Name
	if err := d.cfg.Store.CreateJob(ctx, j, nil); err != nil {
		return err
	}
	s.LastRunAt = &now
	s.LastJobID = j.ID
	s.NextRunAt = c.Next(now)
	return d.cfg.Store.UpdateSchedule(ctx, s)
}

// NewJob returns a queued job for spec (already defaulted and validated).
func NewJob(workspaceID string, spec joule.JobSpec, createdBy string, now time.Time) joule.Job {
	now = now.UTC().Truncate(time.Microsecond)
	return joule.Job{
		ID: joule.NewID("job", now), WorkspaceID: workspaceID, Spec: spec, State: joule.JobQueued,
		Reason: "submitted", CreatedAt: now, CreatedBy: createdBy, UpdatedAt: now, StartAt: spec.NotBefore,
	}
}

// listAll pages through every job matching f.
func listAll(ctx context.Context, s joule.Store, f joule.JobFilter) ([]joule.Job, error) {
	f.Limit = joule.MaxLimit
	var all []joule.Job
	for {
		js, next, err := s.ListJobs(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, js...)
		if next == "" {
			return all, nil
		}
		f.Cursor = next
	}
}
