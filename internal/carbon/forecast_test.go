package carbon

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// hourly returns n hourly points from t0 with value f(i).
func hourly(t *testing.T, t0 time.Time, n int, f func(i int) float64) Series {
	t.Helper()
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = Point{t0.Add(time.Duration(i) * time.Hour), f(i)}
	}
	return mustSeries(t, ps...)
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z")
	h := hourly(t, t0, 48, func(i int) float64 { return float64(i) })
	// Tomorrow (day 3) equals today (day 2) at the same hour; the day after
	// also repeats day 2.
	f, err := Persistence(h, t0.Add(48*time.Hour), t0.Add(51*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{t0.Add(48 * time.Hour), 24}, {t0.Add(49 * time.Hour), 25}, {t0.Add(50 * time.Hour), 26}}
	if diff := cmp.Diff(want, f.Points()); diff != "" {
		t.Errorf("Persistence (-want +got):\n%s", diff)
	}
	f, _ = Persistence(h, t0.Add(75*time.Hour), t0.Add(76*time.Hour), 0)
	if got := f.Points()[0].GramsPerKWh; got != 27 {
		t.Errorf("Persistence two days out at 03:00 = %v, want 27", got)
	}
	if _, err := Persistence(h, t0.Add(48*time.Hour), t0.Add(48*time.Hour), 0); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("empty range: %v", err)
	}
	short := hourly(t, t0, 3, func(int) float64 { return 1 })
	if _, err := Persistence(short, t0.Add(3*time.Hour), t0.Add(4*time.Hour), 0); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("short history: %v, want not_found", err)
	}
}

func TestWeeklyProfile(t *testing.T) {
	t.Parallel()
	t0 := utc("2024-01-01T00:00:00Z") // a Monday
	// Three weeks; week w adds 10·w, hour-of-week adds its index.
	h := hourly(t, t0, 3*168, func(i int) float64 { return float64(i%168) + 10*float64(i/168) })
	from := t0.Add(3 * week)
	f, err := WeeklyProfile(h, 2, from, from.Add(2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Mean of weeks 2 and 1 (values +20 and +10) → +15.
	want := []Point{{from, 15}, {from.Add(time.Hour), 16}}
	if diff := cmp.Diff(want, f.Points()); diff != "" {
		t.Errorf("WeeklyProfile (-want +got):\n%s", diff)
	}
	// Asking for more weeks than exist averages those that do: 0,10,20 → 10.
	f, _ = WeeklyProfile(h, 5, from, from.Add(time.Hour), 0)
	if got := f.Points()[0].GramsPerKWh; got != 10 {
		t.Errorf("WeeklyProfile over 5 weeks = %v, want 10", got)
	}
	if _, err := WeeklyProfile(h, 0, from, from.Add(time.Hour), 0); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("0 weeks: %v", err)
	}
}
