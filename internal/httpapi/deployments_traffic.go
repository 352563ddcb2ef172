package httpapi

import (
	"fmt"
	"net/http"

	"github.com/joule-dev/joule"
)

// RollbackRequest is the body of POST …/deployments/{deployment}/rollback
// (may be empty).
type RollbackRequest struct {
	Reason string `json:"reason,omitempty"`
}

// History is the body of GET …/deployments/{deployment}/history.
type History struct {
	Items []joule.DeploymentPoint `json:"items"`
}

func (s *Server) deploymentTrafficRoutes() []Route {
	one := "/v1/workspaces/{workspace}/deployments/{deployment}"
	return []Route{
		{Method: "POST", Path: one + "/traffic", Summary: "Set or clear a canary (a share of requests to another version) and a shadow (mirrored requests, answers compared and discarded).",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.traffic", Request: joule.TrafficRequest{}, Response: joule.Deployment{}, handle: s.trafficDeployment},
		{Method: "POST", Path: one + "/promote", Summary: "Make a version the primary (model_version 0: the canary's); the version before is kept for rollback.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.promote", Request: joule.PromoteRequest{}, Response: joule.Deployment{}, handle: s.promoteDeployment},
		{Method: "POST", Path: one + "/rollback", Summary: "Remove the canary, or return to the version served before the latest promote; takes effect for the next request.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.rollback", Request: RollbackRequest{}, Response: joule.Deployment{}, handle: s.rollbackDeployment},
		{Method: "GET", Path: one + "/history", Summary: "A deployment's last hour, one point per autoscaler tick: RPS, latency p50/p95/p99, errors, peak in flight, replicas.",
			Role: joule.RoleViewer, Workspace: true, Response: History{}, handle: s.deploymentHistory},
	}
}

func (s *Server) trafficDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var req joule.TrafficRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := svc.Traffic(r.Context(), c.workspace.ID, r.PathValue("deployment"), req)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, trafficDetail(d)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func trafficDetail(d joule.Deployment) string {
	s := fmt.Sprintf("primary=%d", d.ModelVersion)
	if d.Canary != nil {
		s += fmt.Sprintf(" canary=%d@%g%%", d.Canary.ModelVersion, d.Canary.Percent)
	}
	if d.Shadow != nil {
		s += fmt.Sprintf(" shadow=%d", d.Shadow.ModelVersion)
	}
	return s
}

func (s *Server) promoteDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var req joule.PromoteRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	d, err := svc.Promote(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.ModelVersion, req.Reason)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, fmt.Sprintf("%s previous=%d", trafficDetail(d), d.PreviousVersion)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) rollbackDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var req RollbackRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	d, err := svc.Rollback(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.Reason)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, trafficDetail(d)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deploymentHistory(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	h, err := svc.History(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, History{Items: nonNil(h)})
	return nil
}
