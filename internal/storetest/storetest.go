// Package storetest is the contract every [joule.Store] implementation
// passes: internal/sqlite and internal/postgres both call [Run] from their
// tests. Any change to the Store interface extends this suite.
//
// It is test support: import it only from _test.go files.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Run runs the conformance suite. open must return a fresh, empty store for
// the test it is given and register the store's Close with t.Cleanup; every
// subtest calls it once and runs in parallel with the others. The checks of
// joule.TxFunc that query the driver's transaction are in [RunTx].
func Run(t *testing.T, open func(t *testing.T) joule.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s joule.Store)
	}{
		{"KindAndPing", testKindAndPing},
		{"Workspaces", testWorkspaces},
		{"WorkspaceErrors", testWorkspaceErrors},
		{"ListWorkspacesPaging", testListWorkspacesPaging},
		{"InvalidCursor", testInvalidCursor},
		{"Tokens", testTokens},
		{"TokenErrors", testTokenErrors},
		{"RevokeToken", testRevokeToken},
		{"ListTokensPaging", testListTokensPaging},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"AuditAppend", testAuditAppend},
		{"AuditEmpty", testAuditEmpty},
		{"AuditConcurrentAppend", testAuditConcurrentAppend},
		{"AuditFilters", testAuditFilters},
		{"AuditPaging", testAuditPaging},
		{"Nodes", testNodes},
		{"NodeErrors", testNodeErrors},
		{"ListNodesPaging", testListNodesPaging},
		{"HeartbeatAndLost", testHeartbeatAndLost},
		{"Events", testEvents},
	}
	tests = append(tests, jobTests...)
	tests = append(tests, energyTests...)
	tests = append(tests, sustainTests...)
	tests = append(tests, datasetTests...)
	tests = append(tests, modelTests...)
	tests = append(tests, deploymentTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// PostgresDSN returns a DSN for a fresh, empty schema on the PostgreSQL
// server named by $JOULE_TEST_POSTGRES (or $JOULE_TEST_POSTGRES_DSN), such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The schema gets a
// random name, is dropped when the test ends, and is selected with a
// search_path parameter on the returned DSN. Without the variable the test is
// skipped, or fails when $CI is set. It takes a testing.TB so that
// benchmarks can use it too.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := cmpOr(os.Getenv("JOULE_TEST_POSTGRES"), os.Getenv("JOULE_TEST_POSTGRES_DSN"))
	if dsn == "" {
		const msg = "JOULE_TEST_POSTGRES is not set: skipping PostgreSQL tests (set it to a postgres:// DSN to run them)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "joule_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()

	exec := func(ctx context.Context, sql string) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(t.Context(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// withSearchPath adds search_path=schema to a URL or keyword/value DSN.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("JOULE_TEST_POSTGRES: invalid URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// base is the suite's clock: a time with nanoseconds, away from UTC, so that
// round trips show truncation and time zone handling.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))

// stored is t as stores keep it: UTC, truncated to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := joule.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func mustCreateWorkspace(t *testing.T, s joule.Store, name string) joule.Workspace {
	t.Helper()
	w := joule.Workspace{ID: joule.NewID("ws", base), Name: name, Description: "the " + name + " team", CreatedAt: stored(base)}
	if err := s.CreateWorkspace(t.Context(), w); err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
	return w
}

func mustCreateToken(t *testing.T, s joule.Store, wsID, name string) joule.Token {
	t.Helper()
	_, hash := joule.NewTokenSecret()
	tok := joule.Token{
		ID: joule.NewID("tok", base), WorkspaceID: wsID, Name: name, Role: joule.RoleEditor,
		Hash: hash, CreatedAt: stored(base), CreatedBy: "system",
	}
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken(%q): %v", name, err)
	}
	return tok
}

// byID sorts a copy of items by their ID.
func byID[T any](items []T, id func(T) string) []T {
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return items
}

// listAll pages through a list with the given limit, checking that every
// page but the last is full and has a cursor.
func listAll[T any](t *testing.T, what string, limit int, list func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("%s: more than 1000 pages", what)
		}
		items, next, err := list(cursor)
		if err != nil {
			t.Fatalf("%s(cursor %q): %v", what, cursor, err)
		}
		all = append(all, items...)
		if next == "" {
			if len(items) > limit {
				t.Errorf("%s: last page has %d items, limit %d", what, len(items), limit)
			}
			return all
		}
		if len(items) != limit {
			t.Errorf("%s: page %d has %d items and a cursor, want %d", what, pages, len(items), limit)
		}
		cursor = next
	}
}

func testKindAndPing(t *testing.T, s joule.Store) {
	if k := s.Kind(); k != "sqlite" && k != "postgres" {
		t.Errorf("Kind() = %q, want sqlite or postgres", k)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

func testWorkspaces(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	other := mustCreateWorkspace(t, s, "ops")
	for _, key := range []string{w.ID, w.Name} {
		got, err := s.GetWorkspace(ctx, key)
		if err != nil {
			t.Fatalf("GetWorkspace(%q): %v", key, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("GetWorkspace(%q) mismatch (-want +got):\n%s", key, diff)
		}
	}
	got, next, err := s.ListWorkspaces(ctx, joule.ListOptions{})
	if err != nil {
		t.Fatalf("ListWorkspaces: %v", err)
	}
	want := byID([]joule.Workspace{w, other}, func(w joule.Workspace) string { return w.ID })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListWorkspaces() mismatch (-want +got):\n%s", diff)
	}
	if next != "" {
		t.Errorf("ListWorkspaces() cursor = %q, want \"\"", next)
	}
}

func testWorkspaceErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "taken")
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"duplicate name", func() error {
			return s.CreateWorkspace(ctx, joule.Workspace{ID: joule.NewID("ws", base), Name: "taken", CreatedAt: base})
		}, joule.ECONFLICT},
		{"duplicate ID", func() error {
			return s.CreateWorkspace(ctx, joule.Workspace{ID: w.ID, Name: "fresh", CreatedAt: base})
		}, joule.ECONFLICT},
		{"empty ID", func() error {
			return s.CreateWorkspace(ctx, joule.Workspace{Name: "noid", CreatedAt: base})
		}, joule.EINVALID},
		{"get missing ID", func() error { _, err := s.GetWorkspace(ctx, joule.NewID("ws", base)); return err }, joule.ENOTFOUND},
		{"get missing name", func() error { _, err := s.GetWorkspace(ctx, "nope"); return err }, joule.ENOTFOUND},
	}
	for _, tt := range tests {
		wantCode(t, tt.name, tt.do(), tt.code)
	}
	err := s.CreateWorkspace(ctx, joule.Workspace{ID: joule.NewID("ws", base), Name: "taken", CreatedAt: base})
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, "name") || !strings.Contains(msg, `"taken"`) {
		t.Errorf("duplicate name message = %q, want it to name the field and the value", msg)
	}
	_, err = s.GetWorkspace(ctx, "nope")
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, `"nope"`) {
		t.Errorf("not found message = %q, want it to name %q", msg, "nope")
	}
}

func testListWorkspacesPaging(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var want []joule.Workspace
	for i := range 7 {
		want = append(want, mustCreateWorkspace(t, s, fmt.Sprintf("ws-%d", i)))
	}
	want = byID(want, func(w joule.Workspace) string { return w.ID })
	for _, limit := range []int{1, 3, 7, 50} {
		got := listAll(t, "ListWorkspaces", limit, func(c string) ([]joule.Workspace, string, error) {
			return s.ListWorkspaces(ctx, joule.ListOptions{Limit: limit, Cursor: c})
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListWorkspaces pages of %d mismatch (-want +got):\n%s", limit, diff)
		}
	}
	// Limit 0 means the default limit, which holds all seven.
	got, next, err := s.ListWorkspaces(ctx, joule.ListOptions{})
	if err != nil || len(got) != 7 || next != "" {
		t.Errorf("ListWorkspaces(default limit) = %d items, cursor %q, %v; want 7, \"\", nil", len(got), next, err)
	}
}

func testInvalidCursor(t *testing.T, s joule.Store) {
	ctx := t.Context()
	for _, cursor := range []string{"!!!not-base64", "Zm9v", "x"} {
		opt := joule.ListOptions{Cursor: cursor}
		lists := map[string]func() error{
			"ListWorkspaces": func() error { _, _, err := s.ListWorkspaces(ctx, opt); return err },
			"ListTokens":     func() error { _, _, err := s.ListTokens(ctx, "ws_x", opt); return err },
			"ListAudit":      func() error { _, _, err := s.ListAudit(ctx, joule.AuditFilter{ListOptions: opt}); return err },
			"ListNodes":      func() error { _, _, err := s.ListNodes(ctx, opt); return err },
			"ListEvents":     func() error { _, _, err := s.ListEvents(ctx, "", opt); return err },
		}
		for name, list := range lists {
			wantCode(t, fmt.Sprintf("%s(cursor %q)", name, cursor), list(), joule.EINVALID)
		}
	}
	// A cursor of one list is not a cursor of the audit log.
	for i := range 3 {
		mustCreateWorkspace(t, s, fmt.Sprintf("c-%d", i))
	}
	_, next, err := s.ListWorkspaces(ctx, joule.ListOptions{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("ListWorkspaces(limit 1) = cursor %q, %v; want a cursor", next, err)
	}
	_, _, err = s.ListAudit(ctx, joule.AuditFilter{ListOptions: joule.ListOptions{Cursor: next}})
	wantCode(t, "ListAudit(workspace cursor)", err, joule.EINVALID)
}

func testTokens(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	_, hash := joule.NewTokenSecret()
	tok := joule.Token{
		ID: joule.NewID("tok", base), WorkspaceID: w.ID, Name: "ci", Role: joule.RoleAdmin, Hash: hash,
		CreatedAt: stored(base), CreatedBy: "tok_creator", ExpiresAt: ptr(stored(base.Add(24 * time.Hour))),
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken(%q): %v", tok.ID, err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("GetToken(%q) mismatch (-want +got):\n%s", tok.ID, diff)
	}
	got, err = s.GetTokenByHash(ctx, hash)
	if err != nil {
		t.Fatalf("GetTokenByHash: %v", err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("GetTokenByHash mismatch (-want +got):\n%s", diff)
	}
	// The same name in another workspace is fine.
	other := mustCreateWorkspace(t, s, "ops")
	tok2 := mustCreateToken(t, s, other.ID, "ci")
	list, next, err := s.ListTokens(ctx, w.ID, joule.ListOptions{})
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if diff := cmp.Diff([]joule.Token{tok}, list); diff != "" || next != "" {
		t.Errorf("ListTokens(%q) = cursor %q, mismatch (-want +got):\n%s", w.ID, next, diff)
	}
	list, _, err = s.ListTokens(ctx, other.ID, joule.ListOptions{})
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if diff := cmp.Diff([]joule.Token{tok2}, list); diff != "" {
		t.Errorf("ListTokens(%q) mismatch (-want +got):\n%s", other.ID, diff)
	}
	list, next, err = s.ListTokens(ctx, "ws_missing", joule.ListOptions{})
	if err != nil || len(list) != 0 || next != "" {
		t.Errorf("ListTokens(missing workspace) = %v, %q, %v; want empty", list, next, err)
	}
}

func testTokenErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	tok := mustCreateToken(t, s, w.ID, "ci")
	_, freshHash := joule.NewTokenSecret()
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"duplicate name", func() error {
			return s.CreateToken(ctx, joule.Token{ID: joule.NewID("tok", base), WorkspaceID: w.ID, Name: "ci", Role: joule.RoleViewer, Hash: freshHash, CreatedAt: base})
		}, joule.ECONFLICT},
		{"duplicate hash", func() error {
			return s.CreateToken(ctx, joule.Token{ID: joule.NewID("tok", base), WorkspaceID: w.ID, Name: "other", Role: joule.RoleViewer, Hash: tok.Hash, CreatedAt: base})
		}, joule.ECONFLICT},
		{"duplicate ID", func() error {
			return s.CreateToken(ctx, joule.Token{ID: tok.ID, WorkspaceID: w.ID, Name: "third", Role: joule.RoleViewer, Hash: freshHash, CreatedAt: base})
		}, joule.ECONFLICT},
		{"missing workspace", func() error {
			return s.CreateToken(ctx, joule.Token{ID: joule.NewID("tok", base), WorkspaceID: "ws_missing", Name: "x", Role: joule.RoleViewer, Hash: freshHash, CreatedAt: base})
		}, joule.ENOTFOUND},
		{"empty ID", func() error {
			return s.CreateToken(ctx, joule.Token{WorkspaceID: w.ID, Name: "noid", Role: joule.RoleViewer, Hash: freshHash, CreatedAt: base})
		}, joule.EINVALID},
		{"get missing", func() error { _, err := s.GetToken(ctx, "tok_missing"); return err }, joule.ENOTFOUND},
		{"get missing hash", func() error { _, err := s.GetTokenByHash(ctx, freshHash); return err }, joule.ENOTFOUND},
	}
	for _, tt := range tests {
		wantCode(t, tt.name, tt.do(), tt.code)
	}
	err := s.CreateToken(ctx, joule.Token{ID: joule.NewID("tok", base), WorkspaceID: w.ID, Name: "ci", Role: joule.RoleViewer, Hash: freshHash, CreatedAt: base})
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, `name "ci"`) {
		t.Errorf("duplicate token name message = %q, want it to name the field", msg)
	}
}

func testRevokeToken(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	other := mustCreateWorkspace(t, s, "ops")
	tok := mustCreateToken(t, s, w.ID, "ci")
	keep := mustCreateToken(t, s, w.ID, "keep")
	at := base.Add(time.Hour)

	wantCode(t, "RevokeToken(other workspace)", s.RevokeToken(ctx, other.ID, tok.ID, at), joule.ENOTFOUND)
	wantCode(t, "RevokeToken(missing)", s.RevokeToken(ctx, w.ID, "tok_missing", at), joule.ENOTFOUND)
	if err := s.RevokeToken(ctx, w.ID, tok.ID, at); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	wantCode(t, "RevokeToken(again)", s.RevokeToken(ctx, w.ID, tok.ID, at.Add(time.Minute)), joule.ECONFLICT)

	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	want := tok
	want.RevokedAt = ptr(stored(at))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetToken(%q) after revoke mismatch (-want +got):\n%s", tok.ID, diff)
	}
	if got.Active(at.Add(time.Second)) {
		t.Errorf("revoked token is Active")
	}
	list, _, err := s.ListTokens(ctx, w.ID, joule.ListOptions{})
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	wantList := byID([]joule.Token{want, keep}, func(t joule.Token) string { return t.ID })
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("ListTokens after revoke mismatch (-want +got):\n%s", diff)
	}
}

func testListTokensPaging(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	other := mustCreateWorkspace(t, s, "ops")
	var want []joule.Token
	for i := range 9 {
		want = append(want, mustCreateToken(t, s, w.ID, fmt.Sprintf("tok-%d", i)))
		mustCreateToken(t, s, other.ID, fmt.Sprintf("tok-%d", i))
	}
	want = byID(want, func(t joule.Token) string { return t.ID })
	for _, limit := range []int{2, 4, 9} {
		got := listAll(t, "ListTokens", limit, func(c string) ([]joule.Token, string, error) {
			return s.ListTokens(ctx, w.ID, joule.ListOptions{Limit: limit, Cursor: c})
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListTokens pages of %d mismatch (-want +got):\n%s", limit, diff)
		}
	}
}

func testTimeRoundTrip(t *testing.T, s joule.Store) {
	ctx := t.Context()
	tests := []time.Time{
		base,
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1000, time.FixedZone("PST", -8*3600)),
		time.Date(2026, 6, 1, 0, 0, 0, 999, time.UTC),
	}
	for i, in := range tests {
		w := joule.Workspace{ID: joule.NewID("ws", base), Name: fmt.Sprintf("t-%d", i), CreatedAt: in}
		if err := s.CreateWorkspace(ctx, w); err != nil {
			t.Fatalf("CreateWorkspace: %v", err)
		}
		got, err := s.GetWorkspace(ctx, w.ID)
		if err != nil {
			t.Fatalf("GetWorkspace: %v", err)
		}
		want := stored(in)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt %v came back as %v, want %v", in, got.CreatedAt, want)
		}
		e, err := s.AppendAudit(ctx, joule.AuditEntry{Time: in, Principal: "system", Action: "test.time", Outcome: "success"})
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
			t.Errorf("AppendAudit(Time %v) returned Time %v, want %v", in, e.Time, want)
		}
		list, _, err := s.ListAudit(ctx, joule.AuditFilter{Since: e.Time, Until: e.Time.Add(time.Microsecond), Action: "test.time"})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(list) != 1 || !list[0].Time.Equal(want) || list[0].Time.Location() != time.UTC {
			t.Errorf("ListAudit around %v = %v, want one entry at %v", want, list, want)
		}
	}
	r, err := s.VerifyAudit(ctx)
	if err != nil || !r.OK {
		t.Errorf("VerifyAudit() = %+v, %v; want OK", r, err)
	}
}

func auditEntry(i int) joule.AuditEntry {
	return joule.AuditEntry{
		Time:        base.Add(time.Duration(i) * time.Second),
		WorkspaceID: "ws_a",
		Principal:   "tok_a",
		Action:      "workspace.create",
		Resource:    fmt.Sprintf("r-%d", i),
		RequestID:   fmt.Sprintf("req-%d", i),
		Outcome:     "success",
		Detail:      fmt.Sprintf("detail %d", i),
	}
}

func testAuditAppend(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var stored_ []joule.AuditEntry
	prev := joule.AuditGenesis
	for i := range 3 {
		in := auditEntry(i)
		in.Seq, in.PrevHash, in.Hash = 99, "bogus", "bogus" // set by the store
		got, err := s.AppendAudit(ctx, in)
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		want := auditEntry(i)
		want.Time = stored(want.Time)
		want.Seq = int64(i + 1)
		want.PrevHash = prev
		want.Hash = want.ComputeHash(prev)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AppendAudit(%d) mismatch (-want +got):\n%s", i, diff)
		}
		prev = got.Hash
		stored_ = append(stored_, got)
	}
	list, next, err := s.ListAudit(ctx, joule.AuditFilter{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if diff := cmp.Diff(stored_, list); diff != "" || next != "" {
		t.Errorf("ListAudit() cursor %q, mismatch (-want +got):\n%s", next, diff)
	}
	r, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if diff := cmp.Diff(joule.AuditReport{OK: true, Entries: 3}, r); diff != "" {
		t.Errorf("VerifyAudit() mismatch (-want +got):\n%s", diff)
	}
}

func testAuditEmpty(t *testing.T, s joule.Store) {
	r, err := s.VerifyAudit(t.Context())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if diff := cmp.Diff(joule.AuditReport{OK: true}, r); diff != "" {
		t.Errorf("VerifyAudit() of empty log mismatch (-want +got):\n%s", diff)
	}
	list, next, err := s.ListAudit(t.Context(), joule.AuditFilter{})
	if err != nil || len(list) != 0 || next != "" {
		t.Errorf("ListAudit() of empty log = %v, %q, %v", list, next, err)
	}
}

func testAuditConcurrentAppend(t *testing.T, s joule.Store) {
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := auditEntry(w*each + i)
				e.Principal = fmt.Sprintf("writer-%d", w)
				if _, err := s.AppendAudit(ctx, e); err != nil {
					t.Errorf("AppendAudit from writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	r, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if diff := cmp.Diff(joule.AuditReport{OK: true, Entries: writers * each}, r); diff != "" {
		t.Errorf("VerifyAudit() after concurrent appends mismatch (-want +got):\n%s", diff)
	}
	all := listAll(t, "ListAudit", 25, func(c string) ([]joule.AuditEntry, string, error) {
		return s.ListAudit(ctx, joule.AuditFilter{ListOptions: joule.ListOptions{Limit: 25, Cursor: c}})
	})
	perWriter := map[string]int{}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has Seq %d, want %d", i, e.Seq, i+1)
		}
		perWriter[e.Principal]++
	}
	for w := range writers {
		if n := perWriter[fmt.Sprintf("writer-%d", w)]; n != each {
			t.Errorf("writer %d has %d entries, want %d", w, n, each)
		}
	}
}

func testAuditFilters(t *testing.T, s joule.Store) {
	ctx := t.Context()
	in := []joule.AuditEntry{
		{WorkspaceID: "ws_a", Principal: "tok_1", Action: "token.create"},
		{WorkspaceID: "ws_a", Principal: "tok_2", Action: "token.revoke"},
		{WorkspaceID: "ws_b", Principal: "tok_1", Action: "workspace.create"},
		{WorkspaceID: "", Principal: "system", Action: "tokenizer.run"},
		{WorkspaceID: "ws_b", Principal: "tok_2", Action: "token"},
		{WorkspaceID: "ws_a", Principal: "tok_1", Action: "Token.create"},
	}
	// at(i) is the stored time of entry i (Seq i+1).
	at := func(i int) time.Time { return stored(base.Add(time.Duration(i) * time.Minute)) }
	for i, e := range in {
		e.Time = at(i)
		e.Outcome = "success"
		if _, err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	tests := []struct {
		name string
		f    joule.AuditFilter
		want []int64
	}{
		{"all", joule.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6}},
		{"workspace", joule.AuditFilter{WorkspaceID: "ws_a"}, []int64{1, 2, 6}},
		{"principal", joule.AuditFilter{Principal: "tok_1"}, []int64{1, 3, 6}},
		{"action exact", joule.AuditFilter{Action: "token.create"}, []int64{1}},
		{"action exact no prefix", joule.AuditFilter{Action: "token"}, []int64{5}},
		{"action prefix", joule.AuditFilter{Action: "token."}, []int64{1, 2}},
		{"action prefix no match", joule.AuditFilter{Action: "job."}, nil},
		{"since inclusive", joule.AuditFilter{Since: at(4)}, []int64{5, 6}},
		{"until exclusive", joule.AuditFilter{Until: at(2)}, []int64{1, 2}},
		{"since and until", joule.AuditFilter{Since: at(1), Until: at(3)}, []int64{2, 3}},
		{"since just after", joule.AuditFilter{Since: at(1).Add(time.Nanosecond)}, []int64{3, 4, 5, 6}},
		{"until just after", joule.AuditFilter{Until: at(1).Add(time.Nanosecond)}, []int64{1, 2}},
		{"since in another zone", joule.AuditFilter{Since: at(4).In(time.FixedZone("X", -5*3600))}, []int64{5, 6}},
		{"combined", joule.AuditFilter{WorkspaceID: "ws_a", Principal: "tok_1", Action: "token."}, []int64{1}},
	}
	for _, tt := range tests {
		got := listAll(t, "ListAudit "+tt.name, 2, func(c string) ([]joule.AuditEntry, string, error) {
			f := tt.f
			f.ListOptions = joule.ListOptions{Limit: 2, Cursor: c}
			return s.ListAudit(ctx, f)
		})
		var seqs []int64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if diff := cmp.Diff(tt.want, seqs); diff != "" {
			t.Errorf("ListAudit(%s) seqs mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testAuditPaging(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var want []joule.AuditEntry
	for i := range 5 {
		e, err := s.AppendAudit(ctx, auditEntry(i))
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		want = append(want, e)
	}
	for _, limit := range []int{1, 2, 5} {
		got := listAll(t, "ListAudit", limit, func(c string) ([]joule.AuditEntry, string, error) {
			return s.ListAudit(ctx, joule.AuditFilter{ListOptions: joule.ListOptions{Limit: limit, Cursor: c}})
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAudit pages of %d mismatch (-want +got):\n%s", limit, diff)
		}
	}
}

func testNode(name string) joule.Node {
	return joule.Node{
		ID:          joule.NewID("node", base),
		Name:        name,
		Hostname:    name + ".example.com",
		OS:          "linux",
		Arch:        "amd64",
		Kernel:      "6.8.0",
		CPUModel:    "AMD EPYC 9654",
		CPUCores:    192,
		MemoryBytes: 1 << 40,
		GPUs: []joule.GPU{
			{Index: 0, UUID: "GPU-0", Name: "NVIDIA H100", MemoryBytes: 80 << 30, PowerLimitW: 700.5},
			{Index: 1, UUID: "GPU-1", Name: "NVIDIA H100", MemoryBytes: 80 << 30},
		},
		Meters:        []joule.Meter{{Kind: joule.MeterRAPL, Name: "package-0", Source: "/sys/class/powercap/intel-rapl:0"}},
		Labels:        map[string]string{"zone": "a", "tier": "gpu"},
		State:         joule.NodeReady,
		Version:       "v0.1.0",
		CreatedAt:     stored(base),
		LastHeartbeat: stored(base),
		Usage: &joule.NodeUsage{
			Time: stored(base), CPUFraction: 0.25, MemoryUsed: 1 << 30, Load1: 3.5, GPUFractions: []float64{0.5, 1},
		},
	}
}

func testNodes(t *testing.T, s joule.Store) {
	ctx := t.Context()
	n := testNode("gpu-1")
	got, err := s.UpsertNode(ctx, n)
	if err != nil {
		t.Fatalf("UpsertNode: %v", err)
	}
	if diff := cmp.Diff(n, got); diff != "" {
		t.Errorf("UpsertNode(new) mismatch (-want +got):\n%s", diff)
	}
	for _, key := range []string{n.ID, n.Name} {
		got, err := s.GetNode(ctx, key)
		if err != nil {
			t.Fatalf("GetNode(%q): %v", key, err)
		}
		if diff := cmp.Diff(n, got); diff != "" {
			t.Errorf("GetNode(%q) mismatch (-want +got):\n%s", key, diff)
		}
	}

	// Re-registering by name updates the inventory and keeps ID and CreatedAt.
	upd := testNode("gpu-1")
	upd.CreatedAt = stored(base.Add(time.Hour))
	upd.LastHeartbeat = stored(base.Add(time.Hour))
	upd.Kernel = "6.9.1"
	upd.GPUs = upd.GPUs[:1]
	upd.Meters = []joule.Meter{}
	upd.Labels = nil
	upd.Usage = nil
	upd.Version = "v0.2.0"
	got, err = s.UpsertNode(ctx, upd)
	if err != nil {
		t.Fatalf("UpsertNode(update): %v", err)
	}
	want := upd
	want.ID = n.ID
	want.CreatedAt = n.CreatedAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpsertNode(update) mismatch (-want +got):\n%s", diff)
	}
	got, err = s.GetNode(ctx, n.Name)
	if err != nil {
		t.Fatalf("GetNode: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetNode after update mismatch (-want +got):\n%s", diff)
	}

	// Nil and empty collections round-trip as given.
	bare := joule.Node{ID: joule.NewID("node", base), Name: "bare", State: joule.NodeReady, CreatedAt: stored(base)}
	if _, err := s.UpsertNode(ctx, bare); err != nil {
		t.Fatalf("UpsertNode(bare): %v", err)
	}
	got, err = s.GetNode(ctx, "bare")
	if err != nil {
		t.Fatalf("GetNode(bare): %v", err)
	}
	if diff := cmp.Diff(bare, got); diff != "" {
		t.Errorf("GetNode(bare) mismatch (-want +got):\n%s", diff)
	}
}

func testNodeErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	n, err := s.UpsertNode(ctx, testNode("gpu-1"))
	if err != nil {
		t.Fatalf("UpsertNode: %v", err)
	}
	clash := testNode("gpu-2")
	clash.ID = n.ID
	_, err = s.UpsertNode(ctx, clash)
	wantCode(t, "UpsertNode(ID of another node)", err, joule.ECONFLICT)
	noID := testNode("gpu-3")
	noID.ID = ""
	_, err = s.UpsertNode(ctx, noID)
	wantCode(t, "UpsertNode(empty ID)", err, joule.EINVALID)
	_, err = s.GetNode(ctx, "missing")
	wantCode(t, "GetNode(missing)", err, joule.ENOTFOUND)
	wantCode(t, "Heartbeat(missing)", s.Heartbeat(ctx, "node_missing", base, nil), joule.ENOTFOUND)
}

func testListNodesPaging(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var want []joule.Node
	for i := range 5 {
		n, err := s.UpsertNode(ctx, testNode(fmt.Sprintf("node-%d", i)))
		if err != nil {
			t.Fatalf("UpsertNode: %v", err)
		}
		want = append(want, n)
	}
	want = byID(want, func(n joule.Node) string { return n.ID })
	for _, limit := range []int{1, 2, 5} {
		got := listAll(t, "ListNodes", limit, func(c string) ([]joule.Node, string, error) {
			return s.ListNodes(ctx, joule.ListOptions{Limit: limit, Cursor: c})
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListNodes pages of %d mismatch (-want +got):\n%s", limit, diff)
		}
	}
}

func testHeartbeatAndLost(t *testing.T, s joule.Store) {
	ctx := t.Context()
	mk := func(name string, last time.Time, state joule.NodeState) joule.Node {
		n := testNode(name)
		n.LastHeartbeat, n.State = stored(last), state
		got, err := s.UpsertNode(ctx, n)
		if err != nil {
			t.Fatalf("UpsertNode(%s): %v", name, err)
		}
		return got
	}
	cutoff := stored(base.Add(10 * time.Minute))
	fresh := mk("fresh", base, joule.NodeReady)
	stale1 := mk("stale-1", base.Add(-time.Hour), joule.NodeReady)
	stale2 := mk("stale-2", cutoff.Add(-time.Microsecond), joule.NodeReady)
	atCutoff := mk("at-cutoff", cutoff, joule.NodeReady)
	gone := mk("gone", base.Add(-time.Hour), joule.NodeLost)

	// fresh heartbeats after the cutoff.
	usage := &joule.NodeUsage{Time: base.Add(15 * time.Minute), CPUFraction: 0.5, MemoryUsed: 42, Load1: 1.25}
	hb := base.Add(15 * time.Minute)
	if err := s.Heartbeat(ctx, fresh.ID, hb, usage); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	got, err := s.GetNode(ctx, fresh.ID)
	if err != nil {
		t.Fatalf("GetNode: %v", err)
	}
	wantUsage := *usage
	wantUsage.Time = stored(usage.Time)
	if !got.LastHeartbeat.Equal(stored(hb)) || got.State != joule.NodeReady {
		t.Errorf("after Heartbeat: LastHeartbeat %v, State %q; want %v, ready", got.LastHeartbeat, got.State, stored(hb))
	}
	if diff := cmp.Diff(&wantUsage, got.Usage); diff != "" {
		t.Errorf("after Heartbeat: Usage mismatch (-want +got):\n%s", diff)
	}

	lost, err := s.MarkLostNodes(ctx, cutoff)
	if err != nil {
		t.Fatalf("MarkLostNodes: %v", err)
	}
	var want []joule.Node
	for _, n := range []joule.Node{stale1, stale2} {
		n.State = joule.NodeLost
		want = append(want, n)
	}
	want = byID(want, func(n joule.Node) string { return n.ID })
	if diff := cmp.Diff(want, lost); diff != "" {
		t.Errorf("MarkLostNodes(%v) mismatch (-want +got):\n%s", cutoff, diff)
	}
	for _, n := range []joule.Node{atCutoff, gone} {
		got, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatalf("GetNode: %v", err)
		}
		if got.State != n.State {
			t.Errorf("node %s: State %q, want %q unchanged", n.Name, got.State, n.State)
		}
	}
	lost, err = s.MarkLostNodes(ctx, cutoff)
	if err != nil || len(lost) != 0 {
		t.Errorf("MarkLostNodes again = %v, %v; want none", lost, err)
	}

	// A heartbeat brings a lost node back, and nil usage clears the usage.
	if err := s.Heartbeat(ctx, stale1.ID, hb, nil); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	got, err = s.GetNode(ctx, stale1.ID)
	if err != nil {
		t.Fatalf("GetNode: %v", err)
	}
	if got.State != joule.NodeReady || got.Usage != nil || !got.LastHeartbeat.Equal(stored(hb)) {
		t.Errorf("after Heartbeat of lost node: State %q, Usage %v, LastHeartbeat %v; want ready, nil, %v",
			got.State, got.Usage, got.LastHeartbeat, stored(hb))
	}
}

func testEvents(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var global, wsA []joule.Event
	for i := range 7 {
		e := joule.Event{
			ID:      joule.NewID("evt", base),
			Time:    stored(base.Add(time.Duration(i) * time.Second)),
			Kind:    "node.registered",
			Subject: fmt.Sprintf("node_%d", i),
			Message: fmt.Sprintf("node %d registered", i),
		}
		if i%3 == 0 {
			e.WorkspaceID = "ws_a"
			wsA = append(wsA, e)
		} else {
			global = append(global, e)
		}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	wantCode(t, "AppendEvent(duplicate ID)", s.AppendEvent(ctx, global[0]), joule.ECONFLICT)
	wantCode(t, "AppendEvent(empty ID)", s.AppendEvent(ctx, joule.Event{Kind: "x"}), joule.EINVALID)
	tests := []struct {
		ws   string
		want []joule.Event
	}{
		{"", global},
		{"ws_a", wsA},
		{"ws_none", nil},
	}
	for _, tt := range tests {
		want := byID(tt.want, func(e joule.Event) string { return e.ID })
		got := listAll(t, "ListEvents", 2, func(c string) ([]joule.Event, string, error) {
			return s.ListEvents(ctx, tt.ws, joule.ListOptions{Limit: 2, Cursor: c})
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListEvents(%q) mismatch (-want +got):\n%s", tt.ws, diff)
		}
	}
}
