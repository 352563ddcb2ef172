package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Client calls the joule API. The CLI reaches the server only through it.
// Errors from the server come back as *joule.Error with the server's code
// and message.
type Client struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is the bearer token secret.
	Token string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// UserAgent defaults to "joule-cli/<version>".
	UserAgent string
}

// NewClient returns a Client for a server and token.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

var defaultHTTPClient = &http.Client{Timeout: 60 * time.Second}

// streamingClient has no overall timeout, for following logs.
var streamingClient = &http.Client{}

// do sends a request with an optional JSON body and decodes a JSON response
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return joule.Errorf(joule.EINTERNAL, "decode response of %s %s: %v", method, path, err)
	}
	return nil
}

// send performs the request and returns the response when its status is
// 2xx; otherwise it returns the error rebuilt from the body.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	if c.BaseURL == "" {
		return nil, joule.Errorf(joule.EINVALID, "no server: run `joule login --server URL --token TOKEN`, or set --server / JOULE_SERVER")
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "server: %q is not a valid URL: %v", c.BaseURL, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "joule-cli/" + joule.Version
	}
	req.Header.Set("User-Agent", ua)
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &joule.Error{Code: joule.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach the joule server at %s: %v", c.BaseURL, unwrapURLError(err)), Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, errorFromResponse(resp)
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// errorFromResponse rebuilds a *joule.Error from a JSON error body, or from
// the status alone when the body is not in joule's shape.
func errorFromResponse(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		return &joule.Error{Code: eb.Error.Code, Message: eb.Error.Message}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return joule.Errorf(CodeFromStatus(resp.StatusCode), "server answered %s: %s", resp.Status, msg)
}

func pageQuery(opt joule.ListOptions) url.Values {
	q := url.Values{}
	if opt.Limit > 0 {
		q.Set("limit", fmt.Sprint(opt.Limit))
	}
	if opt.Cursor != "" {
		q.Set("cursor", opt.Cursor)
	}
	return q
}

func wsPath(ws string, rest string) string {
	return "/v1/workspaces/" + url.PathEscape(ws) + rest
}

// Whoami returns the caller's principal.
func (c *Client) Whoami(ctx context.Context) (joule.Principal, error) {
	var p joule.Principal
	err := c.do(ctx, "GET", "/v1/whoami", nil, nil, &p)
	return p, err
}

// Status returns the server status.
func (c *Client) Status(ctx context.Context) (joule.ServerStatus, error) {
	var s joule.ServerStatus
	err := c.do(ctx, "GET", "/v1/status", nil, nil, &s)
	return s, err
}

// ListWorkspaces returns one page of workspaces.
func (c *Client) ListWorkspaces(ctx context.Context, opt joule.ListOptions) (Page[joule.Workspace], error) {
	var p Page[joule.Workspace]
	err := c.do(ctx, "GET", "/v1/workspaces", pageQuery(opt), nil, &p)
	return p, err
}

// CreateWorkspace creates a workspace.
func (c *Client) CreateWorkspace(ctx context.Context, req CreateWorkspaceRequest) (joule.Workspace, error) {
	var w joule.Workspace
	err := c.do(ctx, "POST", "/v1/workspaces", nil, req, &w)
	return w, err
}

// GetWorkspace returns a workspace by ID or name.
func (c *Client) GetWorkspace(ctx context.Context, ws string) (joule.Workspace, error) {
	var w joule.Workspace
	err := c.do(ctx, "GET", wsPath(ws, ""), nil, nil, &w)
	return w, err
}

// ListTokens returns one page of a workspace's tokens.
func (c *Client) ListTokens(ctx context.Context, ws string, opt joule.ListOptions) (Page[joule.Token], error) {
	var p Page[joule.Token]
	err := c.do(ctx, "GET", wsPath(ws, "/tokens"), pageQuery(opt), nil, &p)
	return p, err
}

// CreateToken creates a token in a workspace and returns it with its secret.
func (c *Client) CreateToken(ctx context.Context, ws string, req CreateTokenRequest) (CreateTokenResponse, error) {
	var r CreateTokenResponse
	err := c.do(ctx, "POST", wsPath(ws, "/tokens"), nil, req, &r)
	return r, err
}

// RevokeToken revokes a token of a workspace.
func (c *Client) RevokeToken(ctx context.Context, ws, id string) (joule.Token, error) {
	var t joule.Token
	err := c.do(ctx, "DELETE", wsPath(ws, "/tokens/"+url.PathEscape(id)), nil, nil, &t)
	return t, err
}

// AuditQuery filters audit entries; zero fields do not filter.
type AuditQuery struct {
	Since, Until time.Time
	Principal    string
	Action       string
	joule.ListOptions
}

// ListAudit returns one page of a workspace's audit entries.
func (c *Client) ListAudit(ctx context.Context, ws string, f AuditQuery) (Page[joule.AuditEntry], error) {
	q := pageQuery(f.ListOptions)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339))
	}
	if f.Principal != "" {
		q.Set("principal", f.Principal)
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	var p Page[joule.AuditEntry]
	err := c.do(ctx, "GET", wsPath(ws, "/audit"), q, nil, &p)
	return p, err
}

// VerifyAudit verifies the audit chain.
func (c *Client) VerifyAudit(ctx context.Context, ws string) (joule.AuditReport, error) {
	var r joule.AuditReport
	err := c.do(ctx, "GET", wsPath(ws, "/audit/verify"), nil, nil, &r)
	return r, err
}

// ListNodes returns one page of nodes.
func (c *Client) ListNodes(ctx context.Context, opt joule.ListOptions) (Page[joule.Node], error) {
	var p Page[joule.Node]
	err := c.do(ctx, "GET", "/v1/nodes", pageQuery(opt), nil, &p)
	return p, err
}

// GetNode returns a node by ID or name.
func (c *Client) GetNode(ctx context.Context, node string) (joule.Node, error) {
	var n joule.Node
	err := c.do(ctx, "GET", "/v1/nodes/"+url.PathEscape(node), nil, nil, &n)
	return n, err
}

// ListEvents returns one page of installation-wide events.
func (c *Client) ListEvents(ctx context.Context, opt joule.ListOptions) (Page[joule.Event], error) {
	var p Page[joule.Event]
	err := c.do(ctx, "GET", "/v1/events", pageQuery(opt), nil, &p)
	return p, err
}
