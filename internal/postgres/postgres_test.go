package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/postgres"
	"github.com/joule-dev/joule/internal/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) joule.Store {
		return mustOpenStore(t, storetest.PostgresDSN(t))
	})
}

func TestConformanceTx(t *testing.T) {
	t.Parallel()
	storetest.RunTx(t, func(t *testing.T) joule.Store {
		return mustOpenStore(t, storetest.PostgresDSN(t))
	}, txQuery)
}

// txQuery runs query on tx, which must be a pgx.Tx.
func txQuery(ctx context.Context, tx any, query string, args ...any) (int, error) {
	pgxTx, ok := tx.(pgx.Tx)
	if !ok {
		return 0, fmt.Errorf("transaction is a %T, want pgx.Tx", tx)
	}
	var n int
	err := pgxTx.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// mustOpenStore opens the store at dsn and closes it when the test ends.
func mustOpenStore(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// mustExec runs sql on dsn outside the store.
func mustExec(t *testing.T, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	tests := []string{
		"postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		"postgres://postgres:sekrit-pw@127.0.0.1:1/test?sslmode=disable",
	}
	for _, dsn := range tests {
		start := time.Now()
		db, err := postgres.Open(t.Context(), dsn)
		took := time.Since(start)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded, want an error", dsn)
		}
		if !strings.HasPrefix(err.Error(), "connect to postgres: ") {
			t.Errorf("Open(%q) = %q, want it to start with %q", dsn, err, "connect to postgres: ")
		}
		if strings.Contains(err.Error(), "sekrit-pw") {
			t.Errorf("Open(%q) = %q, which shows the password", dsn, err)
		}
		if took > 7*time.Second {
			t.Errorf("Open(%q) took %v, want under 7s", dsn, took)
		}
	}
}

func TestOpenInvalidDSN(t *testing.T) {
	t.Parallel()
	dsn := "postgres://postgres:sekrit-pw@127.0.0.1:5432/test?connect_timeout=soon"
	db, err := postgres.Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatalf("Open(%q) succeeded, want an error", dsn)
	}
	if strings.Contains(err.Error(), "sekrit-pw") {
		t.Errorf("Open(invalid DSN) = %q, which shows the password", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	db, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	db.Close()
	mustExec(t, dsn, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, now())")
	db, err = postgres.Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
	if code := joule.ErrorCode(err); code != joule.EUNAVAILABLE || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "999") {
		t.Errorf("Open of a newer schema = %v (code %q), want EUNAVAILABLE naming version 999 as newer", err, code)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
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
		{"delete a middle row", "DELETE FROM audit_log WHERE seq = 3", 3},
		{"delete the newest row", "DELETE FROM audit_log WHERE seq = 5", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.PostgresDSN(t)
			db := mustOpenStore(t, dsn)
			for i := range 5 {
				if _, err := db.AppendAudit(t.Context(), joule.AuditEntry{Time: time.Now(), Principal: "system",
					Action: "workspace.create", Resource: fmt.Sprint(i), Outcome: "success"}); err != nil {
					t.Fatalf("AppendAudit: %v", err)
				}
			}
			mustExec(t, dsn, tt.sql)
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

func BenchmarkListTokens(b *testing.B) {
	db := mustOpenStore(b, storetest.PostgresDSN(b))
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
	db := mustOpenStore(b, storetest.PostgresDSN(b))
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
	dsn := storetest.PostgresDSN(t)
	db, err := postgres.Open(ctx, dsn)
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
	mustExec(t, dsn, "ALTER TABLE jobs DROP COLUMN energy")
	mustExec(t, dsn, "ALTER TABLE job_attempts DROP COLUMN energy")
	mustExec(t, dsn, "DROP TABLE deployment_events, deployments")                          // 009_deployments
	mustExec(t, dsn, "DROP TABLE model_versions, models")                                  // 006_models
	mustExec(t, dsn, "DROP TABLE sustain_target_history, sustain_objects, sustain_series") // 008_sustain
	mustExec(t, dsn, "ALTER TABLE jobs DROP COLUMN shift")                                 // 007_shift
	mustExec(t, dsn, "DROP TABLE power_samples, energy_rollups")                           // 005_energy
	mustExec(t, dsn, "DROP TABLE dataset_versions, datasets")                              // 004_datasets
	mustExec(t, dsn, "DELETE FROM schema_migrations WHERE version >= 3")

	db, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open after rewinding to 002: %v", err)
	}
	defer db.Close()
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
	dsn := storetest.PostgresDSN(t)
	mustOpenStore(t, dsn).Close()
	mustExec(t, dsn, "DROP TABLE power_samples, energy_rollups")
	mustExec(t, dsn, "DELETE FROM schema_migrations WHERE version = 5")
	mustOpenStore(t, dsn).Close()
	mustExec(t, dsn, "SELECT count(*) FROM power_samples")
}
