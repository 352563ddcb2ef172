package sustain

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sim"
)

// The functions here read the store and call the computations, so that the
// API and the console serve the same figures from the same code.

// DefaultDeadline is the deadline rule the shift replay gives jobs without
// their own deadline or flexibility, unless the caller picks another.
const DefaultDeadline = sim.NextWorkday

// LoadRecommendations returns the recommendations of d's period: the
// finished jobs of d replayed through the simulator with rule, and d's idle
// node hours, with node names read from the store.
func LoadRecommendations(ctx context.Context, st joule.Store, d Data, rule sim.Deadline) ([]Recommendation, error) {
	var jobs []joule.Job
	for _, j := range d.Jobs {
		if j.ID != "" && j.FinishedAt != nil && !j.FinishedAt.Before(d.Since) && j.FinishedAt.Before(d.Until) {
			jobs = append(jobs, j)
		}
	}
	names := map[string]string{}
	for _, row := range d.NodeRows {
		if _, ok := names[row.NodeID]; !ok {
			if n, err := st.GetNode(ctx, row.NodeID); err == nil {
				names[row.NodeID] = n.Name
			}
		}
	}
	slices.SortFunc(jobs, func(a, b joule.Job) int { return cmp.Compare(a.ID, b.ID) })
	recs, err := Recommend(jobs, d.NodeRows, d.JobRows, names, RecommendOptions{Deadline: rule})
	return nonNil(recs), err
}

// ReportRequest says which report AssembleReport builds.
type ReportRequest struct {
	// WorkspaceID is the workspace reported on; "" reports on the whole
	// installation.
	WorkspaceID string
	// Scope names it in the report: the workspace's name or
	// "installation".
	Scope string
	// Period labels the report ("2026-11", or "since/until").
	Period       string
	Since, Until time.Time
	// Nodes includes whole-node rollups (idle energy, PUE, idle
	// recommendations): installation admins only. An installation report
	// always includes them.
	Nodes bool
	// Deadline is the shift replay's rule for jobs without their own.
	Deadline sim.Deadline
	Now      time.Time
}

// AssembleReport reads a period's accounting, targets and baselines from
// the store and builds its report: what GET …/sustainability/report serves
// and the console shows.
func AssembleReport(ctx context.Context, st joule.Store, req ReportRequest) (Report, error) {
	d, err := Load(ctx, st, req.WorkspaceID, req.Since, req.Until, req.Nodes || req.WorkspaceID == "")
	if err != nil {
		return Report{}, err
	}
	in := ReportInput{Period: req.Period, Scope: req.Scope, Now: req.Now, WorkspaceNames: map[string]string{}, NodeNames: map[string]string{}, BaselineNames: map[string]string{}}
	for _, row := range d.JobRows {
		if _, ok := in.WorkspaceNames[row.WorkspaceID]; !ok {
			if ws, err := st.GetWorkspace(ctx, row.WorkspaceID); err == nil {
				in.WorkspaceNames[row.WorkspaceID] = ws.Name
			}
		}
		if _, ok := in.NodeNames[row.NodeID]; !ok {
			if n, err := st.GetNode(ctx, row.NodeID); err == nil {
				in.NodeNames[row.NodeID] = n.Name
			}
		}
	}
	if in.Targets, err = st.ListTargets(ctx, req.WorkspaceID); err != nil {
		return Report{}, err
	}
	for _, t := range in.Targets {
		if b, err := st.GetBaseline(ctx, t.WorkspaceID, t.BaselineID); err == nil {
			in.BaselineNames[t.BaselineID] = b.Name
		}
	}
	if in.Recommendations, err = LoadRecommendations(ctx, st, d, req.Deadline); err != nil {
		return Report{}, err
	}
	if in.Models, err = LoadModelCards(ctx, st, req.WorkspaceID, req.Since, req.Until); err != nil {
		return Report{}, err
	}
	return BuildReport(d, in)
}

// LoadModelCards returns an energy card for every model version of the
// workspace ("": every workspace) created in [since, until), by workspace,
// model and version.
func LoadModelCards(ctx context.Context, st joule.Store, workspaceID string, since, until time.Time) ([]ModelEnergyCard, error) {
	var wss []joule.Workspace
	if workspaceID != "" {
		ws, err := st.GetWorkspace(ctx, workspaceID)
		if err != nil {
			return nil, err
		}
		wss = []joule.Workspace{ws}
	} else {
		for opt := (joule.ListOptions{Limit: joule.MaxLimit}); ; {
			page, next, err := st.ListWorkspaces(ctx, opt)
			if err != nil {
				return nil, err
			}
			wss = append(wss, page...)
			if next == "" {
				break
			}
			opt.Cursor = next
		}
	}
	cards := []ModelEnergyCard{}
	for _, ws := range wss {
		for opt := (joule.ListOptions{Limit: joule.MaxLimit}); ; {
			models, next, err := st.ListModels(ctx, ws.ID, opt)
			if err != nil {
				return nil, err
			}
			for _, m := range models {
				for vopt := (joule.ListOptions{Limit: joule.MaxLimit}); ; {
					vs, vnext, err := st.ListModelVersions(ctx, m.ID, vopt)
					if err != nil {
						return nil, err
					}
					for _, v := range vs {
						if !v.CreatedAt.Before(since) && v.CreatedAt.Before(until) {
							cards = append(cards, modelCard(ws.Name, m, v))
						}
					}
					if vnext == "" {
						break
					}
					vopt.Cursor = vnext
				}
			}
			if next == "" {
				break
			}
			opt.Cursor = next
		}
	}
	return cards, nil
}

// TargetState is a target with its baseline, its weekly series since the
// baseline, a live evaluation at now and its recorded history.
type TargetState struct {
	Target   joule.Target
	Baseline joule.Baseline
	Weekly   []joule.SeriesPoint
	Live     joule.TargetStatus
	History  []joule.TargetStatus
	// MeasuredShare is the measured fraction of the energy behind the
	// series since the baseline; nil without energy.
	MeasuredShare *float64
}

// LoadTargetState reads what a target's page needs and evaluates it at
// now, without recording the evaluation.
func LoadTargetState(ctx context.Context, st joule.Store, t joule.Target, now time.Time) (TargetState, error) {
	b, err := st.GetBaseline(ctx, t.WorkspaceID, t.BaselineID)
	if err != nil {
		return TargetState{}, err
	}
	d, err := Load(ctx, st, t.WorkspaceID, b.Until, now, strings.HasPrefix(string(t.Slice), joule.SliceNode+":"))
	if err != nil {
		return TargetState{}, err
	}
	weekly, err := TargetSeries(d, t, b, now)
	if err != nil {
		return TargetState{}, err
	}
	set, err := Compute(d, t.Slice)
	if err != nil {
		return TargetState{}, err
	}
	hist, err := st.ListTargetHistory(ctx, t.ID)
	if err != nil {
		return TargetState{}, err
	}
	e, _ := set.Get(joule.IndEnergyKWh)
	return TargetState{Target: t, Baseline: b, Weekly: nonNil(weekly), Live: Evaluate(t, weekly, now), History: nonNil(hist), MeasuredShare: e.MeasuredShare}, nil
}
