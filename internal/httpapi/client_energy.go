package httpapi

import (
	"context"
	"net/url"
	"time"
)

// EnergyQuery selects an energy report: zero times mean the server's
// defaults (the last 24 hours); By is job, workspace or node; Resolution
// is "", "1m" or "1h".
type EnergyQuery struct {
	Since, Until time.Time
	By           string
	Resolution   string
}

// EnergyReport returns the workspace's energy report.
func (c *Client) EnergyReport(ctx context.Context, ws string, q EnergyQuery) (EnergyReport, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339))
	}
	if q.By != "" {
		v.Set("by", q.By)
	}
	if q.Resolution != "" {
		v.Set("resolution", q.Resolution)
	}
	var rep EnergyReport
	err := c.do(ctx, "GET", wsPath(ws, "/energy/report"), v, nil, &rep)
	return rep, err
}

// NodePower returns each node's power over [since, until); zero times mean
// the last hour.
func (c *Client) NodePower(ctx context.Context, since, until time.Time) ([]NodePower, error) {
	v := url.Values{}
	if !since.IsZero() {
		v.Set("since", since.UTC().Format(time.RFC3339))
	}
	if !until.IsZero() {
		v.Set("until", until.UTC().Format(time.RFC3339))
	}
	var out []NodePower
	err := c.do(ctx, "GET", "/v1/energy/nodes", v, nil, &out)
	return out, err
}
