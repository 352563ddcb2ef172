package sustain_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
	"github.com/joule-dev/joule/internal/sustain"
)

// TestReportModelEnergyCards: the report carries one energy card per model
// version trained in the period — training kWh, measured share, emissions and
// cost from the training job's energy, with the method — and says so for a
// version whose energy is not known.
func TestReportModelEnergyCards(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", nov), Name: "credit", CreatedAt: nov}
	if err := st.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	m := joule.Model{ID: joule.NewID("mdl", nov), WorkspaceID: ws.ID, Name: "german", CreatedAt: nov}
	if err := st.CreateModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	e := &joule.JobEnergy{Joules: 7.2e6, MeasuredJoules: 1.8e6, EstimatedJoules: 5.4e6, Method: "measured:rapl + estimated:tdp-curve@1",
		EmissionsG: 1500, IntensityGPerKWh: 300, IntensitySource: "file de.csv", PUE: 1.25, Cost: 0.9, Currency: "EUR"}
	for i, v := range []joule.ModelVersion{
		{ID: joule.NewID("mv", nov), ModelID: m.ID, WorkspaceID: ws.ID, Algorithm: "random_forest", JobID: "job_1", Energy: e, CreatedAt: nov.Add(48 * time.Hour)},
		{ID: joule.NewID("mv", nov), ModelID: m.ID, WorkspaceID: ws.ID, Algorithm: "xgboost", CreatedAt: nov.Add(72 * time.Hour)},          // imported
		{ID: joule.NewID("mv", nov), ModelID: m.ID, WorkspaceID: ws.ID, Algorithm: "knn", JobID: "job_3", CreatedAt: nov.AddDate(0, 1, 2)}, // December
	} {
		if _, err := st.CreateModelVersion(ctx, v); err != nil {
			t.Fatalf("version %d: %v", i+1, err)
		}
	}
	r, err := sustain.AssembleReport(ctx, st, sustain.ReportRequest{WorkspaceID: ws.ID, Scope: ws.Name, Period: "2026-11",
		Since: nov, Until: nov.AddDate(0, 1, 0), Now: nov.AddDate(0, 1, 5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Models) != 2 {
		t.Fatalf("%d model cards, want the 2 versions trained in November: %+v", len(r.Models), r.Models)
	}
	c := r.Models[0]
	if c.Model != "german" || c.Version != 1 || c.TrainingKWh == nil || math.Abs(*c.TrainingKWh-2) > 1e-12 ||
		math.Abs(c.MeasuredShare-0.25) > 1e-12 || math.Abs(c.EmissionsKg-1.5) > 1e-12 || c.Cost != 0.9 || c.Currency != "EUR" {
		t.Errorf("card of v1 = %+v, want 2 kWh, 25%% measured, 1.5 kg, 0.9 EUR", c)
	}
	if !strings.Contains(c.Method, "measured:rapl + estimated:tdp-curve@1") || !strings.Contains(c.Method, "file de.csv") {
		t.Errorf("v1 method %q does not say how", c.Method)
	}
	if imp := r.Models[1]; imp.TrainingKWh != nil || !strings.Contains(imp.Method, "imported") {
		t.Errorf("imported v2 card = %+v, want no energy and the reason", imp)
	}
	var html strings.Builder
	if err := sustain.RenderHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `id="model-cards"`) || !strings.Contains(html.String(), "imported: training energy not known") {
		t.Error("the HTML report lacks the model energy cards")
	}
}
