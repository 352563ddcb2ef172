package compute

import (
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

func TestRunTimeoutAddsSuspendedGaps(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	j := joule.Job{Spec: joule.JobSpec{Timeout: joule.Duration(3 * time.Hour), Interruptible: true}, Shift: &joule.JobShift{Slots: []joule.TimeSlot{
		{Start: t0, End: t0.Add(time.Hour)}, {Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour)}, {Start: t0.Add(10 * time.Hour), End: t0.Add(11 * time.Hour)},
	}}}
	if got, want := runTimeout(j), 3*time.Hour+2*time.Hour+6*time.Hour; got != want {
		t.Errorf("runTimeout = %s, want %s (3 h plus the 8 h of gaps)", got, want)
	}
	j.Spec.Interruptible = false
	if got := runTimeout(j); got != 3*time.Hour {
		t.Errorf("not interruptible: %s, want the spec's 3 h", got)
	}
	j.Spec.Timeout = 0
	if got := runTimeout(j); got != 0 {
		t.Errorf("no timeout: %s, want none", got)
	}
}
