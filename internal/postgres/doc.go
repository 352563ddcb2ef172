// Package postgres implements [joule.Store] on PostgreSQL through
// github.com/jackc/pgx/v5 (pgxpool), for installations that spread over many
// machines.
//
// # Connections
//
// [Open] takes a pgx DSN (postgres://user@host:5432/db?sslmode=disable, or
// keyword=value form). Unknown parameters are passed to the server as
// run-time parameters, so search_path=schema selects the schema the store
// lives in. Without a connect_timeout, connecting gives up after 5 seconds,
// and Open pings the server, so an unreachable server fails Open quickly.
// Error messages never contain the password.
//
// # Migrations
//
// The schema lives in the embedded files migration/NNN_name.sql. Open
// applies the ones not yet applied in order, each in its own transaction
// holding pg_advisory_xact_lock on a key derived from the current schema, so
// that processes starting at once migrate one after the other, and records
// each version in schema_migrations(version, applied_at). A database whose
// schema version is newer than the newest embedded migration is refused with
// an EUNAVAILABLE error that asks for a newer joule.
//
// # Appending to the audit log
//
// AppendAudit locks the one row of audit_head with SELECT … FOR UPDATE, so
// appends are serialised across every connection and process, and writes
// the entry and the new head in the same transaction. VerifyAudit reads in
// one REPEATABLE READ transaction, so it sees a consistent chain and head.
//
// # Semantics shared with internal/sqlite
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
//   - Times are stored as TIMESTAMPTZ and come back in UTC, truncated to
//     the microsecond (nested times in JSON columns too); the zero time
//     comes back as the zero time. IDs sort bytewise (COLLATE "C").
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
package postgres
