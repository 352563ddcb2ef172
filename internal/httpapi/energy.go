package httpapi

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/joule-dev/joule"
)

// EnergyReport is the energy, emissions and cost over [Since, Until),
// one line per job, workspace or node, from the stored rollups.
type EnergyReport struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	By    string    `json:"by"` // job, workspace or node
	// Resolution is the width of the rollups summed, "1m" or "1h"; Since
	// and Until are rounded out to it.
	Resolution string `json:"resolution"`
	// Scope says what the figures cover: "attributed" (jobs' shares of
	// their nodes: by job and by workspace) or "node" (whole node draw,
	// idle included: by node).
	Scope string              `json:"scope"`
	Lines []EnergyReportLine  `json:"lines"`
	Total joule.EnergySummary `json:"total"`
}

// EnergyReportLine is one line of a report: Key is the job, workspace or
// node ID, and Name its name where it still exists.
type EnergyReportLine struct {
	Name string `json:"name,omitempty"`
	joule.EnergySummary
}

// NodePower is a node's power over a period, from its per-minute rollups.
type NodePower struct {
	NodeID string `json:"node_id"`
	Name   string `json:"name"`
	// Components are the node's metered components over the period, with
	// their mean power and how it was obtained.
	Components []ComponentPower `json:"components"`
	// Series is the node's mean power and grid intensity per minute.
	Series []PowerPoint `json:"series"`
}

// ComponentPower is one component's energy and mean power over a period.
type ComponentPower struct {
	Component  string  `json:"component"`
	Method     string  `json:"method"`
	Joules     float64 `json:"joules"`
	Seconds    float64 `json:"seconds"`
	MeanWatts  float64 `json:"mean_watts"`
	EmissionsG float64 `json:"emissions_g"`
}

// PowerPoint is a node's mean power over one minute, summed over its
// components, and the grid intensity used for it (0 when none).
type PowerPoint struct {
	Start            time.Time `json:"start"`
	Watts            float64   `json:"watts"`
	IntensityGPerKWh float64   `json:"intensity_g_per_kwh"`
	Method           string    `json:"method"`
}

func (s *Server) energyRoutes() []Route {
	ws := "/v1/workspaces/{workspace}"
	period := []Param{{"since", "RFC 3339 time or a duration ago (24h); default 24h ago"}, {"until", "RFC 3339 time, exclusive; default now"}}
	return []Route{
		{Method: "GET", Path: ws + "/energy/report", Summary: "Energy, emissions and cost over a period by job, workspace or node (node: admins of the default workspace).",
			Role: joule.RoleViewer, Workspace: true,
			Query:    append(period, Param{"by", "job (default), workspace or node"}, Param{"resolution", "1m or 1h (default: 1m up to 48 h, else 1h)"}),
			Response: EnergyReport{}, handle: s.energyReport},
		{Method: "GET", Path: "/v1/energy/nodes", Summary: "Each node's power per component and per minute over a period (default the last hour), from the per-minute rollups.",
			Role: joule.RoleViewer, Query: period, Response: []NodePower{}, handle: s.nodePower},
	}
}

// period reads since and until, defaulting to def ago and now.
func (s *Server) period(r *http.Request, def time.Duration) (since, until time.Time, err error) {
	if since, err = parseTimeParam(r, "since"); err != nil {
		return
	}
	if until, err = parseTimeParam(r, "until"); err != nil {
		return
	}
	now := s.cfg.Now().UTC()
	until = cmp.Or(until, now)
	if since.IsZero() {
		since = until.Add(-def)
	}
	if !until.After(since) {
		err = errField("until", "%s is not after since (%s)", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	return
}

func (s *Server) energyReport(w http.ResponseWriter, r *http.Request, c *call) error {
	since, until, err := s.period(r, 24*time.Hour)
	if err != nil {
		return err
	}
	rep := EnergyReport{By: cmp.Or(r.URL.Query().Get("by"), "job"), Scope: "attributed"}
	width := time.Minute
	switch res := r.URL.Query().Get("resolution"); res {
	case "":
		if until.Sub(since) > 48*time.Hour {
			width = time.Hour
		}
	case "1m":
	case "1h":
		width = time.Hour
	default:
		return errField("resolution", "%q is not 1m or 1h", res)
	}
	rep.Resolution = map[time.Duration]string{time.Minute: "1m", time.Hour: "1h"}[width]
	rep.Since = since.Truncate(width)
	rep.Until = until.Truncate(width)
	if rep.Until.Before(until) {
		rep.Until = rep.Until.Add(width)
	}
	f := joule.EnergyFilter{Scope: joule.RollupJob, Width: width, WorkspaceID: c.workspace.ID, Since: rep.Since, Until: rep.Until}
	var key func(joule.EnergyRollup) string
	switch rep.By {
	case "job":
		key = func(r joule.EnergyRollup) string { return r.Entity }
	case "workspace":
		key = func(r joule.EnergyRollup) string { return r.WorkspaceID }
	case "node":
		if !c.principal.PlatformAdmin() {
			return joule.Errorf(joule.EFORBIDDEN, "by=node reports whole nodes: it needs an admin token of the %q workspace", joule.DefaultWorkspace)
		}
		f.Scope, f.WorkspaceID, rep.Scope = joule.RollupNode, "", "node"
		key = func(r joule.EnergyRollup) string { return r.NodeID }
	default:
		return errField("by", "%q is not job, workspace or node", rep.By)
	}
	rows, err := s.store.ListEnergyRollups(r.Context(), f)
	if err != nil {
		return err
	}
	rep.Lines = []EnergyReportLine{}
	for _, l := range joule.SummariseEnergy(rows, key) {
		line := EnergyReportLine{EnergySummary: l}
		switch rep.By {
		case "job":
			if j, err := s.store.GetJob(r.Context(), c.workspace.ID, l.Key); err == nil {
				line.Name = j.Spec.Name
			}
		case "workspace":
			line.Name = c.workspace.Name
		case "node":
			if n, err := s.store.GetNode(r.Context(), l.Key); err == nil {
				line.Name = n.Name
			}
		}
		rep.Lines = append(rep.Lines, line)
	}
	if t := joule.SummariseEnergy(rows, func(joule.EnergyRollup) string { return "total" }); len(t) == 1 {
		rep.Total = t[0]
	} else {
		rep.Total = joule.EnergySummary{Key: "total"}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) nodePower(w http.ResponseWriter, r *http.Request, _ *call) error {
	since, until, err := s.period(r, time.Hour)
	if err != nil {
		return err
	}
	rows, err := s.store.ListEnergyRollups(r.Context(), joule.EnergyFilter{Scope: joule.RollupNode, Width: time.Minute, Since: since.Truncate(time.Minute), Until: until})
	if err != nil {
		return err
	}
	byNode := map[string][]joule.EnergyRollup{}
	for _, row := range rows {
		byNode[row.NodeID] = append(byNode[row.NodeID], row)
	}
	out := []NodePower{}
	for id, rs := range byNode {
		np := NodePower{NodeID: id, Name: id}
		if n, err := s.store.GetNode(r.Context(), id); err == nil {
			np.Name = n.Name
		}
		for _, c := range joule.SummariseEnergy(rs, func(r joule.EnergyRollup) string { return r.Entity }) {
			cp := ComponentPower{Component: c.Key, Method: c.Method, Joules: c.Joules, Seconds: c.Seconds, EmissionsG: c.EmissionsG}
			if c.Seconds > 0 {
				cp.MeanWatts = c.Joules / c.Seconds
			}
			np.Components = append(np.Components, cp)
		}
		slices.SortFunc(np.Components, func(a, b ComponentPower) int { return cmp.Compare(a.Component, b.Component) })
		// Per minute: Σ over components of joules ÷ seconds.
		minutes := map[int64]*PowerPoint{}
		pue := map[int64][2]float64{} // emissions, facility kWh
		for _, row := range rs {
			k := row.Start.Unix()
			p := minutes[k]
			if p == nil {
				p = &PowerPoint{Start: row.Start}
				minutes[k] = p
			}
			if row.Seconds > 0 {
				p.Watts += row.Joules() / row.Seconds
			}
			p.Method = mergeMethods(p.Method, row.Method)
			e := pue[k]
			pue[k] = [2]float64{e[0] + row.EmissionsG, e[1] + row.PUEJoules/3.6e6}
		}
		for k, p := range minutes {
			if e := pue[k]; e[1] > 0 {
				p.IntensityGPerKWh = e[0] / e[1]
			}
			np.Series = append(np.Series, *p)
		}
		slices.SortFunc(np.Series, func(a, b PowerPoint) int { return a.Start.Compare(b.Start) })
		out = append(out, np)
	}
	slices.SortFunc(out, func(a, b NodePower) int { return cmp.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mergeMethods joins two "+"-joined method sets.
func mergeMethods(a, b string) string {
	s := joule.SummariseEnergy([]joule.EnergyRollup{{Method: a}, {Method: b}}, func(joule.EnergyRollup) string { return "" })
	return s[0].Method
}
