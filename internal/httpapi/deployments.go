package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/joule-dev/joule"
)

// DeploymentService runs model deployments for the API (internal/serving
// implements it; cmd/joule wires it).
type DeploymentService interface {
	// Create checks d, resolves its model version and starts serving it.
	Create(ctx context.Context, workspaceID string, d joule.Deployment, by string) (joule.Deployment, error)
	// Lookup returns a live deployment's settings, without status.
	Lookup(ctx context.Context, workspaceID, ref string) (joule.Deployment, error)
	Get(ctx context.Context, workspaceID, ref string) (joule.Deployment, error)
	List(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Deployment, string, error)
	// Scale sets min and max replicas (nil keeps the current value).
	Scale(ctx context.Context, workspaceID, ref string, minReplicas, maxReplicas *int) (joule.Deployment, error)
	Delete(ctx context.Context, workspaceID, ref string) error
	Events(ctx context.Context, workspaceID, ref string, opt joule.ListOptions) ([]joule.DeploymentEvent, string, error)
	// Predict runs one predict call on the body (a joule.PredictRequest).
	Predict(ctx context.Context, workspaceID, ref string, body io.Reader) (joule.PredictResponse, error)
	// Traffic sets or clears the canary and the shadow.
	Traffic(ctx context.Context, workspaceID, ref string, req joule.TrafficRequest) (joule.Deployment, error)
	// Promote makes version n (0: the canary's) the primary.
	Promote(ctx context.Context, workspaceID, ref string, n int, reason string) (joule.Deployment, error)
	// Rollback removes the canary, or returns to the previous version.
	Rollback(ctx context.Context, workspaceID, ref, reason string) (joule.Deployment, error)
	// History is the last hour of autoscaler ticks, oldest first.
	History(ctx context.Context, workspaceID, ref string) ([]joule.DeploymentPoint, error)
	// CreateToken makes a token of one deployment and returns its secret.
	CreateToken(ctx context.Context, workspaceID, ref, name, by string) (joule.DeploymentToken, string, error)
	// Tokens lists a deployment's tokens without their hashes.
	Tokens(ctx context.Context, workspaceID, ref string) ([]joule.DeploymentToken, error)
	// RevokeToken deletes a deployment token by ID or name.
	RevokeToken(ctx context.Context, workspaceID, ref, token string) (joule.DeploymentToken, error)
}

// ScaleRequest is the body of POST …/deployments/{deployment}/scale.
type ScaleRequest struct {
	MinReplicas *int `json:"min_replicas,omitempty"`
	MaxReplicas *int `json:"max_replicas,omitempty"`
}

// MaxPredictBody bounds any predict body; each deployment's own
// body_limit is checked below it.
const MaxPredictBody = 64 << 20

func (s *Server) deploymentRoutes() []Route {
	paging := []Param{{"limit", "page size, 1 to 500 (default 50)"}, {"cursor", "next_cursor of the previous page"}}
	ds := "/v1/workspaces/{workspace}/deployments"
	one := ds + "/{deployment}"
	return []Route{
		{Method: "GET", Path: ds, Summary: "List deployments with their live status.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.Deployment]{}, handle: s.listDeployments},
		{Method: "POST", Path: ds, Summary: "Deploy a model version as an endpoint (model_version 0: the latest).", Role: joule.RoleEditor, Workspace: true, Audit: "deployment.create",
			Request: joule.Deployment{}, Response: joule.Deployment{}, Status: http.StatusCreated, handle: s.createDeployment},
		{Method: "GET", Path: one, Summary: "Get a deployment with its live status: replicas, latency, RPS, errors, energy per 1,000 predictions.", Role: joule.RoleViewer, Workspace: true, Response: joule.Deployment{}, handle: s.getDeployment},
		{Method: "POST", Path: one + "/scale", Summary: "Set a deployment's min and max replicas.", Role: joule.RoleEditor, Workspace: true, Audit: "deployment.scale",
			Request: ScaleRequest{}, Response: joule.Deployment{}, handle: s.scaleDeployment},
		{Method: "DELETE", Path: one, Summary: "Stop and delete a deployment.", Role: joule.RoleEditor, Workspace: true, Audit: "deployment.delete", Response: joule.Deployment{}, handle: s.deleteDeployment},
		{Method: "GET", Path: one + "/events", Summary: "A deployment's events, oldest first: creation, every scaling decision with its reason, cold starts.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.DeploymentEvent]{}, handle: s.listDeploymentEvents},
		// Predict is the hot path: it is not audited, and it authenticates
		// in its handler because a deployment may be public.
		{Method: "POST", Path: one + "/predict", Summary: "Predict rows: {\"instances\": [{feature: value}]} or {\"inputs\": {feature: [values]}}. Needs a token of the deployment or of the workspace unless the deployment is public.",
			Request: joule.PredictRequest{}, Response: joule.PredictResponse{}, MaxBody: MaxPredictBody, handle: s.predictDeployment},
	}
}

func (s *Server) deployments() (DeploymentService, error) {
	if s.cfg.Deployments == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server serves no deployments")
	}
	return s.cfg.Deployments, nil
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := svc.List(r.Context(), c.workspace.ID, opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Deployment]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var d joule.Deployment
	if err := decode(r, &d); err != nil {
		return err
	}
	d, err = svc.Create(r.Context(), c.workspace.ID, d, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, fmt.Sprintf("name=%s model=%s version=%d min=%d max=%d public=%t", d.Name, d.Model, d.ModelVersion, d.MinReplicas, d.MaxReplicas, d.Public)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	d, err := svc.Get(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) scaleDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var req ScaleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.MinReplicas == nil && req.MaxReplicas == nil {
		return errField("min_replicas", "send min_replicas, max_replicas or both")
	}
	d, err := svc.Scale(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.MinReplicas, req.MaxReplicas)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, fmt.Sprintf("min=%d max=%d", d.MinReplicas, d.MaxReplicas)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	d, err := svc.Get(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	if err := svc.Delete(r.Context(), c.workspace.ID, d.ID); err != nil {
		return err
	}
	c.resource, c.detail = d.ID, "name="+d.Name
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) listDeploymentEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := svc.Events(r.Context(), c.workspace.ID, r.PathValue("deployment"), opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.DeploymentEvent]{Items: nonNil(items), NextCursor: next})
	return nil
}

// predictDeployment authenticates unless the deployment is public: with
// one of the deployment's own tokens, or with a token of the workspace. A
// caller without a token learns nothing about a private deployment (401,
// not 404).
func (s *Server) predictDeployment(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	wsID, err := s.predictWorkspace(r.Context(), r.PathValue("workspace"))
	if err != nil {
		if r.Header.Get("Authorization") == "" {
			return joule.Errorf(joule.EUNAUTHORIZED, "authentication required: send Authorization: Bearer <token>")
		}
		return err
	}
	d, lerr := svc.Lookup(r.Context(), wsID, r.PathValue("deployment"))
	if lerr == nil && !d.Public {
		// The deployment's own tokens are checked first, in memory.
		if _, ok := d.TokenFor(bearer(r)); ok {
			d.Public = true
		}
	}
	if lerr != nil || !d.Public {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if err := joule.Authorize(p, joule.RoleViewer, wsID); err != nil {
			return err
		}
		if lerr != nil {
			return lerr
		}
	}
	resp, err := svc.Predict(r.Context(), wsID, d.ID, r.Body)
	if err != nil {
		return err
	}
	writePredictJSON(w, http.StatusOK, &resp)
	return nil
}

// predictWorkspace resolves the workspace of a predict call, by name or ID,
// to its ID. Predict is the hot path and a store read costs more than the
// rest of the call (docs/perf.md, "Serving"), so resolved references are
// kept: a workspace is never renamed and never deleted (joule.Store has no
// such method), so a reference, once resolved, keeps its ID. Misses are
// not kept.
func (s *Server) predictWorkspace(ctx context.Context, ref string) (string, error) {
	if id, ok := s.predictWorkspaces.get(ref); ok {
		return id, nil
	}
	ws, err := s.store.GetWorkspace(ctx, ref)
	if err != nil {
		return "", err
	}
	s.predictWorkspaces.put(ref, ws.ID)
	return ws.ID, nil
}

// maxWorkspaceIDs bounds the workspace references predict keeps; the set
// starts over when it is full, so that references nobody resolves again
// cannot grow it.
const maxWorkspaceIDs = 4096

// workspaceIDs maps workspace references (names and IDs) to IDs; the zero
// value is empty and ready.
type workspaceIDs struct {
	mu  sync.RWMutex
	ids map[string]string
}

func (c *workspaceIDs) get(ref string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.ids[ref]
	return id, ok
}

func (c *workspaceIDs) put(ref, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil || len(c.ids) >= maxWorkspaceIDs {
		c.ids = make(map[string]string)
	}
	c.ids[ref] = id
}

// writeCompactJSON is writeJSON without indentation, for predict answers:
// machines read them, and indenting costs as much as encoding.
func writeCompactJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeJSON(w, status, v) // the same answer as any other handler's
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
