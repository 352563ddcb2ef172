-- 005_energy: raw node power samples (pruned after the energy retention)
-- and per-minute and hourly energy rollups per node component and per job
-- attempt (joule.EnergyStore). Times are INTEGER unix microseconds, UTC.
-- No foreign keys: rollups outlive the jobs and nodes they describe.

CREATE TABLE power_samples (
	node_id   TEXT    NOT NULL,
	component TEXT    NOT NULL,
	method    TEXT    NOT NULL,
	time      INTEGER NOT NULL,
	seconds   REAL    NOT NULL,
	joules    REAL    NOT NULL
) STRICT;

CREATE INDEX power_samples_node_time ON power_samples (node_id, time);
CREATE INDEX power_samples_time ON power_samples (time);

-- width is in seconds (60 or 3600). market_g is NULL when any part of the
-- row had no market factor.
CREATE TABLE energy_rollups (
	scope            TEXT    NOT NULL,
	width            INTEGER NOT NULL,
	node_id          TEXT    NOT NULL,
	entity           TEXT    NOT NULL,
	attempt          INTEGER NOT NULL,
	start            INTEGER NOT NULL,
	method           TEXT    NOT NULL,
	intensity_source TEXT    NOT NULL,
	currency         TEXT    NOT NULL,
	workspace_id     TEXT    NOT NULL,
	seconds          REAL    NOT NULL,
	measured_j       REAL    NOT NULL,
	estimated_j      REAL    NOT NULL,
	pue_j            REAL    NOT NULL,
	emissions_g      REAL    NOT NULL,
	market_g         REAL,
	embodied_g       REAL    NOT NULL,
	energy_cost      REAL    NOT NULL,
	amortisation     REAL    NOT NULL,
	PRIMARY KEY (scope, width, node_id, entity, attempt, start, method, intensity_source, currency)
) STRICT;

CREATE INDEX energy_rollups_scope_start ON energy_rollups (scope, width, start);
CREATE INDEX energy_rollups_workspace ON energy_rollups (workspace_id, scope, width, start);
