package joule_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	e := joule.Errorf(joule.ENOTFOUND, "workspace %q not found", "x")
	wrapped := fmt.Errorf("get: %w", e)
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{e, joule.ENOTFOUND, `workspace "x" not found`},
		{wrapped, joule.ENOTFOUND, `workspace "x" not found`},
		{errors.New("disk on fire"), joule.EINTERNAL, "internal error"},
	} {
		if got := joule.ErrorCode(tc.err); got != tc.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if got := joule.ErrorMessage(tc.err); got != tc.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := joule.NewID("job", t0.Add(time.Duration(i)*time.Millisecond))
		if !strings.HasPrefix(id, "job_") || len(id) != 4+26 {
			t.Fatalf("NewID = %q, want job_ and 26 characters", id)
		}
		if id <= prev {
			t.Fatalf("NewID not increasing: %q after %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		prev = id
	}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	viewer := joule.Principal{TokenID: "tok_v", WorkspaceID: "ws_a", WorkspaceName: "a", Role: joule.RoleViewer}
	editor := joule.Principal{TokenID: "tok_e", WorkspaceID: "ws_a", WorkspaceName: "a", Role: joule.RoleEditor}
	admin := joule.Principal{TokenID: "tok_x", WorkspaceID: "ws_a", WorkspaceName: "a", Role: joule.RoleAdmin}
	root := joule.Principal{TokenID: "tok_r", WorkspaceID: "ws_d", WorkspaceName: joule.DefaultWorkspace, Role: joule.RoleAdmin}
	for _, tc := range []struct {
		name string
		p    joule.Principal
		want joule.Role
		ws   string
		code string
	}{
		{"anonymous", joule.Principal{}, joule.RoleViewer, "", joule.EUNAUTHORIZED},
		{"viewer reads", viewer, joule.RoleViewer, "ws_a", ""},
		{"viewer writes", viewer, joule.RoleEditor, "ws_a", joule.EFORBIDDEN},
		{"editor writes", editor, joule.RoleEditor, "ws_a", ""},
		{"editor administers", editor, joule.RoleAdmin, "ws_a", joule.EFORBIDDEN},
		{"admin of another workspace", admin, joule.RoleViewer, "ws_b", joule.EFORBIDDEN},
		{"platform admin anywhere", root, joule.RoleAdmin, "ws_b", ""},
		{"unknown role", joule.Principal{TokenID: "t", WorkspaceID: "ws_a", Role: "root"}, joule.RoleViewer, "ws_a", joule.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := joule.ErrorCode(joule.Authorize(tc.p, tc.want, tc.ws)); got != tc.code {
				t.Errorf("Authorize = %q, want %q", got, tc.code)
			}
		})
	}
}

func chain(n int) []joule.AuditEntry {
	prev := joule.AuditGenesis
	var out []joule.AuditEntry
	for i := 1; i <= n; i++ {
		e := joule.AuditEntry{Seq: int64(i), Time: time.Date(2026, 11, 27, 10, 0, i, 123456789, time.UTC), Principal: "tok_a", Action: "token.create", Resource: fmt.Sprint(i), Outcome: "success", PrevHash: prev}
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func verify(entries []joule.AuditEntry, headSeq int64, headHash string) error {
	v := joule.NewAuditVerifier()
	for _, e := range entries {
		if err := v.Add(e); err != nil {
			return err
		}
	}
	return v.Finish(headSeq, headHash)
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	good := chain(5)
	head := good[4]
	edited := chain(5)
	edited[2].Action = "workspace.delete"
	deleted := append(chain(5)[:1:1], chain(5)[2:]...)
	for _, tc := range []struct {
		name    string
		entries []joule.AuditEntry
		seq     int64
		hash    string
		broken  int64
	}{
		{"intact", good, head.Seq, head.Hash, 0},
		{"empty", nil, 0, "", 0},
		{"edited", edited, head.Seq, head.Hash, 3},
		{"deleted middle", deleted, head.Seq, head.Hash, 2},
		{"deleted newest", good[:4], head.Seq, head.Hash, 5},
		{"added outside", good, 4, good[3].Hash, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(tc.entries, tc.seq, tc.hash)
			if tc.broken == 0 {
				if err != nil {
					t.Fatalf("verify = %v, want nil", err)
				}
				return
			}
			ce, ok := errors.AsType[*joule.AuditChainError](err)
			if !ok || ce.Seq != tc.broken {
				t.Errorf("verify = %v, want broken at %d", err, tc.broken)
			}
		})
	}
	// The hash covers time at microsecond precision only.
	e := good[0]
	e2 := e
	e2.Time = e.Time.Truncate(time.Microsecond)
	if e.ComputeHash(joule.AuditGenesis) != e2.ComputeHash(joule.AuditGenesis) {
		t.Error("hash depends on sub-microsecond time")
	}
}

func TestParseQuantities(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1000, true}, {"0.5", 500, true}, {"500m", 500, true}, {"2", 2000, true},
		{"-1", 0, false}, {"abc", 0, false}, {"1.5m", 0, false}, {"", 0, false}, {"NaN", 0, false},
	} {
		got, err := joule.ParseCPU(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512Mi", 512 << 20, true}, {"16Gi", 16 << 30, true}, {"1000000", 1e6, true}, {"1G", 1e9, true},
		{"1.5Ki", 1536, true}, {"12XB", 0, false}, {"-1Mi", 0, false}, {"Mi", 0, false}, {"1e30Ti", 0, false},
	} {
		got, err := joule.ParseMemory(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.HasPrefix(joule.ErrorMessage(err), "memory:") {
			t.Errorf("ParseMemory(%q) error %q does not name the field", tc.in, joule.ErrorMessage(err))
		}
	}
}

func TestJobSpecValidate(t *testing.T) {
	t.Parallel()
	base := joule.JobSpec{Name: "train", Command: []string{"python3", "train.py"}}
	later := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	earlier := later.Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		change func(*joule.JobSpec)
		field  string
	}{
		{"valid", func(*joule.JobSpec) {}, ""},
		{"empty command", func(s *joule.JobSpec) { s.Command = nil }, "command:"},
		{"blank command", func(s *joule.JobSpec) { s.Command = []string{" "} }, "command:"},
		{"negative cpu", func(s *joule.JobSpec) { s.Resources.CPUMillis = -1 }, "resources.cpu_millis:"},
		{"priority 12", func(s *joule.JobSpec) { s.Priority = 12 }, "priority:"},
		{"bad name", func(s *joule.JobSpec) { s.Name = "Train Job" }, "name:"},
		{"bad kind", func(s *joule.JobSpec) { s.Kind = "spark" }, "kind:"},
		{"negative retries", func(s *joule.JobSpec) { s.Retries = -1 }, "retries:"},
		{"deadline before not_before", func(s *joule.JobSpec) { s.NotBefore, s.Deadline = &later, &earlier }, "deadline:"},
		{"bad env", func(s *joule.JobSpec) { s.Env = map[string]string{"A=B": "x"} }, "env:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.change(&s)
			err := s.WithDefaults().Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if joule.ErrorCode(err) != joule.EINVALID || !strings.HasPrefix(joule.ErrorMessage(err), tc.field) {
				t.Errorf("Validate = %v, want invalid starting %q", err, tc.field)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"30m"`, 30 * time.Minute, true}, {`90`, 90 * time.Second, true}, {`"1h30m"`, 90 * time.Minute, true},
		{`"soon"`, 0, false}, {`true`, 0, false}, {`1e300`, 0, false},
	} {
		var d joule.Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err == nil) != tc.ok || time.Duration(d) != tc.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, ok=%v", tc.in, time.Duration(d), err, tc.want, tc.ok)
		}
	}
	b, _ := json.Marshal(joule.Duration(90 * time.Second))
	if string(b) != `"1m30s"` {
		t.Errorf("Marshal(90s) = %s", b)
	}
}

func FuzzParseQuantities(f *testing.F) {
	for _, s := range []string{"1", "500m", "0.5", "512Mi", "16Gi", "12XB", "-1", "1e308Ti", "NaNMi", "Infm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := joule.ParseCPU(s); err == nil && n < 0 {
			t.Errorf("ParseCPU(%q) = %d, negative", s, n)
		}
		if n, err := joule.ParseMemory(s); err == nil && n < 0 {
			t.Errorf("ParseMemory(%q) = %d, negative", s, n)
		}
	})
}

func FuzzJobSpecJSON(f *testing.F) {
	f.Add(`{"name":"a","command":["true"],"timeout":"1s","priority":3}`)
	f.Add(`{"name":"a","command":[],"retries":-1,"deadline":"2026-01-01T00:00:00Z"}`)
	f.Add(`{"timeout":1e999}`)
	f.Fuzz(func(t *testing.T, s string) {
		var spec joule.JobSpec
		if json.Unmarshal([]byte(s), &spec) != nil {
			return
		}
		_ = spec.WithDefaults().Validate() // must not panic
	})
}
