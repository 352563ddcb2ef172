package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
)

// CreateDataset creates an empty dataset.
func (c *Client) CreateDataset(ctx context.Context, ws string, req CreateDatasetRequest) (joule.Dataset, error) {
	var d joule.Dataset
	err := c.do(ctx, "POST", wsPath(ws, "/datasets"), nil, req, &d)
	return d, err
}

// ListDatasets returns one page of a workspace's datasets.
func (c *Client) ListDatasets(ctx context.Context, ws string, opt joule.ListOptions) (Page[joule.Dataset], error) {
	var p Page[joule.Dataset]
	err := c.do(ctx, "GET", wsPath(ws, "/datasets"), pageQuery(opt), nil, &p)
	return p, err
}

func datasetPath(ws, ref, rest string) string {
	return wsPath(ws, "/datasets/"+url.PathEscape(ref)+rest)
}

func versionPath(ws, ref string, version int, rest string) string {
	v := "latest"
	if version > 0 {
		v = strconv.Itoa(version)
	}
	return datasetPath(ws, ref, "/versions/"+v+rest)
}

// GetDatasetVersion returns version n of a dataset (0: the latest).
func (c *Client) GetDatasetVersion(ctx context.Context, ws, ref string, n int) (DatasetVersionView, error) {
	var v DatasetVersionView
	err := c.do(ctx, "GET", versionPath(ws, ref, n, ""), nil, nil, &v)
	return v, err
}

// ListDatasetVersions returns one page of a dataset's versions.
func (c *Client) ListDatasetVersions(ctx context.Context, ws, ref string, opt joule.ListOptions) (Page[joule.DatasetVersion], error) {
	var p Page[joule.DatasetVersion]
	err := c.do(ctx, "GET", datasetPath(ws, ref, "/versions"), pageQuery(opt), nil, &p)
	return p, err
}

// DeleteDataset deletes a dataset and its versions.
func (c *Client) DeleteDataset(ctx context.Context, ws, ref string) (joule.Dataset, error) {
	var d joule.Dataset
	err := c.do(ctx, "DELETE", datasetPath(ws, ref, ""), nil, nil, &d)
	return d, err
}

func rowsQuery(limit, offset int64) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.FormatInt(limit, 10))
	}
	if offset > 0 {
		q.Set("offset", strconv.FormatInt(offset, 10))
	}
	return q
}

// PreviewDataset returns rows of a version.
func (c *Client) PreviewDataset(ctx context.Context, ws, ref string, n int, limit, offset int64) (joule.DatasetRows, error) {
	var t joule.DatasetRows
	err := c.do(ctx, "GET", versionPath(ws, ref, n, "/preview"), rowsQuery(limit, offset), nil, &t)
	return t, err
}

// DatasetRejects returns the rejected rows of a version.
func (c *Client) DatasetRejects(ctx context.Context, ws, ref string, n int, limit, offset int64) ([]joule.Reject, error) {
	var r []joule.Reject
	err := c.do(ctx, "GET", versionPath(ws, ref, n, "/rejects"), rowsQuery(limit, offset), nil, &r)
	return r, err
}

// IngestPath asks the server to ingest a file on its own disk.
func (c *Client) IngestPath(ctx context.Context, ws, name string, req IngestPathRequest) (DatasetVersionView, error) {
	var v DatasetVersionView
	err := c.do(ctx, "POST", datasetPath(ws, name, "/ingest"), nil, req, &v)
	return v, err
}

// uploadQuery encodes ingest options for the upload route.
func uploadQuery(filename string, opt joule.IngestOptions) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filename", filename)
	set("format", opt.Format)
	set("delimiter", opt.CSV.Delimiter)
	set("quote", opt.CSV.Quote)
	set("header", opt.CSV.Header)
	set("encoding", opt.CSV.Encoding)
	join := func(m map[string]string) string {
		var parts []string
		for k, v := range m {
			parts = append(parts, k+":"+v)
		}
		return strings.Join(parts, ",")
	}
	set("types", join(opt.Types))
	set("roles", join(opt.Roles))
	if opt.MaxRejectRatio != nil {
		q.Set("max_reject_ratio", strconv.FormatFloat(*opt.MaxRejectRatio, 'g', -1, 64))
	}
	return q
}

// UploadDataset streams body (size bytes, or -1 when unknown) to the server
// as the next version of the named dataset.
func (c *Client) UploadDataset(ctx context.Context, ws, name, filename string, body io.Reader, size int64, opt joule.IngestOptions) (DatasetVersionView, error) {
	var v DatasetVersionView
	resp, err := c.sendRaw(ctx, "POST", datasetPath(ws, name, "/upload"), uploadQuery(filename, opt), body, size, "application/octet-stream")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, joule.Errorf(joule.EINTERNAL, "decode upload response: %v", err)
	}
	return v, nil
}

// ExportDataset copies a version to w as csv, jsonl or parquet.
func (c *Client) ExportDataset(ctx context.Context, ws, ref string, n int, format string, w io.Writer) error {
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	resp, err := c.sendRaw(ctx, "GET", versionPath(ws, ref, n, "/export"), q, nil, 0, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// sendRaw sends a request with a raw body and no overall timeout, and
// returns a 2xx response or the error rebuilt from the body.
func (c *Client) sendRaw(ctx context.Context, method, path string, q url.Values, body io.Reader, size int64, contentType string) (*http.Response, error) {
	if c.BaseURL == "" {
		return nil, joule.Errorf(joule.EINVALID, "no server: run `joule login --server URL --token TOKEN`, or set --server / JOULE_SERVER")
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "server: %q is not a valid URL: %v", c.BaseURL, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "joule-cli/"+joule.Version)
	hc := c.HTTPClient
	if hc == nil {
		hc = streamingClient
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

// ApplyRecipe queues a recipe job on version n (0: latest) of a dataset.
func (c *Client) ApplyRecipe(ctx context.Context, ws, ref string, req ApplyRecipeRequest) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", datasetPath(ws, ref, "/recipes"), nil, req, &j)
	return j, err
}

// RegisterDatasetVersion records a version a recipe job wrote.
func (c *Client) RegisterDatasetVersion(ctx context.Context, ws, ref string, v joule.DatasetVersion) (joule.DatasetVersion, error) {
	var out joule.DatasetVersion
	err := c.do(ctx, "POST", datasetPath(ws, ref, "/versions"), nil, v, &out)
	return out, err
}

// TransformRow applies the fitted recipe that made version n to one row.
func (c *Client) TransformRow(ctx context.Context, ws, ref string, n int, row json.RawMessage) (map[string]any, error) {
	var out TransformResponse
	err := c.do(ctx, "POST", versionPath(ws, ref, n, "/transform"), nil, TransformRequest{Row: row}, &out)
	return out.Row, err
}

// ImportDataset makes the next version from a URL or a database query.
func (c *Client) ImportDataset(ctx context.Context, ws, name string, req ImportRequest) (DatasetVersionView, error) {
	var v DatasetVersionView
	hc := c.HTTPClient
	if hc == nil {
		hc = streamingClient // a large import takes longer than the default timeout
	}
	cc := *c
	cc.HTTPClient = hc
	err := cc.do(ctx, "POST", datasetPath(ws, name, "/import"), nil, req, &v)
	return v, err
}
