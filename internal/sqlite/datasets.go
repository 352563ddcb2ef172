package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/joule-dev/joule"
)

// Datasets

const datasetCols = "id, workspace_id, name, description, created_at, created_by, latest_version"

func scanDataset(s scanner) (joule.Dataset, error) {
	var d joule.Dataset
	var created int64
	if err := s.Scan(&d.ID, &d.WorkspaceID, &d.Name, &d.Description, &created, &d.CreatedBy, &d.LatestVersion); err != nil {
		return d, err
	}
	d.CreatedAt = fromMicros(created)
	return d, nil
}

// CreateDataset inserts d (ECONFLICT if its ID or name in the workspace is
// taken, ENOTFOUND if the workspace does not exist, EINVALID without an ID).
func (db *DB) CreateDataset(ctx context.Context, d joule.Dataset) error {
	if d.ID == "" {
		return joule.Errorf(joule.EINVALID, "dataset ID: required")
	}
	_, err := db.write.ExecContext(ctx, "INSERT INTO datasets ("+datasetCols+") VALUES (?, ?, ?, ?, ?, ?, 0)",
		d.ID, d.WorkspaceID, d.Name, d.Description, micros(d.CreatedAt), d.CreatedBy)
	switch {
	case err == nil:
		return nil
	case isUnique(err, "datasets.workspace_id"), isUnique(err, "datasets.name"):
		return joule.Errorf(joule.ECONFLICT, "dataset %q already exists", d.Name)
	case isUnique(err, "datasets.id"):
		return joule.Errorf(joule.ECONFLICT, "dataset ID %q already exists", d.ID)
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", d.WorkspaceID)
	}
	return fmt.Errorf("create dataset: %w", err)
}

// GetDataset returns a dataset of the workspace by ID or name (ENOTFOUND).
func (db *DB) GetDataset(ctx context.Context, workspaceID, idOrName string) (joule.Dataset, error) {
	d, err := scanDataset(db.read.QueryRowContext(ctx,
		"SELECT "+datasetCols+" FROM datasets WHERE workspace_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
		workspaceID, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+datasetCols+" FROM datasets WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?", workspaceID, after, opt.Limit+1)
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
	res, err := db.write.ExecContext(ctx, "DELETE FROM datasets WHERE workspace_id = ? AND id = ?", workspaceID, id)
	if err != nil {
		return fmt.Errorf("delete dataset: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return joule.Errorf(joule.ENOTFOUND, "dataset %q not found", id)
	}
	return nil
}

// Dataset versions

const versionCols = "id, dataset_id, workspace_id, version, hash, columns, rows, rejected_rows, bytes, format, source, path, " +
	"parent_id, parent_version, recipe, job_id, split, profile, created_at, created_by"

func scanVersion(s scanner) (joule.DatasetVersion, error) {
	var v joule.DatasetVersion
	var columns string
	var recipe, split, profile sql.NullString
	var created int64
	if err := s.Scan(&v.ID, &v.DatasetID, &v.WorkspaceID, &v.Version, &v.Hash, &columns, &v.Rows, &v.RejectedRows, &v.Bytes,
		&v.Format, &v.Source, &v.Path, &v.ParentID, &v.ParentVersion, &recipe, &v.JobID, &split, &profile, &created, &v.CreatedBy); err != nil {
		return v, err
	}
	v.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(columns), &v.Columns); err != nil {
		return v, fmt.Errorf("version %s columns: %w", v.ID, err)
	}
	if recipe.Valid {
		v.Recipe = json.RawMessage(recipe.String)
	}
	if split.Valid {
		if err := json.Unmarshal([]byte(split.String), &v.Split); err != nil {
			return v, fmt.Errorf("version %s split: %w", v.ID, err)
		}
	}
	if profile.Valid {
		if err := json.Unmarshal([]byte(profile.String), &v.Profile); err != nil {
			return v, fmt.Errorf("version %s profile: %w", v.ID, err)
		}
	}
	return v, nil
}

// nullJSON encodes v as JSON TEXT, or NULL when v is nil.
func nullJSON[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// CreateDatasetVersion inserts v as the dataset's next version and returns
// it as stored (ENOTFOUND if the dataset does not exist, ECONFLICT if the ID
// is taken, EINVALID without an ID).
func (db *DB) CreateDatasetVersion(ctx context.Context, v joule.DatasetVersion) (joule.DatasetVersion, error) {
	if v.ID == "" {
		return v, joule.Errorf(joule.EINVALID, "dataset version ID: required")
	}
	columns, err := json.Marshal(nonNilSlice(v.Columns))
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
	var recipe any
	if len(v.Recipe) > 0 {
		recipe = string(v.Recipe)
	}
	v.CreatedAt = utcMicro(v.CreatedAt)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		var ws string
		var latest int
		err := tx.QueryRowContext(ctx, "SELECT workspace_id, latest_version FROM datasets WHERE id = ?", v.DatasetID).Scan(&ws, &latest)
		if errors.Is(err, sql.ErrNoRows) {
			return joule.Errorf(joule.ENOTFOUND, "dataset %q not found", v.DatasetID)
		}
		if err != nil {
			return err
		}
		v.WorkspaceID, v.Version = ws, latest+1
		if _, err := tx.ExecContext(ctx, "INSERT INTO dataset_versions ("+versionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			v.ID, v.DatasetID, v.WorkspaceID, v.Version, v.Hash, string(columns), v.Rows, v.RejectedRows, v.Bytes, v.Format, v.Source, v.Path,
			v.ParentID, v.ParentVersion, recipe, v.JobID, split, profile, micros(v.CreatedAt), v.CreatedBy); err != nil {
			if isUnique(err, "dataset_versions.id") {
				return joule.Errorf(joule.ECONFLICT, "dataset version ID %q already exists", v.ID)
			}
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE datasets SET latest_version = ? WHERE id = ?", v.Version, v.DatasetID)
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
	var row *sql.Row
	if n == 0 {
		row = db.read.QueryRowContext(ctx, "SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = ? ORDER BY version DESC LIMIT 1", datasetID)
	} else {
		row = db.read.QueryRowContext(ctx, "SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = ? AND version = ?", datasetID, n)
	}
	v, err := scanVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+versionCols+" FROM dataset_versions WHERE dataset_id = ? AND version > ? ORDER BY version LIMIT ?", datasetID, after, opt.Limit+1)
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

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
