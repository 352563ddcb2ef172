package httpapi

import (
	"net/http"
	"strings"

	"github.com/joule-dev/joule"
)

// DeploymentTokenRequest is the body of POST …/deployments/{deployment}/tokens.
type DeploymentTokenRequest struct {
	Name string `json:"name"`
}

// NewDeploymentToken is a created deployment token and its secret, shown
// once.
type NewDeploymentToken struct {
	Token  joule.DeploymentToken `json:"token"`
	Secret string                `json:"secret"`
}

func (s *Server) deploymentTokenRoutes() []Route {
	one := "/v1/workspaces/{workspace}/deployments/{deployment}"
	return []Route{
		{Method: "POST", Path: one + "/tokens", Summary: "Create a token of this deployment: it calls this deployment's predict endpoint and nothing else. The secret is in the answer only.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.token.create", Request: DeploymentTokenRequest{}, Response: NewDeploymentToken{}, Status: http.StatusCreated, handle: s.createDeploymentToken},
		{Method: "GET", Path: one + "/tokens", Summary: "List a deployment's own tokens (never their secrets or hashes).",
			Role: joule.RoleViewer, Workspace: true, Response: Page[joule.DeploymentToken]{}, handle: s.listDeploymentTokens},
		{Method: "DELETE", Path: one + "/tokens/{token}", Summary: "Revoke a deployment token by ID or name; the next request with it gets 401.",
			Role: joule.RoleEditor, Workspace: true, Audit: "deployment.token.revoke", Response: joule.DeploymentToken{}, handle: s.revokeDeploymentToken},
	}
}

func (s *Server) createDeploymentToken(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	var req DeploymentTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	tok, secret, err := svc.CreateToken(r.Context(), c.workspace.ID, r.PathValue("deployment"), req.Name, c.principal.String())
	if err != nil {
		return err
	}
	c.resource, c.detail = tok.ID, "deployment="+r.PathValue("deployment")+" name="+tok.Name
	writeJSON(w, http.StatusCreated, NewDeploymentToken{Token: tok, Secret: secret})
	return nil
}

func (s *Server) listDeploymentTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	toks, err := svc.Tokens(r.Context(), c.workspace.ID, r.PathValue("deployment"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.DeploymentToken]{Items: nonNil(toks)})
	return nil
}

func (s *Server) revokeDeploymentToken(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.deployments()
	if err != nil {
		return err
	}
	tok, err := svc.RevokeToken(r.Context(), c.workspace.ID, r.PathValue("deployment"), r.PathValue("token"))
	if err != nil {
		return err
	}
	c.resource, c.detail = tok.ID, "deployment="+r.PathValue("deployment")+" name="+tok.Name
	writeJSON(w, http.StatusOK, tok)
	return nil
}

// bearer returns the request's bearer secret, or "".
func bearer(r *http.Request) string {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}
