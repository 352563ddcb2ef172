package httpapi

import (
	"context"

	"github.com/joule-dev/joule"
)

// DeploymentDrift returns a deployment's monitoring state: settings, the
// latest drift report, recent reports and live quality.
func (c *Client) DeploymentDrift(ctx context.Context, ws, ref string) (joule.DeploymentMonitorState, error) {
	var out joule.DeploymentMonitorState
	err := c.do(ctx, "GET", deploymentPath(ws, ref, "/drift"), nil, nil, &out)
	return out, err
}

// SendFeedback posts true labels (a joule.FeedbackRequest, or raw JSON as
// json.RawMessage) to a deployment.
func (c *Client) SendFeedback(ctx context.Context, ws, ref string, body any) (joule.FeedbackResult, error) {
	var out joule.FeedbackResult
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/feedback"), nil, body, &out)
	return out, err
}

// SetDeploymentMonitor replaces a deployment's monitor settings.
func (c *Client) SetDeploymentMonitor(ctx context.Context, ws, ref string, m joule.DeploymentMonitor) (joule.Deployment, error) {
	var out joule.Deployment
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/monitor"), nil, m, &out)
	return out, err
}
