package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// jobStates are the states the jobs list filters by, in life order.
var jobStates = []joule.JobState{
	joule.JobQueued, joule.JobScheduled, joule.JobRunning,
	joule.JobSucceeded, joule.JobFailed, joule.JobCancelled, joule.JobTimedOut,
}

// Limits of the job pages.
const (
	jobsPageSize    = 50
	logFirstBytes   = 64 << 10  // the log tail rendered with the job page
	logChunkBytes   = 256 << 10 // the most one log poll returns
	maxArtifacts    = 500       // artifacts listed on the job page
	maxMetricCharts = 12        // metric names drawn
	maxChartPoints  = 2000      // points per metric chart; more are thinned
	reasonCut       = 90        // runes of a reason shown in the jobs list
)

// noLogs is what the job page says when Config.JobDir is nil.
const noLogs = "Logs are not available on this server."

// jobAccess checks that the signed-in principal may read jobs; on failure
// it has rendered the error page and returns false.
func (c *Console) jobAccess(w http.ResponseWriter, r *http.Request) (joule.Principal, bool) {
	p := joule.PrincipalFromContext(r.Context())
	if err := joule.Authorize(p, joule.RoleViewer, p.WorkspaceID); err != nil {
		c.failErr(w, r, err)
		return p, false
	}
	return p, true
}

// jobsView is the data of the jobs list.
type jobsView struct {
	Jobs   []jobRow
	States []joule.JobState
	State  string // the state filter; "" for any
	Name   string // the name filter
	Paged  bool   // this is not the first page
	First  string // URL of the first page with the same filters
	Next   string // URL of the next (older) page; "" on the last
}

// jobRow is a job as the list shows it.
type jobRow struct {
	joule.Job
	Node     string // node name, or ID when the node is gone
	Duration string // "—" before it started
	Reason   string // cut to reasonCut runes
}

func (c *Console) jobsList(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	v := jobsView{
		States: jobStates,
		State:  strings.TrimSpace(q.Get("state")),
		Name:   strings.TrimSpace(q.Get("name")),
		Paged:  q.Get("cursor") != "",
	}
	f := joule.JobFilter{WorkspaceID: p.WorkspaceID, Name: v.Name, Newest: true,
		ListOptions: joule.ListOptions{Limit: jobsPageSize, Cursor: q.Get("cursor")}}
	if v.State != "" {
		if !slices.Contains(jobStates, joule.JobState(v.State)) {
			c.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Sprintf("%q is not a job state.", v.State))
			return
		}
		f.States = []joule.JobState{joule.JobState(v.State)}
	}
	jobs, next, err := c.cfg.Store.ListJobs(r.Context(), f)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	names := nodeNames{c: c, r: r}
	now := c.cfg.Now()
	for _, j := range jobs {
		v.Jobs = append(v.Jobs, jobRow{Job: j, Node: names.get(j.NodeID), Duration: jobDuration(j, now), Reason: cut(j.Reason, reasonCut)})
	}
	filters := url.Values{}
	if v.State != "" {
		filters.Set("state", v.State)
	}
	if v.Name != "" {
		filters.Set("name", v.Name)
	}
	v.First = "/jobs"
	if len(filters) > 0 {
		v.First += "?" + filters.Encode()
	}
	if next != "" {
		filters.Set("cursor", next)
		v.Next = "/jobs?" + filters.Encode()
	}
	c.render(w, r, http.StatusOK, "jobs.html", view{Title: "Jobs", Path: "/jobs", Principal: p, Data: v})
}

// nodeNames resolves node IDs to names, once per ID.
type nodeNames struct {
	c     *Console
	r     *http.Request
	names map[string]string
}

func (n *nodeNames) get(id string) string {
	if id == "" {
		return ""
	}
	if name, ok := n.names[id]; ok {
		return name
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	name := id
	if node, err := n.c.cfg.Store.GetNode(n.r.Context(), id); err == nil && node.Name != "" {
		name = node.Name
	}
	n.names[id] = name
	return name
}

// jobDuration is how long j has run: until it finished, or until now while
// it runs; "—" before it started.
func jobDuration(j joule.Job, now time.Time) string {
	if j.StartedAt == nil {
		return "—"
	}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	} else if j.State.Terminal() {
		end = j.UpdatedAt
	}
	return duration(max(end.Sub(*j.StartedAt), 0))
}

// cut shortens s to at most n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// jobView is the data of a job page.
type jobView struct {
	Job         joule.Job
	Node        string
	CPU         string // cores
	Memory      string
	GPUs        string
	Timeout     string
	Duration    string
	Command     string
	Transitions []transitionRow
	Attempts    []attemptRow
	Charts      []template.HTML
	MetricCount int
	Artifacts   []artifact
	MoreFiles   bool   // the artifacts list was cut at maxArtifacts
	FilesNote   string // why there is no artifacts list; "" when there is one
	Log         logView
}

// transitionRow is one entry of the state timeline.
type transitionRow struct {
	joule.JobTransition
	After string // time since the previous transition; "" for the first
}

// attemptRow is an attempt as the attempts table shows it.
type attemptRow struct {
	joule.Attempt
	Node     string
	Exit     string // "0", "SIGKILL", "—"
	CPU      string // user + system seconds
	Duration string
}

// artifact is a file under the job's output directory.
type artifact struct {
	Path string // relative, with /
	Size int64
	URL  string
}

// logView is the log tail of the page.
type logView struct {
	Note    string // why there is no log; "" when there is one
	Text    string
	Cut     bool // the tail starts after the beginning of the log
	Attempt int  // 0 before the first attempt
	Offset  int64
	Done    bool // the job has ended: no polling
	URL     string
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	j, err := c.cfg.Store.GetJob(ctx, p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	now := c.cfg.Now()
	names := nodeNames{c: c, r: r}
	v := jobView{
		Job:      j,
		Node:     names.get(j.NodeID),
		CPU:      cores(j.Spec.Resources.CPUMillis),
		Memory:   humanBytes(j.Spec.Resources.MemoryBytes),
		GPUs:     strconv.Itoa(j.Spec.Resources.GPUs),
		Timeout:  "none",
		Duration: jobDuration(j, now),
		Command:  shellQuote(j.Spec.Command),
	}
	if j.Spec.Resources.MemoryBytes == 0 {
		v.Memory = "no limit"
	}
	if len(j.GPUIndices) > 0 {
		idx := make([]string, len(j.GPUIndices))
		for i, g := range j.GPUIndices {
			idx[i] = strconv.Itoa(g)
		}
		v.GPUs += " (indices " + strings.Join(idx, ", ") + ")"
	}
	if j.Spec.Timeout > 0 {
		v.Timeout = time.Duration(j.Spec.Timeout).String()
	}

	trs, err := c.cfg.Store.ListJobTransitions(ctx, j.ID)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	for i, t := range trs {
		row := transitionRow{JobTransition: t}
		if i > 0 {
			row.After = duration(max(t.Time.Sub(trs[i-1].Time), 0))
		}
		v.Transitions = append(v.Transitions, row)
	}

	atts, err := c.cfg.Store.ListAttempts(ctx, j.ID)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	for _, a := range atts {
		row := attemptRow{Attempt: a, Node: names.get(a.NodeID), Exit: "—", CPU: chart.FormatValue(a.CPUUserSec+a.CPUSysSec) + " s", Duration: "—"}
		switch {
		case a.Signal != "":
			row.Exit = a.Signal
		case a.ExitCode != nil:
			row.Exit = strconv.Itoa(*a.ExitCode)
		}
		if !a.StartedAt.IsZero() {
			end := now
			if a.FinishedAt != nil {
				end = *a.FinishedAt
			}
			row.Duration = duration(max(end.Sub(a.StartedAt), 0))
		}
		v.Attempts = append(v.Attempts, row)
	}

	ms, err := c.cfg.Store.ListJobMetrics(ctx, j.ID)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v.MetricCount = len(ms)
	if v.Charts, err = metricCharts(ms); err != nil {
		c.internal(w, r, err)
		return
	}

	v.Log = logView{URL: "/jobs/" + url.PathEscape(j.ID) + "/log", Attempt: j.Attempts, Done: j.State.Terminal()}
	root, err := c.jobRoot(j.ID)
	switch {
	case errors.Is(err, errNoJobDir):
		v.Log.Note, v.FilesNote = noLogs, "Artifacts are not available on this server."
	case errors.Is(err, fs.ErrNotExist):
		// Not started yet, run by a worker elsewhere, or cleaned up.
		if v.Log.Done && j.Attempts > 0 {
			v.Log.Note = "This server has no log of this job: it ran on another node, or its files were removed."
		}
	case err != nil:
		c.cfg.Logger.WarnContext(ctx, "console: open job directory", "job", j.ID, "err", err)
		v.Log.Note, v.FilesNote = "The log could not be read.", "The artifacts could not be listed."
	default:
		defer root.Close()
		v.Artifacts, v.MoreFiles = listArtifacts(root, j.ID)
		if j.Attempts > 0 {
			if err := readLogTail(root, j.Attempts, &v.Log); err != nil {
				c.cfg.Logger.WarnContext(ctx, "console: read job log", "job", j.ID, "err", err)
				v.Log.Note = "The log could not be read."
			}
		}
	}
	if v.Log.Note == "" && j.Attempts == 0 && v.Log.Done {
		v.Log.Note = "The job ended before it ran, so it has no log."
	}
	c.render(w, r, http.StatusOK, "job.html", view{Title: "Job " + j.Spec.Name, Path: "/jobs", Principal: p, Data: v})
}

var errNoJobDir = errors.New("no job directory configured")

// jobRoot opens the job's directory. It returns errNoJobDir when the
// console has no Config.JobDir.
func (c *Console) jobRoot(jobID string) (*os.Root, error) {
	if c.cfg.JobDir == nil {
		return nil, errNoJobDir
	}
	// IDs come from the store, but never let one walk out of the data dir.
	if jobID == "" || strings.ContainsAny(jobID, `/\`) || strings.Contains(jobID, "..") {
		return nil, fmt.Errorf("job ID %q is not a plain name", jobID)
	}
	return os.OpenRoot(c.cfg.JobDir(jobID))
}

// logName is the log file of an attempt, inside the job's directory.
func logName(attempt int) string { return "attempt-" + strconv.Itoa(attempt) + ".log" }

// readLogTail reads the last logFirstBytes of an attempt's log into lv. A
// log that does not exist yet is empty.
func readLogTail(root *os.Root, attempt int, lv *logView) error {
	f, err := root.Open(logName(attempt))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", logName(attempt))
	}
	size := info.Size()
	start := max(size-logFirstBytes, 0)
	buf := make([]byte, size-start)
	n, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	buf = buf[:n]
	if start > 0 {
		// Begin at a line, or at least at a character.
		lv.Cut = true
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && i < len(buf)-1 {
			buf = buf[i+1:]
		} else {
			for len(buf) > 0 && !utf8.RuneStart(buf[0]) {
				buf = buf[1:]
			}
		}
	}
	end := start + int64(n)
	if !lv.Done {
		kept := completeRunes(buf)
		end -= int64(len(buf) - len(kept))
		buf = kept
	}
	lv.Text = strings.ToValidUTF8(string(buf), "\uFFFD")
	lv.Offset = end
	return nil
}

// completeRunes drops a character cut short at the end of b, which the
// rest of it (still being written, or in the next chunk) completes.
func completeRunes(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// listArtifacts lists the regular files under the job's output directory,
// at most maxArtifacts of them; more reports whether there were more.
func listArtifacts(root *os.Root, jobID string) (list []artifact, more bool) {
	base := "/jobs/" + url.PathEscape(jobID) + "/artifacts/"
	_ = fs.WalkDir(root.FS(), "output", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if len(list) == maxArtifacts {
			more = true
			return fs.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(p, "output/")
		segs := strings.Split(rel, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		list = append(list, artifact{Path: rel, Size: info.Size(), URL: base + strings.Join(segs, "/")})
		return nil
	})
	return list, more
}

// jobArtifact downloads one file of the job's output directory.
func (c *Console) jobArtifact(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	j, err := c.cfg.Store.GetJob(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	rel := r.PathValue("path")
	if !fs.ValidPath(rel) || rel == "." {
		c.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Sprintf("%q is not a valid artifact path.", rel))
		return
	}
	root, err := c.jobRoot(j.ID)
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "Not found", "This job has no artifacts on this server.")
		return
	}
	defer root.Close()
	// A root of its own, so that no link in the output reaches the logs.
	out, err := root.OpenRoot("output")
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "Not found", "This job has no artifacts on this server.")
		return
	}
	defer out.Close()
	f, err := out.Open(rel)
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("Artifact %q not found.", rel))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		c.fail(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("Artifact %q not found.", rel))
		return
	}
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(rel)))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// metricCharts draws one line chart per metric name, in the order the
// names first appear: against the step when every value of the name has
// one, and against time otherwise.
func metricCharts(ms []joule.Metric) ([]template.HTML, error) {
	var order []string
	byName := map[string][]joule.Metric{}
	for _, m := range ms {
		if _, ok := byName[m.Name]; !ok {
			order = append(order, m.Name)
		}
		byName[m.Name] = append(byName[m.Name], m)
	}
	var out []template.HTML
	for _, name := range order[:min(len(order), maxMetricCharts)] {
		vals := byName[name]
		steps := !slices.ContainsFunc(vals, func(m joule.Metric) bool { return m.Step == nil })
		stride := (len(vals) + maxChartPoints - 1) / maxChartPoints
		pts := make([]chart.Point, 0, min(len(vals), maxChartPoints+1))
		for i, m := range vals {
			if i%stride != 0 && i != len(vals)-1 {
				continue
			}
			x := chart.TimeX(m.Time)
			if steps {
				x = float64(*m.Step)
			}
			pts = append(pts, chart.Point{X: x, Y: m.Value})
		}
		last := vals[len(vals)-1]
		title := name + " · last " + chart.FormatValue(last.Value)
		if steps {
			title += " at step " + strconv.FormatInt(*last.Step, 10)
		}
		var b bytes.Buffer
		if err := chart.Line(&b, chart.LineChart{Title: title, Width: 520, Height: 220, XTime: !steps,
			Series: []chart.Series{{Name: name, Points: pts}}}); err != nil {
			return nil, err
		}
		// The chart package escapes all text and emits no script or style.
		out = append(out, template.HTML(b.String()))
	}
	return out, nil
}

// humanBytes formats a size with binary units: "512 B", "1.5 GiB".
func humanBytes(b int64) string {
	if b < 1024 {
		return strconv.FormatInt(b, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(b)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + units[i]
}

// cores formats millicores as cores: "1 core", "0.5 cores".
func cores(millis int64) string {
	s := strconv.FormatFloat(float64(millis)/1000, 'f', -1, 64)
	if millis == 1000 {
		return s + " core"
	}
	return s + " cores"
}

// shellQuote writes argv as a shell would need it, quoting arguments with
// spaces or special characters.
func shellQuote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}

// logChunk is the answer of the log endpoint.
type logChunk struct {
	Text    string         `json:"text"`    // the new bytes, as UTF-8
	Offset  int64          `json:"offset"`  // where the next request starts
	Attempt int            `json:"attempt"` // the attempt the text belongs to; 0 before the first
	Latest  int            `json:"latest"`  // the job's latest attempt
	State   joule.JobState `json:"state"`   // the job's state
	EOF     bool           `json:"eof"`     // the text reaches the current end of the log
	Done    bool           `json:"done"`    // the job has ended and the log is read to its end
}

// jsonError writes {"error": msg} with status.
func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// authedJSON wraps an endpoint of the pages' scripts: without a valid
// session it answers 401 in JSON rather than redirecting.
func (c *Console) authedJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := c.session(r)
		if joule.ErrorCode(err) == joule.EUNAUTHORIZED {
			jsonError(w, http.StatusUnauthorized, "not signed in")
			return
		} else if err != nil {
			c.cfg.Logger.ErrorContext(r.Context(), "console: internal error", "path", r.URL.Path, "err", err)
			jsonError(w, http.StatusInternalServerError, "internal error")
			return
		}
		h(w, r.WithContext(joule.NewContextWithPrincipal(r.Context(), p)))
	}
}

// jobLog answers the log tail's polls: the bytes of an attempt's log from
// offset on, at most logChunkBytes, as JSON.
func (c *Console) jobLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := joule.PrincipalFromContext(ctx)
	if err := joule.Authorize(p, joule.RoleViewer, p.WorkspaceID); err != nil {
		jsonError(w, http.StatusForbidden, joule.ErrorMessage(err))
		return
	}
	q := r.URL.Query()
	var offset int64
	if s := q.Get("offset"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			jsonError(w, http.StatusBadRequest, fmt.Sprintf("offset: %q is not a byte offset", s))
			return
		}
		offset = n
	}
	attempt := 0
	if s := q.Get("attempt"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			jsonError(w, http.StatusBadRequest, fmt.Sprintf("attempt: %q is not an attempt number", s))
			return
		}
		attempt = n
	}
	// Read the job before the log: whatever an ended attempt wrote is then
	// in the file.
	j, err := c.cfg.Store.GetJob(ctx, p.WorkspaceID, r.PathValue("id"))
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		jsonError(w, http.StatusNotFound, "job not found")
		return
	} else if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "console: internal error", "path", r.URL.Path, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	switch {
	case attempt > j.Attempts:
		jsonError(w, http.StatusBadRequest, fmt.Sprintf("attempt: job %s has %d attempts", j.ID, j.Attempts))
		return
	case attempt == 0 && offset > 0:
		jsonError(w, http.StatusBadRequest, "offset: needs an attempt")
		return
	case attempt == 0:
		attempt = j.Attempts
	}
	out := logChunk{Offset: offset, Attempt: attempt, Latest: j.Attempts, State: j.State}
	if attempt == 0 {
		out.EOF, out.Done = true, j.State.Terminal()
		writeJSON(w, http.StatusOK, out)
		return
	}
	root, err := c.jobRoot(j.ID)
	if errors.Is(err, errNoJobDir) {
		jsonError(w, http.StatusNotFound, noLogs)
		return
	}
	var f *os.File
	if err == nil {
		defer root.Close()
		f, err = root.Open(logName(attempt))
	}
	var size int64
	if err == nil {
		defer f.Close()
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			c.cfg.Logger.WarnContext(ctx, "console: read job log", "job", j.ID, "err", err)
			jsonError(w, http.StatusInternalServerError, "internal error")
			return
		}
		size = info.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		c.cfg.Logger.WarnContext(ctx, "console: read job log", "job", j.ID, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if offset > size {
		jsonError(w, http.StatusBadRequest, fmt.Sprintf("offset: %d is past the end of the log (%d bytes)", offset, size))
		return
	}
	buf := make([]byte, min(size-offset, logChunkBytes))
	if len(buf) > 0 {
		n, err := f.ReadAt(buf, offset)
		if err != nil && !errors.Is(err, io.EOF) {
			c.cfg.Logger.WarnContext(ctx, "console: read job log", "job", j.ID, "err", err)
			jsonError(w, http.StatusInternalServerError, "internal error")
			return
		}
		buf = buf[:n]
	}
	out.EOF = offset+int64(len(buf)) >= size
	ended := j.State.Terminal() || attempt < j.Attempts
	if !ended || !out.EOF {
		buf = completeRunes(buf)
	}
	out.Text = strings.ToValidUTF8(string(buf), "\uFFFD")
	out.Offset = offset + int64(len(buf))
	out.Done = j.State.Terminal() && attempt == j.Attempts && out.EOF
	writeJSON(w, http.StatusOK, out)
}

// jobsSummary is the overview's jobs card: states of the latest jobs.
type jobsSummary struct {
	Shown                   bool // the viewer may see jobs
	Total                   int  // jobs counted, at most jobsPageSize
	More                    bool // there are older jobs than those counted
	Queued, Running, Failed int  // queued counts scheduled, failed timed out
}

// summariseJobs counts the states of the workspace's latest jobs.
func (c *Console) summariseJobs(r *http.Request, p joule.Principal) (jobsSummary, error) {
	if joule.Authorize(p, joule.RoleViewer, p.WorkspaceID) != nil {
		return jobsSummary{}, nil
	}
	jobs, next, err := c.cfg.Store.ListJobs(r.Context(), joule.JobFilter{WorkspaceID: p.WorkspaceID, Newest: true, ListOptions: joule.ListOptions{Limit: jobsPageSize}})
	if err != nil {
		return jobsSummary{}, err
	}
	s := jobsSummary{Shown: true, Total: len(jobs), More: next != ""}
	for _, j := range jobs {
		switch j.State {
		case joule.JobQueued, joule.JobScheduled:
			s.Queued++
		case joule.JobRunning:
			s.Running++
		case joule.JobFailed, joule.JobTimedOut:
			s.Failed++
		}
	}
	return s, nil
}
