package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
	"github.com/joule-dev/joule/internal/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) joule.Store {
		return mustOpenStore(t, filepath.Join(t.TempDir(), sqlite.FileName))
	})
}

func TestConformanceTx(t *testing.T) {
	t.Parallel()
	storetest.RunTx(t, func(t *testing.T) joule.Store {
		return mustOpenStore(t, filepath.Join(t.TempDir(), sqlite.FileName))
	}, txQuery)
}

// txQuery runs query on tx, which must be a *sql.Tx, with $N placeholders
// rewritten to SQLite's ?N.
func txQuery(ctx context.Context, tx any, query string, args ...any) (int, error) {
	sqlTx, ok := tx.(*sql.Tx)
	if !ok {
		return 0, fmt.Errorf("transaction is a %T, want *sql.Tx", tx)
	}
	var n int
	err := sqlTx.QueryRowContext(ctx, strings.ReplaceAll(query, "$", "?"), args...).Scan(&n)
	return n, err
}

// mustOpenStore opens the store at path and closes it when the test ends.
func mustOpenStore(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// mustOpenRaw opens the file with database/sql, outside the store, as an
// attacker or a careless operator would.
func mustOpenRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("open raw: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func appendN(t *testing.T, db *sqlite.DB, n int) {
	t.Helper()
	for i := range n {
		_, err := db.AppendAudit(t.Context(), joule.AuditEntry{
			Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Principal: "system",
			Action: "workspace.create", Resource: fmt.Sprint(i), Outcome: "success",
		})
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
}

func TestVerifyAuditDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sql    string
		broken int64
	}{
		{"edit a row", "UPDATE audit_log SET action = 'workspace.delete' WHERE seq = 3", 3},
		{"edit the time", "UPDATE audit_log SET time = time + 1 WHERE seq = 4", 4},
		{"delete a middle row", "DELETE FROM audit_log WHERE seq = 3", 3},
		{"delete the first row", "DELETE FROM audit_log WHERE seq = 1", 1},
		{"delete the newest row", "DELETE FROM audit_log WHERE seq = 5", 5},
		{"delete the newest two", "DELETE FROM audit_log WHERE seq >= 4", 4},
		{"rewrite the head", "UPDATE audit_head SET last_hash = 'x'", 5},
		{"add a row", "INSERT INTO audit_log SELECT seq + 1, time, workspace_id, principal, action, resource, request_id, outcome, detail, hash, hash FROM audit_log WHERE seq = 5", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), sqlite.FileName)
			db := mustOpenStore(t, path)
			appendN(t, db, 5)
			if r, err := db.VerifyAudit(t.Context()); err != nil || !r.OK {
				t.Fatalf("VerifyAudit() before tampering = %+v, %v; want OK", r, err)
			}
			if _, err := mustOpenRaw(t, path).ExecContext(t.Context(), tt.sql); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			r, err := db.VerifyAudit(t.Context())
			if err != nil {
				t.Fatalf("VerifyAudit: %v", err)
			}
			if r.OK || r.BrokenAt != tt.broken || r.Reason == "" {
				t.Errorf("VerifyAudit() after %s = %+v, want OK false, BrokenAt %d and a reason", tt.name, r, tt.broken)
			}
		})
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	db.Close()
	if _, err := mustOpenRaw(t, path).ExecContext(t.Context(),
		"INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatalf("insert version: %v", err)
	}
	db, err = sqlite.Open(t.Context(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
	if code := joule.ErrorCode(err); code != joule.EUNAVAILABLE || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "999") {
		t.Errorf("Open of a newer schema = %v (code %q), want EUNAVAILABLE naming version 999 as newer", err, code)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	w := joule.Workspace{ID: joule.NewID("ws", time.Now()), Name: "kept", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := db.CreateWorkspace(t.Context(), w); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	appendN(t, db, 3)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = mustOpenStore(t, path)
	got, err := db.GetWorkspace(t.Context(), "kept")
	if err != nil {
		t.Fatalf("GetWorkspace after reopen: %v", err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("GetWorkspace(%q) after reopen mismatch (-want +got):\n%s", "kept", diff)
	}
	appendN(t, db, 2)
	r, err := db.VerifyAudit(t.Context())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if diff := cmp.Diff(joule.AuditReport{OK: true, Entries: 5}, r); diff != "" {
		t.Errorf("VerifyAudit() after reopen mismatch (-want +got):\n%s", diff)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		db, err := sqlite.Open(t.Context(), path)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
			continue
		}
		if code := joule.ErrorCode(err); code != joule.EINVALID {
			t.Errorf("Open(%q) = %v (code %q), want EINVALID", path, err, code)
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", sqlite.FileName)
	if db, err := sqlite.Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatalf("Open(%q) in a missing directory succeeded, want an error", path)
	}
}

func BenchmarkListTokens(b *testing.B) {
	db := mustOpenStore(b, filepath.Join(b.TempDir(), sqlite.FileName))
	ctx := b.Context()
	now := time.Now()
	w := joule.Workspace{ID: joule.NewID("ws", now), Name: "bench", CreatedAt: now}
	if err := db.CreateWorkspace(ctx, w); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		_, hash := joule.NewTokenSecret()
		if err := db.CreateToken(ctx, joule.Token{ID: joule.NewID("tok", now), WorkspaceID: w.ID,
			Name: fmt.Sprintf("tok-%d", i), Role: joule.RoleViewer, Hash: hash, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		ts, _, err := db.ListTokens(ctx, w.ID, joule.ListOptions{Limit: 50})
		if err != nil || len(ts) != 50 {
			b.Fatalf("ListTokens = %d tokens, %v", len(ts), err)
		}
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	db := mustOpenStore(b, filepath.Join(b.TempDir(), sqlite.FileName))
	ctx := b.Context()
	e := joule.AuditEntry{Time: time.Now(), WorkspaceID: "ws_bench", Principal: "tok_bench",
		Action: "token.create", Resource: "tok_x", Outcome: "success"}
	for b.Loop() {
		if _, err := db.AppendAudit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUpgradeTo003 opens a database whose schema stops at 002_jobs, with a
// job and an attempt in it, and checks that 003_energy applies on top: the
// old rows read back with a nil Energy, and Energy can then be stored.
func TestUpgradeTo003(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	w := joule.Workspace{ID: joule.NewID("ws", now), Name: "old", CreatedAt: now}
	j := joule.Job{ID: joule.NewID("job", now), WorkspaceID: w.ID, Spec: joule.JobSpec{Name: "train"},
		State: joule.JobQueued, CreatedAt: now, UpdatedAt: now}
	a := joule.Attempt{JobID: j.ID, N: 1, State: joule.JobRunning, StartedAt: now}
	if err := db.CreateWorkspace(ctx, w); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if err := db.CreateJob(ctx, j, nil); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if err := db.PutAttempt(ctx, a); err != nil {
		t.Fatalf("PutAttempt: %v", err)
	}
	db.Close()
	// Back to the schema before 003.
	for _, q := range []string{
		"ALTER TABLE jobs DROP COLUMN energy",
		"ALTER TABLE job_attempts DROP COLUMN energy",
		"DROP TABLE deployment_events", // 009_deployments
		"DROP TABLE deployments",
		"DROP TABLE model_versions", // 006_models
		"DROP TABLE models",
		"DROP TABLE sustain_target_history", // 008_sustain
		"DROP TABLE sustain_objects",
		"DROP TABLE sustain_series",
		"ALTER TABLE jobs DROP COLUMN shift", // 007_shift
		"DROP TABLE power_samples",           // 005_energy
		"DROP TABLE energy_rollups",
		"DROP TABLE dataset_versions", // 004_datasets
		"DROP TABLE datasets",
		"DELETE FROM schema_migrations WHERE version >= 3",
	} {
		if _, err := mustOpenRaw(t, path).ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	db = mustOpenStore(t, path)
	got, err := db.GetJob(ctx, "", j.ID)
	if err != nil || got.Energy != nil {
		t.Fatalf("GetJob after upgrade = Energy %+v, %v; want nil, no error", got.Energy, err)
	}
	e := &joule.JobEnergy{Joules: 1.5, EstimatedJoules: 1.5, Method: "estimated:tdp-curve@1", PUE: 1.2}
	if got, err = db.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error { j.Energy = e; return nil }, nil); err != nil {
		t.Fatalf("UpdateJob(set energy) after upgrade: %v", err)
	}
	if diff := cmp.Diff(e, got.Energy); diff != "" {
		t.Errorf("Energy after upgrade mismatch (-want +got):\n%s", diff)
	}
	as, err := db.ListAttempts(ctx, j.ID)
	if err != nil || len(as) != 1 || as[0].Energy != nil {
		t.Errorf("ListAttempts after upgrade = %+v, %v; want one attempt with nil Energy", as, err)
	}
}

// TestMigrationBelowTheNewestIsApplied: a migration numbered below the
// newest applied one (as when versions land out of order between releases)
// is still applied.
func TestMigrationBelowTheNewestIsApplied(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	mustOpenStore(t, path).Close()
	for _, q := range []string{"DROP TABLE power_samples", "DROP TABLE energy_rollups", "DELETE FROM schema_migrations WHERE version = 5"} {
		if _, err := mustOpenRaw(t, path).ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustOpenStore(t, path).Close()
	var n int
	if err := mustOpenRaw(t, path).QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = 5").Scan(&n); err != nil || n != 1 {
		t.Fatalf("005 recorded %d times (%v), want once", n, err)
	}
	if _, err := mustOpenRaw(t, path).ExecContext(ctx, "SELECT count(*) FROM power_samples"); err != nil {
		t.Errorf("power_samples after re-applying 005: %v", err)
	}
}
