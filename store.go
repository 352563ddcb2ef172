package joule

import (
	"context"
	"time"
)

// Store keeps the platform's metadata. Two implementations exist:
// internal/sqlite (the embedded default) and internal/postgres (for many
// machines); internal/storetest holds the contract both pass.
//
// Methods return *Error values with ENOTFOUND, ECONFLICT or EINVALID where
// the caller can act on them; any other error is internal. List methods
// return one page and the cursor of the next ("" when there is none).
// Opening a store runs its migrations and refuses a database whose schema is
// newer than the binary.
type Store interface {
	JobStore
	EnergyStore
	SustainStore
	DatasetStore
	ModelStore
	DeploymentStore

	// Kind names the implementation: "sqlite" or "postgres".
	Kind() string
	// Ping checks that the database answers (EUNAVAILABLE otherwise).
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error

	// CreateWorkspace inserts w (ECONFLICT if the name is taken).
	CreateWorkspace(ctx context.Context, w Workspace) error
	// GetWorkspace returns a workspace by ID or by name (ENOTFOUND).
	GetWorkspace(ctx context.Context, idOrName string) (Workspace, error)
	// ListWorkspaces lists workspaces by ID.
	ListWorkspaces(ctx context.Context, opt ListOptions) ([]Workspace, string, error)

	// CreateToken inserts t (ECONFLICT if its name is taken in the workspace).
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns a token by ID (ENOTFOUND).
	GetToken(ctx context.Context, id string) (Token, error)
	// GetTokenByHash returns the token whose secret hashes to hash (ENOTFOUND).
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	// ListTokens lists a workspace's tokens by ID, revoked ones included.
	ListTokens(ctx context.Context, workspaceID string, opt ListOptions) ([]Token, string, error)
	// RevokeToken marks a token of the workspace revoked at the given time
	// (ENOTFOUND; ECONFLICT if already revoked).
	RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error

	// AppendAudit appends e to the audit chain, setting Seq, PrevHash and
	// Hash atomically, and returns the stored entry.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit lists entries matching f by Seq, oldest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error)
	// VerifyAudit walks the whole chain and reports the first broken entry.
	VerifyAudit(ctx context.Context) (AuditReport, error)

	// UpsertNode registers n, or updates the node with the same name,
	// keeping its ID and CreatedAt. It returns the stored node.
	UpsertNode(ctx context.Context, n Node) (Node, error)
	// GetNode returns a node by ID or name (ENOTFOUND).
	GetNode(ctx context.Context, idOrName string) (Node, error)
	// ListNodes lists nodes by ID.
	ListNodes(ctx context.Context, opt ListOptions) ([]Node, string, error)
	// Heartbeat records that the node is alive at the given time with the
	// given usage (which may be nil), and marks it ready (ENOTFOUND).
	Heartbeat(ctx context.Context, nodeID string, at time.Time, usage *NodeUsage) error
	// MarkLostNodes marks ready nodes whose last heartbeat is before cutoff
	// as lost and returns them.
	MarkLostNodes(ctx context.Context, cutoff time.Time) ([]Node, error)

	// AppendEvent records e.
	AppendEvent(ctx context.Context, e Event) error
	// ListEvents lists events by ID; workspaceID "" lists installation-wide
	// events only.
	ListEvents(ctx context.Context, workspaceID string, opt ListOptions) ([]Event, string, error)
}
