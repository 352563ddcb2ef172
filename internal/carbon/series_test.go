package carbon

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

func mustSeries(t *testing.T, ps ...Point) Series {
	t.Helper()
	s, err := NewSeries(ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSeriesAt(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	s := mustSeries(t, Point{t0, 100}, Point{t0.Add(time.Hour), 200}, Point{t0.Add(90 * time.Minute), 300})
	tests := []struct {
		at   time.Time
		want float64
		err  bool
	}{
		{t0.Add(-time.Nanosecond), 0, true},
		{t0, 100, false},
		{t0.Add(59 * time.Minute), 100, false},
		{t0.Add(time.Hour), 200, false},
		{t0.Add(89 * time.Minute), 200, false},
		{t0.Add(90 * time.Minute), 300, false},
		{t0.Add(119 * time.Minute), 300, false}, // last point holds for the previous interval (30 min)
		{t0.Add(120 * time.Minute), 0, true},
	}
	for _, tt := range tests {
		got, err := s.At(tt.at)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("At(%v) = %v, %v; want %v (error %v)", tt.at, got, err, tt.want, tt.err)
		}
		if err != nil && (!errors.Is(err, ErrNoData) || joule.ErrorCode(err) != joule.ENOTFOUND) {
			t.Errorf("At(%v) error %v: want ErrNoData, not_found", tt.at, err)
		}
	}
	one := mustSeries(t, Point{t0, 5})
	if one.End() != t0.Add(time.Hour) {
		t.Errorf("one-point End() = %v, want an hour after", one.End())
	}
}

func TestSeriesRange(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	var ps []Point
	for i := range 6 {
		ps = append(ps, Point{t0.Add(time.Duration(i) * time.Hour), float64(i)})
	}
	s := mustSeries(t, ps...)
	r := s.Range(t0.Add(90*time.Minute), t0.Add(4*time.Hour))
	if diff := cmp.Diff(ps[1:4], r.Points()); diff != "" {
		t.Errorf("Range points (-want +got):\n%s", diff)
	}
	if r.End() != t0.Add(4*time.Hour) {
		t.Errorf("Range End() = %v, want %v", r.End(), t0.Add(4*time.Hour))
	}
	if r := s.Range(t0.Add(10*time.Hour), t0.Add(11*time.Hour)); r.Len() != 0 {
		t.Errorf("Range past the end has %d points", r.Len())
	}
	if m, _ := s.Mean(); math.Abs(m-2.5) > 1e-12 {
		t.Errorf("Mean() = %v, want 2.5", m)
	}
}

func TestNewSeriesInvalid(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	for name, ps := range map[string][]Point{
		"negative":  {{t0, -1}},
		"NaN":       {{t0, math.NaN()}},
		"Inf":       {{t0, math.Inf(1)}},
		"unordered": {{t0, 1}, {t0, 2}},
	} {
		if _, err := NewSeries(ps); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("NewSeries(%s) = %v, want invalid", name, err)
		}
	}
}
