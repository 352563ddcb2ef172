package main

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/nodeinfo"
)

// powerSampler samples this node's utilisation and power once a second and
// keeps the last hours of intervals, from which each job attempt's energy
// is attributed when it ends. Power is measured by RAPL or hwmon where the
// machine exposes them (plus NVML for GPUs), and otherwise estimated by the
// model from the same second's utilisation. The heartbeat reports the latest
// sample.
type powerSampler struct {
	usage     nodeinfo.UsageSampler
	cores     int
	meters    []energy.Meter
	roots     meterRoots
	sysfs     []joule.Meter      // the sysfs meters read under a configured root
	idle      map[string]float64 // idle watts by component, where known
	gpu       *energy.GPU        // nil without NVML GPUs
	logger    *slog.Logger
	interval  time.Duration
	retention time.Duration

	// Recording (set before Start): every interval is stored as raw
	// samples and added to the node's per-minute and hourly rollups, with
	// the emissions and cost that account gives it.
	store      joule.EnergyStore
	nodeID     string
	account    energy.AccountConfig
	flushEvery time.Duration

	mu        sync.Mutex
	cur       joule.NodeUsage // the sample the estimated meter reads
	latest    *joule.NodeUsage
	prev      []energy.Reading
	intervals []energy.NodeInterval
	pending   []energy.NodeInterval // not yet recorded
	warned    bool
	warnedRec bool
	warnedGPU bool
	// gpuPIDs are the processes that used a GPU in the latest interval,
	// for the executor's usage samples (GPUPIDs).
	gpuPIDs map[int]bool

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// meterRoots are the filesystem roots the sysfs meters read; "" means "/"
// and a missing meter there is not an error.
type meterRoots struct{ powercap, hwmon string }

// newPowerSampler picks the node's meters: RAPL, else hwmon, else the
// estimation model; plus NVML for GPUs (gpus may be nil). A root that was
// set on purpose but holds no meter is an error naming its key.
func newPowerSampler(ctx context.Context, usage nodeinfo.UsageSampler, cores int, gpus energy.GPUSource, roots meterRoots, logger *slog.Logger) (*powerSampler, error) {
	p := &powerSampler{usage: usage, cores: max(cores, 1), logger: logger, idle: map[string]float64{}, interval: time.Second, retention: 6 * time.Hour}
	rapl, raplErr := energy.NewRAPL(ctx, energy.Config{Root: roots.powercap, Logger: logger})
	if raplErr != nil && roots.powercap != "" {
		return nil, joule.Errorf(joule.EINVALID, "powercap_root: %v", raplErr)
	}
	p.roots = roots
	if raplErr == nil {
		logger.Info("node power measured by RAPL", "components", rapl.Components())
		p.meters = append(p.meters, rapl)
		for _, c := range rapl.Components() {
			p.sysfs = append(p.sysfs, joule.Meter{Kind: joule.MeterRAPL, Name: c, Source: filepath.Join(cmp.Or(roots.powercap, "/"), "sys/class/powercap")})
		}
	} else if m, err := energy.NewHwmon(ctx, energy.Config{Root: roots.hwmon, Logger: logger}); err == nil {
		p.meters = append(p.meters, m)
		for _, c := range m.Components() {
			p.sysfs = append(p.sysfs, joule.Meter{Kind: joule.MeterHwmon, Name: c, Source: filepath.Join(cmp.Or(roots.hwmon, "/"), "sys/class/hwmon")})
		}
	} else if roots.hwmon != "" {
		return nil, joule.Errorf(joule.EINVALID, "hwmon_root: %v", err)
	} else {
		info, _ := os.ReadFile("/proc/cpuinfo")
		tdp := energy.DefaultTDPTable().ForCPU(energy.ParseCPUInfo(info))
		est, err := energy.NewEstimated(energy.EstimatedConfig{TDP: tdp, Usage: func(context.Context) (float64, int64, error) {
			return p.cur.CPUFraction, p.cur.MemoryUsed, nil
		}})
		if err != nil {
			logger.Warn("no power meter and no estimate: node power will not be reported", "err", err)
		} else {
			logger.Info("no power meter: node power is estimated", "method", est.Method(), "tdp_watts", tdp.Watts, "tdp_match", tdp.Match)
			p.meters = append(p.meters, est)
			p.idle["cpu"] = est.IdleWatts()
		}
	}
	if gpus != nil {
		if m, err := energy.NewGPU(gpus, energy.Config{Logger: logger}); err == nil {
			p.meters = append(p.meters, m)
			p.gpu = m
		}
	}
	return p, nil
}

// inventory returns the node's meters as detected, with the RAPL and hwmon
// entries replaced by what the sampler reads when a root was configured
// (detection reads the real /sys).
func (p *powerSampler) inventory(detected []joule.Meter) []joule.Meter {
	if p.roots == (meterRoots{}) {
		return detected
	}
	out := slices.DeleteFunc(slices.Clone(detected), func(m joule.Meter) bool {
		return m.Kind == joule.MeterRAPL || m.Kind == joule.MeterHwmon
	})
	return append(out, p.sysfs...)
}

// Start samples every interval until ctx ends or Stop is called.
func (p *powerSampler) Start(ctx context.Context) {
	ctx, p.stop = context.WithCancel(ctx)
	if p.store != nil {
		p.wg.Go(func() {
			t := time.NewTicker(cmp.Or(p.flushEvery, 10*time.Second))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					// The last intervals, on the way out.
					bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					p.record(bg)
					cancel()
					return
				case <-t.C:
					p.record(ctx)
				}
			}
		})
	}
	p.wg.Go(func() {
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			p.sampleOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the loop; safe before Start and more than once.
func (p *powerSampler) Stop() {
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
}

func (p *powerSampler) sampleOnce(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, err := p.usage.Sample(ctx)
	if err != nil {
		p.warnOnce("usage sample failed", err)
		return
	}
	p.cur = u
	var readings []energy.Reading
	for _, m := range p.meters {
		rs, err := m.Read(ctx)
		if err != nil {
			p.warnOnce("power meter read failed: "+m.Name(), err)
			continue
		}
		readings = append(readings, rs...)
	}
	for _, r := range readings {
		u.Power = append(u.Power, joule.PowerReading{Component: r.Component, Watts: r.Watts, Method: r.Method})
	}
	// Each process's share of each GPU since the previous round: the key
	// that splits the GPU's energy in this interval across jobs.
	var procs []energy.GPUProcess
	if p.gpu != nil {
		var err error
		if procs, err = p.gpu.Processes(ctx); err != nil {
			if !p.warnedGPU {
				p.logger.Warn("per-process GPU utilisation unavailable: GPU energy stays unattributed", "err", err)
				p.warnedGPU = true
			}
			procs = nil
		}
		pids := make(map[int]bool, len(procs))
		for _, gp := range procs {
			pids[gp.PID] = true
		}
		p.gpuPIDs = pids
	}
	slices.SortFunc(u.Power, func(a, b joule.PowerReading) int { return cmp.Compare(a.Component, b.Component) })
	if p.prev != nil {
		// The first readings have no interval behind them (0 W): the
		// heartbeat reports from the second second on.
		p.latest = &u
		n := energy.NodeIntervalFromReadings(p.prev, readings, func(c string) float64 { return p.idle[c] })
		n.GPUProcesses = procs
		if d := n.End.Sub(n.Start); d > 0 {
			n.CPUSeconds = u.CPUFraction * float64(p.cores) * d.Seconds()
			p.intervals = append(p.intervals, n)
			if p.store != nil && len(p.pending) < 24*3600 { // a day, should the store be away
				p.pending = append(p.pending, n)
			}
		}
		cut := 0
		for cut < len(p.intervals) && u.Time.Sub(p.intervals[cut].End) > p.retention {
			cut++
		}
		p.intervals = p.intervals[cut:]
	}
	p.prev = readings
}

// record stores the pending intervals as raw samples and node rollups. The
// intensity lookups and the store writes happen outside the sampler's lock.
// Intervals the store refused are kept for the next try.
func (p *powerSampler) record(ctx context.Context) {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	var samples []joule.PowerSample
	var entries []energy.Entry
	for _, n := range pending {
		samples = append(samples, energy.PowerSamples(p.nodeID, n)...)
		entries = append(entries, energy.AccountNode(p.account, n)...)
	}
	rows := energy.StoreRollups(energy.RollupKey{Scope: joule.RollupNode, NodeID: p.nodeID}, entries)
	if err := p.store.AppendPowerSamples(ctx, samples); err != nil {
		if !p.warnedRec {
			p.logger.Warn("could not record node power; will retry", "err", err)
			p.warnedRec = true
		}
		p.mu.Lock()
		p.pending = append(pending, p.pending...)
		p.mu.Unlock()
		return
	}
	// The samples are in: a failed rollup is not retried, lest the
	// samples be stored twice.
	if err := p.store.AddEnergyRollups(ctx, rows); err != nil {
		p.logger.Warn("could not add node power to the rollups", "err", err, "intervals", len(pending))
	}
}

func (p *powerSampler) warnOnce(msg string, err error) {
	if !p.warned {
		p.logger.Warn(msg, "err", err)
		p.warned = true
	}
}

// gpuProcesses returns the processes that used a GPU in the latest
// interval, as NVML's per-process utilisation reported them: the
// executor's Config.GPUProcesses, which lists a job's among its usage
// samples' GPUPIDs.
func (p *powerSampler) gpuProcesses() (map[int]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.gpuPIDs), nil
}

// Sample implements nodeinfo.UsageSampler for the heartbeat: the latest
// one-second sample with power, or, before there is one, the latest usage
// without power.
func (p *powerSampler) Sample(ctx context.Context) (joule.NodeUsage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.latest != nil:
		return *p.latest, nil
	case !p.cur.Time.IsZero():
		return p.cur, nil
	}
	return p.usage.Sample(ctx)
}

// between returns the intervals that overlap [from, to).
func (p *powerSampler) between(from, to time.Time) []energy.NodeInterval {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []energy.NodeInterval
	for _, n := range p.intervals {
		if n.End.After(from) && n.Start.Before(to) {
			out = append(out, n)
		}
	}
	return out
}

// accountant turns an attempt's usage series into its energy, emissions and
// cost: the node's dynamic power in each second split by CPU-time share
// (idle power reported apart, not charged, unless the idle policy is
// proportional), times PUE and the grid intensity at that second. It
// stores the attempt's per-minute and hourly rollups too.
type accountant struct {
	power  *powerSampler
	store  joule.EnergyStore
	cfg    energy.AccountConfig
	policy energy.IdlePolicy
	nodeID string
	cores  int // the node's CPUs and GPUs, for reserved shares
	gpus   int
	logger *slog.Logger
}

// reservedShare is the share of the node the job reserved: its GPUs over
// the node's when it asked for GPUs, else its CPUs over the node's. It
// weighs the job's embodied emissions and amortisation (SCI RR/ToR).
func (a *accountant) reservedShare(j joule.Job) float64 {
	if g := j.Spec.Resources.GPUs; g > 0 && a.gpus > 0 {
		return min(float64(g)/float64(a.gpus), 1)
	}
	if a.cores <= 0 {
		return 0
	}
	return min(float64(j.Spec.Resources.CPUMillis)/1000/float64(a.cores), 1)
}

// attribution names how the energy of method was split: by CPU time, and
// GPU energy by per-process GPU utilisation.
func (a *accountant) attribution(method string) string {
	if strings.Contains(method, energy.MethodNVML) {
		return "cpu-time share, gpu by per-process utilisation"
	}
	return "cpu-time share"
}

// Account implements the worker's accounting hook.
func (a *accountant) Account(j joule.Job, at joule.Attempt, usage []joule.UsageSample) *joule.JobEnergy {
	if len(usage) == 0 || at.FinishedAt == nil {
		return nil
	}
	nodes := a.power.between(at.StartedAt, *at.FinishedAt)
	if len(nodes) == 0 {
		return nil
	}
	attrs := energy.AttributeSeries(nodes, map[string][]joule.UsageSample{j.ID: usage}, map[string]float64{j.ID: a.reservedShare(j)}, a.policy)
	var entries []energy.Entry
	for _, attr := range attrs {
		for _, e := range energy.Account(a.cfg, attr) {
			if e.Entity == j.ID {
				entries = append(entries, e)
			}
		}
	}
	t, ok := energy.Totals(entries)[j.ID]
	if !ok {
		return nil
	}
	if a.store != nil {
		rows := energy.StoreRollups(energy.RollupKey{Scope: joule.RollupJob, NodeID: a.nodeID, WorkspaceID: j.WorkspaceID, Attempt: at.N}, entries)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.store.AddEnergyRollups(ctx, rows); err != nil {
			a.logger.Warn("could not store the attempt's energy rollups", "job_id", j.ID, "attempt", at.N, "err", err)
		}
		cancel()
	}
	idle := "idle apart"
	if a.policy == energy.IdleProportional {
		idle = "idle shared by cpu-time share"
	}
	return &joule.JobEnergy{
		Joules: t.Joules, MeasuredJoules: t.MeasuredJoules, EstimatedJoules: t.EstimatedJoules,
		Method:     t.Method + "; attribution: " + a.attribution(t.Method) + ", " + idle,
		EmissionsG: t.EmissionsG, IntensityGPerKWh: t.IntensityGPerKWh, IntensitySource: t.IntensitySource,
		PUE: t.PUE, Cost: t.Cost, Currency: t.Currency,
		MarketEmissionsG: t.MarketEmissionsG, EmbodiedG: t.EmbodiedG,
	}
}
