-- 001_init: workspaces, tokens, the audit chain, nodes and events.
-- Times are INTEGER unix microseconds, UTC. JSON columns hold TEXT.

CREATE TABLE workspaces (
	id          TEXT    NOT NULL PRIMARY KEY,
	name        TEXT    NOT NULL UNIQUE,
	description TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	hash         TEXT    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	created_by   TEXT    NOT NULL DEFAULT '',
	expires_at   INTEGER,
	revoked_at   INTEGER,
	UNIQUE (workspace_id, name)
) STRICT;

CREATE TABLE audit_log (
	seq          INTEGER NOT NULL PRIMARY KEY,
	time         INTEGER NOT NULL,
	workspace_id TEXT    NOT NULL,
	principal    TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	resource     TEXT    NOT NULL,
	request_id   TEXT    NOT NULL,
	outcome      TEXT    NOT NULL,
	detail       TEXT    NOT NULL,
	prev_hash    TEXT    NOT NULL,
	hash         TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_log_workspace_seq ON audit_log (workspace_id, seq);
CREATE INDEX audit_log_time ON audit_log (time);

-- audit_head is the end of the chain as of the last append, kept apart from
-- audit_log so that removing the newest entries is detected.
CREATE TABLE audit_head (
	id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	last_seq  INTEGER NOT NULL,
	last_hash TEXT    NOT NULL
) STRICT;

INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '');

CREATE TABLE nodes (
	id             TEXT    NOT NULL PRIMARY KEY,
	name           TEXT    NOT NULL UNIQUE,
	hostname       TEXT    NOT NULL,
	os             TEXT    NOT NULL,
	arch           TEXT    NOT NULL,
	kernel         TEXT    NOT NULL,
	cpu_model      TEXT    NOT NULL,
	cpu_cores      INTEGER NOT NULL,
	memory_bytes   INTEGER NOT NULL,
	gpus           TEXT    NOT NULL,
	meters         TEXT    NOT NULL,
	labels         TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	version        TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	last_heartbeat INTEGER NOT NULL,
	usage          TEXT    NOT NULL
) STRICT;

CREATE INDEX nodes_state_heartbeat ON nodes (state, last_heartbeat);

CREATE TABLE events (
	id           TEXT    NOT NULL PRIMARY KEY,
	time         INTEGER NOT NULL,
	workspace_id TEXT    NOT NULL DEFAULT '',
	kind         TEXT    NOT NULL,
	subject      TEXT    NOT NULL,
	message      TEXT    NOT NULL
) STRICT;

CREATE INDEX events_workspace_id ON events (workspace_id, id);
