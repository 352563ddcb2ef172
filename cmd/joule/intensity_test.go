package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/sqlite"
)

// gridGauge returns the joule_grid_intensity series: value by source, for
// zone.
func gridGauge(t *testing.T, reg *prometheus.Registry, zone string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "joule_grid_intensity" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["zone"] == zone {
				out[labels["source"]] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestGridIntensityGaugeFollowsLookups records a node's power through the
// sampler's real recording path, with intensity from a time-series file
// whose value changes every hour: joule_grid_intensity follows the
// intensity of the newest interval recorded, and an older interval
// accounted late does not move it back.
func TestGridIntensityGaugeFollowsLookups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csv := filepath.Join(dir, "de.csv")
	if err := os.WriteFile(csv, []byte("timestamp,g_per_kwh\n2026-01-01T00:00:00Z,300\n2026-01-01T01:00:00Z,450\n2026-01-01T02:00:00Z,200\n2026-01-01T03:00:00Z,250\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	es, err := parseEnergySettings(cli.EnergyConfig{CarbonProvider: "file", CarbonFile: csv}, "DE", logger)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	m, err := compute.NewMetrics(reg, store)
	if err != nil {
		t.Fatal(err)
	}
	trackGridIntensity(m, "DE", &es)
	// The file does not cover today: the gauge starts at the static
	// fallback, and the file's source replaces that series below.
	if g := gridGauge(t, reg, "DE"); len(g) != 1 || g["file:de.csv"] != 0 {
		t.Fatalf("at start joule_grid_intensity{zone=DE} = %v, want one series, the static fallback", g)
	}

	p := &powerSampler{store: store, nodeID: "node_1", account: es.account, logger: logger}
	at := func(hhmm string) energy.NodeInterval {
		end, err := time.Parse(time.RFC3339, "2026-01-01T"+hhmm+":00Z")
		if err != nil {
			t.Fatal(err)
		}
		return energy.NodeInterval{Start: end.Add(-time.Second), End: end, CPU: []energy.ComponentEnergy{{Component: "cpu", Joules: 20, Method: "estimated:tdp-curve@1"}}}
	}
	for _, step := range []struct {
		intervals []string
		want      float64
	}{
		{[]string{"00:10"}, 300},
		{[]string{"00:20", "01:30"}, 450},
		{[]string{"00:40"}, 450}, // older than the newest: the gauge stays
		{[]string{"02:05"}, 200},
	} {
		for _, hhmm := range step.intervals {
			p.pending = append(p.pending, at(hhmm))
		}
		p.record(t.Context())
		if len(p.pending) != 0 {
			t.Fatalf("after %v: %d intervals left unrecorded", step.intervals, len(p.pending))
		}
		g := gridGauge(t, reg, "DE")
		if len(g) != 1 {
			t.Fatalf("after %v: joule_grid_intensity{zone=DE} = %v, want one series", step.intervals, g)
		}
		for src, v := range g {
			if v != step.want || src != "file:de.csv" {
				t.Errorf("after recording %v: joule_grid_intensity{zone=DE,source=%q} = %v, want %v from file:de.csv", step.intervals, src, v, step.want)
			}
		}
	}
}
