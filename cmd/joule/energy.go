package main

import (
	"context"
	"log/slog"
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
	st := carbon.DefaultStatic()
	in := st.World()
	src := in.Source + " (no carbon zone configured: world average)"
	if zone != "" {
		var err error
		if in, err = st.Lookup(zone); err != nil {
			return s, joule.Errorf(joule.EINVALID, "carbon_zone: %s", joule.ErrorMessage(err))
		}
		src = in.Source
		if in.Note != "" {
			src += " (" + in.Note + ")"
		}
	}
	g := in.GramsPerKWh
	s.source, s.gPerKWh = src, g
	s.account = energy.AccountConfig{
		PUE:       energy.DefaultPUE,
		Intensity: func(time.Time) (float64, string) { return g, src },
	}
	return s, nil
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
