package serving

import (
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

func TestPredictionIDRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		epoch uint32
		seq   uint64
	}{{0, 1}, {1, 2}, {0xdeadbeef, 123456789}, {0xffffffff, 1<<48 - 1}} {
		id := predictionID(now, c.epoch, c.seq)
		if len(id) != len(joule.NewID("prd", now)) || !strings.HasPrefix(id, "prd_") {
			t.Fatalf("%q: not in NewID's layout", id)
		}
		e, s, ok := parsePredictionID(id)
		if !ok || e != c.epoch || s != c.seq {
			t.Fatalf("%q: parsed (%x, %d, %v), want (%x, %d)", id, e, s, ok, c.epoch, c.seq)
		}
		if e, s, ok := parsePredictionID(strings.ToLower(id)); !ok || e != c.epoch || s != c.seq {
			t.Fatalf("%q lower case: parsed (%x, %d, %v)", id, e, s, ok)
		}
	}
	for _, bad := range []string{"", "prd_", "tok_01ARZ3NDEKTSV4RRFFQ69G5FAV", "prd_01ARZ3NDEKTSV4RRFFQ69G5FA", "prd_81ARZ3NDEKTSV4RRFFQ69G5FAV", "prd_01ARZ3NDEKTSV4RRFFQ69G5FAU"} {
		if _, _, ok := parsePredictionID(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	// IDs sort by time, as NewID's do.
	a, b := predictionID(now, 7, 9), predictionID(now.Add(time.Millisecond), 7, 1)
	if a >= b {
		t.Errorf("%s ≥ %s", a, b)
	}
}

func FuzzParsePredictionID(f *testing.F) {
	f.Add("prd_01ARZ3NDEKTSV4RRFFQ69G5FAV")
	f.Add(predictionID(time.Unix(1, 0), 42, 42))
	f.Fuzz(func(t *testing.T, id string) {
		e, s, ok := parsePredictionID(id)
		if !ok {
			return
		}
		// Whatever parses names the same (epoch, seq) once printed again.
		back := predictionID(time.UnixMilli(0), e, s)
		if e2, s2, ok2 := parsePredictionID(back); !ok2 || e2 != e || s2 != s {
			t.Fatalf("%q → (%d, %d) → %q → (%d, %d, %v)", id, e, s, back, e2, s2, ok2)
		}
	})
}

func TestPredictionStoreRing(t *testing.T) {
	s := newPredictionStore(10)
	now := time.Unix(1_800_000_000, 0)
	resp := func(preds ...any) *joule.PredictResponse {
		r := &joule.PredictResponse{ModelVersion: 3, Predictions: preds}
		s.remember(r, now)
		return r
	}
	a := resp("yes", "no", "yes")    // rows 0-2
	b := resp(1.5, 2.5)              // rows 3-4
	mixed := resp("yes", 2.0)        // not kept
	huge := resp(make([]any, 11)...) // over the limit: not kept
	rec, ok := s.lookup(a.ID)
	if !ok || rec.n != 3 || !rec.classifier || rec.version != 3 {
		t.Fatalf("a: %+v %v", rec, ok)
	}
	if got := s.labelText(rec, s.row(rec, 1).pred); got != "no" {
		t.Errorf("a row 1 predicted %q, want no", got)
	}
	rec, ok = s.lookup(b.ID)
	if !ok || rec.classifier || s.row(rec, 1).pred != 2.5 {
		t.Fatalf("b: %+v %v", rec, ok)
	}
	for _, id := range []string{mixed.ID, huge.ID} {
		if _, ok := s.lookup(id); ok {
			t.Errorf("%s kept", id)
		}
	}
	// Another store (a restart) does not know this one's IDs.
	other := newPredictionStore(10)
	if other.epoch == s.epoch {
		other.epoch++
	}
	if _, ok := other.lookup(a.ID); ok {
		t.Error("another epoch's ID found")
	}
	// Six more rows: 11 written, so a's first row is gone and a with it.
	c := resp(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
	if _, ok := s.lookup(a.ID); ok {
		t.Error("a is still kept after its rows were written over")
	}
	if _, ok := s.lookup(b.ID); !ok {
		t.Error("b was forgotten too early")
	}
	rec, ok = s.lookup(c.ID)
	if !ok || s.row(rec, 5).pred != 6 {
		t.Fatalf("c: %+v %v", rec, ok)
	}
	// Many more: the rings stay at the limit.
	for range 100 {
		resp(1.0)
	}
	if len(s.rows) != 10 || len(s.recs) != 10 {
		t.Errorf("rings grew to %d rows and %d records, want 10 each", len(s.rows), len(s.recs))
	}
	if _, ok := s.lookup(c.ID); ok {
		t.Error("c kept after 100 newer rows")
	}
}
