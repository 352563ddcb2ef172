package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// AppendPowerSamples records raw node power samples in one transaction.
func (db *DB) AppendPowerSamples(ctx context.Context, ss []joule.PowerSample) error {
	for _, s := range ss {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	if len(ss) == 0 {
		return nil
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO power_samples (node_id, component, method, time, seconds, joules) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, s := range ss {
			if _, err := st.ExecContext(ctx, s.NodeID, s.Component, s.Method, micros(s.Time), s.Seconds, s.Joules); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append power samples: %w", err)
	}
	return nil
}

// ListPowerSamples returns a node's samples with Time in [since, until).
func (db *DB) ListPowerSamples(ctx context.Context, nodeID string, since, until time.Time) ([]joule.PowerSample, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT component, method, time, seconds, joules FROM power_samples
		WHERE node_id = ? AND time >= ? AND time < ? ORDER BY time, component`, nodeID, ceilMicros(since), ceilMicros(until))
	if err != nil {
		return nil, fmt.Errorf("list power samples: %w", err)
	}
	out, err := collect(rows, func(s scanner) (joule.PowerSample, error) {
		p := joule.PowerSample{NodeID: nodeID}
		var t int64
		err := s.Scan(&p.Component, &p.Method, &t, &p.Seconds, &p.Joules)
		p.Time = fromMicros(t)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list power samples: %w", err)
	}
	return out, nil
}

// AddEnergyRollups adds each row into the stored row with the same key.
func (db *DB) AddEnergyRollups(ctx context.Context, rs []joule.EnergyRollup) error {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if len(rs) == 0 {
		return nil
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO energy_rollups (scope, width, node_id, entity, attempt, start, method,
			intensity_source, currency, workspace_id, seconds, measured_j, estimated_j, pue_j, emissions_g, market_g, embodied_g,
			energy_cost, amortisation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (scope, width, node_id, entity, attempt, start, method, intensity_source, currency) DO UPDATE SET
				seconds = seconds + excluded.seconds,
				measured_j = measured_j + excluded.measured_j,
				estimated_j = estimated_j + excluded.estimated_j,
				pue_j = pue_j + excluded.pue_j,
				emissions_g = emissions_g + excluded.emissions_g,
				market_g = market_g + excluded.market_g,
				embodied_g = embodied_g + excluded.embodied_g,
				energy_cost = energy_cost + excluded.energy_cost,
				amortisation = amortisation + excluded.amortisation,
				workspace_id = CASE WHEN workspace_id = '' THEN excluded.workspace_id ELSE workspace_id END`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			if _, err := st.ExecContext(ctx, r.Scope, int64(r.Width/time.Second), r.NodeID, r.Entity, r.Attempt,
				micros(r.Start.Truncate(r.Width)), r.Method, r.IntensitySource, r.Currency, r.WorkspaceID, r.Seconds,
				r.MeasuredJoules, r.EstimatedJoules, r.PUEJoules, r.EmissionsG, r.MarketEmissionsG, r.EmbodiedG,
				r.EnergyCost, r.AmortisationCost); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add energy rollups: %w", err)
	}
	return nil
}

// ListEnergyRollups returns the rows matching f by Start, then Entity.
func (db *DB) ListEnergyRollups(ctx context.Context, f joule.EnergyFilter) ([]joule.EnergyRollup, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where := []string{"scope = ?", "width = ?"}
	args := []any{f.Scope, int64(f.Width / time.Second)}
	for _, c := range []struct {
		col, v string
	}{{"node_id", f.NodeID}, {"workspace_id", f.WorkspaceID}, {"entity", f.Entity}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "start >= ?")
		args = append(args, ceilMicros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "start < ?")
		args = append(args, ceilMicros(f.Until))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT scope, width, node_id, entity, attempt, start, method, intensity_source,
		currency, workspace_id, seconds, measured_j, estimated_j, pue_j, emissions_g, market_g, embodied_g, energy_cost,
		amortisation FROM energy_rollups WHERE `+strings.Join(where, " AND ")+` ORDER BY start, entity, node_id, attempt, method`, args...)
	if err != nil {
		return nil, fmt.Errorf("list energy rollups: %w", err)
	}
	out, err := collect(rows, func(s scanner) (joule.EnergyRollup, error) {
		var r joule.EnergyRollup
		var width, start int64
		var market sql.NullFloat64
		err := s.Scan(&r.Scope, &width, &r.NodeID, &r.Entity, &r.Attempt, &start, &r.Method, &r.IntensitySource,
			&r.Currency, &r.WorkspaceID, &r.Seconds, &r.MeasuredJoules, &r.EstimatedJoules, &r.PUEJoules, &r.EmissionsG,
			&market, &r.EmbodiedG, &r.EnergyCost, &r.AmortisationCost)
		r.Width = time.Duration(width) * time.Second
		r.Start = fromMicros(start)
		if market.Valid {
			m := market.Float64
			r.MarketEmissionsG = &m
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list energy rollups: %w", err)
	}
	return out, nil
}

// PruneEnergy deletes samples and per-minute rollups older than before.
func (db *DB) PruneEnergy(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			"DELETE FROM power_samples WHERE time < ?",
			"DELETE FROM energy_rollups WHERE width = 60 AND start < ?",
		} {
			res, err := tx.ExecContext(ctx, q, micros(before))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune energy: %w", err)
	}
	return n, nil
}
