package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/energy"
)

// DefaultEnergyRetention is how long raw power samples and per-minute
// rollups are kept when energy_retention is not set.
const DefaultEnergyRetention = 7 * 24 * time.Hour

// energySettings are a node's parsed energy settings.
type energySettings struct {
	roots     meterRoots
	retention time.Duration
	// account prices and weighs energy; source and gPerKWh describe the
	// intensity for the grid-intensity metric.
	account energy.AccountConfig
	policy  energy.IdlePolicy
	source  string
	gPerKWh float64
}

// parseEnergySettings checks c, naming the config key of a bad setting.
func parseEnergySettings(c cli.EnergyConfig, zone string, logger *slog.Logger) (energySettings, error) {
	s := energySettings{roots: meterRoots{powercap: c.PowercapRoot, hwmon: c.HwmonRoot}, retention: DefaultEnergyRetention, policy: energy.IdleSeparate}
	if c.Retention != "" {
		d, err := parseDays(c.Retention)
		if err != nil || d < time.Hour {
			return s, joule.Errorf(joule.EINVALID, "energy_retention: %q is not a duration of an hour or more, such as 7d or 36h", c.Retention)
		}
		s.retention = d
	}
	num := func(key, v string, def, lo float64) (float64, error) {
		if v == "" {
			return def, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= lo) || math.IsInf(f, 0) {
			return 0, joule.Errorf(joule.EINVALID, "%s: %q is not a number ≥ %g", key, v, lo)
		}
		return f, nil
	}
	var err error
	a := &s.account
	if a.PUE, err = num("pue", c.PUE, energy.DefaultPUE, 1); err != nil {
		return s, err
	}
	if a.AmortisationPerNodeHour, err = num("amortisation_per_node_hour", c.AmortisationPerNodeHour, 0, 0); err != nil {
		return s, err
	}
	if a.EmbodiedKgCO2e, err = num("embodied_kgco2e", c.EmbodiedKgCO2e, energy.DefaultEmbodiedKgCO2e, 0); err != nil {
		return s, err
	}
	if a.LifetimeYears, err = num("lifetime_years", c.LifetimeYears, energy.DefaultLifetimeYears, 0.01); err != nil {
		return s, err
	}
	if c.MarketIntensity != "" {
		m, err := num("market_intensity", c.MarketIntensity, 0, 0)
		if err != nil {
			return s, err
		}
		a.MarketIntensity = func(time.Time) (float64, string) { return m, "market-based factor (configured)" }
	}
	if a.Price, err = parsePrice(c); err != nil {
		return s, err
	}
	a.Currency = c.Currency
	if (c.Price != "" || len(c.Prices) > 0 || a.AmortisationPerNodeHour > 0) && c.Currency == "" {
		return s, joule.Errorf(joule.EINVALID, "currency: required with a price or an amortisation (e.g. EUR)")
	}
	switch c.Idle {
	case "", "separate":
	case "proportional":
		s.policy = energy.IdleProportional
	default:
		return s, joule.Errorf(joule.EINVALID, "idle: %q is not separate or proportional", c.Idle)
	}
	lookup, err := carbonLookup(c, zone, logger)
	if err != nil {
		return s, err
	}
	a.Intensity = func(t time.Time) (float64, string) {
		in := lookup.At(context.Background(), t)
		return in.GramsPerKWh, carbon.Label(in)
	}
	s.gPerKWh, s.source = a.Intensity(time.Now())
	return s, nil
}

// carbonLookup builds the node's intensity lookup from its provider
// settings. A zone the static table lacks is an error (it is the fallback).
func carbonLookup(c cli.EnergyConfig, zone string, logger *slog.Logger) (*carbon.Lookup, error) {
	if zone != "" {
		if _, err := carbon.DefaultStatic().Lookup(zone); err != nil {
			return nil, joule.Errorf(joule.EINVALID, "carbon_zone: %s", joule.ErrorMessage(err))
		}
	}
	l := &carbon.Lookup{Zone: zone, Chain: &carbon.Chain{Logger: logger.With("subsystem", "carbon")}}
	opts := carbon.HTTPOptions{BaseURL: c.CarbonAPIURL}
	need := func(what, v string) error {
		if v == "" {
			return joule.Errorf(joule.EINVALID, "carbon_provider: %s needs %s", c.CarbonProvider, what)
		}
		return nil
	}
	switch c.CarbonProvider {
	case "", "electricitymaps", "watttime", "uk", "file":
	default:
		return nil, joule.Errorf(joule.EINVALID, "carbon_provider: %q is not electricitymaps, watttime, uk or file", c.CarbonProvider)
	}
	if c.CarbonProvider != "" && c.CarbonProvider != "file" && zone == "" {
		return nil, joule.Errorf(joule.EINVALID, "carbon_provider: %s needs a carbon zone (--carbon-zone)", c.CarbonProvider)
	}
	switch c.CarbonProvider {
	case "":
		if c.CarbonFile != "" {
			return nil, joule.Errorf(joule.EINVALID, "carbon_file: needs --carbon-provider file")
		}
	case "electricitymaps":
		if err := need("a token (JOULE_ELECTRICITYMAPS_TOKEN or electricitymaps_token)", c.ElectricityMapsToken); err != nil {
			return nil, err
		}
		em := carbon.NewElectricityMaps(c.ElectricityMapsToken)
		em.HTTPOptions = opts
		l.Chain.Live, l.Chain.LiveName = em, "Electricity Maps"
	case "watttime":
		if err := need("a user name and password (JOULE_WATTTIME_USERNAME, JOULE_WATTTIME_PASSWORD)", c.WattTimeUsername+c.WattTimePassword); err != nil {
			return nil, err
		}
		wt := carbon.NewWattTime(c.WattTimeUsername, c.WattTimePassword)
		wt.HTTPOptions = opts
		l.Chain.Live, l.Chain.LiveName = wt, "WattTime"
	case "uk":
		uk := carbon.NewUKCarbonIntensity()
		uk.HTTPOptions = opts
		l.Chain.Live, l.Chain.LiveName = uk, "UK Carbon Intensity"
	case "file":
		if err := need("a time-series CSV (--carbon-file)", c.CarbonFile); err != nil {
			return nil, err
		}
		f, err := os.Open(c.CarbonFile)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "carbon_file: %v", err)
		}
		defer f.Close()
		series, rep, err := carbon.ParseCSV(f, c.CarbonFile)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "carbon_file: %s", joule.ErrorMessage(err))
		}
		logger.Info("carbon intensity from a file", "file", c.CarbonFile, "from", series.Start(), "to", series.End(), "points", series.Len(), "gaps_filled", len(rep.Filled))
		l.File, l.FileName = &series, filepath.Base(c.CarbonFile)
	}
	return l, nil
}

// parsePrice reads price (a number or a schedule) and the prices list.
func parsePrice(c cli.EnergyConfig) (energy.Price, error) {
	var p energy.Price
	if c.Price != "" && len(c.Prices) > 0 {
		return p, joule.Errorf(joule.EINVALID, "price: set price or prices, not both")
	}
	if len(c.Prices) > 0 {
		parts := make([]string, len(c.Prices))
		for i, b := range c.Prices {
			parts[i] = fmt.Sprintf("%s-%s=%s", b.From, b.To, strconv.FormatFloat(b.PerKWh, 'g', -1, 64))
		}
		ts, err := energy.ParseTariffs(strings.Join(parts, ","))
		if err != nil {
			return p, joule.Errorf(joule.EINVALID, "prices: %v", err)
		}
		p.Schedule = ts
		return p, nil
	}
	if c.Price == "" {
		return p, nil
	}
	if f, err := strconv.ParseFloat(c.Price, 64); err == nil {
		if !(f >= 0) || math.IsInf(f, 0) {
			return p, joule.Errorf(joule.EINVALID, "price: %q is not a price ≥ 0", c.Price)
		}
		p.FlatPerKWh = f
		return p, nil
	}
	ts, err := energy.ParseTariffs(c.Price)
	if err != nil {
		return p, joule.Errorf(joule.EINVALID, "price: %v", err)
	}
	p.Schedule = ts
	return p, nil
}

// parseDays parses a Go duration, or a whole number of days written "7d".
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100*365 {
			return 0, strconv.ErrSyntax
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// pruner deletes raw power samples and per-minute rollups older than the
// retention, once at start and then every interval.
type pruner struct {
	store     joule.EnergyStore
	retention time.Duration
	every     time.Duration
	logger    *slog.Logger
}

// run prunes until ctx is done.
func (p pruner) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		n, err := p.store.PruneEnergy(ctx, time.Now().Add(-p.retention))
		switch {
		case err != nil && ctx.Err() == nil:
			p.logger.Warn("prune energy samples", "err", err)
		case n > 0:
			p.logger.Debug("pruned energy samples and minute rollups", "rows", n, "retention", p.retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
