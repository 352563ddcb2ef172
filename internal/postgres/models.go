package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Models

const modelCols = "id, workspace_id, name, description, created_at, created_by, latest_version"

func scanModel(s pgx.Row) (joule.Model, error) {
	var m joule.Model
	if err := s.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Description, &m.CreatedAt, &m.CreatedBy, &m.LatestVersion); err != nil {
		return m, err
	}
	m.CreatedAt = fromDB(m.CreatedAt)
	return m, nil
}

// CreateModel inserts m (ECONFLICT if its ID or name in the workspace is
// taken, ENOTFOUND if the workspace does not exist, EINVALID without an ID).
func (db *DB) CreateModel(ctx context.Context, m joule.Model) error {
	if m.ID == "" {
		return joule.Errorf(joule.EINVALID, "model ID: required")
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO models ("+modelCols+") VALUES ($1, $2, $3, $4, $5, $6, 0)",
		m.ID, m.WorkspaceID, m.Name, m.Description, utcMicro(m.CreatedAt), m.CreatedBy)
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "models_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "model %q already exists", m.Name)
	case violates(err, uniqueViolation, "models_pkey"):
		return joule.Errorf(joule.ECONFLICT, "model ID %q already exists", m.ID)
	case violates(err, foreignKeyViolation, "models_workspace_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", m.WorkspaceID)
	}
	return fmt.Errorf("create model: %w", err)
}

// GetModel returns a model of the workspace by ID or name (ENOTFOUND).
func (db *DB) GetModel(ctx context.Context, workspaceID, idOrName string) (joule.Model, error) {
	m, err := scanModel(db.pool.QueryRow(ctx,
		"SELECT "+modelCols+" FROM models WHERE workspace_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1",
		workspaceID, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx,
		"SELECT "+modelCols+" FROM models WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3", workspaceID, after, opt.Limit+1)
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

func scanModelVersion(s pgx.Row) (joule.ModelVersion, error) {
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
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var ws string
		var latest int
		err := tx.QueryRow(ctx, "SELECT workspace_id, latest_version FROM models WHERE id = $1 FOR UPDATE", v.ModelID).Scan(&ws, &latest)
		if errors.Is(err, pgx.ErrNoRows) {
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
		if _, err := tx.Exec(ctx, "INSERT INTO model_versions (id, model_id, workspace_id, version, stage, job_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			v.ID, v.ModelID, v.WorkspaceID, v.Version, v.Stage, v.JobID, string(body), v.CreatedAt); err != nil {
			if violates(err, uniqueViolation, "model_versions_pkey") {
				return joule.Errorf(joule.ECONFLICT, "model version ID %q already exists", v.ID)
			}
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE models SET latest_version = $1 WHERE id = $2", v.Version, v.ModelID)
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

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getModelVersion(ctx context.Context, q queryRower, modelID string, n int, lock string) (joule.ModelVersion, error) {
	var row pgx.Row
	if n == 0 {
		row = q.QueryRow(ctx, "SELECT body FROM model_versions WHERE model_id = $1 ORDER BY version DESC LIMIT 1"+lock, modelID)
	} else {
		row = q.QueryRow(ctx, "SELECT body FROM model_versions WHERE model_id = $1 AND version = $2"+lock, modelID, n)
	}
	v, err := scanModelVersion(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	return getModelVersion(ctx, db.pool, modelID, n, "")
}

// ListModelVersions lists a model's versions, oldest first (EINVALID for a
// bad cursor).
func (db *DB) ListModelVersions(ctx context.Context, modelID string, opt joule.ListOptions) ([]joule.ModelVersion, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeSeqCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx,
		"SELECT body FROM model_versions WHERE model_id = $1 AND version > $2 ORDER BY version LIMIT $3", modelID, after, opt.Limit+1)
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

func updateModelVersion(ctx context.Context, tx pgx.Tx, v joule.ModelVersion) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE model_versions SET stage = $1, body = $2 WHERE id = $3", v.Stage, string(body), v.ID)
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
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Lock the model row: stage changes of one model are serial.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM models WHERE id = $1 FOR UPDATE", modelID); err != nil {
			return err
		}
		var err error
		if v, err = getModelVersion(ctx, tx, modelID, n, " FOR UPDATE"); err != nil {
			return err
		}
		if stage == joule.StageProduction && v.Stage != joule.StageProduction {
			var body string
			err := tx.QueryRow(ctx, "SELECT body FROM model_versions WHERE model_id = $1 AND stage = $2 AND id <> $3", modelID, joule.StageProduction, v.ID).Scan(&body)
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
			} else if !errors.Is(err, pgx.ErrNoRows) {
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
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		v, err := getModelVersion(ctx, tx, modelID, n, " FOR UPDATE")
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
