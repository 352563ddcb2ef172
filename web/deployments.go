package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// The deployment pages read live deployments from Config.Deployments,
// which the server wires to its serving manager: the stored settings with
// the live status (replicas, latency, traffic, energy, drift), the events,
// and the per-tick history the charts draw.

// DeploymentReader reads a workspace's deployments with their live state.
// ref is a deployment's name or ID.
type DeploymentReader interface {
	// List lists a workspace's deployments with their live status.
	List(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Deployment, string, error)
	// Get returns a deployment with its live status (ENOTFOUND).
	Get(ctx context.Context, workspaceID, ref string) (joule.Deployment, error)
	// Events lists a deployment's events, oldest first (ENOTFOUND).
	Events(ctx context.Context, workspaceID, ref string, opt joule.ListOptions) ([]joule.DeploymentEvent, string, error)
	// History returns the deployment's recent autoscaler ticks, oldest
	// first (ENOTFOUND); empty when none is recorded yet.
	History(ctx context.Context, workspaceID, ref string) ([]joule.DeploymentPoint, error)
}

// Limits of the deployment pages.
const (
	deploymentsPageSize = 100
	// maxDeploymentEvents is how many of the newest events the lifecycle
	// history shows; maxEventsRead bounds how many it reads to find them.
	maxDeploymentEvents = 200
	maxEventsRead       = 20000
	// liveRefresh is how often the pages fetch their live parts again.
	liveRefresh = 5 * time.Second
)

// highlightedEvents are the event kinds the lifecycle history marks: the
// retraining loop, traffic decisions and monitoring alerts.
var highlightedEvents = map[string]bool{
	joule.DeploymentRetrain:  true,
	joule.DeploymentPromote:  true,
	joule.DeploymentRollback: true,
	joule.DeploymentDrift:    true,
	joule.DeploymentAlert:    true,
}

// servingEnergy is a deployment's energy per 1,000 predictions as the
// pages show it: every figure says whether it is measured or estimated,
// and how it was obtained.
type servingEnergy struct {
	Known       bool
	Note        string // why there are no figures
	PerThousand string // "1.23 J"
	Emissions   string // "0.000137 g CO2e"
	Kind        string // measured, estimated, or measured + estimated
	Method      string
	Source      string // the method's first part: how the power was obtained
	Total       string // all the energy accounted so far
	Predictions int64
	CPUSeconds  string
}

// energyOfDeployment reads st's energy; its Note says why there is none.
func energyOfDeployment(st *joule.DeploymentStatus) servingEnergy {
	switch {
	case st == nil:
		return servingEnergy{Note: "not served on this server"}
	case st.Energy == nil || st.Energy.Predictions == 0 || (st.Energy.Joules == 0 && st.Energy.Method == ""):
		return servingEnergy{Note: "not yet accounted: no predictions since the server started, or the power samples have not covered them yet"}
	}
	e := st.Energy
	se := servingEnergy{
		Known:       true,
		PerThousand: fmtJoules(e.JoulesPer1000),
		Emissions:   fmtSmallGrams(e.EmissionsGPer1000) + " CO2e",
		Method:      e.Method,
		Total:       fmtJoules(e.Joules),
		Predictions: e.Predictions,
		CPUSeconds:  chart.FormatValue(e.CPUSeconds) + " s",
	}
	switch {
	case e.Measured:
		se.Kind = "measured"
	case e.MeasuredJoules > 0 && e.EstimatedJoules > 0:
		se.Kind = "measured + estimated"
	default:
		se.Kind = "estimated"
	}
	if se.Method == "" {
		se.Method = "not reported by the server"
	}
	se.Source, _, _ = strings.Cut(se.Method, ";")
	return se
}

// fmtSmallGrams formats emissions that are often far below a gram: µg and
// mg below 1 g, else as fmtGrams.
func fmtSmallGrams(g float64) string {
	switch {
	case g == 0 || g >= 1 || math.IsNaN(g) || math.IsInf(g, 0):
		return fmtGrams(g)
	case g >= 1e-3:
		return chart.FormatValue(g*1e3) + " mg"
	}
	return chart.FormatValue(g*1e6) + " µg"
}

// deploymentState names a deployment's live state and its badge class.
func deploymentState(st *joule.DeploymentStatus) (text, class string) {
	switch {
	case st == nil:
		return "not served", "bad"
	case st.Replicas == 0:
		return "at zero", "zero"
	case st.Ready:
		return "ready", "ok"
	}
	return "starting", "starting"
}

// fmtMS formats milliseconds; "—" when absent.
func fmtMS(m map[string]float64, q string) string {
	v, ok := m[q]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return chart.FormatValue(v) + " ms"
}

// deploymentRow is a deployment as the list shows it.
type deploymentRow struct {
	joule.Deployment
	State, StateClass string
	Replicas          string // "1 (0–2)"
	RPS, P99          string
	Errors, Requests  int64
	Energy            servingEnergy
}

func newDeploymentRow(d joule.Deployment) deploymentRow {
	row := deploymentRow{Deployment: d, RPS: "—", P99: "—", Replicas: "—"}
	row.State, row.StateClass = deploymentState(d.Status)
	row.Energy = energyOfDeployment(d.Status)
	if st := d.Status; st != nil {
		row.Replicas = strconv.Itoa(st.Replicas)
		row.RPS = chart.FormatValue(st.RPS)
		row.P99 = fmtMS(st.LatencyMS, "p99")
		row.Errors, row.Requests = st.Errors, st.Requests
	}
	return row
}

type deploymentsView struct {
	Available bool // Config.Deployments is set
	Rows      []deploymentRow
	Next      string
	Live      string // the URL the page refreshes its table from
	Refresh   int    // seconds between refreshes
}

func (c *Console) deploymentsList(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	v := deploymentsView{Available: c.cfg.Deployments != nil, Refresh: int(liveRefresh / time.Second)}
	cursor := r.URL.Query().Get("cursor")
	if v.Available {
		ds, next, err := c.cfg.Deployments.List(r.Context(), p.WorkspaceID, joule.ListOptions{Limit: deploymentsPageSize, Cursor: cursor})
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		for _, d := range ds {
			v.Rows = append(v.Rows, newDeploymentRow(d))
		}
		if next != "" {
			v.Next = "/deployments?cursor=" + url.QueryEscape(next)
		}
		v.Live = "/deployments?live=1"
		if cursor != "" {
			v.Live += "&cursor=" + url.QueryEscape(cursor)
		}
	}
	vw := view{Title: "Deployments", Path: "/deployments", Principal: p, Data: v}
	if r.URL.Query().Get("live") != "" {
		c.renderFragment(w, r, "deployments.html", "deployments-live", vw)
		return
	}
	c.render(w, r, http.StatusOK, "deployments.html", vw)
}

// settingRow is one line of the settings table.
type settingRow struct {
	Name, Value string
}

// eventRow is an event as the lifecycle history shows it.
type eventRow struct {
	joule.DeploymentEvent
	Highlight bool
	Replicas  string // "0 → 1" for scale events
}

// trafficRow is a served version's share as the traffic table shows it.
type trafficRow struct {
	joule.TrafficShare
	Percent, P50, P99 string
}

// shadowView is the shadow comparison with its figures formatted.
type shadowView struct {
	joule.ShadowComparison
	Agreement, MeanAbsDiff string
}

type deploymentView struct {
	Deployment joule.Deployment
	State      string
	StateClass string
	Settings   []settingRow
	Status     *joule.DeploymentStatus
	P50        string
	P95        string
	P99        string
	RPS        string
	ColdStart  string
	Energy     servingEnergy
	Charts     []template.HTML
	ChartNote  string
	Traffic    []trafficRow
	Shadow     *shadowView
	Drift      *driftView
	LiveQ      *liveView
	Lifecycle  *jsonView
	Events     []eventRow
	EventsNote string
	Live       string
	Refresh    int
	Updated    string
}

func (c *Console) deploymentPage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	if c.cfg.Deployments == nil {
		c.fail(w, r, http.StatusNotFound, "Not found", "This server does not serve models, so it has no deployments.")
		return
	}
	ctx := r.Context()
	name := r.PathValue("name")
	d, err := c.cfg.Deployments.Get(ctx, p.WorkspaceID, name)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := deploymentView{Deployment: d, Status: d.Status, Settings: deploymentSettings(d), Energy: energyOfDeployment(d.Status),
		P50: "—", P95: "—", P99: "—", RPS: "—", ColdStart: "—",
		Live: "/deployments/" + d.Name + "?live=1", Refresh: int(liveRefresh / time.Second), Updated: fmtTime(c.cfg.Now())}
	v.State, v.StateClass = deploymentState(d.Status)
	if st := d.Status; st != nil {
		v.P50, v.P95, v.P99 = fmtMS(st.LatencyMS, "p50"), fmtMS(st.LatencyMS, "p95"), fmtMS(st.LatencyMS, "p99")
		v.RPS = chart.FormatValue(st.RPS)
		if st.ColdStartMS > 0 {
			v.ColdStart = chart.FormatValue(st.ColdStartMS) + " ms"
		}
		for _, t := range st.Traffic {
			v.Traffic = append(v.Traffic, trafficRow{TrafficShare: t, Percent: chart.FormatValue(t.Percent) + " %",
				P50: fmtMS(t.LatencyMS, "p50"), P99: fmtMS(t.LatencyMS, "p99")})
		}
		if sh := st.Shadow; sh != nil {
			v.Shadow = &shadowView{ShadowComparison: *sh, Agreement: "—", MeanAbsDiff: "—"}
			if sh.Rows > 0 {
				v.Shadow.Agreement = chart.FormatValue(sh.Agreement*100) + " %"
				v.Shadow.MeanAbsDiff = strconv.FormatFloat(sh.MeanAbsDiff, 'g', 3, 64)
			}
		}
		v.Drift, v.LiveQ = newDriftView(st.Drift), newLiveView(st.Live)
		if v.Lifecycle, err = newJSONView(st.Lifecycle); err != nil {
			c.internal(w, r, err)
			return
		}
	}

	points, err := c.cfg.Deployments.History(ctx, p.WorkspaceID, d.ID)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if v.Charts, err = historyCharts(points); err != nil {
		c.internal(w, r, err)
		return
	}
	if len(v.Charts) == 0 {
		v.ChartNote = "No history yet: the server records a point every autoscaler tick while it serves the deployment."
	}

	if v.Events, v.EventsNote, err = c.lifecycleHistory(ctx, p.WorkspaceID, d.ID); err != nil {
		c.failErr(w, r, err)
		return
	}
	vw := view{Title: d.Name, Path: "/deployments", Principal: p, Data: v}
	if r.URL.Query().Get("live") != "" {
		c.renderFragment(w, r, "deployment.html", "deployment-live", vw)
		return
	}
	c.render(w, r, http.StatusOK, "deployment.html", vw)
}

// deploymentSettings lists a deployment's settings in the order the
// settings table shows them.
func deploymentSettings(d joule.Deployment) []settingRow {
	dur := func(x joule.Duration) string { return time.Duration(x).String() }
	rows := []settingRow{
		{"Replicas (min–max)", fmt.Sprintf("%d–%d", d.MinReplicas, d.MaxReplicas)},
		{"Target concurrency", fmt.Sprintf("%d requests in flight per replica", d.TargetConcurrency)},
		{"Idle timeout", dur(d.IdleTimeout)},
		{"Cold-start timeout", dur(d.ColdStartTimeout)},
		{"Rate limit", "none"},
		{"Body limit", humanBytes(d.BodyLimit)},
		{"Max batch", fmt.Sprintf("%d rows", d.MaxBatch)},
		{"Access", "token required"},
		{"Canary", "none"},
		{"Shadow", "none"},
	}
	if d.RateLimit > 0 {
		rows[4].Value = chart.FormatValue(d.RateLimit) + " requests/s"
	}
	if d.Public {
		rows[7].Value = "public: no token needed to predict"
	}
	if cn := d.Canary; cn != nil {
		rows[8].Value = fmt.Sprintf("version %d, %s %% of requests", cn.ModelVersion, chart.FormatValue(cn.Percent))
	}
	if sh := d.Shadow; sh != nil {
		pct := sh.Percent
		if pct == 0 {
			pct = 100
		}
		rows[9].Value = fmt.Sprintf("version %d, %s %% of requests mirrored", sh.ModelVersion, chart.FormatValue(pct))
	}
	if d.PreviousVersion > 0 {
		rows = append(rows, settingRow{"Previous version (rollback target)", strconv.Itoa(d.PreviousVersion)})
	}
	rows = append(rows, settingRow{"Created", fmtTime(d.CreatedAt)}, settingRow{"Updated", fmtTime(d.UpdatedAt)})
	if d.CreatedBy != "" {
		rows = append(rows, settingRow{"Created by", d.CreatedBy})
	}
	return rows
}

// historyCharts draws the history's latency, request rate, and replicas
// with requests in flight; none without points.
func historyCharts(points []joule.DeploymentPoint) ([]template.HTML, error) {
	if len(points) == 0 {
		return nil, nil
	}
	series := func(name string, y func(joule.DeploymentPoint) float64) chart.Series {
		s := chart.Series{Name: name, Points: make([]chart.Point, len(points))}
		for i, p := range points {
			s.Points[i] = chart.Point{X: chart.TimeX(p.Time), Y: y(p)}
		}
		return s
	}
	charts := []chart.LineChart{
		{Title: "Latency per autoscaler tick", Unit: "ms", Series: []chart.Series{
			series("p50", func(p joule.DeploymentPoint) float64 { return p.P50MS }),
			series("p95", func(p joule.DeploymentPoint) float64 { return p.P95MS }),
			series("p99", func(p joule.DeploymentPoint) float64 { return p.P99MS }),
		}},
		{Title: "Requests per second, and errors per tick", Unit: "req/s", Series: []chart.Series{
			series("requests/s", func(p joule.DeploymentPoint) float64 { return p.RPS }),
			series("errors", func(p joule.DeploymentPoint) float64 { return float64(p.Errors) }),
		}},
		{Title: "Replicas and requests in flight", Unit: "count", Series: []chart.Series{
			series("replicas", func(p joule.DeploymentPoint) float64 { return float64(p.Replicas) }),
			series("in flight", func(p joule.DeploymentPoint) float64 { return float64(p.InFlight) }),
		}},
	}
	out := make([]template.HTML, len(charts))
	for i, lc := range charts {
		lc.XTime, lc.Width, lc.Height = true, 560, 220
		var err error
		if out[i], err = svg(func(b *bytes.Buffer) error { return chart.Line(b, lc) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lifecycleHistory returns the deployment's newest events, newest first,
// with a note when older ones are left out.
func (c *Console) lifecycleHistory(ctx context.Context, workspaceID, ref string) ([]eventRow, string, error) {
	var all []joule.DeploymentEvent
	cursor, read := "", 0
	for {
		page, next, err := c.cfg.Deployments.Events(ctx, workspaceID, ref, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		all = append(all, page...)
		read += len(page)
		if len(all) > maxDeploymentEvents {
			all = slices.Clone(all[len(all)-maxDeploymentEvents:])
		}
		if next == "" || read >= maxEventsRead {
			break
		}
		cursor = next
	}
	note := ""
	if read > len(all) {
		note = fmt.Sprintf("The newest %d of %d events read.", len(all), read)
	}
	rows := make([]eventRow, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		row := eventRow{DeploymentEvent: e, Highlight: highlightedEvents[e.Kind]}
		if e.Kind == joule.DeploymentScale || e.From != e.To {
			row.Replicas = fmt.Sprintf("%d → %d", e.From, e.To)
		}
		rows = append(rows, row)
	}
	return rows, note, nil
}

// renderFragment executes one block of a page, without the layout, for
// the pages' live refresh.
func (c *Console) renderFragment(w http.ResponseWriter, r *http.Request, page, block string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.internal(w, r, fmt.Errorf("no template %q", page))
		return
	}
	v.Sections, v.Version = sections, joule.Version
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, v); err != nil {
		c.internal(w, r, fmt.Errorf("render %s of %s: %w", block, page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// jsonView shows a value whose fields the console does not know in
// advance (the drift report, live quality, the retraining loop's state)
// through its JSON form: scalar fields as name and value, and lists or
// maps of objects (per feature, per class) as tables.
type jsonView struct {
	Empty  bool // the value has no fields yet
	Fields []settingRow
	Tables []jsonTable
}

type jsonTable struct {
	Name    string
	Key     string // the first column's heading: "name" for a map's keys, "" for a list
	Columns []string
	Rows    []jsonTableRow
}

type jsonTableRow struct {
	Key    string
	Values []string
}

// newJSONView builds the view of v; nil when v is nil.
func newJSONView(v any) (*jsonView, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("decode %T: %w", v, err)
	}
	if x == nil {
		return nil, nil
	}
	jv := &jsonView{}
	jv.add("", x)
	jv.Empty = len(jv.Fields) == 0 && len(jv.Tables) == 0
	return jv, nil
}

// add adds x under the dotted name path.
func (jv *jsonView) add(path string, x any) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := x.(type) {
	case map[string]any:
		if len(x) > 0 && path != "" && allObjects(slices.Collect(maps.Values(x))) {
			t := jsonTable{Name: path, Key: "name"}
			keys := slices.Sorted(maps.Keys(x))
			objs := make([]map[string]any, len(keys))
			for i, k := range keys {
				objs[i] = x[k].(map[string]any)
			}
			t.Columns = columnsOf(objs)
			for i, k := range keys {
				t.Rows = append(t.Rows, jsonTableRow{Key: k, Values: cellsOf(objs[i], t.Columns)})
			}
			jv.Tables = append(jv.Tables, t)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			jv.add(join(k), x[k])
		}
	case []any:
		if len(x) > 0 && allObjects(x) {
			t := jsonTable{Name: path}
			objs := make([]map[string]any, len(x))
			for i, o := range x {
				objs[i] = o.(map[string]any)
			}
			t.Columns = columnsOf(objs)
			for _, o := range objs {
				t.Rows = append(t.Rows, jsonTableRow{Values: cellsOf(o, t.Columns)})
			}
			jv.Tables = append(jv.Tables, t)
			return
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonCell(e)
		}
		jv.Fields = append(jv.Fields, settingRow{path, strings.Join(parts, ", ")})
	default:
		jv.Fields = append(jv.Fields, settingRow{path, jsonCell(x)})
	}
}

func allObjects(xs []any) bool {
	for _, x := range xs {
		if _, ok := x.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// columnsOf returns the keys of objs: those of the first in sorted order,
// then any others.
func columnsOf(objs []map[string]any) []string {
	seen := map[string]bool{}
	var cols []string
	for _, o := range objs {
		for _, k := range slices.Sorted(maps.Keys(o)) {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	return cols
}

func cellsOf(o map[string]any, cols []string) []string {
	out := make([]string, len(cols))
	for i, k := range cols {
		if v, ok := o[k]; ok {
			out[i] = jsonCell(v)
		} else {
			out[i] = "—"
		}
	}
	return out
}

// jsonCell formats one JSON value: numbers with about four significant
// digits, nested values as compact JSON.
func jsonCell(x any) string {
	switch x := x.(type) {
	case nil:
		return "—"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// deploymentPageNames are the templates of the deployment pages.
var deploymentPageNames = []string{"deployments.html", "deployment.html"}

func (c *Console) deploymentRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /deployments", c.authed(c.deploymentsList))
	m.HandleFunc("GET /deployments/{name}", c.authed(c.deploymentPage))
}

// driftView is the latest drift evaluation as a table, one row per
// feature and one for the prediction.
type driftView struct {
	Report joule.DriftReport
	When   string
	Window string
	Rows   []driftRow
}

type driftRow struct {
	Name, Binning, PSI, KS, P string
	Drifted                   bool
}

func newDriftView(r *joule.DriftReport) *driftView {
	if r == nil {
		return nil
	}
	v := &driftView{Report: *r, When: fmtTime(r.Time),
		Window: fmt.Sprintf("%d rows, %s to %s", r.Rows, r.WindowStart.UTC().Format(time.TimeOnly), r.WindowEnd.UTC().Format(time.TimeOnly))}
	row := func(f joule.FeatureDrift) driftRow {
		d := driftRow{Name: f.Name, Binning: f.Binning, PSI: strconv.FormatFloat(f.PSI, 'f', 3, 64), KS: "—", P: "—", Drifted: f.Drifted}
		if f.KS != nil {
			d.KS = strconv.FormatFloat(*f.KS, 'f', 3, 64)
		}
		if f.KSPValue != nil {
			d.P = strconv.FormatFloat(*f.KSPValue, 'g', 2, 64)
		}
		return d
	}
	for _, f := range r.Features {
		v.Rows = append(v.Rows, row(f))
	}
	if r.Prediction != nil {
		p := row(*r.Prediction)
		if p.Name = "prediction"; r.Prediction.Name != "" && r.Prediction.Name != "prediction" {
			p.Name += " (" + r.Prediction.Name + ")"
		}
		v.Rows = append(v.Rows, p)
	}
	return v
}

// liveView is a served version's quality on labelled feedback.
type liveView struct {
	Q       joule.LiveQuality
	Updated string
	Metrics []liveMetric
}

type liveMetric struct{ Name, Overall, Window string }

func newLiveView(q *joule.LiveQuality) *liveView {
	if q == nil {
		return nil
	}
	v := &liveView{Q: *q, Updated: "—"}
	if q.UpdatedAt != nil {
		v.Updated = fmtTime(*q.UpdatedAt)
	}
	f := func(x *float64) string {
		if x == nil {
			return "—"
		}
		return strconv.FormatFloat(*x, 'f', 4, 64)
	}
	o, w := q.Overall, q.Window
	v.Metrics = append(v.Metrics, liveMetric{"labelled rows", strconv.FormatInt(o.Rows, 10), strconv.FormatInt(w.Rows, 10)})
	for _, m := range []struct {
		name string
		o, w *float64
	}{{"accuracy", o.Accuracy, w.Accuracy}, {"macro F1", o.MacroF1, w.MacroF1}, {"RMSE", o.RMSE, w.RMSE}, {"MAE", o.MAE, w.MAE}} {
		if m.o != nil || m.w != nil {
			v.Metrics = append(v.Metrics, liveMetric{m.name, f(m.o), f(m.w)})
		}
	}
	return v
}
