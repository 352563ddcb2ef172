package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	b := &pgx.Batch{}
	for _, s := range ss {
		b.Queue(`INSERT INTO power_samples (node_id, component, method, time, seconds, joules) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.NodeID, s.Component, s.Method, utcMicro(s.Time), s.Seconds, s.Joules)
	}
	if err := db.sendBatch(ctx, b); err != nil {
		return fmt.Errorf("append power samples: %w", err)
	}
	return nil
}

// ListPowerSamples returns a node's samples with Time in [since, until).
func (db *DB) ListPowerSamples(ctx context.Context, nodeID string, since, until time.Time) ([]joule.PowerSample, error) {
	rows, err := db.pool.Query(ctx, `SELECT component, method, time, seconds, joules FROM power_samples
		WHERE node_id = $1 AND time >= $2 AND time < $3 ORDER BY time, component`, nodeID, ceilMicro(since), ceilMicro(until))
	if err != nil {
		return nil, fmt.Errorf("list power samples: %w", err)
	}
	out, err := collect(rows, func(s pgx.Row) (joule.PowerSample, error) {
		p := joule.PowerSample{NodeID: nodeID}
		err := s.Scan(&p.Component, &p.Method, &p.Time, &p.Seconds, &p.Joules)
		p.Time = p.Time.UTC()
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
	b := &pgx.Batch{}
	for _, r := range rs {
		b.Queue(`INSERT INTO energy_rollups AS r (scope, width, node_id, entity, attempt, start, method,
			intensity_source, currency, workspace_id, seconds, measured_j, estimated_j, pue_j, emissions_g, market_g, embodied_g,
			energy_cost, amortisation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT (scope, width, node_id, entity, attempt, start, method, intensity_source, currency) DO UPDATE SET
				seconds = r.seconds + excluded.seconds,
				measured_j = r.measured_j + excluded.measured_j,
				estimated_j = r.estimated_j + excluded.estimated_j,
				pue_j = r.pue_j + excluded.pue_j,
				emissions_g = r.emissions_g + excluded.emissions_g,
				market_g = r.market_g + excluded.market_g,
				embodied_g = r.embodied_g + excluded.embodied_g,
				energy_cost = r.energy_cost + excluded.energy_cost,
				amortisation = r.amortisation + excluded.amortisation,
				workspace_id = CASE WHEN r.workspace_id = '' THEN excluded.workspace_id ELSE r.workspace_id END`,
			r.Scope, int64(r.Width/time.Second), r.NodeID, r.Entity, r.Attempt, utcMicro(r.Start.Truncate(r.Width)), r.Method,
			r.IntensitySource, r.Currency, r.WorkspaceID, r.Seconds, r.MeasuredJoules, r.EstimatedJoules, r.PUEJoules,
			r.EmissionsG, r.MarketEmissionsG, r.EmbodiedG, r.EnergyCost, r.AmortisationCost)
	}
	if err := db.sendBatch(ctx, b); err != nil {
		return fmt.Errorf("add energy rollups: %w", err)
	}
	return nil
}

// ListEnergyRollups returns the rows matching f by Start, then Entity.
func (db *DB) ListEnergyRollups(ctx context.Context, f joule.EnergyFilter) ([]joule.EnergyRollup, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	args := []any{f.Scope, int64(f.Width / time.Second)}
	where := []string{"scope = $1", "width = $2"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.NodeID != "" {
		add("node_id = $%d", f.NodeID)
	}
	if f.WorkspaceID != "" {
		add("workspace_id = $%d", f.WorkspaceID)
	}
	if f.Entity != "" {
		add("entity = $%d", f.Entity)
	}
	if !f.Since.IsZero() {
		add("start >= $%d", ceilMicro(f.Since))
	}
	if !f.Until.IsZero() {
		add("start < $%d", ceilMicro(f.Until))
	}
	rows, err := db.pool.Query(ctx, `SELECT scope, width, node_id, entity, attempt, start, method, intensity_source,
		currency, workspace_id, seconds, measured_j, estimated_j, pue_j, emissions_g, market_g, embodied_g, energy_cost,
		amortisation FROM energy_rollups WHERE `+strings.Join(where, " AND ")+` ORDER BY start, entity, node_id, attempt, method`, args...)
	if err != nil {
		return nil, fmt.Errorf("list energy rollups: %w", err)
	}
	out, err := collect(rows, func(s pgx.Row) (joule.EnergyRollup, error) {
		var r joule.EnergyRollup
		var width int64
		err := s.Scan(&r.Scope, &width, &r.NodeID, &r.Entity, &r.Attempt, &r.Start, &r.Method, &r.IntensitySource,
			&r.Currency, &r.WorkspaceID, &r.Seconds, &r.MeasuredJoules, &r.EstimatedJoules, &r.PUEJoules, &r.EmissionsG,
			&r.MarketEmissionsG, &r.EmbodiedG, &r.EnergyCost, &r.AmortisationCost)
		r.Width = time.Duration(width) * time.Second
		r.Start = r.Start.UTC()
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
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, q := range []string{
			"DELETE FROM power_samples WHERE time < $1",
			"DELETE FROM energy_rollups WHERE width = 60 AND start < $1",
		} {
			tag, err := tx.Exec(ctx, q, utcMicro(before))
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune energy: %w", err)
	}
	return n, nil
}
