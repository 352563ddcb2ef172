package compute

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cron"
)

// Service is what the API calls to change jobs and schedules: it applies
// defaults and validation, writes the store, and wakes the dispatcher.
type Service struct {
	Store   joule.Store
	DataDir string
	// Wake, when set, starts a dispatch round (the server's dispatcher).
	Wake func()
	Now  func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

// Submit validates spec and queues a job in the workspace. Dependencies
// are resolved to job IDs of the same workspace now (EINVALID when one does
// not exist).
func (s *Service) Submit(ctx context.Context, workspaceID string, spec joule.JobSpec, by string) (joule.Job, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return joule.Job{}, err
	}
	spec.DependsOn = slices.Clone(spec.DependsOn)
	for i, dep := range spec.DependsOn {
		dj, err := s.Store.GetJob(ctx, workspaceID, dep)
		if joule.ErrorCode(err) == joule.ENOTFOUND {
			return joule.Job{}, joule.Errorf(joule.EINVALID, "depends_on[%d]: no job %q in this workspace", i, dep)
		} else if err != nil {
			return joule.Job{}, err
		}
		spec.DependsOn[i] = dj.ID
	}
	j := NewJob(workspaceID, spec, by, s.now())
	if err := s.Store.CreateJob(ctx, j, nil); err != nil {
		return joule.Job{}, err
	}
	s.wake()
	return j, nil
}

// Cancel cancels a job that has not ended. A queued or scheduled job ends at
// once; a running one is marked cancelled and its worker stops its
// processes (SIGTERM, then SIGKILL after the grace period).
func (s *Service) Cancel(ctx context.Context, workspaceID, ref, by string) (joule.Job, error) {
	j, err := s.Store.GetJob(ctx, workspaceID, ref)
	if err != nil {
		return joule.Job{}, err
	}
	now := s.now()
	reason := "cancelled by " + by
	j, err = s.Store.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued, joule.JobScheduled, joule.JobRunning}, reason, func(j *joule.Job) error {
		j.State = joule.JobCancelled
		j.Reason = reason
		j.FinishedAt = &now
		j.UpdatedAt = now
		return nil
	}, nil)
	if joule.ErrorCode(err) == joule.ECONFLICT {
		return joule.Job{}, joule.Errorf(joule.ECONFLICT, "job %s has already ended", ref)
	}
	s.wake()
	return j, err
}

// Retry submits a new job with the spec of an ended one.
func (s *Service) Retry(ctx context.Context, workspaceID, ref, by string) (joule.Job, error) {
	old, err := s.Store.GetJob(ctx, workspaceID, ref)
	if err != nil {
		return joule.Job{}, err
	}
	if !old.State.Terminal() {
		return joule.Job{}, joule.Errorf(joule.ECONFLICT, "job %s is %s: only an ended job can be retried", ref, old.State)
	}
	spec := old.Spec
	spec.NotBefore, spec.Deadline = nil, nil
	j := NewJob(workspaceID, spec, by, s.now())
	j.Reason = "retry of " + old.ID
	if err := s.Store.CreateJob(ctx, j, nil); err != nil {
		return joule.Job{}, err
	}
	s.wake()
	return j, nil
}

// CreateSchedule validates the cron expression and spec and stores a
// schedule whose first run is the next activation.
func (s *Service) CreateSchedule(ctx context.Context, workspaceID, name, expr string, spec joule.JobSpec, by string) (joule.Schedule, error) {
	if err := joule.ValidateName("name", name); err != nil {
		return joule.Schedule{}, err
	}
	c, err := cron.Parse(expr)
	if err != nil {
		return joule.Schedule{}, joule.Errorf(joule.EINVALID, "cron: %v", err)
	}
	if spec.Name == "" {
		spec.Name = name
	}
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return joule.Schedule{}, err
	}
	if len(spec.DependsOn) > 0 {
		return joule.Schedule{}, joule.Errorf(joule.EINVALID, "depends_on: not allowed in a schedule's job")
	}
	now := s.now()
	next := c.Next(now)
	if next.IsZero() {
		return joule.Schedule{}, joule.Errorf(joule.EINVALID, "cron: %q never fires", expr)
	}
	sc := joule.Schedule{ID: joule.NewID("sch", now), WorkspaceID: workspaceID, Name: name, Cron: expr, Spec: spec, CreatedAt: now, CreatedBy: by, NextRunAt: next}
	if err := s.Store.CreateSchedule(ctx, sc); err != nil {
		return joule.Schedule{}, err
	}
	return sc, nil
}

// SetPaused pauses or resumes a schedule. Resuming sets the next run to the
// next activation after now, so missed runs are not replayed.
func (s *Service) SetPaused(ctx context.Context, workspaceID, ref string, paused bool) (joule.Schedule, error) {
	sc, err := s.Store.GetSchedule(ctx, workspaceID, ref)
	if err != nil {
		return joule.Schedule{}, err
	}
	if !paused && sc.Paused {
		c, err := cron.Parse(sc.Cron)
		if err != nil {
			return joule.Schedule{}, fmt.Errorf("stored cron of %s: %w", sc.ID, err)
		}
		sc.NextRunAt = c.Next(s.now())
	}
	sc.Paused = paused
	if err := s.Store.UpdateSchedule(ctx, sc); err != nil {
		return joule.Schedule{}, err
	}
	return sc, nil
}

// LogPath is the log file of a job's attempt.
func (s *Service) LogPath(jobID string, attempt int) string {
	return LogPath(s.DataDir, jobID, attempt)
}

// OutputDir is a job's artifact directory.
func (s *Service) OutputDir(jobID string) string { return OutputDir(s.DataDir, jobID) }
