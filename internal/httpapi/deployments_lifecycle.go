package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/joule-dev/joule"
)

// LifecycleService runs the retraining loop for the API (serving.Lifecycle
// implements it; cmd/joule wires it).
type LifecycleService interface {
	// Retrain starts a retrain of the deployment now (ECONFLICT while one
	// runs, ENOTFOUND).
	Retrain(ctx context.Context, workspaceID, ref, reason, by string) (joule.LifecycleStatus, error)
	// History returns the policy, the loop's state and its events.
	History(ctx context.Context, workspaceID, ref string) (joule.DeploymentLifecycle, error)
	// SetPolicy sets or (nil) removes the deployment's retrain policy
	// (EINVALID naming the field).
	SetPolicy(ctx context.Context, workspaceID, ref string, p *joule.RetrainPolicy) (joule.Deployment, error)
}

func (s *Server) deploymentLifecycleRoutes() []Route {
	one := "/v1/workspaces/{workspace}/deployments/{deployment}"
	return []Route{
		{Method: "POST", Path: one + "/retrain", Summary: "Retrain the served model now: a train job with its spec on the newest version of its dataset, then evaluation against the served version on the candidate's holdout rows, then promote or keep. Answers 202 with the loop's state.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.retrain", Request: joule.RetrainRequest{}, Response: joule.LifecycleStatus{}, Status: http.StatusAccepted, handle: s.retrainDeployment},
		{Method: "GET", Path: one + "/lifecycle", Summary: "A deployment's retrain policy, the retraining loop's state (idle, training, evaluating; last trigger, job, comparison and outcome) and its history of retrain and promote events.",
			Role: joule.RoleViewer, Workspace: true, Response: joule.DeploymentLifecycle{}, handle: s.getDeploymentLifecycle},
		{Method: "PUT", Path: one + "/retrain-policy", Summary: "Set a deployment's retrain policy (on_drift, every, min_accuracy, max_rmse, metric, margin, cooldown), or remove it with {\"clear\": true}.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.retrain_policy", Request: joule.RetrainPolicyRequest{}, Response: joule.Deployment{}, handle: s.setRetrainPolicy},
	}
}

func (s *Server) lifecycle() (LifecycleService, error) {
	if s.cfg.Lifecycle == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server does not retrain deployments")
	}
	return s.cfg.Lifecycle, nil
}

func (s *Server) retrainDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.lifecycle()
	if err != nil {
		return err
	}
	var req joule.RetrainRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	st, err := svc.Retrain(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.Reason, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = r.PathValue("deployment"), fmt.Sprintf("reason=%q", req.Reason)
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

func (s *Server) getDeploymentLifecycle(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.lifecycle()
	if err != nil {
		return err
	}
	h, err := svc.History(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) setRetrainPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.lifecycle()
	if err != nil {
		return err
	}
	var req joule.RetrainPolicyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	switch {
	case req.Clear && req.Policy != nil:
		return errField("clear", "send a policy or clear, not both")
	case !req.Clear && req.Policy == nil:
		return errField("policy", "send a policy, or clear to remove it")
	}
	d, err := svc.SetPolicy(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.Policy)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, "retrain "+d.Retrain.Describe()
	writeJSON(w, http.StatusOK, d)
	return nil
}
