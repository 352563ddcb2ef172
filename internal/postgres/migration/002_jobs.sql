-- 002_jobs: jobs, their transitions, attempts, metrics and usage, and cron
-- schedules. Times are TIMESTAMPTZ (microsecond precision). JSON columns are
-- JSONB. IDs sort bytewise (COLLATE "C"), as in SQLite.

CREATE TABLE jobs (
	id           TEXT        COLLATE "C" NOT NULL,
	workspace_id TEXT        NOT NULL,
	name         TEXT        NOT NULL,
	spec         JSONB       NOT NULL,
	state        TEXT        NOT NULL,
	reason       TEXT        NOT NULL DEFAULT '',
	exit_code    INTEGER,
	attempts     INTEGER     NOT NULL DEFAULT 0,
	node_id      TEXT        NOT NULL DEFAULT '',
	gpu_indices  JSONB       NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	created_by   TEXT        NOT NULL DEFAULT '',
	start_at     TIMESTAMPTZ,
	started_at   TIMESTAMPTZ,
	finished_at  TIMESTAMPTZ,
	updated_at   TIMESTAMPTZ NOT NULL,
	CONSTRAINT jobs_pkey PRIMARY KEY (id),
	CONSTRAINT jobs_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE
);

CREATE INDEX jobs_workspace_name_id ON jobs (workspace_id, name, id);
CREATE INDEX jobs_workspace_id ON jobs (workspace_id, id);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_node_state ON jobs (node_id, state);

-- seq numbers a job's transitions from 1, in the order they happened.
CREATE TABLE job_transitions (
	job_id     TEXT        COLLATE "C" NOT NULL,
	seq        INTEGER     NOT NULL,
	time       TIMESTAMPTZ NOT NULL,
	from_state TEXT        NOT NULL,
	to_state   TEXT        NOT NULL,
	reason     TEXT        NOT NULL,
	attempt    INTEGER     NOT NULL,
	CONSTRAINT job_transitions_pkey PRIMARY KEY (job_id, seq),
	CONSTRAINT job_transitions_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE TABLE job_attempts (
	job_id      TEXT             COLLATE "C" NOT NULL,
	n           INTEGER          NOT NULL,
	node_id     TEXT             NOT NULL,
	pid         INTEGER          NOT NULL,
	state       TEXT             NOT NULL,
	reason      TEXT             NOT NULL,
	exit_code   INTEGER,
	signal      TEXT             NOT NULL,
	started_at  TIMESTAMPTZ      NOT NULL,
	finished_at TIMESTAMPTZ,
	log_path    TEXT             NOT NULL,
	limits      TEXT             NOT NULL,
	cpu_user    DOUBLE PRECISION NOT NULL,
	cpu_sys     DOUBLE PRECISION NOT NULL,
	peak_memory BIGINT           NOT NULL,
	CONSTRAINT job_attempts_pkey PRIMARY KEY (job_id, n),
	CONSTRAINT job_attempts_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

-- seq orders metrics as reported, across every job.
CREATE TABLE job_metrics (
	seq     BIGINT           GENERATED ALWAYS AS IDENTITY,
	job_id  TEXT             COLLATE "C" NOT NULL,
	attempt INTEGER          NOT NULL,
	name    TEXT             NOT NULL,
	value   DOUBLE PRECISION NOT NULL,
	step    BIGINT,
	time    TIMESTAMPTZ      NOT NULL,
	CONSTRAINT job_metrics_pkey PRIMARY KEY (seq),
	CONSTRAINT job_metrics_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE INDEX job_metrics_job_seq ON job_metrics (job_id, seq);

CREATE TABLE job_usage (
	seq       BIGINT           GENERATED ALWAYS AS IDENTITY,
	job_id    TEXT             COLLATE "C" NOT NULL,
	attempt   INTEGER          NOT NULL,
	time      TIMESTAMPTZ      NOT NULL,
	cpu_user  DOUBLE PRECISION NOT NULL,
	cpu_sys   DOUBLE PRECISION NOT NULL,
	memory    BIGINT           NOT NULL,
	processes INTEGER          NOT NULL,
	gpu_pids  JSONB            NOT NULL,
	CONSTRAINT job_usage_pkey PRIMARY KEY (seq),
	CONSTRAINT job_usage_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE INDEX job_usage_job_attempt_time ON job_usage (job_id, attempt, time, seq);

CREATE TABLE schedules (
	id           TEXT        COLLATE "C" NOT NULL,
	workspace_id TEXT        NOT NULL,
	name         TEXT        NOT NULL,
	cron         TEXT        NOT NULL,
	spec         JSONB       NOT NULL,
	paused       BOOLEAN     NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	created_by   TEXT        NOT NULL DEFAULT '',
	last_run_at  TIMESTAMPTZ,
	next_run_at  TIMESTAMPTZ NOT NULL,
	last_job_id  TEXT        NOT NULL DEFAULT '',
	CONSTRAINT schedules_pkey PRIMARY KEY (id),
	CONSTRAINT schedules_workspace_id_name_key UNIQUE (workspace_id, name),
	CONSTRAINT schedules_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE
);

CREATE INDEX schedules_next_run_at ON schedules (paused, next_run_at);
