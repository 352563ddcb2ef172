package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/joule-dev/joule"
)

// Models

const modelCols = "id, workspace_id, name, description, created_at, created_by, latest_version"

func scanModel(s scanner) (joule.Model, error) {
	var m joule.Model
	var created int64
	if err := s.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Description, &created, &m.CreatedBy, &m.LatestVersion); err != nil {
		return m, err
	}
	m.CreatedAt = fromMicros(created)
	return m, nil
}

// CreateModel inserts m (ECONFLICT if its ID or name in the workspace is
// taken, ENOTFOUND if the workspace does not exist, EINVALID without an ID).
func (db *DB) CreateModel(ctx context.Context, m joule.Model) error {
	if m.ID == "" {
		return joule.Errorf(joule.EINVALID, "model ID: required")
	}
	_, err := db.write.ExecContext(ctx, "INSERT INTO models ("+modelCols+") VALUES (?, ?, ?, ?, ?, ?, 0)",
		m.ID, m.WorkspaceID, m.Name, m.Description, micros(m.CreatedAt), m.CreatedBy)
	switch {
	case err == nil:
		return nil
	case isUnique(err, "models.workspace_id"), isUnique(err, "models.name"):
		return joule.Errorf(joule.ECONFLICT, "model %q already exists", m.Name)
	case isUnique(err, "models.id"):
		return joule.Errorf(joule.ECONFLICT, "model ID %q already exists", m.ID)
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", m.WorkspaceID)
	}
	return fmt.Errorf("create model: %w", err)
}

// GetModel returns a model of the workspace by ID or name (ENOTFOUND).
func (db *DB) GetModel(ctx context.Context, workspaceID, idOrName string) (joule.Model, error) {
	m, err := scanModel(db.read.QueryRowContext(ctx,
		"SELECT "+modelCols+" FROM models WHERE workspace_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
		workspaceID, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return m, joule.Errorf(joule.ENOTFOUND, "model %q not found", idOrName)
	}
	if err != nil {
		return m, fmt.Errorf("get model: %w", err)
	}
	return m, nil
}

// ListModels lists a workspace's models by ID (EINVALID for a bad cursor).
func (db *DB) ListModels(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Model, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+modelCols+" FROM models WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?", workspaceID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list models: %w", err)
	}
	ms, err := collect(rows, scanModel)
	if err != nil {
		return nil, "", fmt.Errorf("list models: %w", err)
	}
	ms, next := page(ms, opt.Limit, func(m joule.Model) string { return m.ID })
	return ms, next, nil
}

// Model versions: the metadata is one JSON document, body.

func scanModelVersion(s scanner) (joule.ModelVersion, error) {
	var v joule.ModelVersion
	var body string
	if err := s.Scan(&body); err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return v, fmt.Errorf("model version body: %w", err)
	}
	return v, nil
}

// CreateModelVersion inserts v as the model's next version and returns it
// as stored (ENOTFOUND if the model does not exist, ECONFLICT if the ID is
// taken, EINVALID without an ID or with an unknown stage).
func (db *DB) CreateModelVersion(ctx context.Context, v joule.ModelVersion) (joule.ModelVersion, error) {
	if v.ID == "" {
		return v, joule.Errorf(joule.EINVALID, "model version ID: required")
	}
	if v.Stage == "" {
		v.Stage = joule.StageNone
	}
	if err := joule.ValidateStage(v.Stage); err != nil {
		return v, err
	}
	v.CreatedAt = utcMicro(v.CreatedAt)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var ws string
		var latest int
		err := tx.QueryRowContext(ctx, "SELECT workspace_id, latest_version FROM models WHERE id = ?", v.ModelID).Scan(&ws, &latest)
		if errors.Is(err, sql.ErrNoRows) {
			return joule.Errorf(joule.ENOTFOUND, "model %q not found", v.ModelID)
		}
		if err != nil {
			return err
		}
		v.WorkspaceID, v.Version = ws, latest+1
		body, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO model_versions (id, model_id, workspace_id, version, stage, job_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			v.ID, v.ModelID, v.WorkspaceID, v.Version, v.Stage, v.JobID, string(body), micros(v.CreatedAt)); err != nil {
			if isUnique(err, "model_versions.id") {
				return joule.Errorf(joule.ECONFLICT, "model version ID %q already exists", v.ID)
			}
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE models SET latest_version = ? WHERE id = ?", v.Version, v.ModelID)
		return err
	})
	if err != nil {
		if joule.ErrorCode(err) != joule.EINTERNAL {
			return v, err
		}
		return v, fmt.Errorf("create model version: %w", err)
	}
	return v, nil
}

func getModelVersion(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, modelID string, n int) (joule.ModelVersion, error) {
	var row *sql.Row
	if n == 0 {
		row = q.QueryRowContext(ctx, "SELECT body FROM model_versions WHERE model_id = ? ORDER BY version DESC LIMIT 1", modelID)
	} else {
		row = q.QueryRowContext(ctx, "SELECT body FROM model_versions WHERE model_id = ? AND version = ?", modelID, n)
	}
	v, err := scanModelVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		if n == 0 {
			return v, joule.Errorf(joule.ENOTFOUND, "model %q has no versions", modelID)
		}
		return v, joule.Errorf(joule.ENOTFOUND, "model %q has no version %d", modelID, n)
	}
	if err != nil {
		return v, fmt.Errorf("get model version: %w", err)
	}
	return v, nil
}

// GetModelVersion returns version n of a model, the latest for n = 0
// (ENOTFOUND).
func (db *DB) GetModelVersion(ctx context.Context, modelID string, n int) (joule.ModelVersion, error) {
	return getModelVersion(ctx, db.read, modelID, n)
}

// ListModelVersions lists a model's versions, oldest first (EINVALID for a
// bad cursor).
func (db *DB) ListModelVersions(ctx context.Context, modelID string, opt joule.ListOptions) ([]joule.ModelVersion, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeSeqCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx,
		"SELECT body FROM model_versions WHERE model_id = ? AND version > ? ORDER BY version LIMIT ?", modelID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list model versions: %w", err)
	}
	vs, err := collect(rows, scanModelVersion)
	if err != nil {
		return nil, "", fmt.Errorf("list model versions: %w", err)
	}
	vs, next := page(vs, opt.Limit, func(v joule.ModelVersion) string { return strconv.Itoa(v.Version) })
	return vs, next, nil
}

// updateModelVersion rewrites a version's body and stage in tx.
func updateModelVersion(ctx context.Context, tx *sql.Tx, v joule.ModelVersion) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE model_versions SET stage = ?, body = ? WHERE id = ?", v.Stage, string(body), v.ID)
	return err
}

// SetModelStage moves version n to stage; moving one to production
// archives the model's other production version (EINVALID, ENOTFOUND).
func (db *DB) SetModelStage(ctx context.Context, modelID string, n int, stage string, at time.Time) (joule.ModelVersion, *joule.ModelVersion, error) {
	if err := joule.ValidateStage(stage); err != nil {
		return joule.ModelVersion{}, nil, err
	}
	at = utcMicro(at)
	var v joule.ModelVersion
	var demoted *joule.ModelVersion
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		if v, err = getModelVersion(ctx, tx, modelID, n); err != nil {
			return err
		}
		if stage == joule.StageProduction && v.Stage != joule.StageProduction {
			var body string
			err := tx.QueryRowContext(ctx, "SELECT body FROM model_versions WHERE model_id = ? AND stage = ? AND id <> ?", modelID, joule.StageProduction, v.ID).Scan(&body)
			if err == nil {
				var old joule.ModelVersion
				if err := json.Unmarshal([]byte(body), &old); err != nil {
					return err
				}
				old.Stage, old.StageChangedAt = joule.StageArchived, &at
				if err := updateModelVersion(ctx, tx, old); err != nil {
					return err
				}
				demoted = &old
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		v.Stage, v.StageChangedAt = stage, &at
		return updateModelVersion(ctx, tx, v)
	})
	if err != nil {
		if joule.ErrorCode(err) != joule.EINTERNAL {
			return v, nil, err
		}
		return v, nil, fmt.Errorf("set model stage: %w", err)
	}
	return v, demoted, nil
}

// SetModelEnergy records version n's training energy (ENOTFOUND).
func (db *DB) SetModelEnergy(ctx context.Context, modelID string, n int, e joule.JobEnergy) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		v, err := getModelVersion(ctx, tx, modelID, n)
		if err != nil {
			return err
		}
		v.Energy = &e
		return updateModelVersion(ctx, tx, v)
	})
	if err != nil && joule.ErrorCode(err) == joule.EINTERNAL {
		return fmt.Errorf("set model energy: %w", err)
	}
	return err
}
