package main

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/joule-dev/joule/internal/httpapi"
)

// emServer answers Electricity Maps' latest endpoint in its real shape
// with value, or with status when it is not 200.
func emServer(t *testing.T, status int, value float64) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/v3/carbon-intensity/latest" || r.Header.Get("auth-token") != "em-secret" || r.URL.Query().Get("zone") != "DE" {
			http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
			return
		}
		if status != http.StatusOK {
			http.Error(w, `{"error":"scripted"}`, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"zone": "DE", "carbonIntensity": value, "datetime": "2026-11-27T10:00:00.000Z",
			"updatedAt": "2026-11-27T09:52:11.832Z", "createdAt": "2026-11-24T10:44:02.163Z", "emissionFactorType": "lifecycle",
			"isEstimated": false, "estimationMethod": nil})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func runOneJob(t *testing.T, s *server, name string) httpapi.JobDetail {
	t.Helper()
	burn := `end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done`
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", name, "--cpu", "1", "--wait", "--", "sh", "-c", burn); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	out, err := s.cli(t, s.token, nil, "job", "get", name, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d httpapi.JobDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.Energy == nil || d.Energy.Joules <= 0 {
		t.Fatalf("job %s has no energy: %+v", name, d.Energy)
	}
	return d
}

// TestCarbonProviderAndCost: with Electricity Maps configured (its token
// and a test server's URL from the config file), a job's emissions use the
// live intensity; its cost follows the time-of-use prices list plus the
// amortisation of its reserved share; market-based and embodied emissions
// are reported apart.
func TestCarbonProviderAndCost(t *testing.T) {
	t.Parallel()
	srv, hits := emServer(t, http.StatusOK, 123)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "joule.yaml")
	yaml := "carbon_zone: DE\ncarbon_provider: electricitymaps\nelectricitymaps_token: em-secret\ncarbon_api_url: " + srv.URL + "\n" +
		"pue: 1.2\ncurrency: EUR\nmarket_intensity: 50\namortisation_per_node_hour: 0.72\nidle: proportional\n" +
		"prices:\n  - {from: \"00:00\", to: \"12:00\", per_kwh: 0.30}\n  - {from: \"12:00\", to: \"24:00\", per_kwh: 0.30}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--config", cfg)
	e := runOneJob(t, s, "live").Energy
	if e.IntensityGPerKWh != 123 || !strings.Contains(e.IntensitySource, "electricitymaps:DE") || hits.Load() == 0 {
		t.Errorf("intensity %v from %q (%d requests), want 123 from electricitymaps:DE", e.IntensityGPerKWh, e.IntensitySource, hits.Load())
	}
	kWh := e.Joules / 3.6e6 * 1.2
	if e.PUE != 1.2 || math.Abs(e.EmissionsG-kWh*123) > 1e-9*e.EmissionsG {
		t.Errorf("emissions %v at PUE %v, want %v (E × PUE × CI)", e.EmissionsG, e.PUE, kWh*123)
	}
	if e.MarketEmissionsG == nil || math.Abs(*e.MarketEmissionsG-kWh*50) > 1e-9*kWh*50 {
		t.Errorf("market emissions %v, want %v apart from the location-based figure", e.MarketEmissionsG, kWh*50)
	}
	// Energy at 0.30/kWh, plus 0.72 per node-hour × the job's 1 of the
	// node's CPUs × its run time; the run time is not known exactly here,
	// so the amortisation is bounded by 0.72 × share × 10 s.
	amort := e.Cost - kWh*0.30
	if e.Currency != "EUR" || amort <= 0 || amort > 0.72/3600*10 {
		t.Errorf("cost %v %s: energy part %v, amortisation %v; want EUR and 0 < amortisation ≤ %v", e.Cost, e.Currency, kWh*0.30, amort, 0.72/3600*10)
	}
	if e.EmbodiedG <= 0 || !strings.Contains(e.Method, "idle shared by cpu-time share") {
		t.Errorf("embodied %v, method %q; want embodied > 0 and the proportional idle policy named", e.EmbodiedG, e.Method)
	}
}

// TestCarbonProviderFallback: a provider that refuses the token leaves the
// static table in use, with the reason on every figure and a warning logged.
func TestCarbonProviderFallback(t *testing.T) {
	t.Parallel()
	srv, _ := emServer(t, http.StatusUnauthorized, 0)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "joule.yaml")
	if err := os.WriteFile(cfg, []byte("electricitymaps_token: em-secret\ncarbon_api_url: "+srv.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--config", cfg, "--carbon-zone", "DE", "--carbon-provider", "electricitymaps")
	e := runOneJob(t, s, "fallback").Energy
	if !strings.Contains(e.IntensitySource, "Electricity Maps unavailable") || !strings.Contains(e.IntensitySource, "using static table DE") {
		t.Errorf("intensity source %q, want the static DE figure and why", e.IntensitySource)
	}
	if !strings.Contains(s.stderr.String(), "carbon intensity fallback") {
		t.Errorf("no fallback warning logged:\n%s", s.stderr.String())
	}
}
