package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// overviewView is the data of the overview page.
type overviewView struct {
	Status  joule.ServerStatus
	Uptime  string
	Nodes   []nodeRow
	Chart   template.HTML // CPU utilisation per node; "" when no node reports usage
	Jobs    jobsSummary
	Sustain *sustainOverview // the last 30 days' energy, emissions, cost, targets, top jobs and recommendations
}

// nodeRow is a node as the overview table shows it.
type nodeRow struct {
	joule.Node
	GPUSummary string   // "none", or "2 × NVIDIA H100"
	MeterNames []string // "rapl: package-0"; empty when none was detected
	CPU        string   // "37.5 %", or "—" without usage
	Power      string   // "6.0 W", or "—" without a reading
	PowerHow   string   // how it was obtained: "estimated:tdp-curve@1", "measured:rapl", …
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	st, err := c.cfg.Status(r.Context())
	if err != nil {
		c.internal(w, r, fmt.Errorf("server status: %w", err))
		return
	}
	v := overviewView{Status: st}
	if v.Jobs, err = c.summariseJobs(r, joule.PrincipalFromContext(r.Context())); err != nil {
		c.internal(w, r, fmt.Errorf("jobs summary: %w", err))
		return
	}
	v.Sustain = c.sustainOverview(r, joule.PrincipalFromContext(r.Context()))
	if !st.StartedAt.IsZero() {
		v.Uptime = duration(c.cfg.Now().Sub(st.StartedAt))
	}
	var bars []chart.Item
	for _, n := range st.Nodes {
		row := nodeRow{Node: n, GPUSummary: gpuSummary(n.GPUs), CPU: "—", Power: "—"}
		for _, m := range n.Meters {
			row.MeterNames = append(row.MeterNames, m.Kind+": "+m.Name)
		}
		if n.Usage != nil {
			row.CPU = chart.FormatValue(n.Usage.CPUFraction*100) + " %"
			if len(n.Usage.Power) > 0 {
				total := 0.0
				var how []string
				for _, p := range n.Usage.Power {
					total += p.Watts
					if !slices.Contains(how, p.Method) {
						how = append(how, p.Method)
					}
				}
				row.Power = fmt.Sprintf("%.1f W", total)
				row.PowerHow = strings.Join(how, " + ")
			}
			bars = append(bars, chart.Item{Label: n.Name, Value: n.Usage.CPUFraction * 100})
		}
		v.Nodes = append(v.Nodes, row)
	}
	if len(bars) > 0 {
		var b bytes.Buffer
		if err := chart.Bar(&b, chart.BarChart{Title: "CPU utilisation per node (latest heartbeat)", Unit: "%", Max: 100, Height: 200, Bars: bars}); err != nil {
			c.internal(w, r, err)
			return
		}
		// The chart package escapes all text and emits no script or style.
		v.Chart = template.HTML(b.String())
	}
	c.render(w, r, http.StatusOK, "overview.html", view{Title: "Overview", Path: "/", Principal: joule.PrincipalFromContext(r.Context()), Data: v})
}

// gpuSummary counts GPUs by model: "2 × NVIDIA H100, 1 × NVIDIA T4".
func gpuSummary(gpus []joule.GPU) string {
	if len(gpus) == 0 {
		return "none"
	}
	var order []string
	count := map[string]int{}
	for _, g := range gpus {
		name := g.Name
		if name == "" {
			name = "unknown GPU"
		}
		if count[name] == 0 {
			order = append(order, name)
		}
		count[name]++
	}
	parts := make([]string, len(order))
	for i, name := range order {
		parts[i] = fmt.Sprintf("%d × %s", count[name], name)
	}
	return strings.Join(parts, ", ")
}

// auditPageSize is how many entries one audit page shows.
const auditPageSize = 50

// auditView is the data of the audit page.
type auditView struct {
	Entries       []auditRow
	Action        string
	Principal     string
	Workspace     string // platform admins only: the workspace filter
	AllWorkspaces bool   // the viewer is a platform admin
	Paged         bool   // this is not the first page
	First         string // URL of the first page with the same filters
	Next          string // URL of the next page; "" on the last
}

// auditRow is an audit entry with its workspace's name.
type auditRow struct {
	joule.AuditEntry
	WorkspaceName string
	OK            bool
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	p := joule.PrincipalFromContext(r.Context())
	if err := joule.Authorize(p, joule.RoleAdmin, p.WorkspaceID); err != nil {
		c.fail(w, r, http.StatusForbidden, "Admin role needed",
			fmt.Sprintf("The audit log is open to admins of a workspace. You are signed in with the %s role in workspace %q; ask an admin for a token with the admin role.", p.Role, p.WorkspaceName))
		return
	}
	q := r.URL.Query()
	v := auditView{
		Action:        strings.TrimSpace(q.Get("action")),
		Principal:     strings.TrimSpace(q.Get("principal")),
		AllWorkspaces: p.PlatformAdmin(),
		Paged:         q.Get("cursor") != "",
	}
	f := joule.AuditFilter{
		WorkspaceID: p.WorkspaceID,
		Action:      v.Action,
		Principal:   v.Principal,
		ListOptions: joule.ListOptions{Limit: auditPageSize, Cursor: q.Get("cursor")},
	}
	if v.AllWorkspaces {
		v.Workspace = strings.TrimSpace(q.Get("workspace"))
		f.WorkspaceID = v.Workspace
	}
	entries, next, err := c.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	names := map[string]string{p.WorkspaceID: p.WorkspaceName}
	for _, e := range entries {
		name, ok := names[e.WorkspaceID]
		if !ok && e.WorkspaceID != "" {
			if ws, err := c.cfg.Store.GetWorkspace(r.Context(), e.WorkspaceID); err == nil {
				name = ws.Name
			}
			names[e.WorkspaceID] = name
		}
		v.Entries = append(v.Entries, auditRow{AuditEntry: e, WorkspaceName: name, OK: e.Outcome == "success"})
	}
	filters := url.Values{}
	for k, val := range map[string]string{"action": v.Action, "principal": v.Principal, "workspace": v.Workspace} {
		if val != "" {
			filters.Set(k, val)
		}
	}
	v.First = "/audit"
	if len(filters) > 0 {
		v.First += "?" + filters.Encode()
	}
	if next != "" {
		filters.Set("cursor", next)
		v.Next = "/audit?" + filters.Encode()
	}
	c.render(w, r, http.StatusOK, "audit.html", view{Title: "Audit", Path: "/audit", Principal: p, Data: v})
}

// settingsView is the data of the settings page.
type settingsView struct {
	ServerVersion string
	Store         string
	PlatformAdmin bool
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request) {
	p := joule.PrincipalFromContext(r.Context())
	st, err := c.cfg.Status(r.Context())
	if err != nil {
		c.internal(w, r, fmt.Errorf("server status: %w", err))
		return
	}
	c.render(w, r, http.StatusOK, "settings.html", view{Title: "Settings", Path: "/settings", Principal: p, Data: settingsView{
		ServerVersion: st.Version,
		Store:         st.Store,
		PlatformAdmin: p.PlatformAdmin(),
	}})
}

// soonView is the data of a section that is not built yet.
type soonView struct {
	Name, What string
}

func (c *Console) comingSoon(w http.ResponseWriter, r *http.Request) {
	s := sectionFor(r.URL.Path)
	c.render(w, r, http.StatusOK, "soon.html", view{Title: s.name, Path: s.path, Principal: joule.PrincipalFromContext(r.Context()),
		Data: soonView{Name: s.name, What: s.soon}})
}
