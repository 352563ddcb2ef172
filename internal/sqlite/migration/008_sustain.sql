-- 008_sustain: sustainability management (joule.SustainStore). Baselines,
-- targets and KPIs are kept as JSON documents keyed by kind, workspace and
-- name; every evaluation of a target is kept in its history; KPI points
-- and imported meter series are (workspace, series, hour) values, with
-- workspace '' for installation-wide series such as facility meters.

CREATE TABLE sustain_objects (
	id           TEXT NOT NULL PRIMARY KEY,
	kind         TEXT NOT NULL,
	workspace_id TEXT NOT NULL,
	name         TEXT NOT NULL,
	body         TEXT NOT NULL,
	UNIQUE (kind, workspace_id, name)
);

CREATE TABLE sustain_target_history (
	target_id TEXT    NOT NULL REFERENCES sustain_objects (id) ON DELETE CASCADE,
	seq       INTEGER NOT NULL,
	time      INTEGER NOT NULL,
	body      TEXT    NOT NULL,
	PRIMARY KEY (target_id, seq)
);

CREATE TABLE sustain_series (
	workspace_id TEXT    NOT NULL,
	series       TEXT    NOT NULL,
	time         INTEGER NOT NULL,
	value        REAL    NOT NULL,
	note         TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (workspace_id, series, time)
);
