package httpapi

import (
	"net/http"
	"time"

	"github.com/joule-dev/joule"
)

// CreateWorkspaceRequest is the body of POST /v1/workspaces.
type CreateWorkspaceRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/workspaces/{workspace}/tokens.
type CreateTokenRequest struct {
	Name string     `json:"name"`
	Role joule.Role `json:"role"`
	// ExpiresIn is a Go duration such as "720h"; "" means no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreateTokenResponse carries the new token and its secret, shown once.
type CreateTokenResponse struct {
	Token  joule.Token `json:"token"`
	Secret string      `json:"secret"`
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) routeTable() []Route {
	paging := []Param{{"limit", "page size, 1 to 500 (default 50)"}, {"cursor", "next_cursor of the previous page"}}
	return []Route{
		{Method: "GET", Path: "/healthz", Summary: "Liveness: the process serves HTTP.", Response: Health{}, handle: s.healthz},
		{Method: "GET", Path: "/readyz", Summary: "Readiness: the store answers.", Response: Health{}, handle: s.readyz},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics.", Raw: true, handle: func(w http.ResponseWriter, r *http.Request, _ *call) error {
			s.metricsHandler().ServeHTTP(w, r)
			return nil
		}},
		{Method: "GET", Path: "/v1/openapi.json", Summary: "This API's OpenAPI 3 document.", Raw: true, handle: s.openapiDoc},
		{Method: "GET", Path: "/v1/whoami", Summary: "The caller's token, workspace and role.", Role: joule.RoleViewer, Response: joule.Principal{}, handle: s.whoami},
		{Method: "GET", Path: "/v1/status", Summary: "Server version, store and nodes.", Role: joule.RoleViewer, Response: joule.ServerStatus{}, handle: s.status},

		{Method: "GET", Path: "/v1/workspaces", Summary: "List workspaces (all for platform admins, else the caller's).", Role: joule.RoleViewer, Query: paging, Response: Page[joule.Workspace]{}, handle: s.listWorkspaces},
		{Method: "POST", Path: "/v1/workspaces", Summary: "Create a workspace.", Role: joule.RoleAdmin, PlatformAdmin: true, Audit: "workspace.create", Request: CreateWorkspaceRequest{}, Response: joule.Workspace{}, Status: http.StatusCreated, handle: s.createWorkspace},
		{Method: "GET", Path: "/v1/workspaces/{workspace}", Summary: "Get a workspace by ID or name.", Role: joule.RoleViewer, Workspace: true, Response: joule.Workspace{}, handle: s.getWorkspace},

		{Method: "GET", Path: "/v1/workspaces/{workspace}/tokens", Summary: "List a workspace's tokens (secrets are never shown).", Role: joule.RoleAdmin, Workspace: true, Query: paging, Response: Page[joule.Token]{}, handle: s.listTokens},
		{Method: "POST", Path: "/v1/workspaces/{workspace}/tokens", Summary: "Create a token; its secret is returned once.", Role: joule.RoleAdmin, Workspace: true, Audit: "token.create", Request: CreateTokenRequest{}, Response: CreateTokenResponse{}, Status: http.StatusCreated, handle: s.createToken},
		{Method: "DELETE", Path: "/v1/workspaces/{workspace}/tokens/{token}", Summary: "Revoke a token.", Role: joule.RoleAdmin, Workspace: true, Audit: "token.revoke", Response: joule.Token{}, handle: s.revokeToken},

		{Method: "GET", Path: "/v1/workspaces/{workspace}/audit", Summary: "List audit entries, oldest first.", Role: joule.RoleAdmin, Workspace: true,
			Query:    append([]Param{{"since", "RFC 3339 time or a duration ago (24h), inclusive"}, {"until", "RFC 3339 time, exclusive"}, {"principal", "token ID"}, {"action", "action, or a prefix ending in '.' (token.)"}}, paging...),
			Response: Page[joule.AuditEntry]{}, handle: s.listAudit},
		{Method: "GET", Path: "/v1/workspaces/{workspace}/audit/verify", Summary: "Verify the audit hash chain and name the first broken entry.", Role: joule.RoleAdmin, Workspace: true, Response: joule.AuditReport{}, handle: s.verifyAudit},

		{Method: "GET", Path: "/v1/nodes", Summary: "List nodes with inventory, meters, health and usage.", Role: joule.RoleViewer, Query: paging, Response: Page[joule.Node]{}, handle: s.listNodes},
		{Method: "GET", Path: "/v1/nodes/{node}", Summary: "Get a node by ID or name.", Role: joule.RoleViewer, Response: joule.Node{}, handle: s.getNode},
		{Method: "GET", Path: "/v1/events", Summary: "List installation-wide events (nodes registered or lost, server starts).", Role: joule.RoleViewer, Query: paging, Response: Page[joule.Event]{}, handle: s.listEvents},
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	if err := s.store.Ping(r.Context()); err != nil {
		s.logger.WarnContext(r.Context(), "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, Health{Status: "unavailable", Reason: "store does not answer"})
		return nil
	}
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
	return nil
}

func (s *Server) openapiDoc(w http.ResponseWriter, _ *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, c.principal)
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, _ *call) error {
	st, err := s.cfg.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	if !c.principal.PlatformAdmin() {
		ws, err := s.store.GetWorkspace(r.Context(), c.principal.WorkspaceID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, Page[joule.Workspace]{Items: []joule.Workspace{ws}})
		return nil
	}
	items, next, err := s.store.ListWorkspaces(r.Context(), opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Workspace]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, c *call) error {
	var req CreateWorkspaceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := joule.ValidateName("name", req.Name); err != nil {
		return err
	}
	if len(req.Description) > 1000 {
		return errField("description", "at most 1000 characters")
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	ws := joule.Workspace{ID: joule.NewID("ws", now), Name: req.Name, Description: req.Description, CreatedAt: now}
	c.resource = ws.ID
	c.detail = "name=" + ws.Name
	if err := s.store.CreateWorkspace(r.Context(), ws); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ws)
	return nil
}

func (s *Server) getWorkspace(w http.ResponseWriter, _ *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, c.workspace)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListTokens(r.Context(), c.workspace.ID, opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Token]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *call) error {
	var req CreateTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	role, err := joule.ParseRole(string(req.Role))
	if err != nil {
		return err
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		ttl, err = time.ParseDuration(req.ExpiresIn)
		if err != nil || ttl <= 0 {
			return errField("expires_in", "%q is not a positive duration such as 720h", req.ExpiresIn)
		}
	}
	tok, secret, err := joule.NewToken(c.workspace.ID, req.Name, role, ttl, c.principal.TokenID, s.cfg.Now())
	if err != nil {
		return err
	}
	c.resource = tok.ID
	c.detail = "name=" + tok.Name + " role=" + string(tok.Role)
	if err := s.store.CreateToken(r.Context(), tok); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CreateTokenResponse{Token: tok, Secret: secret})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("token")
	c.resource = id
	if err := s.store.RevokeToken(r.Context(), c.workspace.ID, id, s.cfg.Now().UTC().Truncate(time.Microsecond)); err != nil {
		return err
	}
	tok, err := s.store.GetToken(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tok)
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	f := joule.AuditFilter{WorkspaceID: c.workspace.ID, Principal: r.URL.Query().Get("principal"), Action: r.URL.Query().Get("action"), ListOptions: opt}
	if f.Since, err = parseTimeParam(r, "since"); err != nil {
		return err
	}
	if f.Until, err = parseTimeParam(r, "until"); err != nil {
		return err
	}
	items, next, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.AuditEntry]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ *call) error {
	rep, err := s.store.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, _ *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListNodes(r.Context(), opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Node]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request, _ *call) error {
	n, err := s.store.GetNode(r.Context(), r.PathValue("node"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListEvents(r.Context(), "", opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Event]{Items: nonNil(items), NextCursor: next})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
