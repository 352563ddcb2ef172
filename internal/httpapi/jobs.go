package httpapi

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// JobService changes jobs and schedules for the API (internal/compute
// implements it; cmd/joule wires it).
type JobService interface {
	Submit(ctx context.Context, workspaceID string, spec joule.JobSpec, by string) (joule.Job, error)
	Cancel(ctx context.Context, workspaceID, ref, by string) (joule.Job, error)
	Retry(ctx context.Context, workspaceID, ref, by string) (joule.Job, error)
	CreateSchedule(ctx context.Context, workspaceID, name, cron string, spec joule.JobSpec, by string) (joule.Schedule, error)
	SetPaused(ctx context.Context, workspaceID, ref string, paused bool) (joule.Schedule, error)
	LogPath(jobID string, attempt int) string
	OutputDir(jobID string) string
}

// JobDetail is a job with its history: the body of GET …/jobs/{job}.
type JobDetail struct {
	joule.Job
	Name        string                `json:"name"`
	Node        string                `json:"node,omitempty"` // node name
	Resources   joule.Resources       `json:"resources"`
	History     []joule.Attempt       `json:"attempt_history"`
	Transitions []joule.JobTransition `json:"transitions"`
	Metrics     []joule.Metric        `json:"metrics"`
	Artifacts   []Artifact            `json:"artifacts"`
}

// Artifact is a file a job wrote to JOULE_OUTPUT_DIR.
type Artifact struct {
	Path     string    `json:"path"` // relative to the output dir, with /
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// CreateScheduleRequest is the body of POST …/schedules.
type CreateScheduleRequest struct {
	Name string        `json:"name"`
	Cron string        `json:"cron"`
	Spec joule.JobSpec `json:"spec"`
}

func (s *Server) jobRoutes() []Route {
	paging := []Param{{"limit", "page size, 1 to 500 (default 50)"}, {"cursor", "next_cursor of the previous page"}}
	ws := "/v1/workspaces/{workspace}"
	return []Route{
		{Method: "POST", Path: ws + "/jobs", Summary: "Submit a job.", Role: joule.RoleEditor, Workspace: true, Audit: "job.create", Request: joule.JobSpec{}, Response: joule.Job{}, Status: http.StatusCreated, handle: s.submitJob},
		{Method: "GET", Path: ws + "/jobs", Summary: "List jobs, newest first.", Role: joule.RoleViewer, Workspace: true,
			Query: append([]Param{{"state", "comma-separated states"}, {"name", "job name"}}, paging...), Response: Page[joule.Job]{}, handle: s.listJobs},
		{Method: "GET", Path: ws + "/jobs/{job}", Summary: "Get a job (by ID, or the newest with that name) with its attempts, transitions, metrics and artifacts.", Role: joule.RoleViewer, Workspace: true, Response: JobDetail{}, handle: s.getJob},
		{Method: "POST", Path: ws + "/jobs/{job}/cancel", Summary: "Cancel a job; a running job's processes are stopped.", Role: joule.RoleEditor, Workspace: true, Audit: "job.cancel", Response: joule.Job{}, handle: s.cancelJob},
		{Method: "POST", Path: ws + "/jobs/{job}/retry", Summary: "Submit an ended job again as a new job.", Role: joule.RoleEditor, Workspace: true, Audit: "job.retry", Response: joule.Job{}, Status: http.StatusCreated, handle: s.retryJob},
		{Method: "GET", Path: ws + "/jobs/{job}/logs", Summary: "A job attempt's log (text/plain); follow=true streams until the attempt ends.", Role: joule.RoleViewer, Workspace: true,
			Query: []Param{{"attempt", "attempt number (default: the latest)"}, {"follow", "true to keep streaming"}}, Raw: true, handle: s.jobLogs},
		{Method: "GET", Path: ws + "/jobs/{job}/usage", Summary: "An attempt's usage samples (cumulative CPU seconds, memory, processes), oldest first: the input of energy attribution.", Role: joule.RoleViewer, Workspace: true,
			Query: []Param{{"attempt", "attempt number (default: the latest)"}}, Response: []joule.UsageSample{}, handle: s.jobUsage},
		{Method: "GET", Path: ws + "/jobs/{job}/artifacts", Summary: "List the files the job wrote to JOULE_OUTPUT_DIR.", Role: joule.RoleViewer, Workspace: true, Response: []Artifact{}, handle: s.listArtifacts},
		{Method: "GET", Path: ws + "/jobs/{job}/artifacts/{path...}", Summary: "Download one artifact.", Role: joule.RoleViewer, Workspace: true, Raw: true, handle: s.getArtifact},
		{Method: "POST", Path: ws + "/schedules", Summary: "Create a cron schedule that submits a job each time it fires.", Role: joule.RoleEditor, Workspace: true, Audit: "schedule.create", Request: CreateScheduleRequest{}, Response: joule.Schedule{}, Status: http.StatusCreated, handle: s.createSchedule},
		{Method: "GET", Path: ws + "/schedules", Summary: "List schedules.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.Schedule]{}, handle: s.listSchedules},
		{Method: "POST", Path: ws + "/schedules/{schedule}/pause", Summary: "Pause a schedule.", Role: joule.RoleEditor, Workspace: true, Audit: "schedule.pause", Response: joule.Schedule{}, handle: s.pauseSchedule(true)},
		{Method: "POST", Path: ws + "/schedules/{schedule}/resume", Summary: "Resume a schedule from its next activation.", Role: joule.RoleEditor, Workspace: true, Audit: "schedule.resume", Response: joule.Schedule{}, handle: s.pauseSchedule(false)},
	}
}

func (s *Server) jobs() (JobService, error) {
	if s.cfg.Jobs == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server runs no compute layer")
	}
	return s.cfg.Jobs, nil
}

func (s *Server) submitJob(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	var spec joule.JobSpec
	if err := decode(r, &spec); err != nil {
		return err
	}
	j, err := js.Submit(r.Context(), c.workspace.ID, spec, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource = j.ID
	c.detail = "name=" + j.Spec.Name
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	f := joule.JobFilter{WorkspaceID: c.workspace.ID, Name: r.URL.Query().Get("name"), Newest: true, ListOptions: opt}
	if v := r.URL.Query().Get("state"); v != "" {
		for _, st := range strings.Split(v, ",") {
			switch js := joule.JobState(strings.TrimSpace(st)); js {
			case joule.JobQueued, joule.JobScheduled, joule.JobRunning, joule.JobSucceeded, joule.JobFailed, joule.JobCancelled, joule.JobTimedOut:
				f.States = append(f.States, js)
			default:
				return errField("state", "%q is not a job state", st)
			}
		}
	}
	items, next, err := s.store.ListJobs(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Job]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	j, err := s.store.GetJob(ctx, c.workspace.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	d := JobDetail{Job: j, Name: j.Spec.Name, Resources: j.Spec.Resources}
	if j.NodeID != "" {
		if n, err := s.store.GetNode(ctx, j.NodeID); err == nil {
			d.Node = n.Name
		}
	}
	if d.History, err = s.store.ListAttempts(ctx, j.ID); err != nil {
		return err
	}
	if d.Transitions, err = s.store.ListJobTransitions(ctx, j.ID); err != nil {
		return err
	}
	if d.Metrics, err = s.store.ListJobMetrics(ctx, j.ID); err != nil {
		return err
	}
	if s.cfg.Jobs != nil {
		d.Artifacts = artifacts(s.cfg.Jobs.OutputDir(j.ID))
	}
	d.History, d.Transitions, d.Metrics, d.Artifacts = nonNil(d.History), nonNil(d.Transitions), nonNil(d.Metrics), nonNil(d.Artifacts)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	c.resource = r.PathValue("job")
	j, err := js.Cancel(r.Context(), c.workspace.ID, r.PathValue("job"), c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource = j.ID
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) retryJob(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	c.resource = r.PathValue("job")
	j, err := js.Retry(r.Context(), c.workspace.ID, r.PathValue("job"), c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource = j.ID
	writeJSON(w, http.StatusCreated, j)
	return nil
}

// jobLogs writes an attempt's log. With follow=true it keeps the response
// open, flushing new lines, until the attempt ends or the client leaves.
func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	ctx := r.Context()
	j, err := s.store.GetJob(ctx, c.workspace.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	attempt, err := attemptParam(r, j)
	if err != nil {
		return err
	}
	follow := r.URL.Query().Get("follow") == "true" || r.URL.Query().Get("follow") == "1"
	if attempt == 0 && !follow {
		return joule.Errorf(joule.ENOTFOUND, "job %s has not started yet: no log", j.ID)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var off int64
	for {
		// Read the job's state before copying: whatever the attempt wrote
		// before it ended is then in the file.
		cur, err := s.store.GetJob(ctx, c.workspace.ID, j.ID)
		if err != nil {
			return err
		}
		if attempt == 0 && cur.Attempts > 0 {
			attempt = cur.Attempts
		}
		if f == nil && attempt > 0 {
			f, _ = os.Open(js.LogPath(j.ID, attempt))
		}
		if f != nil {
			n, _ := io.Copy(w, io.NewSectionReader(f, off, 1<<40))
			off += n
			if n > 0 {
				_ = rc.Flush()
			}
		}
		if !follow {
			if f == nil {
				return joule.Errorf(joule.ENOTFOUND, "no log for attempt %d of job %s on this server (a remote worker keeps it)", attempt, j.ID)
			}
			return nil
		}
		ended := cur.State.Terminal() || (attempt > 0 && (cur.Attempts > attempt || cur.State != joule.JobRunning))
		if ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Server) jobUsage(w http.ResponseWriter, r *http.Request, c *call) error {
	j, err := s.store.GetJob(r.Context(), c.workspace.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	attempt, err := attemptParam(r, j)
	if err != nil {
		return err
	}
	us, err := s.store.ListUsage(r.Context(), j.ID, attempt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(us))
	return nil
}

// attemptParam reads ?attempt=N (default: the job's latest attempt).
func attemptParam(r *http.Request, j joule.Job) (int, error) {
	v := r.URL.Query().Get("attempt")
	if v == "" {
		return j.Attempts, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > j.Attempts {
		return 0, errField("attempt", "%q is not an attempt of this job (it has %d)", v, j.Attempts)
	}
	return n, nil
}

// artifacts lists the regular files under dir.
func artifacts(dir string) []Artifact {
	var out []Artifact
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, Artifact{Path: filepath.ToSlash(rel), Size: info.Size(), Modified: info.ModTime().UTC()})
		return nil
	})
	return out
}

func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	j, err := s.store.GetJob(r.Context(), c.workspace.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(artifacts(js.OutputDir(j.ID))))
	return nil
}

func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	j, err := s.store.GetJob(r.Context(), c.workspace.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	rel := r.PathValue("path")
	if !fs.ValidPath(rel) {
		return errField("path", "%q is not a valid artifact path", rel)
	}
	root, err := os.OpenRoot(js.OutputDir(j.ID))
	if err != nil {
		return joule.Errorf(joule.ENOTFOUND, "job %s has no artifacts on this server", j.ID)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return joule.Errorf(joule.ENOTFOUND, "artifact %q not found", rel)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return joule.Errorf(joule.ENOTFOUND, "artifact %q not found", rel)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(filepath.Base(rel), `"`, "")+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", info.ModTime(), f)
	return nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	js, err := s.jobs()
	if err != nil {
		return err
	}
	var req CreateScheduleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	sc, err := js.CreateSchedule(r.Context(), c.workspace.ID, req.Name, req.Cron, req.Spec, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource = sc.ID
	c.detail = "cron=" + sc.Cron
	writeJSON(w, http.StatusCreated, sc)
	return nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListSchedules(r.Context(), c.workspace.ID, opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Schedule]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) pauseSchedule(paused bool) func(w http.ResponseWriter, r *http.Request, c *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		js, err := s.jobs()
		if err != nil {
			return err
		}
		c.resource = r.PathValue("schedule")
		sc, err := js.SetPaused(r.Context(), c.workspace.ID, r.PathValue("schedule"), paused)
		if err != nil {
			return err
		}
		c.resource = sc.ID
		writeJSON(w, http.StatusOK, sc)
		return nil
	}
}
