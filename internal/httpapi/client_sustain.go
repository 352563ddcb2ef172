package httpapi

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// SustainQuery selects a period (Period, or Since and Until; zero means the
// last 30 days) and a slice.
type SustainQuery struct {
	Period       string
	Since, Until time.Time
	Slice        string
	Deadline     string // recommendations only
}

func (q SustainQuery) values() url.Values {
	v := url.Values{}
	if q.Period != "" {
		v.Set("period", q.Period)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339))
	}
	if q.Slice != "" {
		v.Set("slice", q.Slice)
	}
	if q.Deadline != "" {
		v.Set("deadline", q.Deadline)
	}
	return v
}

// Indicators returns every indicator of a workspace's slice over a period.
func (c *Client) Indicators(ctx context.Context, ws string, q SustainQuery) (joule.IndicatorSet, error) {
	var out joule.IndicatorSet
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/indicators"), q.values(), nil, &out)
}

// Indicator returns one indicator with its daily series.
func (c *Client) Indicator(ctx context.Context, ws, name string, q SustainQuery) (IndicatorDetail, error) {
	var out IndicatorDetail
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/indicators/"+url.PathEscape(name)), q.values(), nil, &out)
}

// CreateBaseline snapshots a baseline.
func (c *Client) CreateBaseline(ctx context.Context, ws string, req CreateBaselineRequest) (joule.Baseline, error) {
	var out joule.Baseline
	return out, c.do(ctx, "POST", wsPath(ws, "/sustainability/baselines"), nil, req, &out)
}

// ListBaselines lists a workspace's baselines.
func (c *Client) ListBaselines(ctx context.Context, ws string) ([]joule.Baseline, error) {
	var out []joule.Baseline
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/baselines"), nil, nil, &out)
}

// CreateTarget sets a target and returns it with its first evaluation.
func (c *Client) CreateTarget(ctx context.Context, ws string, req CreateTargetRequest) (joule.Target, error) {
	var out joule.Target
	return out, c.do(ctx, "POST", wsPath(ws, "/sustainability/targets"), nil, req, &out)
}

// ListTargets lists a workspace's targets.
func (c *Client) ListTargets(ctx context.Context, ws string) ([]joule.Target, error) {
	var out []joule.Target
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/targets"), nil, nil, &out)
}

// GetTarget returns a target with a live evaluation and its history.
func (c *Client) GetTarget(ctx context.Context, ws, ref string) (TargetDetail, error) {
	var out TargetDetail
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/targets/"+url.PathEscape(ref)), nil, nil, &out)
}

// CreateKPI defines a custom KPI.
func (c *Client) CreateKPI(ctx context.Context, ws string, req CreateKPIRequest) (joule.KPI, error) {
	var out joule.KPI
	return out, c.do(ctx, "POST", wsPath(ws, "/sustainability/kpis"), nil, req, &out)
}

// ListKPIs lists a workspace's KPIs.
func (c *Client) ListKPIs(ctx context.Context, ws string) ([]joule.KPI, error) {
	var out []joule.KPI
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/kpis"), nil, nil, &out)
}

// AddKPIPoints adds points (or a CSV) to a KPI.
func (c *Client) AddKPIPoints(ctx context.Context, ws, kpi string, req KPIPointsRequest) (KPIPointsResponse, error) {
	var out KPIPointsResponse
	return out, c.do(ctx, "POST", wsPath(ws, "/sustainability/kpis/"+url.PathEscape(kpi)+"/points"), nil, req, &out)
}

// ImportMeter uploads a meter, bill or certificate CSV (installation
// admins).
func (c *Client) ImportMeter(ctx context.Context, req MeterImportRequest) (MeterImportResponse, error) {
	var out MeterImportResponse
	return out, c.do(ctx, "POST", "/v1/sustainability/meters", nil, req, &out)
}

// Recommendations returns a workspace's recommendations over a period.
func (c *Client) Recommendations(ctx context.Context, ws string, q SustainQuery) ([]sustain.Recommendation, error) {
	var out []sustain.Recommendation
	return out, c.do(ctx, "GET", wsPath(ws, "/sustainability/recommendations"), q.values(), nil, &out)
}

// Report returns a period's report as JSON; ws "" asks for the
// installation's (admins).
func (c *Client) Report(ctx context.Context, ws string, q SustainQuery) (sustain.Report, error) {
	var out sustain.Report
	return out, c.do(ctx, "GET", reportPath(ws), q.values(), nil, &out)
}

// ReportRaw returns a period's report in format csv, html or json, as the
// server renders it.
func (c *Client) ReportRaw(ctx context.Context, ws string, q SustainQuery, format string) ([]byte, error) {
	v := q.values()
	v.Set("format", format)
	resp, err := c.send(ctx, "GET", reportPath(ws), v, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func reportPath(ws string) string {
	if ws == "" {
		return "/v1/sustainability/report"
	}
	return wsPath(ws, "/sustainability/report")
}
