package main

import (
	"bytes"
	"log/slog"
	"os"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/sustain"
)

// sustainMonitor builds the monitor that evaluates targets and alert
// thresholds hourly and sends alerts to the configured webhook.
func sustainMonitor(cfg cli.UpConfig, store joule.Store, logger *slog.Logger) (*sustain.Monitor, error) {
	m := &sustain.Monitor{Store: store, Logger: logger}
	for _, rule := range strings.Split(cfg.AlertThresholds, ",") {
		if rule = strings.TrimSpace(rule); rule == "" {
			continue
		}
		th, err := sustain.ParseThreshold(rule)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "alert_thresholds: %s", joule.ErrorMessage(err))
		}
		m.Thresholds = append(m.Thresholds, th)
	}
	if cfg.AlertWebhook != "" {
		secret, err := os.ReadFile(cfg.AlertSecretFile)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "alert_secret_file: %v", err)
		}
		m.Webhook = &sustain.Webhook{URL: cfg.AlertWebhook, Secret: bytes.TrimSpace(secret), Logger: logger}
		if err := m.Webhook.Validate(); err != nil {
			return nil, err
		}
		logger.Info("sustainability alerts go to a webhook", "url", cfg.AlertWebhook, "thresholds", len(m.Thresholds))
	}
	return m, nil
}
