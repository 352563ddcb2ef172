-- 009_deployments: model deployments and their events (scaling decisions
-- with reasons, cold starts). A deployment's settings are one JSON
-- document in body; the columns beside it are the ones queries use.

CREATE TABLE deployments (
	id           TEXT    NOT NULL PRIMARY KEY,
	workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	body         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	UNIQUE (workspace_id, name)
) STRICT;

CREATE TABLE deployment_events (
	id            TEXT    NOT NULL PRIMARY KEY,
	deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
	body          TEXT    NOT NULL,
	time          INTEGER NOT NULL
) STRICT;

CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);
