package main

import (
	"context"
	"log/slog"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/model"
	"github.com/joule-dev/joule/internal/serving"
)

// startLifecycle runs the retraining loop of the deployments: the model
// layer trains (a train job repeating the served version's spec on the
// newest dataset version), compares (both versions on the candidate's
// holdout rows) and sets registry stages; the deployments switch versions
// with their Promote.
//
// Hooks the monitoring work connects: its drift alert calls
// Lifecycle.OnDrift, and LifecycleConfig.Live reads the live quality.
func startLifecycle(ctx context.Context, store joule.Store, deployments *serving.Manager, models *model.Service, logger *slog.Logger) (*serving.Lifecycle, error) {
	lc, err := serving.NewLifecycle(serving.LifecycleConfig{
		Deployments: deployments,
		Store:       store,
		Train:       models.SubmitRetrain,
		Compare:     models.Compare,
		Stage: func(ctx context.Context, workspaceID, modelID string, n int, stage string) error {
			_, _, err := models.Promote(ctx, workspaceID, modelID, n, stage)
			return err
		},
		// The live-quality trigger reads the served version's latest
		// window of labelled feedback (the monitor's LiveQuality).
		Live: func(d joule.Deployment) map[string]float64 {
			got, err := deployments.Get(context.Background(), d.WorkspaceID, d.ID)
			if err != nil || got.Status == nil || got.Status.Live == nil {
				return nil
			}
			w := got.Status.Live.Window
			out := map[string]float64{}
			if w.Accuracy != nil {
				out["accuracy"] = *w.Accuracy
			}
			if w.RMSE != nil {
				out["rmse"] = *w.RMSE
			}
			if len(out) == 0 {
				return nil
			}
			return out
		},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	return lc, lc.Start(ctx)
}
