package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/serving"
	"github.com/joule-dev/joule/internal/sustain"
)

// Kinds of the webhook alerts a deployment's monitor sends.
const (
	alertDeploymentDrift   = "deployment.drift"
	alertDeploymentQuality = "deployment.quality"
)

// servingMonitor configures the deployments' monitor: with --alert-webhook,
// each alert event (drift, live quality) is also posted to the webhook,
// signed with its secret as the sustainability alerts are.
func servingMonitor(cfg cli.UpConfig, logger *slog.Logger) (serving.MonitorConfig, error) {
	if cfg.AlertWebhook == "" {
		return serving.MonitorConfig{}, nil
	}
	secret, err := os.ReadFile(cfg.AlertSecretFile)
	if err != nil {
		return serving.MonitorConfig{}, joule.Errorf(joule.EINVALID, "alert_secret_file: %v", err)
	}
	wh := &sustain.Webhook{URL: cfg.AlertWebhook, Secret: bytes.TrimSpace(secret), Logger: logger}
	if err := wh.Validate(); err != nil {
		return serving.MonitorConfig{}, err
	}
	return serving.MonitorConfig{Alert: func(ctx context.Context, d joule.Deployment, e joule.DeploymentEvent) {
		if err := wh.Send(ctx, deploymentAlert(d, e)); err != nil {
			logger.ErrorContext(ctx, "deployment alert not delivered", "deployment", d.Name, "event", e.ID, "err", err)
		}
	}}, nil
}

// deploymentAlert is the webhook body of a deployment's alert event: its
// ID is the event's, so a receiver can look the event up.
func deploymentAlert(d joule.Deployment, e joule.DeploymentEvent) sustain.Alert {
	kind := alertDeploymentDrift
	if strings.HasPrefix(e.Reason, "live quality") {
		kind = alertDeploymentQuality
	}
	return sustain.Alert{ID: e.ID, Kind: kind, Time: e.Time, WorkspaceID: e.WorkspaceID, Subject: "deployment " + d.Name, Message: e.Reason}
}
