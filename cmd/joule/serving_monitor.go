package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

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
//
// onDrift, when set, receives every drift alert too: the retraining loop's
// drift trigger (it acts only on deployments whose policy says so).
func servingMonitor(cfg cli.UpConfig, logger *slog.Logger, onDrift func(ctx context.Context, d joule.Deployment, reason string)) (serving.MonitorConfig, error) {
	var wh *sustain.Webhook
	if cfg.AlertWebhook != "" {
		secret, err := os.ReadFile(cfg.AlertSecretFile)
		if err != nil {
			return serving.MonitorConfig{}, joule.Errorf(joule.EINVALID, "alert_secret_file: %v", err)
		}
		wh = &sustain.Webhook{URL: cfg.AlertWebhook, Secret: bytes.TrimSpace(secret), Logger: logger}
		if err := wh.Validate(); err != nil {
			return serving.MonitorConfig{}, err
		}
	}
	return serving.MonitorConfig{Alert: func(ctx context.Context, d joule.Deployment, e joule.DeploymentEvent) {
		a := deploymentAlert(d, e)
		if a.Kind == alertDeploymentDrift && onDrift != nil {
			onDrift(ctx, d, e.Reason)
		}
		if wh == nil {
			return
		}
		if err := wh.Send(ctx, a); err != nil {
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

// monitorCollector exports each deployment's latest drift window and live
// quality on /metrics.
type monitorCollector struct {
	mgr                             *serving.Manager
	drifted, psi, ks, acc, f1, rmse *prometheus.Desc
}

func newMonitorCollector(mgr *serving.Manager) *monitorCollector {
	l := []string{"workspace_id", "deployment"}
	return &monitorCollector{
		mgr:     mgr,
		drifted: prometheus.NewDesc("joule_deployment_drifted", "1 when the latest drift window of the served version drifted, else 0.", l, nil),
		psi:     prometheus.NewDesc("joule_deployment_drift_psi", "PSI of each feature (and \"prediction\") in the latest drift window.", append(l, "feature"), nil),
		ks:      prometheus.NewDesc("joule_deployment_drift_ks", "KS statistic of each feature in the latest drift window.", append(l, "feature"), nil),
		acc:     prometheus.NewDesc("joule_deployment_live_accuracy", "Accuracy over the latest window of labelled rows (classifiers).", l, nil),
		f1:      prometheus.NewDesc("joule_deployment_live_macro_f1", "Macro F1 over the latest window of labelled rows (classifiers).", l, nil),
		rmse:    prometheus.NewDesc("joule_deployment_live_rmse", "RMSE over the latest window of labelled rows (regressors).", l, nil),
	}
}

func (c *monitorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.drifted, c.psi, c.ks, c.acc, c.f1, c.rmse} {
		ch <- d
	}
}

func (c *monitorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.mgr.Deployments() {
		l := []string{d.WorkspaceID, d.Name}
		if r := d.Status.Drift; r != nil && r.Error == "" {
			v := 0.0
			if r.Drifted {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.drifted, prometheus.GaugeValue, v, l...)
			feats := r.Features
			if r.Prediction != nil {
				feats = append(feats, *r.Prediction)
			}
			for _, f := range feats {
				ch <- prometheus.MustNewConstMetric(c.psi, prometheus.GaugeValue, f.PSI, append(l, f.Name)...)
				if f.KS != nil {
					ch <- prometheus.MustNewConstMetric(c.ks, prometheus.GaugeValue, *f.KS, append(l, f.Name)...)
				}
			}
		}
		if q := d.Status.Live; q != nil {
			for desc, v := range map[*prometheus.Desc]*float64{c.acc: q.Window.Accuracy, c.f1: q.Window.MacroF1, c.rmse: q.Window.RMSE} {
				if v != nil {
					ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, *v, l...)
				}
			}
		}
	}
}
