-- 008_sustain: sustainability management (joule.SustainStore). Baselines,
-- targets and KPIs are kept as JSON documents keyed by kind, workspace and
-- name; every evaluation of a target is kept in its history; KPI points
-- and imported meter series are (workspace, series, hour) values, with
-- workspace '' for installation-wide series such as facility meters.

CREATE TABLE sustain_objects (
	id           TEXT  COLLATE "C" NOT NULL PRIMARY KEY,
	kind         TEXT  COLLATE "C" NOT NULL,
	workspace_id TEXT  COLLATE "C" NOT NULL,
	name         TEXT  COLLATE "C" NOT NULL,
	body         JSONB NOT NULL,
	CONSTRAINT sustain_objects_name UNIQUE (kind, workspace_id, name)
);

CREATE TABLE sustain_target_history (
	target_id TEXT        COLLATE "C" NOT NULL REFERENCES sustain_objects (id) ON DELETE CASCADE,
	seq       BIGINT      NOT NULL,
	time      TIMESTAMPTZ NOT NULL,
	body      JSONB       NOT NULL,
	PRIMARY KEY (target_id, seq)
);

CREATE TABLE sustain_series (
	workspace_id TEXT             COLLATE "C" NOT NULL,
	series       TEXT             COLLATE "C" NOT NULL,
	time         TIMESTAMPTZ      NOT NULL,
	value        DOUBLE PRECISION NOT NULL,
	note         TEXT             NOT NULL DEFAULT '',
	PRIMARY KEY (workspace_id, series, time)
);
