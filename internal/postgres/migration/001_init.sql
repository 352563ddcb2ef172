-- 001_init: workspaces, tokens, the audit chain, nodes and events.
-- Times are TIMESTAMPTZ (microsecond precision). JSON columns are JSONB.
-- IDs sort bytewise (COLLATE "C"), as in SQLite, whatever the database collation.

CREATE TABLE workspaces (
	id          TEXT        COLLATE "C" NOT NULL,
	name        TEXT        NOT NULL,
	description TEXT        NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	CONSTRAINT workspaces_pkey PRIMARY KEY (id),
	CONSTRAINT workspaces_name_key UNIQUE (name)
);

CREATE TABLE tokens (
	id           TEXT        COLLATE "C" NOT NULL,
	workspace_id TEXT        NOT NULL,
	name         TEXT        NOT NULL,
	role         TEXT        NOT NULL,
	hash         TEXT        NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	created_by   TEXT        NOT NULL DEFAULT '',
	expires_at   TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ,
	CONSTRAINT tokens_pkey PRIMARY KEY (id),
	CONSTRAINT tokens_hash_key UNIQUE (hash),
	CONSTRAINT tokens_workspace_id_name_key UNIQUE (workspace_id, name),
	CONSTRAINT tokens_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE
);

CREATE TABLE audit_log (
	seq          BIGINT      NOT NULL,
	time         TIMESTAMPTZ NOT NULL,
	workspace_id TEXT        NOT NULL,
	principal    TEXT        NOT NULL,
	action       TEXT        NOT NULL,
	resource     TEXT        NOT NULL,
	request_id   TEXT        NOT NULL,
	outcome      TEXT        NOT NULL,
	detail       TEXT        NOT NULL,
	prev_hash    TEXT        NOT NULL,
	hash         TEXT        NOT NULL,
	CONSTRAINT audit_log_pkey PRIMARY KEY (seq)
);

CREATE INDEX audit_log_workspace_seq ON audit_log (workspace_id, seq);
CREATE INDEX audit_log_time ON audit_log (time);

-- audit_head is the end of the chain as of the last append, kept apart from
-- audit_log so that removing the newest entries is detected. AppendAudit
-- locks its one row to serialise appends.
CREATE TABLE audit_head (
	id        INTEGER NOT NULL,
	last_seq  BIGINT  NOT NULL,
	last_hash TEXT    NOT NULL,
	CONSTRAINT audit_head_pkey PRIMARY KEY (id),
	CONSTRAINT audit_head_one_row CHECK (id = 1)
);

INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '');

CREATE TABLE nodes (
	id             TEXT        COLLATE "C" NOT NULL,
	name           TEXT        NOT NULL,
	hostname       TEXT        NOT NULL,
	os             TEXT        NOT NULL,
	arch           TEXT        NOT NULL,
	kernel         TEXT        NOT NULL,
	cpu_model      TEXT        NOT NULL,
	cpu_cores      INTEGER     NOT NULL,
	memory_bytes   BIGINT      NOT NULL,
	gpus           JSONB       NOT NULL,
	meters         JSONB       NOT NULL,
	labels         JSONB       NOT NULL,
	state          TEXT        NOT NULL,
	version        TEXT        NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL,
	last_heartbeat TIMESTAMPTZ NOT NULL,
	usage          JSONB       NOT NULL,
	CONSTRAINT nodes_pkey PRIMARY KEY (id),
	CONSTRAINT nodes_name_key UNIQUE (name)
);

CREATE INDEX nodes_state_heartbeat ON nodes (state, last_heartbeat);

CREATE TABLE events (
	id           TEXT        COLLATE "C" NOT NULL,
	time         TIMESTAMPTZ NOT NULL,
	workspace_id TEXT        NOT NULL DEFAULT '',
	kind         TEXT        NOT NULL,
	subject      TEXT        NOT NULL,
	message      TEXT        NOT NULL,
	CONSTRAINT events_pkey PRIMARY KEY (id)
);

CREATE INDEX events_workspace_id ON events (workspace_id, id);
