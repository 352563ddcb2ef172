-- 004_datasets: datasets and their immutable versions. The rows themselves
-- are Parquet files in the data directory. JSON columns are TEXT, so that
-- a stored recipe reads back byte for byte. IDs sort bytewise (COLLATE "C").

CREATE TABLE datasets (
	id             TEXT        COLLATE "C" NOT NULL,
	workspace_id   TEXT        NOT NULL,
	name           TEXT        NOT NULL,
	description    TEXT        NOT NULL DEFAULT '',
	created_at     TIMESTAMPTZ NOT NULL,
	created_by     TEXT        NOT NULL DEFAULT '',
	latest_version INTEGER     NOT NULL DEFAULT 0,
	CONSTRAINT datasets_pkey PRIMARY KEY (id),
	CONSTRAINT datasets_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE,
	CONSTRAINT datasets_workspace_id_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE dataset_versions (
	id             TEXT        COLLATE "C" NOT NULL,
	dataset_id     TEXT        COLLATE "C" NOT NULL,
	workspace_id   TEXT        NOT NULL,
	version        INTEGER     NOT NULL,
	hash           TEXT        NOT NULL,
	columns        TEXT        NOT NULL,
	rows           BIGINT      NOT NULL,
	rejected_rows  BIGINT      NOT NULL,
	bytes          BIGINT      NOT NULL,
	format         TEXT        NOT NULL,
	source         TEXT        NOT NULL,
	path           TEXT        NOT NULL,
	parent_id      TEXT        NOT NULL DEFAULT '',
	parent_version INTEGER     NOT NULL DEFAULT 0,
	recipe         TEXT,
	job_id         TEXT        NOT NULL DEFAULT '',
	split          TEXT,
	profile        TEXT,
	created_at     TIMESTAMPTZ NOT NULL,
	created_by     TEXT        NOT NULL DEFAULT '',
	CONSTRAINT dataset_versions_pkey PRIMARY KEY (id),
	CONSTRAINT dataset_versions_dataset_id_fkey FOREIGN KEY (dataset_id) REFERENCES datasets (id) ON DELETE CASCADE,
	CONSTRAINT dataset_versions_dataset_id_version_key UNIQUE (dataset_id, version)
);
