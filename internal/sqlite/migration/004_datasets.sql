-- 004_datasets: datasets and their immutable versions. The rows themselves
-- are Parquet files in the data directory; JSON columns hold TEXT.

CREATE TABLE datasets (
	id             TEXT    NOT NULL PRIMARY KEY,
	workspace_id   TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name           TEXT    NOT NULL,
	description    TEXT    NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	created_by     TEXT    NOT NULL DEFAULT '',
	latest_version INTEGER NOT NULL DEFAULT 0,
	UNIQUE (workspace_id, name)
) STRICT;

CREATE TABLE dataset_versions (
	id             TEXT    NOT NULL PRIMARY KEY,
	dataset_id     TEXT    NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
	workspace_id   TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	hash           TEXT    NOT NULL,
	columns        TEXT    NOT NULL,
	rows           INTEGER NOT NULL,
	rejected_rows  INTEGER NOT NULL,
	bytes          INTEGER NOT NULL,
	format         TEXT    NOT NULL,
	source         TEXT    NOT NULL,
	path           TEXT    NOT NULL,
	parent_id      TEXT    NOT NULL DEFAULT '',
	parent_version INTEGER NOT NULL DEFAULT 0,
	recipe         TEXT,
	job_id         TEXT    NOT NULL DEFAULT '',
	split          TEXT,
	profile        TEXT,
	created_at     INTEGER NOT NULL,
	created_by     TEXT    NOT NULL DEFAULT '',
	UNIQUE (dataset_id, version)
) STRICT;
