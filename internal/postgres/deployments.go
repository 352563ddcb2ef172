package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Deployments: the settings are one JSON document, body.

func scanDeployment(s pgx.Row) (joule.Deployment, error) {
	var d joule.Deployment
	var body string
	if err := s.Scan(&body); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return d, fmt.Errorf("deployment body: %w", err)
	}
	return d, nil
}

func deploymentBody(d joule.Deployment) (string, error) {
	d.Status = nil
	d.CreatedAt, d.UpdatedAt = utcMicro(d.CreatedAt), utcMicro(d.UpdatedAt)
	b, err := json.Marshal(d)
	return string(b), err
}

// CreateDeployment inserts d (ECONFLICT if its ID or name in the workspace
// is taken, ENOTFOUND if the workspace does not exist, EINVALID without an
// ID).
func (db *DB) CreateDeployment(ctx context.Context, d joule.Deployment) error {
	if d.ID == "" {
		return joule.Errorf(joule.EINVALID, "deployment ID: required")
	}
	body, err := deploymentBody(d)
	if err != nil {
		return fmt.Errorf("create deployment: %w", err)
	}
	_, err = db.pool.Exec(ctx, "INSERT INTO deployments (id, workspace_id, name, body, created_at) VALUES ($1, $2, $3, $4, $5)",
		d.ID, d.WorkspaceID, d.Name, body, utcMicro(d.CreatedAt))
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "deployments_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "deployment %q already exists", d.Name)
	case violates(err, uniqueViolation, "deployments_pkey"):
		return joule.Errorf(joule.ECONFLICT, "deployment ID %q already exists", d.ID)
	case violates(err, foreignKeyViolation, "deployments_workspace_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", d.WorkspaceID)
	}
	return fmt.Errorf("create deployment: %w", err)
}

// GetDeployment returns a deployment of the workspace by ID or name
// (ENOTFOUND).
func (db *DB) GetDeployment(ctx context.Context, workspaceID, idOrName string) (joule.Deployment, error) {
	d, err := scanDeployment(db.pool.QueryRow(ctx,
		"SELECT body FROM deployments WHERE workspace_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1",
		workspaceID, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, joule.Errorf(joule.ENOTFOUND, "deployment %q not found", idOrName)
	}
	if err != nil {
		return d, fmt.Errorf("get deployment: %w", err)
	}
	return d, nil
}

// ListDeployments lists a workspace's deployments (every workspace's for
// "") by ID (EINVALID for a bad cursor).
func (db *DB) ListDeployments(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Deployment, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx,
		"SELECT body FROM deployments WHERE ($1 = '' OR workspace_id = $1) AND id > $2 ORDER BY id LIMIT $3", workspaceID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list deployments: %w", err)
	}
	ds, err := collect(rows, scanDeployment)
	if err != nil {
		return nil, "", fmt.Errorf("list deployments: %w", err)
	}
	ds, next := page(ds, opt.Limit, func(d joule.Deployment) string { return d.ID })
	return ds, next, nil
}

// UpdateDeployment replaces the stored deployment with d's ID, keeping its
// workspace, name and CreatedAt (ENOTFOUND).
func (db *DB) UpdateDeployment(ctx context.Context, d joule.Deployment) error {
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		old, err := scanDeployment(tx.QueryRow(ctx, "SELECT body FROM deployments WHERE id = $1 FOR UPDATE", d.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return joule.Errorf(joule.ENOTFOUND, "deployment %q not found", d.ID)
		}
		if err != nil {
			return err
		}
		d.WorkspaceID, d.Name, d.CreatedAt = old.WorkspaceID, old.Name, old.CreatedAt
		body, err := deploymentBody(d)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE deployments SET body = $1 WHERE id = $2", body, d.ID)
		return err
	})
	if err != nil && joule.ErrorCode(err) == joule.EINTERNAL {
		return fmt.Errorf("update deployment: %w", err)
	}
	return err
}

// DeleteDeployment removes a deployment of the workspace and its events
// (ENOTFOUND).
func (db *DB) DeleteDeployment(ctx context.Context, workspaceID, id string) error {
	tag, err := db.pool.Exec(ctx, "DELETE FROM deployments WHERE workspace_id = $1 AND id = $2", workspaceID, id)
	if err != nil {
		return fmt.Errorf("delete deployment: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return joule.Errorf(joule.ENOTFOUND, "deployment %q not found", id)
	}
	return nil
}

// AppendDeploymentEvent records e (ENOTFOUND without its deployment,
// EINVALID without an ID).
func (db *DB) AppendDeploymentEvent(ctx context.Context, e joule.DeploymentEvent) error {
	if e.ID == "" {
		return joule.Errorf(joule.EINVALID, "deployment event ID: required")
	}
	e.Time = utcMicro(e.Time)
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append deployment event: %w", err)
	}
	_, err = db.pool.Exec(ctx, "INSERT INTO deployment_events (id, deployment_id, body, time) VALUES ($1, $2, $3, $4)",
		e.ID, e.DeploymentID, string(body), e.Time)
	switch {
	case err == nil:
		return nil
	case violates(err, foreignKeyViolation, "deployment_events_deployment_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "deployment %q not found", e.DeploymentID)
	case violates(err, uniqueViolation, "deployment_events_pkey"):
		return joule.Errorf(joule.ECONFLICT, "deployment event ID %q already exists", e.ID)
	}
	return fmt.Errorf("append deployment event: %w", err)
}

// ListDeploymentEvents lists a deployment's events by ID (EINVALID for a
// bad cursor).
func (db *DB) ListDeploymentEvents(ctx context.Context, deploymentID string, opt joule.ListOptions) ([]joule.DeploymentEvent, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx,
		"SELECT body FROM deployment_events WHERE deployment_id = $1 AND id > $2 ORDER BY id LIMIT $3", deploymentID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list deployment events: %w", err)
	}
	es, err := collect(rows, func(s pgx.Row) (joule.DeploymentEvent, error) {
		var e joule.DeploymentEvent
		var body string
		if err := s.Scan(&body); err != nil {
			return e, err
		}
		return e, json.Unmarshal([]byte(body), &e)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list deployment events: %w", err)
	}
	es, next := page(es, opt.Limit, func(e joule.DeploymentEvent) string { return e.ID })
	return es, next, nil
}
