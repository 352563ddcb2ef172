package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Sustainability objects are JSON documents in sustain_objects, by kind.
const (
	kindBaseline = "baseline"
	kindTarget   = "target"
	kindKPI      = "kpi"
)

func (db *DB) putObject(ctx context.Context, kind, id, workspaceID, name string, v any) error {
	if id == "" {
		return joule.Errorf(joule.EINVALID, "%s ID: required", kind)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, "INSERT INTO sustain_objects (id, kind, workspace_id, name, body) VALUES ($1, $2, $3, $4, $5)",
		id, kind, workspaceID, name, string(body))
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "sustain_objects_name"):
		return joule.Errorf(joule.ECONFLICT, "%s %q already exists", kind, name)
	case violates(err, uniqueViolation, "sustain_objects_pkey"):
		return joule.Errorf(joule.ECONFLICT, "%s ID %q already exists", kind, id)
	}
	return fmt.Errorf("create %s: %w", kind, err)
}

func (db *DB) getObject(ctx context.Context, kind, workspaceID, idOrName string, v any) error {
	var body string
	err := db.pool.QueryRow(ctx, `SELECT body::text FROM sustain_objects WHERE kind = $1 AND workspace_id = $2 AND (id = $3 OR name = $3)
		ORDER BY id = $3 DESC LIMIT 1`, kind, workspaceID, idOrName).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return joule.Errorf(joule.ENOTFOUND, "%s %q not found", kind, idOrName)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", kind, err)
	}
	return json.Unmarshal([]byte(body), v)
}

func listObjects[T any](ctx context.Context, db *DB, kind, workspaceID, order string) ([]T, error) {
	q := "SELECT body::text FROM sustain_objects WHERE kind = $1 AND (workspace_id = $2 OR $2 = '') ORDER BY " + order
	rows, err := db.pool.Query(ctx, q, kind, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	out, err := collect(rows, func(s pgx.Row) (T, error) {
		var v T
		var body string
		if err := s.Scan(&body); err != nil {
			return v, err
		}
		return v, json.Unmarshal([]byte(body), &v)
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return out, nil
}

// CreateBaseline inserts b.
func (db *DB) CreateBaseline(ctx context.Context, b joule.Baseline) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return db.putObject(ctx, kindBaseline, b.ID, b.WorkspaceID, b.Name, b)
}

// GetBaseline returns a baseline by ID or name.
func (db *DB) GetBaseline(ctx context.Context, workspaceID, idOrName string) (joule.Baseline, error) {
	var b joule.Baseline
	return b, db.getObject(ctx, kindBaseline, workspaceID, idOrName, &b)
}

// ListBaselines lists a workspace's baselines by ID.
func (db *DB) ListBaselines(ctx context.Context, workspaceID string) ([]joule.Baseline, error) {
	return listObjects[joule.Baseline](ctx, db, kindBaseline, workspaceID, "id")
}

// CreateTarget inserts t (its Status is not stored: see AppendTargetStatus).
func (db *DB) CreateTarget(ctx context.Context, t joule.Target) error {
	if err := t.Validate(); err != nil {
		return err
	}
	t.Status = nil
	return db.putObject(ctx, kindTarget, t.ID, t.WorkspaceID, t.Name, t)
}

func (db *DB) withStatus(ctx context.Context, t *joule.Target) error {
	var body string
	err := db.pool.QueryRow(ctx, "SELECT body::text FROM sustain_target_history WHERE target_id = $1 ORDER BY seq DESC LIMIT 1", t.ID).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("target status: %w", err)
	}
	t.Status = new(joule.TargetStatus)
	return json.Unmarshal([]byte(body), t.Status)
}

// GetTarget returns a target with its latest status.
func (db *DB) GetTarget(ctx context.Context, workspaceID, idOrName string) (joule.Target, error) {
	var t joule.Target
	if err := db.getObject(ctx, kindTarget, workspaceID, idOrName, &t); err != nil {
		return t, err
	}
	return t, db.withStatus(ctx, &t)
}

// ListTargets lists targets by ID with their latest status.
func (db *DB) ListTargets(ctx context.Context, workspaceID string) ([]joule.Target, error) {
	ts, err := listObjects[joule.Target](ctx, db, kindTarget, workspaceID, "id")
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if err := db.withStatus(ctx, &ts[i]); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// AppendTargetStatus adds an evaluation to a target's history.
func (db *DB) AppendTargetStatus(ctx context.Context, targetID string, s joule.TargetStatus) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Lock the target row so that concurrent appends number in turn.
		var id string
		err := tx.QueryRow(ctx, "SELECT id FROM sustain_objects WHERE id = $1 AND kind = $2 FOR UPDATE", targetID, kindTarget).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return joule.Errorf(joule.ENOTFOUND, "target %q not found", targetID)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sustain_target_history (target_id, seq, time, body)
			VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM sustain_target_history WHERE target_id = $1), $2, $3)`,
			targetID, utcMicro(s.Time), string(body))
		return err
	})
	if err != nil && joule.ErrorCode(err) == joule.EINTERNAL {
		return fmt.Errorf("append target status: %w", err)
	}
	return err
}

// ListTargetHistory returns a target's evaluations, oldest first.
func (db *DB) ListTargetHistory(ctx context.Context, targetID string) ([]joule.TargetStatus, error) {
	rows, err := db.pool.Query(ctx, "SELECT body::text FROM sustain_target_history WHERE target_id = $1 ORDER BY seq", targetID)
	if err != nil {
		return nil, fmt.Errorf("list target history: %w", err)
	}
	out, err := collect(rows, func(s pgx.Row) (joule.TargetStatus, error) {
		var v joule.TargetStatus
		var body string
		if err := s.Scan(&body); err != nil {
			return v, err
		}
		return v, json.Unmarshal([]byte(body), &v)
	})
	if err != nil {
		return nil, fmt.Errorf("list target history: %w", err)
	}
	return out, nil
}

// CreateKPI inserts k.
func (db *DB) CreateKPI(ctx context.Context, k joule.KPI) error {
	if err := k.Validate(); err != nil {
		return err
	}
	return db.putObject(ctx, kindKPI, k.ID, k.WorkspaceID, k.Name, k)
}

// GetKPI returns a KPI by ID or name.
func (db *DB) GetKPI(ctx context.Context, workspaceID, idOrName string) (joule.KPI, error) {
	var k joule.KPI
	return k, db.getObject(ctx, kindKPI, workspaceID, idOrName, &k)
}

// ListKPIs lists a workspace's KPIs by name.
func (db *DB) ListKPIs(ctx context.Context, workspaceID string) ([]joule.KPI, error) {
	if workspaceID == "" {
		return nil, joule.Errorf(joule.EINVALID, "kpis: workspace required")
	}
	return listObjects[joule.KPI](ctx, db, kindKPI, workspaceID, "name")
}

func validSeries(series string) error {
	if series == "" || len(series) > 200 || strings.ContainsAny(series, "\x00\n") {
		return joule.Errorf(joule.EINVALID, "series name %q: want 1 to 200 characters", series)
	}
	return nil
}

// PutSeries stores points, replacing those at the same time.
func (db *DB) PutSeries(ctx context.Context, workspaceID, series string, pts []joule.SeriesPoint) error {
	if err := validSeries(series); err != nil {
		return err
	}
	for _, p := range pts {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, p := range pts {
			b.Queue(`INSERT INTO sustain_series (workspace_id, series, time, value, note) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (workspace_id, series, time) DO UPDATE SET value = excluded.value, note = excluded.note`,
				workspaceID, series, utcMicro(p.Time), p.Value, p.Note)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("put series: %w", err)
	}
	return nil
}

// ListSeries returns a series' points in [since, until), oldest first.
func (db *DB) ListSeries(ctx context.Context, workspaceID, series string, since, until time.Time) ([]joule.SeriesPoint, error) {
	rows, err := db.pool.Query(ctx, `SELECT time, value, note FROM sustain_series WHERE workspace_id = $1 AND series = $2
		AND time >= $3 AND time < $4 ORDER BY time`, workspaceID, series, ceilMicro(since), ceilMicro(until))
	if err != nil {
		return nil, fmt.Errorf("list series: %w", err)
	}
	out, err := collect(rows, func(s pgx.Row) (joule.SeriesPoint, error) {
		var p joule.SeriesPoint
		err := s.Scan(&p.Time, &p.Value, &p.Note)
		p.Time = fromDB(p.Time)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list series: %w", err)
	}
	return out, nil
}

// ListSeriesNames lists a workspace's series with a prefix, by name.
func (db *DB) ListSeriesNames(ctx context.Context, workspaceID, prefix string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT series FROM sustain_series WHERE workspace_id = $1 AND left(series, $2) = $3 ORDER BY series`,
		workspaceID, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, fmt.Errorf("list series names: %w", err)
	}
	out, err := collect(rows, func(s pgx.Row) (string, error) {
		var n string
		return n, s.Scan(&n)
	})
	if err != nil {
		return nil, fmt.Errorf("list series names: %w", err)
	}
	return out, nil
}
