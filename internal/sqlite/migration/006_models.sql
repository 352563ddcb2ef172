-- 006_models: the model registry. A model has immutable, numbered versions;
-- the fitted models are files in the data directory. A version's metadata
-- (metrics, params, features, lineage, energy) is one JSON document in
-- body; the columns beside it are the ones queries select or order by.

CREATE TABLE models (
	id             TEXT    NOT NULL PRIMARY KEY,
	workspace_id   TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name           TEXT    NOT NULL,
	description    TEXT    NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	created_by     TEXT    NOT NULL DEFAULT '',
	latest_version INTEGER NOT NULL DEFAULT 0,
	UNIQUE (workspace_id, name)
) STRICT;

CREATE TABLE model_versions (
	id           TEXT    NOT NULL PRIMARY KEY,
	model_id     TEXT    NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	workspace_id TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	stage        TEXT    NOT NULL,
	job_id       TEXT    NOT NULL DEFAULT '',
	body         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	UNIQUE (model_id, version)
) STRICT;
