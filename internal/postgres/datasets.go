package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Datasets

const datasetCols = "id, workspace_id, name, description, created_at, created_by, latest_version"

func scanDataset(s pgx.Row) (joule.Dataset, error) {
	var d joule.Dataset
	if err := s.Scan(&d.ID, &d.WorkspaceID, &d.Name, &d.Description, &d.CreatedAt, &d.CreatedBy, &d.LatestVersion); err != nil {
		return d, err
	}
	d.CreatedAt = fromDB(d.CreatedAt)
	return d, nil
}

// CreateDataset inserts d (ECONFLICT if its ID or name in the workspace is
// taken, ENOTFOUND if the workspace does not exist, EINVALID without an ID).
func (db *DB) CreateDataset(ctx context.Context, d joule.Dataset) error {
	if d.ID == "" {
		return joule.Errorf(joule.EINVALID, "dataset ID: required")
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO datasets ("+datasetCols+") VALUES ($1, $2, $3, $4, $5, $6, 0)",
		d.ID, d.WorkspaceID, d.Name, d.Description, utcMicro(d.CreatedAt), d.CreatedBy)
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "datasets_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "dataset %q already exists", d.Name)
	case violates(err, uniqueViolation, "datasets_pkey"):
		return joule.Errorf(joule.ECONFLICT, "dataset ID %q already exists", d.ID)
	case violates(err, foreignKeyViolation, "datasets_workspace_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", d.WorkspaceID)
	}
	return fmt.Errorf("create dataset: %w", err)
}

// GetDataset returns a dataset of the workspace by ID or name (ENOTFOUND).
func (db *DB) GetDataset(ctx context.Context, workspaceID, idOrName string) (joule.Dataset, error) {
	d, err := scanDataset(db.pool.QueryRow(ctx,
		"SELECT "+datasetCols+" FROM datasets WHERE workspace_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1",
		workspaceID, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, joule.Errorf(joule.ENOTFOUND, "dataset %q not found", idOrName)
	}
	if err != nil {
		return d, fmt.Errorf("get dataset: %w", err)
	}
	return d, nil
}

// ListDatasets lists a workspace's datasets by ID (EINVALID for a bad
// cursor).
func (db *DB) ListDatasets(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Dataset, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx,
		"SELECT "+datasetCols+" FROM datasets WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3", workspaceID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list datasets: %w", err)
	}
	ds, err := collect(rows, scanDataset)
	if err != nil {
		return nil, "", fmt.Errorf("list datasets: %w", err)
	}
	ds, next := page(ds, opt.Limit, func(d joule.Dataset) string { return d.ID })
	return ds, next, nil
}

// DeleteDataset deletes a dataset of the workspace and its versions
// (ENOTFOUND).
func (db *DB) DeleteDataset(ctx context.Context, workspaceID, id string) error {
	tag, err := db.pool.Exec(ctx, "DELETE FROM datasets WHERE workspace_id = $1 AND id = $2", workspaceID, id)
	if err != nil {
		return fmt.Errorf("delete dataset: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return joule.Errorf(joule.ENOTFOUND, "dataset %q not found", id)
	}
	return nil
}

// Dataset versions

const versionCols = "id, dataset_id, workspace_id, version, hash, columns, rows, rejected_rows, bytes, format, source, path, " +
	"parent_id, parent_version, recipe, job_id, split, profile, created_at, created_by"

func scanVersion(s pgx.Row) (joule.DatasetVersion, error) {
	var v joule.DatasetVersion
	var columns string
	var recipe, split, profile *string
	if err := s.Scan(&v.ID, &v.DatasetID, &v.WorkspaceID, &v.Version, &v.Hash, &columns, &v.Rows, &v.RejectedRows, &v.Bytes,
		&v.Format, &v.Source, &v.Path, &v.ParentID, &v.ParentVersion, &recipe, &v.JobID, &split, &profile, &v.CreatedAt, &v.CreatedBy); err != nil {
		return v, err
	}
	v.CreatedAt = fromDB(v.CreatedAt)
	if err := json.Unmarshal([]byte(columns), &v.Columns); err != nil {
		return v, fmt.Errorf("version %s columns: %w", v.ID, err)
	}
	if recipe != nil {
		v.Recipe = json.RawMessage(*recipe)
	}
	if split != nil {
		if err := json.Unmarshal([]byte(*split), &v.Split); err != nil {
			return v, fmt.Errorf("version %s split: %w", v.ID, err)
		}
	}
	if profile != nil {
		if err := json.Unmarshal([]byte(*profile), &v.Profile); err != nil {
			return v, fmt.Errorf("version %s profile: %w", v.ID, err)
		}
	}
	return v, nil
}

// nullJSON encodes v as JSON text, or NULL when v is nil.
func nullJSON[T any](v *T) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// CreateDatasetVersion inserts v as the dataset's next version and returns
// it as stored (ENOTFOUND if the dataset does not exist, ECONFLICT if the ID
// is taken, EINVALID without an ID).
func (db *DB) CreateDatasetVersion(ctx context.Context, v joule.DatasetVersion) (joule.DatasetVersion, error) {
	if v.ID == "" {
		return v, joule.Errorf(joule.EINVALID, "dataset version ID: required")
	}
	cols := v.Columns
	if cols == nil {
		cols = []joule.DatasetColumn{}
	}
	columns, err := json.Marshal(cols)
	if err != nil {
		return v, fmt.Errorf("create dataset version: %w", err)
	}
	split, err := nullJSON(v.Split)
	if err != nil {
		return v, fmt.Errorf("create dataset version: %w", err)
	}
	profile, err := nullJSON(v.Profile)
	if err != nil {
		return v, fmt.Errorf("create dataset version: %w", err)
	}
	var recipe *string
	if len(v.Recipe) > 0 {
		r := string(v.Recipe)
		recipe = &r
	}
	v.CreatedAt = utcMicro(v.CreatedAt)
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var ws string
		var latest int
		err := tx.QueryRow(ctx, "SELECT workspace_id, latest_version FROM datasets WHERE id = $1 FOR UPDATE", v.DatasetID).Scan(&ws, &latest)
		if errors.Is(err, pgx.ErrNoRows) {
			return joule.Errorf(joule.ENOTFOUND, "dataset %q not found", v.DatasetID)
		}
		if err != nil {
			return err
		}
		v.WorkspaceID, v.Version = ws, latest+1
		if _, err := tx.Exec(ctx, "INSERT INTO dataset_versions ("+versionCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
			v.ID, v.DatasetID, v.WorkspaceID, v.Version, v.Hash, string(columns), v.Rows, v.RejectedRows, v.Bytes, v.Format, v.Source, v.Path,
			v.ParentID, v.ParentVersion, recipe, v.JobID, split, profile, v.CreatedAt, v.CreatedBy); err != nil {
			if violates(err, uniqueViolation, "dataset_versions_pkey") {
				return joule.Errorf(joule.ECONFLICT, "dataset version ID %q already exists", v.ID)
			}
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE datasets SET latest_version = $1 WHERE id = $2", v.Version, v.DatasetID)
		return err
	})
	if err != nil {
		if joule.ErrorCode(err) != joule.EINTERNAL {
			return v, err
		}
		return v, fmt.Errorf("create dataset version: %w", err)
	}
	return v, nil
}

// GetDatasetVersion returns version n of a dataset, the latest for n = 0
// (ENOTFOUND).
func (db *DB) GetDatasetVersion(ctx context.Context, datasetID string, n int) (joule.DatasetVersion, error) {
	var row pgx.Row
	if n == 0 {
		row = db.pool.QueryRow(ctx, "SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = $1 ORDER BY version DESC LIMIT 1", datasetID)
	} else {
		row = db.pool.QueryRow(ctx, "SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = $1 AND version = $2", datasetID, n)
	}
	v, err := scanVersion(row)
	if errors.Is(err, pgx.ErrNoRows) {
		if n == 0 {
			return v, joule.Errorf(joule.ENOTFOUND, "dataset %q has no versions", datasetID)
		}
		return v, joule.Errorf(joule.ENOTFOUND, "dataset %q has no version %d", datasetID, n)
	}
	if err != nil {
		return v, fmt.Errorf("get dataset version: %w", err)
	}
	return v, nil
}

// ListDatasetVersions lists a dataset's versions, oldest first (EINVALID for
// a bad cursor).
func (db *DB) ListDatasetVersions(ctx context.Context, datasetID string, opt joule.ListOptions) ([]joule.DatasetVersion, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeSeqCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx,
		"SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = $1 AND version > $2 ORDER BY version LIMIT $3", datasetID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list dataset versions: %w", err)
	}
	vs, err := collect(rows, scanVersion)
	if err != nil {
		return nil, "", fmt.Errorf("list dataset versions: %w", err)
	}
	vs, next := page(vs, opt.Limit, func(v joule.DatasetVersion) string { return strconv.Itoa(v.Version) })
	return vs, next, nil
}
