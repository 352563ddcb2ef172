package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Workspaces

const workspaceCols = "id, name, description, created_at"

func scanWorkspace(s pgx.Row) (joule.Workspace, error) {
	var w joule.Workspace
	if err := s.Scan(&w.ID, &w.Name, &w.Description, &w.CreatedAt); err != nil {
		return w, err
	}
	w.CreatedAt = fromDB(w.CreatedAt)
	return w, nil
}

// CreateWorkspace inserts w. It returns ECONFLICT if the ID or name is taken
// and EINVALID if the ID is empty.
func (db *DB) CreateWorkspace(ctx context.Context, w joule.Workspace) error {
	if w.ID == "" {
		return joule.Errorf(joule.EINVALID, "workspace ID: required")
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO workspaces ("+workspaceCols+") VALUES ($1, $2, $3, $4)",
		w.ID, w.Name, w.Description, utcMicro(w.CreatedAt))
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "workspaces_name_key"):
		return joule.Errorf(joule.ECONFLICT, "workspace name %q already exists", w.Name)
	case violates(err, uniqueViolation, "workspaces_pkey"):
		return joule.Errorf(joule.ECONFLICT, "workspace ID %q already exists", w.ID)
	}
	return fmt.Errorf("create workspace: %w", err)
}

// GetWorkspace returns the workspace with the given ID or name (ENOTFOUND).
func (db *DB) GetWorkspace(ctx context.Context, idOrName string) (joule.Workspace, error) {
	w, err := scanWorkspace(db.pool.QueryRow(ctx,
		"SELECT "+workspaceCols+" FROM workspaces WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1", idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx,
		"SELECT "+workspaceCols+" FROM workspaces WHERE id > $1 ORDER BY id LIMIT $2", after, opt.Limit+1)
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

func scanToken(s pgx.Row) (joule.Token, error) {
	var t joule.Token
	var role string
	if err := s.Scan(&t.ID, &t.WorkspaceID, &t.Name, &role, &t.Hash, &t.CreatedAt, &t.CreatedBy, &t.ExpiresAt, &t.RevokedAt); err != nil {
		return t, err
	}
	t.Role = joule.Role(role)
	t.CreatedAt = fromDB(t.CreatedAt)
	t.ExpiresAt = fromDBPtr(t.ExpiresAt)
	t.RevokedAt = fromDBPtr(t.RevokedAt)
	return t, nil
}

// CreateToken inserts t. It returns ECONFLICT if its ID, hash, or name within
// the workspace is taken, ENOTFOUND if the workspace does not exist and
// EINVALID if the ID is empty.
func (db *DB) CreateToken(ctx context.Context, t joule.Token) error {
	if t.ID == "" {
		return joule.Errorf(joule.EINVALID, "token ID: required")
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		t.ID, t.WorkspaceID, t.Name, string(t.Role), t.Hash, utcMicro(t.CreatedAt), t.CreatedBy,
		utcMicroPtr(t.ExpiresAt), utcMicroPtr(t.RevokedAt))
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "tokens_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "token name %q already exists in workspace %q", t.Name, t.WorkspaceID)
	case violates(err, uniqueViolation, "tokens_hash_key"):
		return joule.Errorf(joule.ECONFLICT, "token hash already exists")
	case violates(err, uniqueViolation, "tokens_pkey"):
		return joule.Errorf(joule.ECONFLICT, "token ID %q already exists", t.ID)
	case violates(err, foreignKeyViolation, "tokens_workspace_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", t.WorkspaceID)
	}
	return fmt.Errorf("create token: %w", err)
}

// GetToken returns the token with the given ID (ENOTFOUND).
func (db *DB) GetToken(ctx context.Context, id string) (joule.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM tokens WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	t, err := scanToken(db.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM tokens WHERE hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx,
		"SELECT "+tokenCols+" FROM tokens WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
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
	tag, err := db.pool.Exec(ctx,
		"UPDATE tokens SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
		utcMicro(at), workspaceID, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var revoked *time.Time
	err = db.pool.QueryRow(ctx, "SELECT revoked_at FROM tokens WHERE workspace_id = $1 AND id = $2",
		workspaceID, id).Scan(&revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return joule.Errorf(joule.ENOTFOUND, "token %q not found in workspace %q", id, workspaceID)
	case err != nil:
		return fmt.Errorf("revoke token: %w", err)
	}
	return joule.Errorf(joule.ECONFLICT, "token %q is already revoked", id)
}

// Audit

const auditCols = "seq, time, workspace_id, principal, action, resource, request_id, outcome, detail, prev_hash, hash"

func scanAudit(s pgx.Row) (joule.AuditEntry, error) {
	var e joule.AuditEntry
	if err := s.Scan(&e.Seq, &e.Time, &e.WorkspaceID, &e.Principal, &e.Action, &e.Resource, &e.RequestID,
		&e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Time = fromDB(e.Time)
	return e, nil
}

// AppendAudit appends e to the chain: in one transaction it locks the head
// row, truncates e.Time to the microsecond in UTC, sets Seq, PrevHash and
// Hash, stores the entry and the new head, and returns the stored entry.
// Seq and the hashes given in e are ignored.
func (db *DB) AppendAudit(ctx context.Context, e joule.AuditEntry) (joule.AuditEntry, error) {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var last int64
		var lastHash string
		if err := tx.QueryRow(ctx, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&last, &lastHash); err != nil {
			return fmt.Errorf("lock head: %w", err)
		}
		e.Seq = last + 1
		e.PrevHash = lastHash
		if last == 0 {
			e.PrevHash = joule.AuditGenesis
		}
		e.Hash = e.ComputeHash(e.PrevHash)
		if _, err := tx.Exec(ctx, "INSERT INTO audit_log ("+auditCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			e.Seq, e.Time, e.WorkspaceID, e.Principal, e.Action, e.Resource, e.RequestID,
			e.Outcome, e.Detail, e.PrevHash, e.Hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1", e.Seq, e.Hash)
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
	args := []any{after}
	q.WriteString("SELECT " + auditCols + " FROM audit_log WHERE seq > $1")
	and := func(cond string, arg any) {
		args = append(args, arg)
		q.WriteString(" AND " + strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.WorkspaceID != "" {
		and("workspace_id = $?", f.WorkspaceID)
	}
	if !f.Since.IsZero() {
		and("time >= $?", ceilMicro(f.Since))
	}
	if !f.Until.IsZero() {
		and("time < $?", ceilMicro(f.Until))
	}
	if f.Principal != "" {
		and("principal = $?", f.Principal)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			and("starts_with(action, $?)", f.Action)
		} else {
			and("action = $?", f.Action)
		}
	}
	args = append(args, opt.Limit+1)
	q.WriteString(" ORDER BY seq LIMIT $" + strconv.Itoa(len(args)))
	rows, err := db.pool.Query(ctx, q.String(), args...)
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

// VerifyAudit walks the whole chain by Seq in one REPEATABLE READ
// transaction and checks it against the recorded head. A broken chain is
// reported in the AuditReport; the error is only for database failures.
func (db *DB) VerifyAudit(ctx context.Context) (joule.AuditReport, error) {
	v := joule.NewAuditVerifier()
	var chainErr error
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var headSeq int64
		var headHash string
		if err := tx.QueryRow(ctx, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT "+auditCols+" FROM audit_log ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			if chainErr = v.Add(e); chainErr != nil {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if chainErr == nil {
			chainErr = v.Finish(headSeq, headHash)
		}
		return nil
	})
	if err != nil {
		return joule.AuditReport{}, fmt.Errorf("verify audit: %w", err)
	}
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

func scanNode(s pgx.Row) (joule.Node, error) {
	var n joule.Node
	var state string
	var gpus, meters, labels, usage []byte
	if err := s.Scan(&n.ID, &n.Name, &n.Hostname, &n.OS, &n.Arch, &n.Kernel, &n.CPUModel, &n.CPUCores,
		&n.MemoryBytes, &gpus, &meters, &labels, &state, &n.Version, &n.CreatedAt, &n.LastHeartbeat, &usage); err != nil {
		return n, err
	}
	n.State = joule.NodeState(state)
	n.CreatedAt = fromDB(n.CreatedAt)
	n.LastHeartbeat = fromDB(n.LastHeartbeat)
	for _, c := range []struct {
		name string
		src  []byte
		dst  any
	}{{"gpus", gpus, &n.GPUs}, {"meters", meters, &n.Meters}, {"labels", labels, &n.Labels}, {"usage", usage, &n.Usage}} {
		if err := json.Unmarshal(c.src, c.dst); err != nil {
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
	got, err := scanNode(db.pool.QueryRow(ctx, `INSERT INTO nodes (`+nodeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (name) DO UPDATE SET
			hostname = excluded.hostname, os = excluded.os, arch = excluded.arch, kernel = excluded.kernel,
			cpu_model = excluded.cpu_model, cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes,
			gpus = excluded.gpus, meters = excluded.meters, labels = excluded.labels, state = excluded.state,
			version = excluded.version, last_heartbeat = excluded.last_heartbeat, usage = excluded.usage
		RETURNING `+nodeCols,
		n.ID, n.Name, n.Hostname, n.OS, n.Arch, n.Kernel, n.CPUModel, n.CPUCores, n.MemoryBytes,
		string(gpus), string(meters), string(labels), string(n.State), n.Version,
		utcMicro(n.CreatedAt), utcMicro(n.LastHeartbeat), usage))
	switch {
	case err == nil:
		return got, nil
	case violates(err, uniqueViolation, "nodes_pkey"):
		return joule.Node{}, joule.Errorf(joule.ECONFLICT, "node ID %q already exists", n.ID)
	}
	return joule.Node{}, fmt.Errorf("upsert node: %w", err)
}

// GetNode returns the node with the given ID or name (ENOTFOUND).
func (db *DB) GetNode(ctx context.Context, idOrName string) (joule.Node, error) {
	n, err := scanNode(db.pool.QueryRow(ctx,
		"SELECT "+nodeCols+" FROM nodes WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1", idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx, "SELECT "+nodeCols+" FROM nodes WHERE id > $1 ORDER BY id LIMIT $2", after, opt.Limit+1)
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
	tag, err := db.pool.Exec(ctx, "UPDATE nodes SET last_heartbeat = $1, usage = $2, state = $3 WHERE id = $4",
		utcMicro(at), u, string(joule.NodeReady), nodeID)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return joule.Errorf(joule.ENOTFOUND, "node %q not found", nodeID)
	}
	return nil
}

// MarkLostNodes marks ready nodes whose last heartbeat is before cutoff lost
// and returns them by ID.
func (db *DB) MarkLostNodes(ctx context.Context, cutoff time.Time) ([]joule.Node, error) {
	rows, err := db.pool.Query(ctx, "UPDATE nodes SET state = $1 WHERE state = $2 AND last_heartbeat < $3 RETURNING "+nodeCols,
		string(joule.NodeLost), string(joule.NodeReady), ceilMicro(cutoff))
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

func scanEvent(s pgx.Row) (joule.Event, error) {
	var e joule.Event
	if err := s.Scan(&e.ID, &e.Time, &e.WorkspaceID, &e.Kind, &e.Subject, &e.Message); err != nil {
		return e, err
	}
	e.Time = fromDB(e.Time)
	return e, nil
}

// AppendEvent records e (ECONFLICT if its ID is taken, EINVALID if empty).
func (db *DB) AppendEvent(ctx context.Context, e joule.Event) error {
	if e.ID == "" {
		return joule.Errorf(joule.EINVALID, "event ID: required")
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO events ("+eventCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		e.ID, utcMicro(e.Time), e.WorkspaceID, e.Kind, e.Subject, e.Message)
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "events_pkey"):
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
	rows, err := db.pool.Query(ctx,
		"SELECT "+eventCols+" FROM events WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
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
