package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/joule-dev/joule"
)

// testJobShift checks that a job's carbon-aware shift round-trips through
// CreateJob, UpdateJob, GetJob and ListJobs, and that nil stays nil.
func testJobShift(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	plain := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "plain"))
	if got := mustGetJob(t, s, plain.ID); got.Shift != nil {
		t.Errorf("GetJob of a job without a shift: Shift = %+v, want nil", got.Shift)
	}

	at := time.Date(2026, 11, 27, 2, 30, 0, 0, time.UTC)
	j := testJob(w.ID, idAt("job", 2), "flexible")
	j.State = joule.JobScheduled
	j.StartAt = &at
	j.Shift = &joule.JobShift{
		PlannedAt: at.Add(-6 * time.Hour), Start: at, Deadline: at.Add(6 * time.Hour),
		Slots:            []joule.TimeSlot{{Start: at, End: at.Add(30 * time.Minute)}, {Start: at.Add(time.Hour), End: at.Add(90 * time.Minute)}},
		ExpectedDuration: joule.Duration(time.Hour), DurationSource: "spec",
		ForecastGPerKWh: 180.25, NowGPerKWh: 1.0 / 3, ExpectedWatts: 0.1 + 0.2, ExpectedSavingG: 1234.5,
		Source: "file carbon.csv",
	}
	mustCreateJob(t, s, j)
	if diff := cmp.Diff(j, mustGetJob(t, s, j.ID)); diff != "" {
		t.Errorf("GetJob of a job created with a shift mismatch (-want +got):\n%s", diff)
	}

	saving := -2.5
	got, err := s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error {
		j.Shift.RealisedSavingG = &saving
		j.Shift.RealisedNote = "actual intensities from file carbon.csv"
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(set realised saving): %v", err)
	}
	if got.Shift == nil || got.Shift.RealisedSavingG == nil || *got.Shift.RealisedSavingG != saving {
		t.Fatalf("UpdateJob(set realised saving): Shift = %+v", got.Shift)
	}
	js, _, err := s.ListJobs(ctx, joule.JobFilter{WorkspaceID: w.ID})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	if len(js) != 2 || js[0].Shift != nil || js[1].Shift == nil || *js[1].Shift.RealisedSavingG != saving {
		t.Errorf("ListJobs: shifts = %+v, %+v; want nil and the realised one", js[0].Shift, js[1].Shift)
	}

	// Setting nil clears it.
	got, err = s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error { j.Shift = nil; return nil }, nil)
	if err != nil {
		t.Fatalf("UpdateJob(clear shift): %v", err)
	}
	if got.Shift != nil || mustGetJob(t, s, j.ID).Shift != nil {
		t.Errorf("UpdateJob(clear shift): Shift still set")
	}
}
