package joule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

func TestFormatParseID(t *testing.T) {
	now := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	rest := [10]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 0xff}
	id := joule.FormatID("prd", now, rest)
	if got, ok := joule.ParseID("prd", id); !ok || got != rest {
		t.Fatalf("joule.ParseID(%q) = %x, %v; want %x", id, got, ok, rest)
	}
	if got, ok := joule.ParseID("prd", strings.ToLower(id)); !ok || got != rest {
		t.Fatalf("lower case: %x, %v", got, ok)
	}
	if _, ok := joule.ParseID("prd", joule.NewID("prd", now)); !ok {
		t.Error("a NewID does not parse")
	}
	for _, bad := range []string{"", "prd_", "tok" + id[3:], id[:len(id)-1], "prd_8" + id[5:], id[:len(id)-1] + "U"} {
		if _, ok := joule.ParseID("prd", bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
