package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// The Reports page shows internal/sustain's report of a period: the HTML
// inline (in a frame, because the report carries its own styles for
// printing), and downloads of the CSV, JSON and HTML, and of a PDF printed
// by headless Chromium when the server has it. The figures come from
// sustain.AssembleReport, as GET …/sustainability/report's do.

// MaxReportDays is the longest custom period the Reports page accepts.
const MaxReportDays = 400

// allWorkspaces is the workspace value that reports on the installation.
const allWorkspaces = "*"

// reportFormats are the files a report downloads as, by extension.
var reportFormats = map[string]string{
	"html": "text/html; charset=utf-8",
	"csv":  "text/csv; charset=utf-8",
	"json": "application/json",
	"pdf":  "application/pdf",
}

// reportQuery is a checked report request from the query string.
type reportQuery struct {
	sustain.ReportRequest
	// Values are the query parameters that select the report again.
	Values url.Values
	// Choice is the period option chosen: a period, or "custom".
	Choice string
	// From and To are the custom period's first and last days.
	From, To string
	// Workspace is the workspace parameter: "", a name, or allWorkspaces.
	Workspace string
}

// periodOption is one period the page offers.
type periodOption struct {
	Value, Label string
}

// reportPeriods are the months and quarters the page offers at now: this
// month and the five before, this quarter and the three before, this year
// and the last.
func reportPeriods(now time.Time) []periodOption {
	var out []periodOption
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		m := month.AddDate(0, -i, 0)
		label := m.Format("January 2006")
		if i == 0 {
			label += " (to date)"
		}
		out = append(out, periodOption{m.Format("2006-01"), label})
	}
	q := time.Date(now.Year(), time.Month(3*((int(now.Month())-1)/3)+1), 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		s := q.AddDate(0, -3*i, 0)
		v := fmt.Sprintf("%d-Q%d", s.Year(), (int(s.Month())-1)/3+1)
		label := v
		if i == 0 {
			label += " (to date)"
		}
		out = append(out, periodOption{v, label})
	}
	out = append(out, periodOption{fmt.Sprint(now.Year()), fmt.Sprint(now.Year()) + " (to date)"}, periodOption{fmt.Sprint(now.Year() - 1), fmt.Sprint(now.Year() - 1)})
	return out
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// parseReportQuery reads period (a period, or "custom" with from and to,
// both days included) and workspace (platform admins only: another
// workspace's name, or allWorkspaces for the installation). Bad values are
// EINVALID, another workspace for anyone else EFORBIDDEN.
func (c *Console) parseReportQuery(r *http.Request, p joule.Principal) (reportQuery, error) {
	q := r.URL.Query()
	now := c.cfg.Now().UTC()
	rq := reportQuery{Values: url.Values{}, Choice: strings.TrimSpace(q.Get("period")), Workspace: strings.TrimSpace(q.Get("workspace"))}
	rq.Now = now
	rq.Deadline = sustain.DefaultDeadline
	rq.Nodes = p.PlatformAdmin()
	if rq.Choice == "" {
		rq.Choice = now.Format("2006-01")
	}
	rq.Values.Set("period", rq.Choice)
	if rq.Choice == "custom" {
		rq.From, rq.To = strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
		from, err := time.Parse(time.DateOnly, rq.From)
		if err != nil || !dateRE.MatchString(rq.From) {
			return rq, joule.Errorf(joule.EINVALID, "from: %q is not a date such as 2026-11-01", cut(rq.From, 40))
		}
		to, err := time.Parse(time.DateOnly, rq.To)
		if err != nil || !dateRE.MatchString(rq.To) {
			return rq, joule.Errorf(joule.EINVALID, "to: %q is not a date such as 2026-11-30", cut(rq.To, 40))
		}
		if to.Before(from) {
			return rq, joule.Errorf(joule.EINVALID, "to (%s) is before from (%s)", rq.To, rq.From)
		}
		if days := int(to.Sub(from).Hours()/24) + 1; days > MaxReportDays {
			return rq, joule.Errorf(joule.EINVALID, "the period from %s to %s is %d days; the most is %d", rq.From, rq.To, days, MaxReportDays)
		}
		rq.Since, rq.Until = from, to.AddDate(0, 0, 1)
		rq.Period = rq.From + "/" + rq.To
		rq.Values.Set("from", rq.From)
		rq.Values.Set("to", rq.To)
	} else {
		var err error
		if rq.Since, rq.Until, err = sustain.ParsePeriod(rq.Choice); err != nil {
			return rq, joule.Errorf(joule.EINVALID, "period %q: want a month (2026-11), a quarter (2026-Q3), a year (2026), a day (2026-11-05), or custom with from and to", cut(rq.Choice, 40))
		}
		rq.Period = rq.Choice
	}
	switch rq.Workspace {
	case "", p.WorkspaceName, p.WorkspaceID:
		rq.Workspace = ""
		rq.WorkspaceID, rq.Scope = p.WorkspaceID, p.WorkspaceName
	case allWorkspaces:
		if !p.PlatformAdmin() {
			return rq, joule.Errorf(joule.EFORBIDDEN, "the installation-wide report needs an admin token of the %q workspace", joule.DefaultWorkspace)
		}
		rq.Scope = "installation"
	default:
		if !p.PlatformAdmin() {
			return rq, joule.Errorf(joule.EFORBIDDEN, "you are signed in to workspace %q; another workspace's report needs an admin token of the %q workspace", p.WorkspaceName, joule.DefaultWorkspace)
		}
		ws, err := c.cfg.Store.GetWorkspace(r.Context(), rq.Workspace)
		if joule.ErrorCode(err) == joule.ENOTFOUND {
			return rq, joule.Errorf(joule.EINVALID, "workspace %q: no such workspace", cut(rq.Workspace, 64))
		} else if err != nil {
			return rq, err
		}
		rq.WorkspaceID, rq.Scope = ws.ID, ws.Name
	}
	if rq.Workspace != "" {
		rq.Values.Set("workspace", rq.Workspace)
	}
	return rq, nil
}

// reportsView is the data of the Reports page.
type reportsView struct {
	reportQuery
	Periods    []periodOption
	Custom     bool
	Workspaces []joule.Workspace // platform admins: every workspace
	CanAll     bool
	Query      string // the encoded query of the chosen report
	PDF        bool
	NoPDF      string // why there is no PDF
}

// File is the URL of the chosen report as a file: html, csv, json or pdf.
func (v reportsView) File(ext string) template.URL {
	// Query is url.Values.Encode's: safe in a URL as it is.
	return template.URL("/reports/report." + ext + "?" + v.Query)
}

func (c *Console) reports(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	rq, err := c.parseReportQuery(r, p)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := reportsView{reportQuery: rq, Periods: reportPeriods(rq.Now), Custom: rq.Choice == "custom", CanAll: p.PlatformAdmin(),
		Query: rq.Values.Encode(), PDF: c.pdf.path != "", NoPDF: c.pdf.why}
	if !v.Custom {
		v.From, v.To = rq.Since.Format(time.DateOnly), rq.Until.AddDate(0, 0, -1).Format(time.DateOnly)
		known := false
		for _, o := range v.Periods {
			known = known || o.Value == rq.Choice
		}
		if !known {
			v.Periods = append(v.Periods, periodOption{rq.Choice, rq.Choice})
		}
	}
	if v.CanAll {
		cursor := ""
		for {
			wss, next, err := c.cfg.Store.ListWorkspaces(r.Context(), joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			if err != nil {
				c.failErr(w, r, err)
				return
			}
			v.Workspaces = append(v.Workspaces, wss...)
			if cursor = next; cursor == "" {
				break
			}
		}
	}
	c.render(w, r, http.StatusOK, "reports.html", view{Title: "Reports", Path: "/reports", Principal: p, Data: v})
}

// reportFile serves /reports/report.{html,csv,json,pdf}: the HTML inline
// (it may be framed by the console only), the others as downloads.
func (c *Console) reportFile(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ext, ok := strings.CutPrefix(r.PathValue("file"), "report.")
	typ, known := reportFormats[ext]
	if !ok || !known {
		c.notFound(w, r)
		return
	}
	if ext == "pdf" && c.pdf.path == "" {
		c.fail(w, r, http.StatusServiceUnavailable, "PDF unavailable", c.pdf.why)
		return
	}
	rq, err := c.parseReportQuery(r, p)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	rep, err := sustain.AssembleReport(r.Context(), c.cfg.Store, rq.ReportRequest)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	var b bytes.Buffer
	switch ext {
	case "html", "pdf":
		err = sustain.RenderHTML(&b, rep)
	case "csv":
		err = sustain.RenderCSV(&b, rep)
	case "json":
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	body := b.Bytes()
	if ext == "pdf" {
		if body, err = c.pdf.print(r.Context(), body); err != nil {
			c.internal(w, r, err)
			return
		}
	}
	h := w.Header()
	name := reportFileName(rq, ext)
	if ext == "html" {
		// The report carries inline styles; it loads and runs nothing, and
		// only the console may frame it.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Disposition", `inline; filename="`+name+`"`)
	} else {
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

var unsafeFileRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// reportFileName is "joule-report-SCOPE-PERIOD.EXT", with anything but
// letters, digits, '.', '_' and '-' turned into '-'.
func reportFileName(rq reportQuery, ext string) string {
	return unsafeFileRE.ReplaceAllString("joule-report-"+cmp.Or(rq.Scope, "installation")+"-"+rq.Period, "-") + "." + ext
}
