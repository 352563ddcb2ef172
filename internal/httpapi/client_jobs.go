package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/joule-dev/joule"
)

// SubmitJob submits a job to a workspace.
func (c *Client) SubmitJob(ctx context.Context, ws string, spec joule.JobSpec) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", wsPath(ws, "/jobs"), nil, spec, &j)
	return j, err
}

// JobQuery filters ListJobs.
type JobQuery struct {
	States []joule.JobState
	Name   string
	joule.ListOptions
}

// ListJobs returns one page of a workspace's jobs, newest first.
func (c *Client) ListJobs(ctx context.Context, ws string, q JobQuery) (Page[joule.Job], error) {
	v := pageQuery(q.ListOptions)
	if len(q.States) > 0 {
		parts := make([]string, len(q.States))
		for i, s := range q.States {
			parts[i] = string(s)
		}
		v.Set("state", strings.Join(parts, ","))
	}
	if q.Name != "" {
		v.Set("name", q.Name)
	}
	var p Page[joule.Job]
	err := c.do(ctx, "GET", wsPath(ws, "/jobs"), v, nil, &p)
	return p, err
}

// GetJob returns a job by ID or name, with its history.
func (c *Client) GetJob(ctx context.Context, ws, ref string) (JobDetail, error) {
	var d JobDetail
	err := c.do(ctx, "GET", wsPath(ws, "/jobs/"+url.PathEscape(ref)), nil, nil, &d)
	return d, err
}

// CancelJob cancels a job.
func (c *Client) CancelJob(ctx context.Context, ws, ref string) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/cancel"), nil, struct{}{}, &j)
	return j, err
}

// RetryJob submits an ended job again.
func (c *Client) RetryJob(ctx context.Context, ws, ref string) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/retry"), nil, struct{}{}, &j)
	return j, err
}

// JobLogs copies an attempt's log (0: the latest) to w; with follow it
// streams until the attempt ends.
func (c *Client) JobLogs(ctx context.Context, ws, ref string, attempt int, follow bool, w io.Writer) error {
	q := url.Values{}
	if attempt > 0 {
		q.Set("attempt", fmt.Sprint(attempt))
	}
	if follow {
		q.Set("follow", "true")
	}
	hc := c.HTTPClient
	if follow && hc == nil {
		hc = streamingClient
	}
	cc := *c
	cc.HTTPClient = hc
	resp, err := cc.send(ctx, "GET", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/logs"), q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// ListArtifacts lists a job's artifacts.
func (c *Client) ListArtifacts(ctx context.Context, ws, ref string) ([]Artifact, error) {
	var as []Artifact
	err := c.do(ctx, "GET", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/artifacts"), nil, nil, &as)
	return as, err
}

// DownloadArtifact copies one artifact to w.
func (c *Client) DownloadArtifact(ctx context.Context, ws, ref, path string, w io.Writer) error {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	resp, err := c.send(ctx, "GET", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/artifacts/"+strings.Join(parts, "/")), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// CreateSchedule creates a cron schedule.
func (c *Client) CreateSchedule(ctx context.Context, ws string, req CreateScheduleRequest) (joule.Schedule, error) {
	var s joule.Schedule
	err := c.do(ctx, "POST", wsPath(ws, "/schedules"), nil, req, &s)
	return s, err
}

// ListSchedules returns one page of schedules.
func (c *Client) ListSchedules(ctx context.Context, ws string, opt joule.ListOptions) (Page[joule.Schedule], error) {
	var p Page[joule.Schedule]
	err := c.do(ctx, "GET", wsPath(ws, "/schedules"), pageQuery(opt), nil, &p)
	return p, err
}

// SetSchedulePaused pauses or resumes a schedule.
func (c *Client) SetSchedulePaused(ctx context.Context, ws, ref string, paused bool) (joule.Schedule, error) {
	verb := "/resume"
	if paused {
		verb = "/pause"
	}
	var s joule.Schedule
	err := c.do(ctx, "POST", wsPath(ws, "/schedules/"+url.PathEscape(ref)+verb), nil, struct{}{}, &s)
	return s, err
}

// JobUsage returns an attempt's usage samples (0: the latest attempt).
func (c *Client) JobUsage(ctx context.Context, ws, ref string, attempt int) ([]joule.UsageSample, error) {
	q := url.Values{}
	if attempt > 0 {
		q.Set("attempt", fmt.Sprint(attempt))
	}
	var us []joule.UsageSample
	err := c.do(ctx, "GET", wsPath(ws, "/jobs/"+url.PathEscape(ref)+"/usage"), q, nil, &us)
	return us, err
}
