package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Workspaces

const workspaceCols = "id, name, description, created_at"

func scanWorkspace(s scanner) (joule.Workspace, error) {
	var w joule.Workspace
	var created int64
	if err := s.Scan(&w.ID, &w.Name, &w.Description, &created); err != nil {
		return w, err
	}
	w.CreatedAt = fromMicros(created)
	return w, nil
}

// CreateWorkspace inserts w. It returns ECONFLICT if the ID or name is taken
// and EINVALID if the ID is empty.
func (db *DB) CreateWorkspace(ctx context.Context, w joule.Workspace) error {
	if w.ID == "" {
		return joule.Errorf(joule.EINVALID, "workspace ID: required")
	}
	_, err := db.write.ExecContext(ctx, "INSERT INTO workspaces ("+workspaceCols+") VALUES (?, ?, ?, ?)",
		w.ID, w.Name, w.Description, micros(w.CreatedAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err, "workspaces.name"):
		return joule.Errorf(joule.ECONFLICT, "workspace name %q already exists", w.Name)
	case isUnique(err, "workspaces.id"):
		return joule.Errorf(joule.ECONFLICT, "workspace ID %q already exists", w.ID)
	}
	return fmt.Errorf("create workspace: %w", err)
}

// GetWorkspace returns the workspace with the given ID or name (ENOTFOUND).
func (db *DB) GetWorkspace(ctx context.Context, idOrName string) (joule.Workspace, error) {
	w, err := scanWorkspace(db.read.QueryRowContext(ctx,
		"SELECT "+workspaceCols+" FROM workspaces WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1", idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return w, joule.Errorf(joule.ENOTFOUND, "workspace %q not found", idOrName)
	}
	if err != nil {
		return w, fmt.Errorf("get workspace: %w", err)
	}
	return w, nil
}

// ListWorkspaces lists workspaces by ID (EINVALID for a bad cursor).
func (db *DB) ListWorkspaces(ctx context.Context, opt joule.ListOptions) ([]joule.Workspace, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+workspaceCols+" FROM workspaces WHERE id > ? ORDER BY id LIMIT ?", after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list workspaces: %w", err)
	}
	ws, err := collect(rows, scanWorkspace)
	if err != nil {
		return nil, "", fmt.Errorf("list workspaces: %w", err)
	}
	ws, next := page(ws, opt.Limit, func(w joule.Workspace) string { return w.ID })
	return ws, next, nil
}

// Tokens

const tokenCols = "id, workspace_id, name, role, hash, created_at, created_by, expires_at, revoked_at"

func scanToken(s scanner) (joule.Token, error) {
	var t joule.Token
	var created int64
	var expires, revoked sql.NullInt64
	if err := s.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.Role, &t.Hash, &created, &t.CreatedBy, &expires, &revoked); err != nil {
		return t, err
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt = fromNullMicros(expires)
	t.RevokedAt = fromNullMicros(revoked)
	return t, nil
}

// CreateToken inserts t. It returns ECONFLICT if its ID, hash, or name within
// the workspace is taken, ENOTFOUND if the workspace does not exist and
// EINVALID if the ID is empty.
func (db *DB) CreateToken(ctx context.Context, t joule.Token) error {
	if t.ID == "" {
		return joule.Errorf(joule.EINVALID, "token ID: required")
	}
	_, err := db.write.ExecContext(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.WorkspaceID, t.Name, string(t.Role), t.Hash, micros(t.CreatedAt), t.CreatedBy,
		nullMicros(t.ExpiresAt), nullMicros(t.RevokedAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err, "tokens.name"):
		return joule.Errorf(joule.ECONFLICT, "token name %q already exists in workspace %q", t.Name, t.WorkspaceID)
	case isUnique(err, "tokens.hash"):
		return joule.Errorf(joule.ECONFLICT, "token hash already exists")
	case isUnique(err, "tokens.id"):
		return joule.Errorf(joule.ECONFLICT, "token ID %q already exists", t.ID)
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", t.WorkspaceID)
	}
	return fmt.Errorf("create token: %w", err)
}

// GetToken returns the token with the given ID (ENOTFOUND).
func (db *DB) GetToken(ctx context.Context, id string) (joule.Token, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, joule.Errorf(joule.ENOTFOUND, "token %q not found", id)
	}
	if err != nil {
		return t, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// GetTokenByHash returns the token with the given secret hash (ENOTFOUND;
// the message does not repeat the hash).
func (db *DB) GetTokenByHash(ctx context.Context, hash string) (joule.Token, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM tokens WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, joule.Errorf(joule.ENOTFOUND, "token not found")
	}
	if err != nil {
		return t, fmt.Errorf("get token by hash: %w", err)
	}
	return t, nil
}

// ListTokens lists the workspace's tokens by ID, revoked ones included
// (EINVALID for a bad cursor). A workspace that does not exist has none.
func (db *DB) ListTokens(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Token, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+tokenCols+" FROM tokens WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?",
		workspaceID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	ts, err := collect(rows, scanToken)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	ts, next := page(ts, opt.Limit, func(t joule.Token) string { return t.ID })
	return ts, next, nil
}

// RevokeToken marks the workspace's token revoked at at. It returns
// ENOTFOUND if the workspace has no such token and ECONFLICT if the token is
// already revoked.
func (db *DB) RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT revoked_at FROM tokens WHERE workspace_id = ? AND id = ?",
			workspaceID, id).Scan(&revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return joule.Errorf(joule.ENOTFOUND, "token %q not found in workspace %q", id, workspaceID)
		case err != nil:
			return err
		case revoked.Valid:
			return joule.Errorf(joule.ECONFLICT, "token %q is already revoked", id)
		}
		_, err = tx.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ?", micros(at), id)
		return err
	})
	if err != nil && joule.ErrorCode(err) == joule.EINTERNAL {
		return fmt.Errorf("revoke token: %w", err)
	}
	return err
}

// Audit

const auditCols = "seq, time, workspace_id, principal, action, resource, request_id, outcome, detail, prev_hash, hash"

func scanAudit(s scanner) (joule.AuditEntry, error) {
	var e joule.AuditEntry
	var t int64
	if err := s.Scan(&e.Seq, &t, &e.WorkspaceID, &e.Principal, &e.Action, &e.Resource, &e.RequestID,
		&e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Time = fromMicros(t)
	return e, nil
}

// AppendAudit appends e to the chain in a write transaction: it truncates
// e.Time to the microsecond in UTC, sets Seq, PrevHash and Hash, stores the
// entry and the new head, and returns the stored entry. Seq and the hashes
// given in e are ignored.
func (db *DB) AppendAudit(ctx context.Context, e joule.AuditEntry) (joule.AuditEntry, error) {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var last int64
		var lastHash string
		if err := tx.QueryRowContext(ctx, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").Scan(&last, &lastHash); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		e.Seq = last + 1
		e.PrevHash = lastHash
		if last == 0 {
			e.PrevHash = joule.AuditGenesis
		}
		e.Hash = e.ComputeHash(e.PrevHash)
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_log ("+auditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			e.Seq, micros(e.Time), e.WorkspaceID, e.Principal, e.Action, e.Resource, e.RequestID,
			e.Outcome, e.Detail, e.PrevHash, e.Hash); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE audit_head SET last_seq = ?, last_hash = ? WHERE id = 1", e.Seq, e.Hash)
		return err
	})
	if err != nil {
		return joule.AuditEntry{}, fmt.Errorf("append audit: %w", err)
	}
	return e, nil
}

// ListAudit lists the entries matching f by Seq, oldest first (EINVALID for
// a bad cursor).
func (db *DB) ListAudit(ctx context.Context, f joule.AuditFilter) ([]joule.AuditEntry, string, error) {
	opt := f.ListOptions.WithDefaults()
	after, err := decodeSeqCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var q strings.Builder
	q.WriteString("SELECT " + auditCols + " FROM audit_log WHERE seq > ?")
	args := []any{after}
	if f.WorkspaceID != "" {
		q.WriteString(" AND workspace_id = ?")
		args = append(args, f.WorkspaceID)
	}
	if !f.Since.IsZero() {
		q.WriteString(" AND time >= ?")
		args = append(args, ceilMicros(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(" AND time < ?")
		args = append(args, ceilMicros(f.Until))
	}
	if f.Principal != "" {
		q.WriteString(" AND principal = ?")
		args = append(args, f.Principal)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// substr and length count characters; LIKE would fold case.
			q.WriteString(" AND substr(action, 1, length(?)) = ?")
			args = append(args, f.Action, f.Action)
		} else {
			q.WriteString(" AND action = ?")
			args = append(args, f.Action)
		}
	}
	q.WriteString(" ORDER BY seq LIMIT ?")
	args = append(args, opt.Limit+1)
	rows, err := db.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	es, err := collect(rows, scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	es, next := page(es, opt.Limit, func(e joule.AuditEntry) string { return strconv.FormatInt(e.Seq, 10) })
	return es, next, nil
}

// VerifyAudit walks the whole chain by Seq in one read transaction and
// checks it against the recorded head. A broken chain is reported in the
// AuditReport; the error is only for database failures.
func (db *DB) VerifyAudit(ctx context.Context) (joule.AuditReport, error) {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return joule.AuditReport{}, fmt.Errorf("verify audit: %w", err)
	}
	defer tx.Rollback()
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash); err != nil {
		return joule.AuditReport{}, fmt.Errorf("verify audit: read head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+auditCols+" FROM audit_log ORDER BY seq")
	if err != nil {
		return joule.AuditReport{}, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	v := joule.NewAuditVerifier()
	var chainErr error
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return joule.AuditReport{}, fmt.Errorf("verify audit: %w", err)
		}
		if chainErr = v.Add(e); chainErr != nil {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return joule.AuditReport{}, fmt.Errorf("verify audit: %w", err)
	}
	if chainErr == nil {
		chainErr = v.Finish(headSeq, headHash)
	}
	return auditReport(v, chainErr)
}

// auditReport turns the verifier's outcome into a report.
func auditReport(v *joule.AuditVerifier, chainErr error) (joule.AuditReport, error) {
	r := joule.AuditReport{OK: chainErr == nil, Entries: v.Count()}
	if chainErr != nil {
		ce, ok := errors.AsType[*joule.AuditChainError](chainErr)
		if !ok {
			return joule.AuditReport{}, fmt.Errorf("verify audit: %w", chainErr)
		}
		r.BrokenAt, r.Reason = ce.Seq, ce.Reason
	}
	return r, nil
}

// Nodes

const nodeCols = "id, name, hostname, os, arch, kernel, cpu_model, cpu_cores, memory_bytes, gpus, meters, labels, state, version, created_at, last_heartbeat, usage"

func scanNode(s scanner) (joule.Node, error) {
	var n joule.Node
	var gpus, meters, labels, usage string
	var created, heartbeat int64
	if err := s.Scan(&n.ID, &n.Name, &n.Hostname, &n.OS, &n.Arch, &n.Kernel, &n.CPUModel, &n.CPUCores,
		&n.MemoryBytes, &gpus, &meters, &labels, &n.State, &n.Version, &created, &heartbeat, &usage); err != nil {
		return n, err
	}
	n.CreatedAt = fromMicros(created)
	n.LastHeartbeat = fromMicros(heartbeat)
	for _, c := range []struct {
		name string
		src  string
		dst  any
	}{{"gpus", gpus, &n.GPUs}, {"meters", meters, &n.Meters}, {"labels", labels, &n.Labels}, {"usage", usage, &n.Usage}} {
		if err := json.Unmarshal([]byte(c.src), c.dst); err != nil {
			return n, fmt.Errorf("node %s: decode %s: %w", n.ID, c.name, err)
		}
	}
	return n, nil
}

// usageJSON encodes u with its time truncated to the microsecond in UTC.
func usageJSON(u *joule.NodeUsage) (string, error) {
	if u != nil {
		c := *u
		c.Time = utcMicro(c.Time)
		u = &c
	}
	b, err := json.Marshal(u)
	return string(b), err
}

// UpsertNode inserts n if no node has its Name, and otherwise overwrites the
// named node's fields except its ID and CreatedAt. It returns the stored
// node; ECONFLICT if n's ID belongs to a node of another name, EINVALID if
// the ID or name is empty.
func (db *DB) UpsertNode(ctx context.Context, n joule.Node) (joule.Node, error) {
	if n.ID == "" {
		return joule.Node{}, joule.Errorf(joule.EINVALID, "node ID: required")
	}
	if n.Name == "" {
		return joule.Node{}, joule.Errorf(joule.EINVALID, "node name: required")
	}
	gpus, err1 := json.Marshal(n.GPUs)
	meters, err2 := json.Marshal(n.Meters)
	labels, err3 := json.Marshal(n.Labels)
	usage, err4 := usageJSON(n.Usage)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return joule.Node{}, fmt.Errorf("upsert node: %w", err)
	}
	got, err := scanNode(db.write.QueryRowContext(ctx, `INSERT INTO nodes (`+nodeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			hostname = excluded.hostname, os = excluded.os, arch = excluded.arch, kernel = excluded.kernel,
			cpu_model = excluded.cpu_model, cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes,
			gpus = excluded.gpus, meters = excluded.meters, labels = excluded.labels, state = excluded.state,
			version = excluded.version, last_heartbeat = excluded.last_heartbeat, usage = excluded.usage
		RETURNING `+nodeCols,
		n.ID, n.Name, n.Hostname, n.OS, n.Arch, n.Kernel, n.CPUModel, n.CPUCores, n.MemoryBytes,
		string(gpus), string(meters), string(labels), string(n.State), n.Version,
		micros(n.CreatedAt), micros(n.LastHeartbeat), usage))
	switch {
	case err == nil:
		return got, nil
	case isUnique(err, "nodes.id"):
		return joule.Node{}, joule.Errorf(joule.ECONFLICT, "node ID %q already exists", n.ID)
	}
	return joule.Node{}, fmt.Errorf("upsert node: %w", err)
}

// GetNode returns the node with the given ID or name (ENOTFOUND).
func (db *DB) GetNode(ctx context.Context, idOrName string) (joule.Node, error) {
	n, err := scanNode(db.read.QueryRowContext(ctx,
		"SELECT "+nodeCols+" FROM nodes WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1", idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return n, joule.Errorf(joule.ENOTFOUND, "node %q not found", idOrName)
	}
	if err != nil {
		return n, fmt.Errorf("get node: %w", err)
	}
	return n, nil
}

// ListNodes lists nodes by ID (EINVALID for a bad cursor).
func (db *DB) ListNodes(ctx context.Context, opt joule.ListOptions) ([]joule.Node, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx, "SELECT "+nodeCols+" FROM nodes WHERE id > ? ORDER BY id LIMIT ?", after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list nodes: %w", err)
	}
	ns, err := collect(rows, scanNode)
	if err != nil {
		return nil, "", fmt.Errorf("list nodes: %w", err)
	}
	ns, next := page(ns, opt.Limit, func(n joule.Node) string { return n.ID })
	return ns, next, nil
}

// Heartbeat sets the node's last heartbeat to at and its usage to usage
// (nil clears it), and marks it ready (ENOTFOUND).
func (db *DB) Heartbeat(ctx context.Context, nodeID string, at time.Time, usage *joule.NodeUsage) error {
	u, err := usageJSON(usage)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	res, err := db.write.ExecContext(ctx, "UPDATE nodes SET last_heartbeat = ?, usage = ?, state = ? WHERE id = ?",
		micros(at), u, string(joule.NodeReady), nodeID)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	} else if n == 0 {
		return joule.Errorf(joule.ENOTFOUND, "node %q not found", nodeID)
	}
	return nil
}

// MarkLostNodes marks ready nodes whose last heartbeat is before cutoff lost
// and returns them by ID.
func (db *DB) MarkLostNodes(ctx context.Context, cutoff time.Time) ([]joule.Node, error) {
	rows, err := db.write.QueryContext(ctx, "UPDATE nodes SET state = ? WHERE state = ? AND last_heartbeat < ? RETURNING "+nodeCols,
		string(joule.NodeLost), string(joule.NodeReady), ceilMicros(cutoff))
	if err != nil {
		return nil, fmt.Errorf("mark lost nodes: %w", err)
	}
	ns, err := collect(rows, scanNode)
	if err != nil {
		return nil, fmt.Errorf("mark lost nodes: %w", err)
	}
	slices.SortFunc(ns, func(a, b joule.Node) int { return strings.Compare(a.ID, b.ID) })
	return ns, nil
}

// Events

const eventCols = "id, time, workspace_id, kind, subject, message"

func scanEvent(s scanner) (joule.Event, error) {
	var e joule.Event
	var t int64
	if err := s.Scan(&e.ID, &t, &e.WorkspaceID, &e.Kind, &e.Subject, &e.Message); err != nil {
		return e, err
	}
	e.Time = fromMicros(t)
	return e, nil
}

// AppendEvent records e (ECONFLICT if its ID is taken, EINVALID if empty).
func (db *DB) AppendEvent(ctx context.Context, e joule.Event) error {
	if e.ID == "" {
		return joule.Errorf(joule.EINVALID, "event ID: required")
	}
	_, err := db.write.ExecContext(ctx, "INSERT INTO events ("+eventCols+") VALUES (?, ?, ?, ?, ?, ?)",
		e.ID, micros(e.Time), e.WorkspaceID, e.Kind, e.Subject, e.Message)
	switch {
	case err == nil:
		return nil
	case isUnique(err, "events.id"):
		return joule.Errorf(joule.ECONFLICT, "event ID %q already exists", e.ID)
	}
	return fmt.Errorf("append event: %w", err)
}

// ListEvents lists the events of the workspace by ID; workspaceID ""
// lists installation-wide events only (EINVALID for a bad cursor).
func (db *DB) ListEvents(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Event, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx,
		"SELECT "+eventCols+" FROM events WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?",
		workspaceID, after, opt.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	es, err := collect(rows, scanEvent)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	es, next := page(es, opt.Limit, func(e joule.Event) string { return e.ID })
	return es, next, nil
}
