-- 002_jobs: jobs, their transitions, attempts, metrics and usage, and cron
-- schedules. Times are INTEGER unix microseconds, UTC. JSON columns hold TEXT.

CREATE TABLE jobs (
	id           TEXT    NOT NULL PRIMARY KEY,
	workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	spec         TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	reason       TEXT    NOT NULL DEFAULT '',
	exit_code    INTEGER,
	attempts     INTEGER NOT NULL DEFAULT 0,
	node_id      TEXT    NOT NULL DEFAULT '',
	gpu_indices  TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	created_by   TEXT    NOT NULL DEFAULT '',
	start_at     INTEGER,
	started_at   INTEGER,
	finished_at  INTEGER,
	updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX jobs_workspace_name_id ON jobs (workspace_id, name, id);
CREATE INDEX jobs_workspace_id ON jobs (workspace_id, id);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_node_state ON jobs (node_id, state);

-- seq numbers a job's transitions from 1, in the order they happened.
CREATE TABLE job_transitions (
	job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	time       INTEGER NOT NULL,
	from_state TEXT    NOT NULL,
	to_state   TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	attempt    INTEGER NOT NULL,
	PRIMARY KEY (job_id, seq)
) STRICT;

CREATE TABLE job_attempts (
	job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	n           INTEGER NOT NULL,
	node_id     TEXT    NOT NULL,
	pid         INTEGER NOT NULL,
	state       TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	exit_code   INTEGER,
	signal      TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	log_path    TEXT    NOT NULL,
	limits      TEXT    NOT NULL,
	cpu_user    REAL    NOT NULL,
	cpu_sys     REAL    NOT NULL,
	peak_memory INTEGER NOT NULL,
	PRIMARY KEY (job_id, n)
) STRICT;

-- seq orders metrics as reported, across every job.
CREATE TABLE job_metrics (
	seq     INTEGER NOT NULL PRIMARY KEY,
	job_id  TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	attempt INTEGER NOT NULL,
	name    TEXT    NOT NULL,
	value   REAL    NOT NULL,
	step    INTEGER,
	time    INTEGER NOT NULL
) STRICT;

CREATE INDEX job_metrics_job_seq ON job_metrics (job_id, seq);

CREATE TABLE job_usage (
	seq         INTEGER NOT NULL PRIMARY KEY,
	job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	cpu_user    REAL    NOT NULL,
	cpu_sys     REAL    NOT NULL,
	memory      INTEGER NOT NULL,
	processes   INTEGER NOT NULL,
	gpu_pids    TEXT    NOT NULL
) STRICT;

CREATE INDEX job_usage_job_attempt_time ON job_usage (job_id, attempt, time, seq);

CREATE TABLE schedules (
	id           TEXT    NOT NULL PRIMARY KEY,
	workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	cron         TEXT    NOT NULL,
	spec         TEXT    NOT NULL,
	paused       INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	created_by   TEXT    NOT NULL DEFAULT '',
	last_run_at  INTEGER,
	next_run_at  INTEGER NOT NULL,
	last_job_id  TEXT    NOT NULL DEFAULT '',
	UNIQUE (workspace_id, name)
) STRICT;

CREATE INDEX schedules_next_run_at ON schedules (paused, next_run_at);
