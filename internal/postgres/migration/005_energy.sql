-- 005_energy: raw node power samples (pruned after the energy retention)
-- and per-minute and hourly energy rollups per node component and per job
-- attempt (joule.EnergyStore). No foreign keys: rollups outlive the jobs
-- and nodes they describe.

CREATE TABLE power_samples (
	node_id   TEXT             COLLATE "C" NOT NULL,
	component TEXT             NOT NULL,
	method    TEXT             NOT NULL,
	time      TIMESTAMPTZ      NOT NULL,
	seconds   DOUBLE PRECISION NOT NULL,
	joules    DOUBLE PRECISION NOT NULL
);

CREATE INDEX power_samples_node_time ON power_samples (node_id, time);
CREATE INDEX power_samples_time ON power_samples (time);

-- width is in seconds (60 or 3600). market_g is NULL when any part of the
-- row had no market factor.
CREATE TABLE energy_rollups (
	scope            TEXT             COLLATE "C" NOT NULL,
	width            INTEGER          NOT NULL,
	node_id          TEXT             COLLATE "C" NOT NULL,
	entity           TEXT             COLLATE "C" NOT NULL,
	attempt          INTEGER          NOT NULL,
	start            TIMESTAMPTZ      NOT NULL,
	method           TEXT             COLLATE "C" NOT NULL,
	intensity_source TEXT             COLLATE "C" NOT NULL,
	currency         TEXT             COLLATE "C" NOT NULL,
	workspace_id     TEXT             COLLATE "C" NOT NULL,
	seconds          DOUBLE PRECISION NOT NULL,
	measured_j       DOUBLE PRECISION NOT NULL,
	estimated_j      DOUBLE PRECISION NOT NULL,
	pue_j            DOUBLE PRECISION NOT NULL,
	emissions_g      DOUBLE PRECISION NOT NULL,
	market_g         DOUBLE PRECISION,
	embodied_g       DOUBLE PRECISION NOT NULL,
	energy_cost      DOUBLE PRECISION NOT NULL,
	amortisation     DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (scope, width, node_id, entity, attempt, start, method, intensity_source, currency)
);

CREATE INDEX energy_rollups_scope_start ON energy_rollups (scope, width, start);
CREATE INDEX energy_rollups_workspace ON energy_rollups (workspace_id, scope, width, start);
