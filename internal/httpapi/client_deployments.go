package httpapi

import (
	"context"
	"net/url"

	"github.com/joule-dev/joule"
)

func deploymentPath(ws, ref, rest string) string {
	return wsPath(ws, "/deployments/"+url.PathEscape(ref)+rest)
}

// CreateDeployment deploys a model version.
func (c *Client) CreateDeployment(ctx context.Context, ws string, d joule.Deployment) (joule.Deployment, error) {
	var out joule.Deployment
	err := c.do(ctx, "POST", wsPath(ws, "/deployments"), nil, d, &out)
	return out, err
}

// ListDeployments returns one page of a workspace's deployments.
func (c *Client) ListDeployments(ctx context.Context, ws string, opt joule.ListOptions) (Page[joule.Deployment], error) {
	var p Page[joule.Deployment]
	err := c.do(ctx, "GET", wsPath(ws, "/deployments"), pageQuery(opt), nil, &p)
	return p, err
}

// GetDeployment returns a deployment with its live status.
func (c *Client) GetDeployment(ctx context.Context, ws, ref string) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "GET", deploymentPath(ws, ref, ""), nil, nil, &d)
	return d, err
}

// ScaleDeployment sets min and max replicas (nil keeps one).
func (c *Client) ScaleDeployment(ctx context.Context, ws, ref string, minReplicas, maxReplicas *int) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/scale"), nil, ScaleRequest{MinReplicas: minReplicas, MaxReplicas: maxReplicas}, &d)
	return d, err
}

// DeleteDeployment stops and deletes a deployment.
func (c *Client) DeleteDeployment(ctx context.Context, ws, ref string) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "DELETE", deploymentPath(ws, ref, ""), nil, nil, &d)
	return d, err
}

// ListDeploymentEvents returns one page of a deployment's events.
func (c *Client) ListDeploymentEvents(ctx context.Context, ws, ref string, opt joule.ListOptions) (Page[joule.DeploymentEvent], error) {
	var p Page[joule.DeploymentEvent]
	err := c.do(ctx, "GET", deploymentPath(ws, ref, "/events"), pageQuery(opt), nil, &p)
	return p, err
}

// PredictDeployment sends body (a joule.PredictRequest, or raw JSON as
// json.RawMessage) to a deployment's predict endpoint.
func (c *Client) PredictDeployment(ctx context.Context, ws, ref string, body any) (joule.PredictResponse, error) {
	var out joule.PredictResponse
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/predict"), nil, body, &out)
	return out, err
}

// TrafficDeployment sets or clears a deployment's canary and shadow.
func (c *Client) TrafficDeployment(ctx context.Context, ws, ref string, req joule.TrafficRequest) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/traffic"), nil, req, &d)
	return d, err
}

// PromoteDeployment makes version n (0: the canary's) the primary.
func (c *Client) PromoteDeployment(ctx context.Context, ws, ref string, req joule.PromoteRequest) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/promote"), nil, req, &d)
	return d, err
}

// RollbackDeployment removes the canary or returns to the previous version.
func (c *Client) RollbackDeployment(ctx context.Context, ws, ref, reason string) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/rollback"), nil, RollbackRequest{Reason: reason}, &d)
	return d, err
}

// DeploymentHistory returns a deployment's last hour of autoscaler ticks.
func (c *Client) DeploymentHistory(ctx context.Context, ws, ref string) ([]joule.DeploymentPoint, error) {
	var h History
	err := c.do(ctx, "GET", deploymentPath(ws, ref, "/history"), nil, nil, &h)
	return h.Items, err
}

// CreateDeploymentToken makes a token of one deployment; the secret is in
// the answer only.
func (c *Client) CreateDeploymentToken(ctx context.Context, ws, ref, name string) (NewDeploymentToken, error) {
	var out NewDeploymentToken
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/tokens"), nil, DeploymentTokenRequest{Name: name}, &out)
	return out, err
}

// ListDeploymentTokens lists a deployment's tokens.
func (c *Client) ListDeploymentTokens(ctx context.Context, ws, ref string) ([]joule.DeploymentToken, error) {
	var p Page[joule.DeploymentToken]
	err := c.do(ctx, "GET", deploymentPath(ws, ref, "/tokens"), nil, nil, &p)
	return p.Items, err
}

// RevokeDeploymentToken revokes a deployment token by ID or name.
func (c *Client) RevokeDeploymentToken(ctx context.Context, ws, ref, token string) (joule.DeploymentToken, error) {
	var t joule.DeploymentToken
	err := c.do(ctx, "DELETE", deploymentPath(ws, ref, "/tokens/"+url.PathEscape(token)), nil, nil, &t)
	return t, err
}
