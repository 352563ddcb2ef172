package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strconv"

	"github.com/joule-dev/joule"
)

func modelPath(ws, ref, rest string) string {
	return wsPath(ws, "/models/"+url.PathEscape(ref)+rest)
}

func modelVersionPath(ws, ref string, version int, rest string) string {
	v := "latest"
	if version > 0 {
		v = strconv.Itoa(version)
	}
	return modelPath(ws, ref, "/versions/"+v+rest)
}

// Train queues a training job.
func (c *Client) Train(ctx context.Context, ws string, spec joule.TrainSpec) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", wsPath(ws, "/models/train"), nil, spec, &j)
	return j, err
}

// Predict queues a batch prediction job.
func (c *Client) Predict(ctx context.Context, ws string, spec joule.PredictSpec) (joule.Job, error) {
	var j joule.Job
	err := c.do(ctx, "POST", wsPath(ws, "/models/predict"), nil, spec, &j)
	return j, err
}

// ListModels returns one page of a workspace's models.
func (c *Client) ListModels(ctx context.Context, ws string, opt joule.ListOptions) (Page[joule.Model], error) {
	var p Page[joule.Model]
	err := c.do(ctx, "GET", wsPath(ws, "/models"), pageQuery(opt), nil, &p)
	return p, err
}

// GetModelVersion returns version n of a model (0: the latest).
func (c *Client) GetModelVersion(ctx context.Context, ws, ref string, n int) (ModelVersionView, error) {
	var v ModelVersionView
	err := c.do(ctx, "GET", modelVersionPath(ws, ref, n, ""), nil, nil, &v)
	return v, err
}

// ListModelVersions returns one page of a model's versions.
func (c *Client) ListModelVersions(ctx context.Context, ws, ref string, opt joule.ListOptions) (Page[joule.ModelVersion], error) {
	var p Page[joule.ModelVersion]
	err := c.do(ctx, "GET", modelPath(ws, ref, "/versions"), pageQuery(opt), nil, &p)
	return p, err
}

// RegisterModelVersion records a version a training job wrote.
func (c *Client) RegisterModelVersion(ctx context.Context, ws, ref string, v joule.ModelVersion) (joule.ModelVersion, error) {
	var out joule.ModelVersion
	err := c.do(ctx, "POST", modelPath(ws, ref, "/versions"), nil, v, &out)
	return out, err
}

// SetModelStage moves version n of a model to a stage.
func (c *Client) SetModelStage(ctx context.Context, ws, ref string, n int, stage string) (StageResponse, error) {
	var out StageResponse
	err := c.do(ctx, "POST", modelVersionPath(ws, ref, n, "/stage"), nil, StageRequest{Stage: stage}, &out)
	return out, err
}

// ModelCard returns a version's model card, markdown or html.
func (c *Client) ModelCard(ctx context.Context, ws, ref string, n int, format string) (string, error) {
	resp, err := c.sendRaw(ctx, "GET", modelVersionPath(ws, ref, n, "/card"), url.Values{"format": {format}}, nil, 0, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// ImportModel imports an XGBoost JSON model as the next version of a model.
func (c *Client) ImportModel(ctx context.Context, ws, name string, data []byte) (joule.ModelVersion, error) {
	var v joule.ModelVersion
	resp, err := c.sendRaw(ctx, "POST", modelPath(ws, name, "/import"), nil, bytes.NewReader(data), int64(len(data)), "application/json")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, joule.Errorf(joule.EINTERNAL, "decode import response: %v", err)
	}
	return v, nil
}
