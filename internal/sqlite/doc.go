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
package sqlite
