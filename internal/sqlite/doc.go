// Package sqlite implements [joule.Store] on SQLite through the pure-Go
// driver modernc.org/sqlite, so that the metadata store needs no cgo. It is
// the default store: the server keeps it in <data-dir>/joule.db (see
// [FileName]); this package opens whatever path it is given.
//
// # Connections
//
// [Open] opens the file twice: a write pool with a single connection whose
// transactions begin with BEGIN IMMEDIATE, so that every write — above all
// the read-modify-write of [DB.AppendAudit] — runs as the one writer and
// concurrent appends can never fork the audit chain; and a read pool of
// several query-only connections. The database runs in WAL mode with
// foreign keys on, synchronous=NORMAL and a busy timeout, so readers never
// block the writer or each other.
//
// # Migrations
//
// The schema lives in the embedded files migration/NNN_name.sql. Open
// applies the ones not yet applied in order, each in its own transaction,
// and records each version in schema_migrations(version, applied_at). A
// database whose schema version is newer than the newest embedded migration
// is refused with an EUNAVAILABLE error that asks for a newer joule.
//
// # Semantics shared with internal/postgres
//
//   - IDs are chosen by the caller (joule.NewID). Lists are ordered by ID
//     ascending, the audit log by Seq ascending. A page holds
//     ListOptions.WithDefaults().Limit rows; the returned cursor is opaque
//     and "" when there are no more rows. A cursor that does not decode
//     gives EINVALID "cursor: invalid".
//   - Missing rows give ENOTFOUND naming the thing ("workspace \"x\" not
//     found"); unique violations give ECONFLICT naming the field
//     ("workspace name \"x\" already exists"); an empty ID gives EINVALID.
//     Any other database error is returned wrapped with what was being done.
//   - GetWorkspace and GetNode take an ID or a name. Token names are unique
//     per workspace; CreateToken in a missing workspace gives ENOTFOUND.
//     ListTokens of a missing workspace is an empty list. RevokeToken gives
//     ENOTFOUND when the workspace has no such token and ECONFLICT when it is
//     already revoked.
//   - Times are stored as INTEGER unix microseconds and come back in UTC,
//     truncated to the microsecond (nested times in JSON columns too); the
//     zero time comes back as the zero time.
//   - AppendAudit truncates the entry's Time to the microsecond in UTC, sets
//     Seq to the previous Seq plus one (the first is 1), PrevHash to the
//     previous Hash (joule.AuditGenesis for the first) and Hash to
//     e.ComputeHash(PrevHash), and records the new head (last seq and hash)
//     in the one-row audit_head table in the same transaction.
//   - ListAudit filters by WorkspaceID, Since (inclusive), Until (exclusive),
//     Principal (exact) and Action (exact, or a prefix when it ends in '.').
//   - VerifyAudit reads the head and streams the entries by Seq, in one read
//     transaction, through joule.AuditVerifier. A broken chain is reported
//     in the AuditReport (OK false, BrokenAt, Reason), not as an error;
//     Entries counts the entries verified intact before any break. Errors
//     are only for database failures.
//   - UpsertNode inserts a node whose Name is new with the given ID and
//     CreatedAt; for a known Name it overwrites every other field and keeps
//     the stored ID and CreatedAt. GPUs, Meters, Labels and Usage are stored
//     as JSON, so nil and empty values round-trip as given. Heartbeat sets
//     the last heartbeat, replaces the usage (nil clears it) and marks the
//     node ready. MarkLostNodes marks ready nodes whose last heartbeat is
//     before the cutoff lost and returns them by ID.
//   - ListEvents lists the events whose WorkspaceID equals the given one;
//     "" lists installation-wide events only.
//   - Jobs (joule.JobStore): CreateJob stores j with its name taken from
//     j.Spec.Name, an empty State as queued and a zero UpdatedAt as
//     CreatedAt, and records the first transition ("" to the state, with
//     reason j.Reason or "submitted", at CreatedAt, Attempt = Attempts). It
//     gives EINVALID for an empty ID, ECONFLICT for a taken ID and ENOTFOUND
//     for a missing workspace. GetJob and GetSchedule try the ID first, then
//     the name, where the newest (largest ID) wins; workspaceID "" matches
//     every workspace. ListJobs filters by WorkspaceID, States (any of),
//     Name and NodeID, by ID ascending or, with Newest, descending; its
//     cursor is the last ID of the page.
//   - UpdateJob runs in one write transaction on the write pool (BEGIN IMMEDIATE on
//     its single connection), so updates of every job are serialised: it loads the job
//     (ENOTFOUND), checks its state against from (ECONFLICT "job X is S, not
//     A or B"; nil accepts any state, an empty non-nil slice none), calls
//     change (its error is returned as is, nothing stored), refuses a
//     change of ID, WorkspaceID or CreatedAt with EINVALID, stores every
//     other field, records a transition (reason, Attempt = Attempts) when
//     the state changed, calls fn and commits. UpdatedAt, also the
//     transition's time, is what change set when that is after the stored
//     UpdatedAt, and otherwise the current time (or the stored UpdatedAt
//     plus 1µs when the clock is behind): it always moves forward.
//   - A TxFunc given to CreateJob or UpdateJob is called with the
//     *sql.Tx of the write pool, after the
//     job row and its transition are written, so it sees them. Its error
//     rolls everything back and is returned wrapped (errors.Is and
//     joule.ErrorCode see through). fn must use the transaction it is
//     given, never the store, for the store's own writes would wait for
//     the
//     one write connection that the transaction holds.
//   - Transitions are numbered per job and listed oldest first. PutAttempt
//     upserts on (JobID, N); N below 1 gives EINVALID, a missing job
//     ENOTFOUND. AppendJobMetrics and AppendUsage write all their rows in one
//     transaction (ENOTFOUND for a missing job, EINVALID for NaN or infinite
//     numbers, nothing for an empty slice); ListJobMetrics returns a job's
//     metrics of every attempt in the order appended; ListUsage returns an
//     attempt's samples by Time, then the order appended. Lists of a job
//     that does not exist are empty.
//   - JSON columns: GPUIndices and GPUPIDs round-trip nil and empty as
//     given; a JobSpec round-trips through its JSON encoding, so empty
//     omitempty collections (Env, Labels, Selector, DependsOn) come back nil,
//     and its NotBefore and Deadline are truncated to the microsecond in UTC.
//     Job and Attempt Energy (003_energy) is JSON, NULL for nil; NaN/Inf gives EINVALID.
//   - Schedule names are unique per workspace (ECONFLICT); CreateSchedule in
//     a missing workspace gives ENOTFOUND. ListSchedules lists a workspace's
//     schedules, or every schedule for "", by ID. UpdateSchedule replaces
//     Name, Cron, Spec, Paused, LastRunAt, NextRunAt and LastJobID of the
//     schedule s.ID in s.WorkspaceID, keeps CreatedAt and CreatedBy, and gives
//     ENOTFOUND when that workspace has no such schedule.
package sqlite
