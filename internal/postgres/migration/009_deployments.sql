-- 009_deployments: model deployments and their events (scaling decisions
-- with reasons, cold starts). A deployment's settings are one JSON
-- document in body; the columns beside it are the ones queries use. IDs
-- sort bytewise (COLLATE "C").

CREATE TABLE deployments (
	id           TEXT        COLLATE "C" NOT NULL,
	workspace_id TEXT        NOT NULL,
	name         TEXT        NOT NULL,
	body         TEXT        NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	CONSTRAINT deployments_pkey PRIMARY KEY (id),
	CONSTRAINT deployments_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE,
	CONSTRAINT deployments_workspace_id_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE deployment_events (
	id            TEXT        COLLATE "C" NOT NULL,
	deployment_id TEXT        COLLATE "C" NOT NULL,
	body          TEXT        NOT NULL,
	time          TIMESTAMPTZ NOT NULL,
	CONSTRAINT deployment_events_pkey PRIMARY KEY (id),
	CONSTRAINT deployment_events_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE CASCADE
);

CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);
