package carbon

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/joule-dev/joule"
)

// ErrNoData reports that a series has no value for the time asked. It is
// wrapped in a *joule.Error with code joule.ENOTFOUND.
var ErrNoData = errors.New("no carbon-intensity data")

// defaultStep is the length given to the interval of a one-point series.
const defaultStep = time.Hour

// Point is one carbon-intensity value: GramsPerKWh (gCO2e/kWh) holds from
// Time until the next point of its series.
type Point struct {
	Time        time.Time
	GramsPerKWh float64
}

// Series is a step function of carbon intensity over time: points sorted by
// strictly increasing time, regular or irregular. The zero Series is empty.
// A Series is immutable and safe for concurrent use.
type Series struct {
	points []Point
	end    time.Time // end of the last point's interval
}

// NewSeries returns a series of the given points, which must have strictly
// increasing times and finite, non-negative values. Times are converted to
// UTC. The last point holds for as long as the interval before it, or one
// hour when there is a single point.
func NewSeries(points []Point) (Series, error) {
	if len(points) == 0 {
		return Series{}, nil
	}
	ps := make([]Point, len(points))
	for i, p := range points {
		if err := checkValue(p.GramsPerKWh); err != nil {
			return Series{}, joule.Errorf(joule.EINVALID, "point %d at %s: %v", i, p.Time.UTC().Format(time.RFC3339), err)
		}
		if i > 0 && !p.Time.After(points[i-1].Time) {
			return Series{}, joule.Errorf(joule.EINVALID, "point %d at %s: times must increase", i, p.Time.UTC().Format(time.RFC3339))
		}
		ps[i] = Point{Time: p.Time.UTC(), GramsPerKWh: p.GramsPerKWh}
	}
	return newSeries(ps), nil
}

// newSeries wraps points already checked and in UTC.
func newSeries(ps []Point) Series {
	if len(ps) == 0 {
		return Series{}
	}
	step := defaultStep
	if n := len(ps); n > 1 {
		step = ps[n-1].Time.Sub(ps[n-2].Time)
	}
	return Series{points: ps, end: ps[len(ps)-1].Time.Add(step)}
}

// Flat returns a series with one value over [from, to).
func Flat(from, to time.Time, gramsPerKWh float64) (Series, error) {
	if err := checkValue(gramsPerKWh); err != nil {
		return Series{}, joule.Errorf(joule.EINVALID, "flat series: %v", err)
	}
	if !to.After(from) {
		return Series{}, joule.Errorf(joule.EINVALID, "flat series: empty range %s to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return Series{points: []Point{{Time: from.UTC(), GramsPerKWh: gramsPerKWh}}, end: to.UTC()}, nil
}

func checkValue(v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("value %v is not a finite number", v)
	case v < 0:
		return fmt.Errorf("negative intensity %v", v)
	}
	return nil
}

// Len returns the number of points.
func (s Series) Len() int { return len(s.points) }

// Points returns a copy of the points.
func (s Series) Points() []Point { return append([]Point(nil), s.points...) }

// Start returns the time of the first point, or the zero time when s is
// empty.
func (s Series) Start() time.Time {
	if len(s.points) == 0 {
		return time.Time{}
	}
	return s.points[0].Time
}

// End returns the end of the last point's interval: s covers [Start, End).
func (s Series) End() time.Time { return s.end }

// Step returns the length of the last interval, which is the nominal step
// of a regular series.
func (s Series) Step() time.Duration {
	if len(s.points) == 0 {
		return 0
	}
	return s.end.Sub(s.points[len(s.points)-1].Time)
}

// index returns the index of the point whose interval contains t, or -1.
func (s Series) index(t time.Time) int {
	if len(s.points) == 0 || t.Before(s.points[0].Time) || !t.Before(s.end) {
		return -1
	}
	// First point after t, minus one.
	return sort.Search(len(s.points), func(i int) bool { return s.points[i].Time.After(t) }) - 1
}

// At returns the intensity of the interval that contains t: the value of the
// last point at or before t. It returns an error with code joule.ENOTFOUND
// wrapping ErrNoData when t is outside [Start, End).
func (s Series) At(t time.Time) (float64, error) {
	i := s.index(t)
	if i < 0 {
		return 0, s.noData(t)
	}
	return s.points[i].GramsPerKWh, nil
}

func (s Series) noData(t time.Time) error {
	if len(s.points) == 0 {
		return &joule.Error{Code: joule.ENOTFOUND, Message: "no carbon-intensity data: the series is empty", Err: ErrNoData}
	}
	return &joule.Error{
		Code: joule.ENOTFOUND,
		Message: fmt.Sprintf("no carbon-intensity data at %s: the series covers %s to %s",
			t.UTC().Format(time.RFC3339), s.Start().Format(time.RFC3339), s.end.Format(time.RFC3339)),
		Err: ErrNoData,
	}
}

// Range returns the part of s whose intervals overlap [from, to): the point
// whose interval contains from (if any) and every later point before to.
// Values and interval ends are unchanged, so At gives the same answers on
// the result for every time in [from, to) that s covers. An empty range
// gives an empty series.
func (s Series) Range(from, to time.Time) Series {
	if len(s.points) == 0 || !to.After(from) || !to.After(s.Start()) || !from.Before(s.end) {
		return Series{}
	}
	lo := s.index(from)
	if lo < 0 {
		lo = 0 // from is before Start
	}
	hi := sort.Search(len(s.points), func(i int) bool { return !s.points[i].Time.Before(to) })
	end := s.end
	if hi < len(s.points) {
		end = s.points[hi].Time
	}
	return Series{points: append([]Point(nil), s.points[lo:hi]...), end: end}
}

// Mean returns the time-weighted mean intensity of s over [Start, End), or
// an error when s is empty.
func (s Series) Mean() (float64, error) {
	if len(s.points) == 0 {
		return 0, s.noData(time.Time{})
	}
	var sum float64
	for i, p := range s.points {
		next := s.end
		if i+1 < len(s.points) {
			next = s.points[i+1].Time
		}
		sum += p.GramsPerKWh * next.Sub(p.Time).Seconds()
	}
	return sum / s.end.Sub(s.Start()).Seconds(), nil
}
