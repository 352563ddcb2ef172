-- 006_models: the model registry. A model has immutable, numbered versions;
-- the fitted models are files in the data directory. A version's metadata
-- (metrics, params, features, lineage, energy) is one JSON document in
-- body; the columns beside it are the ones queries select or order by. IDs
-- sort bytewise (COLLATE "C").

CREATE TABLE models (
	id             TEXT        COLLATE "C" NOT NULL,
	workspace_id   TEXT        NOT NULL,
	name           TEXT        NOT NULL,
	description    TEXT        NOT NULL DEFAULT '',
	created_at     TIMESTAMPTZ NOT NULL,
	created_by     TEXT        NOT NULL DEFAULT '',
	latest_version INTEGER     NOT NULL DEFAULT 0,
	CONSTRAINT models_pkey PRIMARY KEY (id),
	CONSTRAINT models_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE,
	CONSTRAINT models_workspace_id_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE model_versions (
	id           TEXT        COLLATE "C" NOT NULL,
	model_id     TEXT        COLLATE "C" NOT NULL,
	workspace_id TEXT        NOT NULL,
	version      INTEGER     NOT NULL,
	stage        TEXT        NOT NULL,
	job_id       TEXT        NOT NULL DEFAULT '',
	body         TEXT        NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	CONSTRAINT model_versions_pkey PRIMARY KEY (id),
	CONSTRAINT model_versions_model_id_fkey FOREIGN KEY (model_id) REFERENCES models (id) ON DELETE CASCADE,
	CONSTRAINT model_versions_model_id_version_key UNIQUE (model_id, version)
);
