package web

import (
	"bytes"
	"cmp"
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
	"github.com/joule-dev/joule/internal/sustain"
)

// The Targets page shows a workspace's targets as GET
// /v1/workspaces/{ws}/sustainability/targets/{target} does: each with a live
// evaluation (internal/sustain's projection), its weekly series and its
// recorded history. Editors set targets from it; the form is the API's
// POST …/targets with the same checks, and is audited alike.

// sustainPageNames are the templates of the sustainability pages.
var sustainPageNames = []string{"targets.html", "reports.html"}

// sustainFuncs are the template functions of the sustainability pages.
var sustainFuncs = template.FuncMap{
	"num":        sustain.Fmt,
	"date":       func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"statusText": statusText,
	"clamp01":    func(f float64) float64 { return min(max(f, 0), 1) },
	// change says a target's reduction as a signed change: "−20 %".
	"change": func(pct float64) string {
		if pct > 0 {
			return "−" + strconv.FormatFloat(pct, 'f', -1, 64) + " %"
		}
		return "+" + strconv.FormatFloat(-pct, 'f', -1, 64) + " %"
	},
}

// sustainRoutes registers the Targets and Reports pages.
func (c *Console) sustainRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /targets", c.authed(c.targets))
	m.HandleFunc("POST /targets", c.authed(c.createTarget))
	m.HandleFunc("GET /reports", c.authed(c.reports))
	m.HandleFunc("GET /reports/{file}", c.authed(c.reportFile))
}

// historyRows is how many recorded evaluations each target shows.
const historyRows = 20

// targetsView is the data of the Targets page.
type targetsView struct {
	Targets   []targetRow
	Baselines []joule.Baseline
	CanEdit   bool
	// DueDefault is a due date the form offers: a year from today.
	DueDefault string
	// Indicators are the built-in indicators, for the CLI hint.
	Indicators []string
	// BaselinePeriod is the last full month, for the CLI hint.
	BaselinePeriod string
}

// targetRow is one target as the page shows it.
type targetRow struct {
	joule.Target
	Description   string
	BaselineName  string
	Live          joule.TargetStatus
	Status        string // "on track", …
	StatusClass   string // on_track, …
	Evaluated     bool   // the projection had enough weeks
	Progress      float64
	Chart         template.HTML
	History       []historyRow
	HistoryTotal  int
	MeasuredShare string // "62 % measured, 38 % estimated", or ""
}

// historyRow is one recorded evaluation.
type historyRow struct {
	joule.TargetStatus
	Status, StatusClass string
}

// statusText turns a target status into words.
func statusText(s string) string {
	if s == "" {
		return "not evaluated"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// measuredText says how much of a figure's energy was measured.
func measuredText(share *float64) string {
	if share == nil {
		return ""
	}
	m := *share * 100
	return strconv.FormatFloat(m, 'f', 0, 64) + " % measured, " + strconv.FormatFloat(100-m, 'f', 0, 64) + " % estimated"
}

func (c *Console) targets(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	now := c.cfg.Now().UTC()
	ts, err := c.cfg.Store.ListTargets(ctx, p.WorkspaceID)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := targetsView{CanEdit: joule.Authorize(p, joule.RoleEditor, p.WorkspaceID) == nil, Indicators: sustain.Names,
		DueDefault:     now.AddDate(1, 0, 0).Format(time.DateOnly),
		BaselinePeriod: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")}
	if v.Baselines, err = c.cfg.Store.ListBaselines(ctx, p.WorkspaceID); err != nil {
		c.failErr(w, r, err)
		return
	}
	slices.SortFunc(v.Baselines, func(a, b joule.Baseline) int { return cmp.Compare(a.Name, b.Name) })
	for _, t := range ts {
		row, err := c.targetRow(ctx, t, now)
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		v.Targets = append(v.Targets, row)
	}
	c.render(w, r, http.StatusOK, "targets.html", view{Title: "Targets", Path: "/targets", Principal: p, Data: v})
}

// targetRow evaluates t at now and draws its chart.
func (c *Console) targetRow(ctx context.Context, t joule.Target, now time.Time) (targetRow, error) {
	st, err := sustain.LoadTargetState(ctx, c.cfg.Store, t, now)
	if err != nil {
		return targetRow{}, err
	}
	row := targetRow{Target: t, Description: sustain.Describe(t, st.Baseline.Name), BaselineName: st.Baseline.Name, Live: st.Live,
		Status: statusText(st.Live.Status), StatusClass: st.Live.Status, Evaluated: st.Live.Status != joule.TargetUnknown,
		MeasuredShare: measuredText(st.MeasuredShare), HistoryTotal: len(st.History)}
	row.Target.Status = &st.Live
	row.Progress = sustain.Progress(row.Target)
	for i := len(st.History) - 1; i >= 0 && len(row.History) < historyRows; i-- {
		h := st.History[i]
		row.History = append(row.History, historyRow{TargetStatus: h, Status: statusText(h.Status), StatusClass: h.Status})
	}
	if row.Chart, err = svg(func(b *bytes.Buffer) error { return chart.Line(b, targetChart(st)) }); err != nil {
		return targetRow{}, err
	}
	return row, nil
}

// targetChart draws a target's weekly values since its baseline, the target
// value up to the due date, the baseline value, and, once there are enough
// weeks, the trend line extended to the due date with its 90 % interval.
func targetChart(st sustain.TargetState) chart.LineChart {
	t, b, live := st.Target, st.Baseline, st.Live
	lc := chart.LineChart{Title: t.Indicator + " per week since baseline " + b.Name + ", with the target and the projection", Unit: t.Unit,
		XTime: true, Width: 720, Height: 240}
	from, due := chart.TimeX(b.Until), chart.TimeX(t.Due)
	values := chart.Series{Name: "weekly value"}
	for _, p := range st.Weekly {
		values.Points = append(values.Points, chart.Point{X: chart.TimeX(p.Time), Y: p.Value})
	}
	lc.Series = append(lc.Series, values,
		chart.Series{Name: "baseline", Points: []chart.Point{{X: from, Y: t.BaselineValue}, {X: due, Y: t.BaselineValue}}},
		chart.Series{Name: "target", Points: []chart.Point{{X: from, Y: t.TargetValue}, {X: due, Y: t.TargetValue}}})
	if live.Status != joule.TargetUnknown && len(st.Weekly) > 0 {
		// The trend is Projected at Due and falls SlopePerWeek a week.
		at := func(x float64) float64 { return live.Projected - live.SlopePerWeek*(due-x)/sustain.Week.Seconds() }
		first, last := chart.TimeX(st.Weekly[0].Time), chart.TimeX(st.Weekly[len(st.Weekly)-1].Time)
		lc.Series = append(lc.Series,
			chart.Series{Name: "trend → projection", Points: []chart.Point{{X: first, Y: at(first)}, {X: due, Y: live.Projected}}},
			chart.Series{Name: "90 % interval (low)", Points: []chart.Point{{X: last, Y: at(last)}, {X: due, Y: live.Low}}},
			chart.Series{Name: "90 % interval (high)", Points: []chart.Point{{X: last, Y: at(last)}, {X: due, Y: live.High}}})
	}
	return lc
}

// formError is a form value that cannot be used: a 400 page naming it.
func formError(format string, args ...any) error {
	return joule.Errorf(joule.EINVALID, format, args...)
}

func (c *Console) createTarget(w http.ResponseWriter, r *http.Request) {
	if !c.parsePost(w, r) {
		return
	}
	p := joule.PrincipalFromContext(r.Context())
	if err := joule.Authorize(p, joule.RoleEditor, p.WorkspaceID); err != nil {
		c.fail(w, r, http.StatusForbidden, "Editor role needed",
			"Setting a target needs the editor or admin role. You are signed in with the "+string(p.Role)+" role; the Targets page shows the CLI command for someone who has it.")
		return
	}
	ctx := r.Context()
	now := c.cfg.Now().UTC()
	t, b, err := c.targetFromForm(ctx, r, p, now)
	if err == nil {
		err = c.cfg.Store.CreateTarget(ctx, t)
	}
	if err == nil {
		var st joule.TargetStatus
		if st, _, _, err = sustain.EvaluateTarget(ctx, c.cfg.Store, t, now); err == nil {
			t.Status = &st
		}
	}
	c.auditConsole(r, p, "target.create", cmp.Or(t.ID, r.PostFormValue("name")), err, func() string { return sustain.Describe(t, b.Name) })
	switch {
	case joule.ErrorCode(err) == joule.ECONFLICT:
		c.fail(w, r, http.StatusConflict, "Target exists", joule.ErrorMessage(err)+". Pick another name.")
		return
	case err != nil:
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/targets#target-"+t.ID, http.StatusSeeOther)
}

// targetFromForm reads and checks the target form as the API checks its
// request.
func (c *Console) targetFromForm(ctx context.Context, r *http.Request, p joule.Principal, now time.Time) (joule.Target, joule.Baseline, error) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := joule.ValidName("name", name); err != nil {
		return joule.Target{}, joule.Baseline{}, err
	}
	bname := strings.TrimSpace(r.PostFormValue("baseline"))
	if bname == "" {
		return joule.Target{}, joule.Baseline{}, formError("baseline: choose a baseline")
	}
	b, err := c.cfg.Store.GetBaseline(ctx, p.WorkspaceID, bname)
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		return joule.Target{}, joule.Baseline{}, formError("baseline %q: this workspace has no such baseline", cut(bname, 64))
	} else if err != nil {
		return joule.Target{}, joule.Baseline{}, err
	}
	pctText := strings.TrimSpace(r.PostFormValue("reduce"))
	pct, err := strconv.ParseFloat(pctText, 64)
	if err != nil {
		return joule.Target{}, joule.Baseline{}, formError("reduce: %q is not a number (a percentage such as 20, or −10 to raise a figure)", cut(pctText, 40))
	}
	dueText := strings.TrimSpace(r.PostFormValue("due"))
	due, err := time.Parse(time.DateOnly, dueText)
	if err != nil {
		return joule.Target{}, joule.Baseline{}, formError("due: %q is not a date such as 2027-06-30", cut(dueText, 40))
	}
	t, err := sustain.MakeTarget(joule.Target{ID: joule.NewID("tgt", now), WorkspaceID: p.WorkspaceID, Name: name, ReductionPct: pct,
		Due: due, PerUnit: r.PostFormValue("per_unit") != "", CreatedAt: now, CreatedBy: p.TokenID}, b)
	return t, b, err
}

// auditConsole records a change made through the console, as the API
// records its own: the principal, the action, the resource and the
// outcome. detail is called only on success.
func (c *Console) auditConsole(r *http.Request, p joule.Principal, action, resource string, err error, detail func() string) {
	e := joule.AuditEntry{Time: c.cfg.Now().UTC(), WorkspaceID: p.WorkspaceID, Principal: p.TokenID, Action: action,
		Resource: resource, Outcome: "success", Detail: "via console"}
	if err != nil {
		e.Outcome = "error: " + joule.ErrorCode(err)
	} else {
		e.Detail = detail() + " (via console)"
	}
	if _, aerr := c.cfg.Store.AppendAudit(r.Context(), e); aerr != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: audit entry not written", "action", action, "err", aerr)
	}
}
