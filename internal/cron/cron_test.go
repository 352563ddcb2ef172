package cron

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		expr, from, want string
	}{
		{"* * * * *", "2026-11-27 10:00", "2026-11-27 10:01"},
		{"0 2 * * *", "2026-11-27 10:00", "2026-11-28 02:00"},
		{"*/15 * * * *", "2026-11-27 10:07", "2026-11-27 10:15"},
		{"0 1 * * mon", "2026-11-27 10:00", "2026-11-30 01:00"}, // 27th is a Friday
		{"0 0 1 1 *", "2026-11-27 10:00", "2027-01-01 00:00"},
		{"@hourly", "2026-11-27 10:30", "2026-11-27 11:00"},
		{"30 9 1,15 * *", "2026-11-27 10:00", "2026-12-01 09:30"},
		{"0 0 13 * 5", "2026-11-01 00:00", "2026-11-06 00:00"}, // either the 13th or a Friday
		{"0 12 * * 7", "2026-11-27 10:00", "2026-11-29 12:00"}, // 7 is Sunday
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"5-10/5 * * * *", "2026-11-27 10:06", "2026-11-27 10:10"},
	} {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.expr, err)
		}
		if got := s.Next(at(tc.from)); !got.Equal(at(tc.want)) {
			t.Errorf("Parse(%q).Next(%s) = %s, want %s", tc.expr, tc.from, got.Format("2006-01-02 15:04"), tc.want)
		}
	}
	s, _ := Parse("0 0 30 2 *")
	if got := s.Next(at("2026-01-01 00:00")); !got.IsZero() {
		t.Errorf("Feb 30 Next = %v, want zero", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, want string }{
		{"* * * *", "want 5 fields"},
		{"60 * * * *", "minute"},
		{"* 24 * * *", "hour"},
		{"* * 0 * *", "day of month"},
		{"* * * 13 *", "month"},
		{"* * * * 8", "day of week"},
		{"*/0 * * * *", "step"},
		{"5-1 * * * *", "backwards"},
		{"1,,2 * * * *", "empty"},
	} {
		if _, err := Parse(tc.expr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error about %q", tc.expr, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 1,15 jan-mar mon-fri", "@daily", "0 0 30 2 *", "1-/2 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		from := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		if n := s.Next(from); !n.IsZero() && !n.After(from) {
			t.Errorf("Next(%v) = %v, not after", from, n)
		}
	})
}
