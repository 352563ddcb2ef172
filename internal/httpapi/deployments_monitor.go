package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/joule-dev/joule"
)

// DeploymentMonitorService is the monitoring side of a deployment service
// (internal/serving's Manager implements it): drift reports, feedback
// labels and the monitor settings.
type DeploymentMonitorService interface {
	// Drift returns the monitor settings in force, the latest drift
	// report, recent ones and the live quality per version (ENOTFOUND).
	Drift(ctx context.Context, workspaceID, ref string) (joule.DeploymentMonitorState, error)
	// Feedback records true labels, a joule.FeedbackRequest body (EINVALID
	// naming the bad item; nothing is kept then).
	Feedback(ctx context.Context, workspaceID, ref string, body io.Reader) (joule.FeedbackResult, error)
	// SetMonitor replaces the monitor settings (EINVALID naming the field).
	SetMonitor(ctx context.Context, workspaceID, ref string, m joule.DeploymentMonitor) (joule.Deployment, error)
}

// MaxFeedbackBody bounds a feedback body.
const MaxFeedbackBody = 8 << 20

func (s *Server) deploymentMonitorRoutes() []Route {
	one := "/v1/workspaces/{workspace}/deployments/{deployment}"
	return []Route{
		{Method: "GET", Path: one + "/drift", Summary: "A deployment's drift: the monitor settings, the latest report (PSI and KS per feature, prediction drift), recent reports and live quality on feedback.",
			Role: joule.RoleViewer, Workspace: true, Response: joule.DeploymentMonitorState{}, handle: s.deploymentDrift},
		{Method: "POST", Path: one + "/feedback", Summary: "Send true labels for predicted rows: {\"labels\": [{\"id\": PREDICTION_ID, \"row\": 0, \"label\": LABEL}]}; updates live accuracy and F1 or RMSE and MAE.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.feedback", Request: joule.FeedbackRequest{}, Response: joule.FeedbackResult{}, MaxBody: MaxFeedbackBody, handle: s.deploymentFeedback},
		{Method: "POST", Path: one + "/monitor", Summary: "Replace a deployment's monitor settings: window, PSI and KS thresholds, min accuracy, max RMSE.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.monitor", Request: joule.DeploymentMonitor{}, Response: joule.Deployment{}, handle: s.setDeploymentMonitor},
	}
}

func (s *Server) deploymentMonitor() (DeploymentMonitorService, error) {
	svc, err := s.deployments()
	if err != nil {
		return nil, err
	}
	mon, ok := svc.(DeploymentMonitorService)
	if !ok {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server does not monitor deployments")
	}
	return mon, nil
}

func (s *Server) deploymentDrift(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deploymentMonitor()
	if err != nil {
		return err
	}
	st, err := svc.Drift(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) deploymentFeedback(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deploymentMonitor()
	if err != nil {
		return err
	}
	res, err := svc.Feedback(r.Context(), c.workspace.ID, r.PathValue("deployment"), r.Body)
	if err != nil {
		return err
	}
	c.resource, c.detail = r.PathValue("deployment"), fmt.Sprintf("accepted=%d duplicates=%d", res.Accepted, res.Duplicates)
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) setDeploymentMonitor(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deploymentMonitor()
	if err != nil {
		return err
	}
	var m joule.DeploymentMonitor
	if err := decode(r, &m); err != nil {
		return err
	}
	d, err := svc.SetMonitor(r.Context(), c.workspace.ID, r.PathValue("deployment"), m)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, fmt.Sprintf("window_rows=%d psi=%g ks=%g min_accuracy=%g max_rmse=%g disabled=%t",
		d.Monitor.WindowRows, d.Monitor.PSIThreshold, d.Monitor.KSThreshold, d.Monitor.MinAccuracy, d.Monitor.MaxRMSE, d.Monitor.Disabled)
	writeJSON(w, http.StatusOK, d)
	return nil
}
