package compute

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

// Carbon-aware time shifting of flexible jobs (those with a deadline or a
// flexibility). The dispatcher plans each one when it first reaches the head
// of the queue: it asks the forecast for the grid's intensity from now to the
// deadline, and calls the same pure policy the simulator uses
// (scheduler.BestStart, or scheduler.CheapestSlots for an interruptible
// job). A job whose greenest window is later waits in state scheduled, with
// no node, until its planned start; while it waits the plan is re-made from
// a fresh forecast every ShiftConfig.Replan, always within the original
// deadline. At its start it goes back to queued and is placed like any job.
// Interruptible jobs are suspended by their worker outside their slots.
//
// Anything that prevents a plan (no forecast configured, a forecast with
// bad data or that ends before the deadline, no known duration, a deadline
// that cannot be met) makes the job run at once, with the reason recorded in
// JobShift.Fallback.

// Forecast is a grid carbon-intensity forecast on a regular grid: Values[i]
// is the mean intensity in gCO2e/kWh over [Start + i·Step, Start + (i+1)·Step).
type Forecast struct {
	Start  time.Time
	Step   time.Duration
	Values []float64
	// Source names where the forecast came from, e.g. "file carbon.csv".
	Source string
}

// End is the end of the forecast's last step.
func (f Forecast) End() time.Time { return f.Start.Add(time.Duration(len(f.Values)) * f.Step) }

// check reports the first problem with f: a bad step, no values, or a value
// that is negative or not finite.
func (f Forecast) check() error {
	switch {
	case f.Step <= 0:
		return fmt.Errorf("forecast step %s is not positive", f.Step)
	case len(f.Values) == 0:
		return errors.New("forecast is empty")
	}
	for i, v := range f.Values {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("forecast value %v at %s is not a non-negative number", v, f.Start.Add(time.Duration(i)*f.Step).Format(time.RFC3339))
		}
	}
	return nil
}

// ForecastFunc returns the forecast for [from, to). It may cover more; when
// it covers less the job is not shifted.
type ForecastFunc func(ctx context.Context, from, to time.Time) (Forecast, error)

// IntensityFunc returns the actual mean grid intensity over [from, to) in
// gCO2e/kWh, and names its source. The worker uses it for the realised
// saving of a shifted job.
type IntensityFunc func(ctx context.Context, from, to time.Time) (float64, string, error)

// ShiftConfig configures carbon-aware time shifting in the dispatcher.
type ShiftConfig struct {
	// Forecast enables shifting; nil runs flexible jobs at once, saying
	// that no forecast is configured.
	Forecast ForecastFunc
	// JobWatts is a job's assumed average power for the expected saving
	// (default: DefaultWattsPerCore per requested core).
	JobWatts func(joule.Job) float64
	// PUE multiplies the expected saving (default 1).
	PUE float64
	// Replan is how often a waiting job's plan is re-made from a fresh
	// forecast (default 5 minutes).
	Replan time.Duration
	// History is how many past successful runs of the same name are used
	// to learn an expected duration (default 10).
	History int
}

// DefaultWattsPerCore is the assumed power per requested CPU core for
// expected savings when ShiftConfig.JobWatts is not set: a round figure of
// the order of a server core's share of its CPU's TDP.
const DefaultWattsPerCore = 10.0

func (c ShiftConfig) withDefaults() ShiftConfig {
	if c.JobWatts == nil {
		c.JobWatts = func(j joule.Job) float64 {
			return DefaultWattsPerCore * float64(max(j.Spec.Resources.CPUMillis, 1)) / 1000
		}
	}
	if c.PUE <= 0 {
		c.PUE = 1
	}
	if c.Replan <= 0 {
		c.Replan = 5 * time.Minute
	}
	if c.History <= 0 {
		c.History = 10
	}
	return c
}

// ShiftPlan is the input of PlanShift.
type ShiftPlan struct {
	Now            time.Time
	Earliest       time.Time // not before Now
	Deadline       time.Time
	Duration       time.Duration
	DurationSource string
	Interruptible  bool
	Watts          float64
	PUE            float64
	// Capacity-aware planning: with Capacity > 0 (CPU millicores of the
	// installation's ready nodes), steps where the CPU of Planned jobs
	// plus this job's CPU would exceed Capacity are not chosen, so that
	// flexible jobs do not stampede into the same green hours.
	CPU      int64
	Capacity int64
	Planned  []PlannedLoad
}

// PlannedLoad is a planned job's CPU over its planned run.
type PlannedLoad struct {
	JobID string
	Slots []joule.TimeSlot
	CPU   int64
}

// PlanShift plans one flexible job against forecast f with the pure
// time-shifting policies of internal/scheduler. It returns an error naming
// the problem when f cannot be used (bad values, too short) or the deadline
// cannot be met; the caller then runs the job at once with the error as the
// fallback reason.
//
// Steps are f's steps. The job may start in the step holding Earliest (at
// Earliest itself) or at the start of any later step from which Duration
// still ends by Deadline; an interruptible job runs in whole steps ending by
// the deadline. The window means compare the forecast over the job's
// ⌈Duration/Step⌉ steps.
func PlanShift(p ShiftPlan, f Forecast) (*joule.JobShift, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	if p.Duration <= 0 {
		return nil, errors.New("expected duration is not positive")
	}
	earliest := p.Earliest
	if earliest.Before(p.Now) {
		earliest = p.Now
	}
	if earliest.Add(p.Duration).After(p.Deadline) {
		return nil, fmt.Errorf("the deadline %s cannot be met: %s of work from %s ends after it",
			p.Deadline.Format(time.RFC3339), p.Duration, earliest.Format(time.RFC3339))
	}
	if earliest.Before(f.Start) {
		return nil, fmt.Errorf("forecast starts at %s, after the earliest start %s", f.Start.Format(time.RFC3339), earliest.Format(time.RFC3339))
	}
	step := f.Step
	e0 := int(earliest.Sub(f.Start) / step)
	length := int((p.Duration + step - 1) / step)
	values := f.Values // what the policy sees: full steps masked
	full := make([]bool, len(f.Values))
	if p.Capacity > 0 {
		load := make([]int64, len(f.Values))
		for _, pl := range p.Planned {
			for _, sl := range pl.Slots {
				for k := range load {
					a := f.Start.Add(time.Duration(k) * step)
					if sl.Start.Before(a.Add(step)) && sl.End.After(a) {
						load[k] += pl.CPU
					}
				}
			}
		}
		values = slices.Clone(f.Values)
		for k := range load {
			if load[k]+p.CPU > p.Capacity {
				values[k], full[k] = math.Inf(1), true
			}
		}
	}
	shift := &joule.JobShift{
		PlannedAt: p.Now, Deadline: p.Deadline, ExpectedDuration: joule.Duration(p.Duration),
		DurationSource: p.DurationSource, ExpectedWatts: p.Watts, Source: f.Source,
	}
	at := func(s int) time.Time { return maxTime(earliest, f.Start.Add(time.Duration(s)*step)) }
	if p.Interruptible {
		last := int(p.Deadline.Sub(f.Start) / step) // steps end by the deadline
		if f.End().Before(f.Start.Add(time.Duration(last) * step)) {
			return nil, fmt.Errorf("forecast ends at %s, before the deadline %s", f.End().Format(time.RFC3339), p.Deadline.Format(time.RFC3339))
		}
		slots, err := scheduler.CheapestSlots(values, scheduler.Window{Earliest: e0, Deadline: last, Length: length})
		if err != nil {
			return nil, fmt.Errorf("no %d steps of %s between %s and the deadline %s", length, step, earliest.Format(time.RFC3339), p.Deadline.Format(time.RFC3339))
		}
		for _, k := range slots {
			if full[k] {
				return nil, fmt.Errorf("no room: the installation's %s CPUs are planned full in the steps left before the deadline %s", fmtCPU(p.Capacity), p.Deadline.Format(time.RFC3339))
			}
		}
		for _, s := range slots {
			if n := len(shift.Slots); n > 0 && shift.Slots[n-1].End.Equal(at(s)) {
				shift.Slots[n-1].End = f.Start.Add(time.Duration(s+1) * step)
				continue
			}
			shift.Slots = append(shift.Slots, joule.TimeSlot{Start: at(s), End: f.Start.Add(time.Duration(s+1) * step)})
		}
		shift.Start = shift.Slots[0].Start
		shift.ForecastGPerKWh = meanAt(f.Values, slots)
	} else {
		// The latest start step from which the job still ends by the
		// deadline; step e0 starts at Earliest, which was checked above.
		latest := max(int(p.Deadline.Add(-p.Duration).Sub(f.Start)/step), e0)
		if len(f.Values) < latest+length {
			return nil, fmt.Errorf("forecast ends at %s, before the deadline %s", f.End().Format(time.RFC3339), p.Deadline.Format(time.RFC3339))
		}
		s, err := scheduler.BestStart(values, scheduler.Window{Earliest: e0, Deadline: latest + length, Length: length})
		if err != nil {
			return nil, fmt.Errorf("no window of %s between %s and the deadline %s", p.Duration, earliest.Format(time.RFC3339), p.Deadline.Format(time.RFC3339))
		}
		if slices.Contains(full[s:s+length], true) {
			return nil, fmt.Errorf("no room: the installation's %s CPUs are planned full in every window left before the deadline %s", fmtCPU(p.Capacity), p.Deadline.Format(time.RFC3339))
		}
		shift.Start = at(s)
		shift.ForecastGPerKWh = mean(f.Values[s : s+length])
	}
	if len(f.Values) < e0+length {
		shift.NowGPerKWh = mean(f.Values[e0:])
	} else {
		shift.NowGPerKWh = mean(f.Values[e0 : e0+length])
	}
	kWh := p.Watts * p.Duration.Hours() / 1000
	shift.ExpectedSavingG = kWh * p.PUE * (shift.NowGPerKWh - shift.ForecastGPerKWh)
	return shift, nil
}

// WaitReason is the reason a planned job shows while it waits, e.g.
// "waiting for a greener window: starts 02:30 UTC (forecast 180 g/kWh vs
// 320 now), expected saving 1.2 kg CO2e".
func WaitReason(s *joule.JobShift) string {
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for a greener window: starts %s", clock(s.Start, s.PlannedAt))
	if n := len(s.Slots); n > 1 {
		fmt.Fprintf(&b, " in %d slots", n)
	}
	fmt.Fprintf(&b, " (forecast %.0f g/kWh vs %.0f now), expected saving %s", s.ForecastGPerKWh, s.NowGPerKWh, joule.FormatGrams(s.ExpectedSavingG))
	return b.String()
}

// clock formats t as "15:04 UTC", with the date when it is not on ref's day.
func clock(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	if t.YearDay() == ref.YearDay() && t.Year() == ref.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

func meanAt(vs []float64, idx []int) float64 {
	if len(idx) == 0 {
		return 0
	}
	var s float64
	for _, i := range idx {
		s += vs[i]
	}
	return s / float64(len(idx))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// expectedDuration returns j's expected run time and where it came from:
// the spec; else the median run time of the workspace's last successful
// jobs of the same name; else the timeout, as an upper bound.
func (d *Dispatcher) expectedDuration(ctx context.Context, j joule.Job) (time.Duration, string, error) {
	if j.Spec.ExpectedDuration > 0 {
		return time.Duration(j.Spec.ExpectedDuration), "spec", nil
	}
	past, _, err := d.cfg.Store.ListJobs(ctx, joule.JobFilter{
		WorkspaceID: j.WorkspaceID, Name: j.Spec.Name, States: []joule.JobState{joule.JobSucceeded},
		Newest: true, ListOptions: joule.ListOptions{Limit: d.shift.History},
	})
	if err != nil {
		return 0, "", fmt.Errorf("look up past runs of %s: %w", j.Spec.Name, err)
	}
	var ds []time.Duration
	for _, p := range past {
		if p.StartedAt != nil && p.FinishedAt != nil && p.FinishedAt.After(*p.StartedAt) {
			ds = append(ds, p.FinishedAt.Sub(*p.StartedAt))
		}
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		m := ds[len(ds)/2]
		if len(ds)%2 == 0 {
			m = (ds[len(ds)/2-1] + m) / 2
		}
		return m, fmt.Sprintf("median of %d past runs", len(ds)), nil
	}
	if j.Spec.Timeout > 0 {
		return time.Duration(j.Spec.Timeout), "timeout (upper bound)", nil
	}
	return 0, "", nil
}

// deadlineOf returns j's deadline for duration dur.
func deadlineOf(j joule.Job, dur time.Duration) time.Time {
	if j.Spec.Deadline != nil {
		return *j.Spec.Deadline
	}
	return j.CreatedAt.Add(time.Duration(j.Spec.Flexibility) + dur)
}

// planJob makes j's shift: a plan, or a fallback that runs it now.
func (d *Dispatcher) planJob(ctx context.Context, j joule.Job, now time.Time, capacity int64, planned []PlannedLoad) (*joule.JobShift, error) {
	fallback := func(why string) *joule.JobShift {
		return &joule.JobShift{PlannedAt: now, Start: now, Fallback: why + "; running now"}
	}
	if d.shift.Forecast == nil {
		return fallback("no carbon forecast is configured (joule up --carbon-forecast FILE)"), nil
	}
	dur, src, err := d.expectedDuration(ctx, j)
	if err != nil {
		return nil, err
	}
	if dur <= 0 {
		return fallback("no expected duration: set expected_duration, a timeout, or run it once to learn it"), nil
	}
	earliest := now
	if j.Spec.NotBefore != nil && j.Spec.NotBefore.After(now) {
		earliest = *j.Spec.NotBefore
	}
	deadline := deadlineOf(j, dur)
	f, err := d.shift.Forecast(ctx, earliest, deadline)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s := fallback("carbon forecast unavailable: " + err.Error())
		s.Deadline, s.ExpectedDuration, s.DurationSource = deadline, joule.Duration(dur), src
		return s, nil
	}
	s, err := PlanShift(ShiftPlan{
		Now: now, Earliest: earliest, Deadline: deadline, Duration: dur, DurationSource: src,
		Interruptible: j.Spec.Interruptible, Watts: d.shift.JobWatts(j), PUE: d.shift.PUE,
		CPU: j.Spec.Resources.CPUMillis, Capacity: capacity, Planned: planned,
	}, f)
	if err != nil {
		s := fallback(err.Error())
		s.Deadline, s.ExpectedDuration, s.DurationSource, s.Source = deadline, joule.Duration(dur), src, f.Source
		return s, nil
	}
	return s, nil
}

// shiftQueued plans the flexible jobs among pending that have no plan yet.
// Those whose greenest window is later move to scheduled (no node) until
// then; the rest stay pending, with their shift recorded, and are returned
// for placement.
func (d *Dispatcher) shiftQueued(ctx context.Context, pending, held []joule.Job, now time.Time) ([]joule.Job, error) {
	out := pending[:0:0]
	var capacity int64
	var planned []PlannedLoad
	loaded := false
	for _, j := range pending {
		if !j.Spec.Flexible() || j.Shift != nil {
			out = append(out, j)
			continue
		}
		if !loaded {
			var err error
			if capacity, planned, err = d.shiftLoad(ctx, held); err != nil {
				return nil, err
			}
			loaded = true
		}
		s, err := d.planJob(ctx, j, now, capacity, planned)
		if err != nil {
			return nil, fmt.Errorf("plan job %s: %w", j.ID, err)
		}
		wait := s.Fallback == "" && s.Start.After(now)
		transition := ""
		if wait {
			transition = WaitReason(s)
		}
		updated, err := d.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued}, transition, func(cur *joule.Job) error {
			cur.Shift = s
			cur.UpdatedAt = now
			switch {
			case wait:
				start := s.Start
				cur.State = joule.JobScheduled
				cur.StartAt = &start
				cur.Reason = transition
			case s.Fallback != "":
				cur.Reason = "not shifted: " + s.Fallback
			default:
				cur.Reason = fmt.Sprintf("not shifted: now is already the greenest window (forecast %.0f g/kWh)", s.ForecastGPerKWh)
			}
			return nil
		}, nil)
		if joule.ErrorCode(err) == joule.ECONFLICT {
			continue // cancelled meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("plan job %s: %w", j.ID, err)
		}
		if s.Fallback != "" {
			d.cfg.Logger.Info("flexible job not shifted", "job_id", j.ID, "reason", s.Fallback)
		} else {
			planned = append(planned, PlannedLoad{JobID: j.ID, Slots: plannedSlots(s), CPU: j.Spec.Resources.CPUMillis})
		}
		if !wait {
			out = append(out, updated)
		}
	}
	return out, nil
}

// releaseShifted moves waiting shifted jobs whose start has come back to
// queued, and re-plans the others from a fresh forecast every Replan.
func (d *Dispatcher) releaseShifted(ctx context.Context, held []joule.Job, now time.Time) error {
	var capacity int64
	var planned []PlannedLoad
	loaded := false
	for _, j := range held {
		if j.State != joule.JobScheduled || j.NodeID != "" || j.Shift == nil || j.StartAt == nil {
			continue
		}
		if !now.Before(*j.StartAt) {
			reason := fmt.Sprintf("greener window reached (planned %s, forecast %.0f g/kWh)", clock(*j.StartAt, now), j.Shift.ForecastGPerKWh)
			_, err := d.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobScheduled}, reason, func(cur *joule.Job) error {
				if cur.NodeID != "" {
					return joule.Errorf(joule.ECONFLICT, "job %s was placed meanwhile", cur.ID)
				}
				cur.State = joule.JobQueued
				cur.Reason = reason
				cur.UpdatedAt = now
				return nil
			}, nil)
			if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
				return fmt.Errorf("release job %s: %w", j.ID, err)
			}
			continue
		}
		if now.Sub(j.Shift.PlannedAt) < d.shift.Replan || d.shift.Forecast == nil {
			continue
		}
		if !loaded {
			var err error
			if capacity, planned, err = d.shiftLoad(ctx, held); err != nil {
				return err
			}
			loaded = true
		}
		others := slices.DeleteFunc(slices.Clone(planned), func(p PlannedLoad) bool { return p.JobID == j.ID })
		s, err := d.replan(ctx, j, now, capacity, others)
		if err != nil {
			return err
		}
		for i := range planned {
			if planned[i].JobID == j.ID {
				planned[i].Slots = plannedSlots(s)
			}
		}
	}
	return nil
}

// replan re-makes a waiting job's plan from a fresh forecast, keeping its
// deadline and duration. When the new forecast cannot be used, the old plan
// stands (it was feasible when made, and its deadline has not moved).
func (d *Dispatcher) replan(ctx context.Context, j joule.Job, now time.Time, capacity int64, planned []PlannedLoad) (*joule.JobShift, error) {
	old := j.Shift
	dur := time.Duration(old.ExpectedDuration)
	f, err := d.shift.Forecast(ctx, now, old.Deadline)
	var s *joule.JobShift
	if err == nil {
		s, err = PlanShift(ShiftPlan{
			Now: now, Earliest: now, Deadline: old.Deadline, Duration: dur, DurationSource: old.DurationSource,
			Interruptible: j.Spec.Interruptible, Watts: old.ExpectedWatts, PUE: d.shift.PUE,
			CPU: j.Spec.Resources.CPUMillis, Capacity: capacity, Planned: planned,
		}, f)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d.cfg.Logger.Warn("re-plan of a shifted job failed; keeping its plan", "job_id", j.ID, "err", err)
		s = new(joule.JobShift)
		*s = *old
		s.PlannedAt = now
	}
	wait := s.Start.After(now)
	if !wait {
		s.Start = now
	}
	reason := WaitReason(s)
	_, err = d.cfg.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobScheduled}, "", func(cur *joule.Job) error {
		if cur.NodeID != "" {
			return joule.Errorf(joule.ECONFLICT, "job %s was placed meanwhile", cur.ID)
		}
		start := s.Start
		cur.Shift = s
		cur.StartAt = &start
		cur.Reason = reason
		cur.UpdatedAt = now
		return nil
	}, nil)
	if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
		return nil, fmt.Errorf("re-plan job %s: %w", j.ID, err)
	}
	return s, nil
}

// fmtCPU formats millicores as cores: "4", "2.5".
func fmtCPU(m int64) string { return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64) }

// plannedSlots is when a plan runs its job: its slots, or one stretch of
// its expected duration from its start.
func plannedSlots(s *joule.JobShift) []joule.TimeSlot {
	if len(s.Slots) > 0 {
		return s.Slots
	}
	return []joule.TimeSlot{{Start: s.Start, End: s.Start.Add(time.Duration(s.ExpectedDuration))}}
}

// shiftLoad returns the CPU (millicores) of the ready nodes and the planned
// runs of the flexible jobs waiting for their windows, for capacity-aware
// planning. Work that is not flexible is not forecast.
func (d *Dispatcher) shiftLoad(ctx context.Context, held []joule.Job) (int64, []PlannedLoad, error) {
	nodes, _, err := d.cfg.Store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
	if err != nil {
		return 0, nil, fmt.Errorf("list nodes: %w", err)
	}
	var capacity int64
	for _, n := range nodes {
		if n.State == joule.NodeReady {
			capacity += int64(n.CPUCores) * 1000
		}
	}
	var planned []PlannedLoad
	for _, j := range held {
		if j.State == joule.JobScheduled && j.NodeID == "" && j.Shift != nil && j.Shift.Fallback == "" {
			planned = append(planned, PlannedLoad{JobID: j.ID, Slots: plannedSlots(j.Shift), CPU: j.Spec.Resources.CPUMillis})
		}
	}
	return capacity, planned, nil
}
