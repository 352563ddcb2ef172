package httpapi

import (
	"context"

	"github.com/joule-dev/joule"
)

// RetrainDeployment starts a retrain of a deployment now and returns the
// loop's state.
func (c *Client) RetrainDeployment(ctx context.Context, ws, ref, reason string) (joule.LifecycleStatus, error) {
	var st joule.LifecycleStatus
	err := c.do(ctx, "POST", deploymentPath(ws, ref, "/retrain"), nil, joule.RetrainRequest{Reason: reason}, &st)
	return st, err
}

// DeploymentLifecycle returns a deployment's retrain policy, loop state
// and history.
func (c *Client) DeploymentLifecycle(ctx context.Context, ws, ref string) (joule.DeploymentLifecycle, error) {
	var h joule.DeploymentLifecycle
	err := c.do(ctx, "GET", deploymentPath(ws, ref, "/lifecycle"), nil, nil, &h)
	return h, err
}

// SetRetrainPolicy sets a deployment's retrain policy; nil removes it.
func (c *Client) SetRetrainPolicy(ctx context.Context, ws, ref string, p *joule.RetrainPolicy) (joule.Deployment, error) {
	var d joule.Deployment
	err := c.do(ctx, "PUT", deploymentPath(ws, ref, "/retrain-policy"), nil, joule.RetrainPolicyRequest{Policy: p, Clear: p == nil}, &d)
	return d, err
}
