package httpapi

import (
	"bytes"
	"cmp"
	"net/http"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sim"
	"github.com/joule-dev/joule/internal/sustain"
)

// CreateBaselineRequest is the body of POST …/sustainability/baselines:
// a period ("2026-Q3") or since and until.
type CreateBaselineRequest struct {
	Name      string      `json:"name"`
	Indicator string      `json:"indicator"`
	Slice     joule.Slice `json:"slice,omitempty"`
	Period    string      `json:"period,omitempty"`
	Since     time.Time   `json:"since,omitzero"`
	Until     time.Time   `json:"until,omitzero"`
}

// CreateTargetRequest is the body of POST …/sustainability/targets.
type CreateTargetRequest struct {
	Name         string    `json:"name"`
	Baseline     string    `json:"baseline"` // ID or name
	ReductionPct float64   `json:"reduction_pct"`
	Due          time.Time `json:"due"`
	PerUnit      bool      `json:"per_unit,omitempty"`
}

// TargetDetail is a target with a live evaluation and its recorded history.
type TargetDetail struct {
	joule.Target
	Description string               `json:"description"`
	Live        joule.TargetStatus   `json:"live"`
	Weekly      []joule.SeriesPoint  `json:"weekly"`
	History     []joule.TargetStatus `json:"history"`
}

// CreateKPIRequest is the body of POST …/sustainability/kpis.
type CreateKPIRequest struct {
	Name        string `json:"name"`
	Unit        string `json:"unit"`
	Description string `json:"description,omitempty"`
	Aggregate   string `json:"aggregate,omitempty"` // sum (default) or mean
}

// KPIPointsRequest is the body of POST …/kpis/{kpi}/points: points, or
// a CSV of time,value rows.
type KPIPointsRequest struct {
	Points []joule.SeriesPoint `json:"points,omitempty"`
	CSV    string              `json:"csv,omitempty"`
}

// KPIPointsResponse says how many points were stored.
type KPIPointsResponse struct {
	Stored int `json:"stored"`
}

// MeterImportRequest is the body of POST /v1/sustainability/meters.
type MeterImportRequest struct {
	// Kind is "meter" (facility or sub-meters; a series named facility
	// replaces the configured PUE), or "rec" (renewable-energy
	// certificates).
	Kind string `json:"kind,omitempty"`
	// File names the upload in messages; TZ is the IANA zone of times
	// without an offset (default UTC).
	File string `json:"file,omitempty"`
	TZ   string `json:"tz,omitempty"`
	CSV  string `json:"csv"`
}

// MeterImportResponse lists the series stored and the quality report.
type MeterImportResponse struct {
	Stored  []StoredSeries        `json:"stored"`
	Quality sustain.QualityReport `json:"quality"`
}

// StoredSeries is one imported series as stored.
type StoredSeries struct {
	Series string    `json:"series"`
	Unit   string    `json:"unit"`
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	Points int       `json:"points"`
	Total  float64   `json:"total"`
}

// IndicatorDetail is one indicator with its daily series.
type IndicatorDetail struct {
	joule.IndicatorValue
	Slice joule.Slice         `json:"slice,omitempty"`
	Since time.Time           `json:"since"`
	Until time.Time           `json:"until"`
	Daily []joule.SeriesPoint `json:"daily"`
}

func (s *Server) sustainRoutes() []Route {
	ws := "/v1/workspaces/{workspace}/sustainability"
	period := []Param{{"period", "YYYY-MM, YYYY-QN, YYYY or YYYY-MM-DD (UTC); or since and until"}, {"since", "RFC 3339 time or a duration ago; default 30 days ago"}, {"until", "RFC 3339 time, exclusive; default now"}}
	slice := Param{"slice", "label:KEY=VALUE, node:NODE (admins) or workspace:WS; default the whole workspace"}
	format := Param{"format", "json (default), csv or html"}
	return []Route{
		{Method: "GET", Path: ws + "/indicators", Summary: "Every sustainability indicator over a period, for a slice (node-level ones for installation admins).",
			Role: joule.RoleViewer, Workspace: true, Query: append(period, slice), Response: joule.IndicatorSet{}, handle: s.listIndicators},
		{Method: "GET", Path: ws + "/indicators/{indicator}", Summary: "One indicator over a period with its daily series.",
			Role: joule.RoleViewer, Workspace: true, Query: append(period, slice), Response: IndicatorDetail{}, handle: s.getIndicator},
		{Method: "POST", Path: ws + "/baselines", Summary: "Snapshot an indicator over a named period as a baseline.", Role: joule.RoleEditor, Workspace: true,
			Audit: "baseline.create", Request: CreateBaselineRequest{}, Response: joule.Baseline{}, Status: http.StatusCreated, handle: s.createBaseline},
		{Method: "GET", Path: ws + "/baselines", Summary: "List baselines.", Role: joule.RoleViewer, Workspace: true, Response: []joule.Baseline{}, handle: s.listBaselines},
		{Method: "POST", Path: ws + "/targets", Summary: "Set a target: reduce an indicator by a percentage versus a baseline by a date.", Role: joule.RoleEditor, Workspace: true,
			Audit: "target.create", Request: CreateTargetRequest{}, Response: joule.Target{}, Status: http.StatusCreated, handle: s.createTarget},
		{Method: "GET", Path: ws + "/targets", Summary: "List targets with their latest recorded status.", Role: joule.RoleViewer, Workspace: true, Response: []joule.Target{}, handle: s.listTargets},
		{Method: "GET", Path: ws + "/targets/{target}", Summary: "A target with a live evaluation, its weekly series and its recorded history.",
			Role: joule.RoleViewer, Workspace: true, Response: TargetDetail{}, handle: s.getTarget},
		{Method: "POST", Path: ws + "/kpis", Summary: "Define a custom KPI (a numeric series with a unit).", Role: joule.RoleEditor, Workspace: true,
			Audit: "kpi.create", Request: CreateKPIRequest{}, Response: joule.KPI{}, Status: http.StatusCreated, handle: s.createKPI},
		{Method: "GET", Path: ws + "/kpis", Summary: "List custom KPIs.", Role: joule.RoleViewer, Workspace: true, Response: []joule.KPI{}, handle: s.listKPIs},
		{Method: "POST", Path: ws + "/kpis/{kpi}/points", Summary: "Add points to a KPI, as JSON or as a time,value CSV.", Role: joule.RoleEditor, Workspace: true,
			Audit: "kpi.points", Request: KPIPointsRequest{}, Response: KPIPointsResponse{}, handle: s.addKPIPoints},
		{Method: "GET", Path: ws + "/report", Summary: "The sustainability report of a period: summary, trends, breakdowns, scope 2, targets, recommendations, method notes.",
			Role: joule.RoleViewer, Workspace: true, Query: append(period, format), Response: sustain.Report{}, handle: s.workspaceReport},
		{Method: "GET", Path: ws + "/recommendations", Summary: "Recommendations with estimated kWh, kg CO2e and money, from the period's history.",
			Role: joule.RoleViewer, Workspace: true, Query: append(period, Param{"deadline", "rule for jobs without a deadline in the shift replay: next-workday (default), semi-weekly or none"}),
			Response: []sustain.Recommendation{}, handle: s.workspaceRecommendations},
		{Method: "POST", Path: "/v1/sustainability/meters", Summary: "Import a facility meter, bill or certificate CSV: cleaned, normalised to hourly UTC joules or grams, with a quality report.",
			Role: joule.RoleAdmin, PlatformAdmin: true, Audit: "meter.import", Request: MeterImportRequest{}, Response: MeterImportResponse{}, handle: s.importMeter},
		{Method: "GET", Path: "/v1/sustainability/indicators", Summary: "Installation-wide indicators, node-level ones included.",
			Role: joule.RoleAdmin, PlatformAdmin: true, Query: append(period, slice), Response: joule.IndicatorSet{}, handle: s.listIndicators},
		{Method: "GET", Path: "/v1/sustainability/report", Summary: "The installation-wide sustainability report of a period.",
			Role: joule.RoleAdmin, PlatformAdmin: true, Query: append(period, format), Response: sustain.Report{}, handle: s.installationReport},
	}
}

// sustainPeriod reads period, or since and until (default the last 30
// days).
func (s *Server) sustainPeriod(r *http.Request) (label string, since, until time.Time, err error) {
	if p := r.URL.Query().Get("period"); p != "" {
		since, until, err = sustain.ParsePeriod(p)
		if err != nil {
			err = errField("period", "%s", strings.TrimPrefix(joule.ErrorMessage(err), "period "))
		}
		return p, since, until, err
	}
	since, until, err = s.period(r, 30*24*time.Hour)
	if err == nil {
		since, until = since.Truncate(time.Hour), until.Truncate(time.Hour)
		if !until.After(since) {
			until = since.Add(time.Hour)
		}
		label = since.Format(time.RFC3339) + "/" + until.Format(time.RFC3339)
	}
	return label, since, until, err
}

// sustainData loads a period's data for the caller: a workspace's own
// (node rows for installation admins only), or the installation's.
func (s *Server) sustainData(r *http.Request, c *call, since, until time.Time) (sustain.Data, error) {
	if c.workspace.ID == "" {
		return sustain.Load(r.Context(), s.store, "", since, until, true)
	}
	return sustain.Load(r.Context(), s.store, c.workspace.ID, since, until, c.principal.PlatformAdmin())
}

func (s *Server) resolveSlice(r *http.Request, c *call) (joule.Slice, error) {
	sl := r.URL.Query().Get("slice")
	kind, key, _, err := sustain.ParseSlice(sl)
	if err != nil {
		return "", errField("slice", "%s", joule.ErrorMessage(err))
	}
	switch kind {
	case joule.SliceNode:
		if !c.principal.PlatformAdmin() {
			return "", joule.Errorf(joule.EFORBIDDEN, "slice node: needs an admin token of the %q workspace", joule.DefaultWorkspace)
		}
		n, err := s.store.GetNode(r.Context(), key)
		if err != nil {
			return "", err
		}
		return joule.Slice(joule.SliceNode + ":" + n.ID), nil
	case joule.SliceWorkspace:
		w, err := s.store.GetWorkspace(r.Context(), key)
		if err != nil {
			return "", err
		}
		if c.workspace.ID != "" && w.ID != c.workspace.ID {
			return "", errField("slice", "workspace %q is not this workspace", key)
		}
		return joule.Slice(joule.SliceWorkspace + ":" + w.ID), nil
	}
	return joule.Slice(sl), nil
}

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request, c *call) error {
	_, since, until, err := s.sustainPeriod(r)
	if err != nil {
		return err
	}
	sl, err := s.resolveSlice(r, c)
	if err != nil {
		return err
	}
	d, err := s.sustainData(r, c, since, until)
	if err != nil {
		return err
	}
	set, err := sustain.Compute(d, sl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (s *Server) getIndicator(w http.ResponseWriter, r *http.Request, c *call) error {
	_, since, until, err := s.sustainPeriod(r)
	if err != nil {
		return err
	}
	sl, err := s.resolveSlice(r, c)
	if err != nil {
		return err
	}
	d, err := s.sustainData(r, c, since, until)
	if err != nil {
		return err
	}
	set, err := sustain.Compute(d, sl)
	if err != nil {
		return err
	}
	name := r.PathValue("indicator")
	v, ok := set.Get(name)
	if !ok {
		return joule.Errorf(joule.ENOTFOUND, "indicator %q: unknown (want one of %s, or kpi:NAME)", name, strings.Join(sustain.Names, ", "))
	}
	daily, err := sustain.Bucketed(d, sl, name, since.Truncate(24*time.Hour), until, 24*time.Hour)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, IndicatorDetail{IndicatorValue: v, Slice: sl, Since: since, Until: until, Daily: nonNil(daily)})
	return nil
}

func (s *Server) createBaseline(w http.ResponseWriter, r *http.Request, c *call) error {
	var req CreateBaselineRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := joule.ValidName("name", req.Name); err != nil {
		return err
	}
	since, until := req.Since, req.Until
	if req.Period == "" && since.IsZero() {
		if _, _, err := sustain.ParsePeriod(req.Name); err == nil {
			req.Period = req.Name // a baseline named 2026-Q3 covers 2026-Q3
		}
	}
	if req.Period != "" {
		var err error
		if since, until, err = sustain.ParsePeriod(req.Period); err != nil {
			return errField("period", "%s", joule.ErrorMessage(err))
		}
	} else if since.IsZero() || !until.After(since) {
		return errField("period", "give a period (2026-Q3) or since and until with until after since")
	}
	if req.Indicator == "" {
		return errField("indicator", "required (one of %s, or kpi:NAME)", strings.Join(sustain.Names, ", "))
	}
	now := s.cfg.Now().UTC()
	if until.After(now) {
		return errField("period", "ends %s, in the future: a baseline snapshots a finished period", until.Format(time.RFC3339))
	}
	q := r.URL.Query()
	q.Set("slice", string(req.Slice))
	r.URL.RawQuery = q.Encode()
	sl, err := s.resolveSlice(r, c)
	if err != nil {
		return err
	}
	d, err := s.sustainData(r, c, since, until)
	if err != nil {
		return err
	}
	b, err := sustain.MakeBaseline(d, req.Name, req.Indicator, sl)
	if err != nil {
		return err
	}
	b.ID, b.WorkspaceID, b.CreatedAt, b.CreatedBy = joule.NewID("bl", now), c.workspace.ID, now, c.principal.TokenID
	if err := s.store.CreateBaseline(r.Context(), b); err != nil {
		return err
	}
	c.resource, c.detail = b.ID, b.Indicator
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) listBaselines(w http.ResponseWriter, r *http.Request, c *call) error {
	bs, err := s.store.ListBaselines(r.Context(), c.workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(bs))
	return nil
}

func (s *Server) createTarget(w http.ResponseWriter, r *http.Request, c *call) error {
	var req CreateTargetRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Baseline == "" {
		return errField("baseline", "required")
	}
	b, err := s.store.GetBaseline(r.Context(), c.workspace.ID, req.Baseline)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	t, err := sustain.MakeTarget(joule.Target{ID: joule.NewID("tgt", now), WorkspaceID: c.workspace.ID, Name: req.Name, ReductionPct: req.ReductionPct,
		Due: req.Due.UTC(), PerUnit: req.PerUnit, CreatedAt: now, CreatedBy: c.principal.TokenID}, b)
	if err != nil {
		return err
	}
	if err := s.store.CreateTarget(r.Context(), t); err != nil {
		return err
	}
	st, _, _, err := sustain.EvaluateTarget(r.Context(), s.store, t, now)
	if err != nil {
		return err
	}
	t.Status = &st
	c.resource, c.detail = t.ID, sustain.Describe(t, b.Name)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) listTargets(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := s.store.ListTargets(r.Context(), c.workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(ts))
	return nil
}

func (s *Server) getTarget(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.store.GetTarget(r.Context(), c.workspace.ID, r.PathValue("target"))
	if err != nil {
		return err
	}
	ts, err := sustain.LoadTargetState(r.Context(), s.store, t, s.cfg.Now().UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TargetDetail{Target: t, Description: sustain.Describe(t, ts.Baseline.Name), Live: ts.Live, Weekly: ts.Weekly, History: ts.History})
	return nil
}

func (s *Server) createKPI(w http.ResponseWriter, r *http.Request, c *call) error {
	var req CreateKPIRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	k := joule.KPI{ID: joule.NewID("kpi", now), WorkspaceID: c.workspace.ID, Name: req.Name, Unit: req.Unit, Description: req.Description,
		Aggregate: cmp.Or(req.Aggregate, "sum"), CreatedAt: now, CreatedBy: c.principal.TokenID}
	if err := s.store.CreateKPI(r.Context(), k); err != nil {
		return err
	}
	c.resource = k.ID
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *Server) listKPIs(w http.ResponseWriter, r *http.Request, c *call) error {
	ks, err := s.store.ListKPIs(r.Context(), c.workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(ks))
	return nil
}

func (s *Server) addKPIPoints(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := s.store.GetKPI(r.Context(), c.workspace.ID, r.PathValue("kpi"))
	if err != nil {
		return err
	}
	var req KPIPointsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	pts := req.Points
	if req.CSV != "" {
		more, err := sustain.ParseKPICSV(strings.NewReader(req.CSV), "csv")
		if err != nil {
			return err
		}
		pts = append(pts, more...)
	}
	if len(pts) == 0 {
		return errField("points", "no points: give points or csv")
	}
	for i := range pts {
		pts[i].Time = pts[i].Time.UTC()
	}
	if err := s.store.PutSeries(r.Context(), c.workspace.ID, joule.SeriesKPI+k.Name, pts); err != nil {
		return err
	}
	c.resource = k.ID
	writeJSON(w, http.StatusOK, KPIPointsResponse{Stored: len(pts)})
	return nil
}

func (s *Server) importMeter(w http.ResponseWriter, r *http.Request, c *call) error {
	var req MeterImportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	prefix := joule.SeriesMeter
	switch req.Kind {
	case "", "meter", "bill":
	case "rec":
		prefix = joule.SeriesREC
	default:
		return errField("kind", "%q is not meter, bill or rec", req.Kind)
	}
	var opts sustain.MeterOptions
	if req.TZ != "" {
		loc, err := time.LoadLocation(req.TZ)
		if err != nil {
			return errField("tz", "%q is not an IANA time zone", req.TZ)
		}
		opts.Location = loc
	}
	imp, err := sustain.ParseMeter(strings.NewReader(req.CSV), cmp.Or(req.File, "upload.csv"), opts)
	if err != nil {
		return err
	}
	resp := MeterImportResponse{Quality: imp.Quality, Stored: []StoredSeries{}}
	for _, sr := range imp.Series {
		name := prefix + sr.Name
		if sr.Unit == "g" {
			name = "emissions:" + sr.Name
		}
		if err := s.store.PutSeries(r.Context(), "", name, sr.Points); err != nil {
			return err
		}
		st := StoredSeries{Series: name, Unit: sr.Unit, From: sr.Points[0].Time, Until: sr.Points[len(sr.Points)-1].Time.Add(time.Hour), Points: len(sr.Points)}
		for _, p := range sr.Points {
			st.Total += p.Value
		}
		resp.Stored = append(resp.Stored, st)
	}
	c.resource, c.detail = cmp.Or(req.File, "upload.csv"), strings.Join(func() []string {
		var n []string
		for _, st := range resp.Stored {
			n = append(n, st.Series)
		}
		return n
	}(), ",")
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) recommendations(r *http.Request, d sustain.Data) ([]sustain.Recommendation, error) {
	rule := sustain.DefaultDeadline
	if v := r.URL.Query().Get("deadline"); v != "" {
		var err error
		if rule, err = sim.ParseDeadline(v); err != nil {
			return nil, errField("deadline", "%s", joule.ErrorMessage(err))
		}
	}
	return sustain.LoadRecommendations(r.Context(), s.store, d, rule)
}

func (s *Server) workspaceRecommendations(w http.ResponseWriter, r *http.Request, c *call) error {
	_, since, until, err := s.sustainPeriod(r)
	if err != nil {
		return err
	}
	d, err := s.sustainData(r, c, since, until)
	if err != nil {
		return err
	}
	recs, err := s.recommendations(r, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recs)
	return nil
}

func (s *Server) workspaceReport(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.report(w, r, c, c.workspace.ID, c.workspace.Name)
}

func (s *Server) installationReport(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.report(w, r, c, "", "installation")
}

// report serves the report of a period for a workspace ("" for the
// installation) as JSON, CSV or HTML: the same figures in each.
func (s *Server) report(w http.ResponseWriter, r *http.Request, c *call, workspaceID, scope string) error {
	label, since, until, err := s.sustainPeriod(r)
	if err != nil {
		return err
	}
	format := cmp.Or(r.URL.Query().Get("format"), "json")
	if format != "json" && format != "csv" && format != "html" {
		return errField("format", "%q is not json, csv or html", format)
	}
	rule := sustain.DefaultDeadline
	if v := r.URL.Query().Get("deadline"); v != "" {
		if rule, err = sim.ParseDeadline(v); err != nil {
			return errField("deadline", "%s", joule.ErrorMessage(err))
		}
	}
	rep, err := sustain.AssembleReport(r.Context(), s.store, sustain.ReportRequest{WorkspaceID: workspaceID, Scope: scope, Period: label,
		Since: since, Until: until, Nodes: c.principal.PlatformAdmin(), Deadline: rule, Now: s.cfg.Now().UTC()})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, rep)
		return nil
	case "csv":
		if err := sustain.RenderCSV(&buf, rep); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "html":
		if err := sustain.RenderHTML(&buf, rep); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(buf.Bytes())
	return err
}
