package compute

import (
	"context"
	"fmt"
	"time"

	"github.com/joule-dev/joule"
)

// Suspender is a run that can be paused and continued: the executor's runs
// stop and continue their process group with SIGSTOP and SIGCONT.
type Suspender interface {
	Suspend() error
	Resume() error
}

// slotKeeper suspends an interruptible job outside its planned slots and
// resumes it inside them. After the last slot it lets the job run to its
// end, so that a job that needs more time than planned still finishes.
type slotKeeper struct {
	w         *Worker
	j         joule.Job
	s         Suspender // nil: nothing to do
	suspended bool
}

func (w *Worker) newSlotKeeper(j joule.Job, run joule.Run) *slotKeeper {
	k := &slotKeeper{w: w, j: j}
	if s, ok := run.(Suspender); ok && j.Spec.Interruptible && j.Shift != nil && len(j.Shift.Slots) > 0 {
		k.s = s
	}
	return k
}

// tick suspends or resumes the job for time now, and says so in its reason.
func (k *slotKeeper) tick(ctx context.Context, now time.Time) {
	if k.s == nil {
		return
	}
	slots := k.j.Shift.Slots
	run, next := now.After(slots[len(slots)-1].End) || !now.Before(slots[len(slots)-1].End), time.Time{}
	for _, sl := range slots {
		if sl.Contains(now) {
			run = true
			break
		}
		if sl.Start.After(now) {
			next = sl.Start
			break
		}
	}
	var reason string
	switch {
	case run && k.suspended:
		if err := k.s.Resume(); err != nil {
			k.w.cfg.Logger.Warn("resume job", "job_id", k.j.ID, "err", err)
			return
		}
		k.suspended = false
		reason = "resumed: in a planned green slot"
	case !run && !k.suspended:
		if err := k.s.Suspend(); err != nil {
			k.w.cfg.Logger.Warn("suspend job", "job_id", k.j.ID, "err", err)
			return
		}
		k.suspended = true
		reason = fmt.Sprintf("suspended until %s, its next planned green slot", clock(next, now))
	default:
		return
	}
	_, err := k.w.cfg.Store.UpdateJob(ctx, k.j.ID, []joule.JobState{joule.JobRunning}, "", func(cur *joule.Job) error {
		cur.Reason = reason
		return nil
	}, nil)
	if err != nil && joule.ErrorCode(err) != joule.ECONFLICT {
		k.w.cfg.Logger.Warn("record suspend/resume", "job_id", k.j.ID, "err", err)
	}
	k.w.cfg.Logger.Info(reason, "job_id", k.j.ID)
}

// realise returns j's shift with the realised saving: the emissions of the
// job's energy at the actual intensity of the period starting at submission,
// minus those at the actual intensity while it ran (its planned slots, for
// an interruptible job), both from the Intensity source and with the job's
// PUE. Without an Intensity source or energy, the note says why.
func (w *Worker) realise(ctx context.Context, j joule.Job, finished time.Time) *joule.JobShift {
	s := *j.Shift
	switch {
	case w.cfg.Intensity == nil:
		s.RealisedNote = "no actual intensity source configured"
		return &s
	case j.Energy == nil || j.Energy.Joules <= 0:
		s.RealisedNote = "the job has no energy figure"
		return &s
	}
	ran := finished.Sub(*j.StartedAt)
	var periods []joule.TimeSlot
	if j.Spec.Interruptible && len(s.Slots) > 0 {
		ran = 0
		for _, sl := range s.Slots {
			a, b := maxTime(sl.Start, *j.StartedAt), sl.End
			if finished.Before(b) {
				b = finished
			}
			if b.After(a) {
				periods = append(periods, joule.TimeSlot{Start: a, End: b})
				ran += b.Sub(a)
			}
		}
	} else {
		periods = []joule.TimeSlot{{Start: *j.StartedAt, End: finished}}
	}
	if ran <= 0 || len(periods) == 0 {
		s.RealisedNote = "the job did not run in its planned slots"
		return &s
	}
	var actual float64 // time-weighted mean intensity while it ran
	var src string
	for _, p := range periods {
		v, name, err := w.cfg.Intensity(ctx, p.Start, p.End)
		if err != nil {
			s.RealisedNote = "actual intensity unavailable: " + err.Error()
			return &s
		}
		actual += v * p.End.Sub(p.Start).Seconds() / ran.Seconds()
		src = name
	}
	then, _, err := w.cfg.Intensity(ctx, j.CreatedAt, j.CreatedAt.Add(ran))
	if err != nil {
		s.RealisedNote = "actual intensity at submission unavailable: " + err.Error()
		return &s
	}
	pue := j.Energy.PUE
	if pue <= 0 {
		pue = 1
	}
	kWh := j.Energy.Joules / 3.6e6
	g := kWh * pue * (then - actual)
	s.RealisedSavingG = &g
	s.RealisedNote = fmt.Sprintf("%.4g kWh × PUE %.3g × (%.0f g/kWh at submission − %.0f g/kWh as run), actual intensities from %s",
		kWh, pue, then, actual, src)
	return &s
}

// runTimeout is the attempt's wall-clock limit: the spec's timeout, plus,
// for an interruptible job with planned slots, the gaps between its slots,
// during which it is suspended. Zero means none.
func runTimeout(j joule.Job) time.Duration {
	t := time.Duration(j.Spec.Timeout)
	if t <= 0 || !j.Spec.Interruptible || j.Shift == nil || len(j.Shift.Slots) < 2 {
		return t
	}
	s := j.Shift.Slots
	for i := 1; i < len(s); i++ {
		t += s[i].Start.Sub(s[i-1].End)
	}
	return t
}
