package carbon

import (
	"fmt"
	"time"

	"github.com/joule-dev/joule"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
	// maxForecastPoints bounds the points a forecast builds.
	maxForecastPoints = 1 << 20
)

// Persistence forecasts [from, to) from history h: tomorrow equals today at
// the same time of day. The forecast has a point every step (h.Step() when
// step is 0) from from; the value at t is h's value at t − k days for the
// smallest k ≥ 1 that falls before h.End(). It returns an error with code
// joule.ENOTFOUND when h does not reach back that far, and joule.EINVALID
// for an empty range or a bad step.
func Persistence(h Series, from, to time.Time, step time.Duration) (Series, error) {
	return buildForecast(h, from, to, step, func(t time.Time) (float64, error) {
		k := lag(t, h.End(), day)
		return h.At(t.Add(-time.Duration(k) * day))
	})
}

// WeeklyProfile forecasts [from, to) from history h: the value at t is the
// mean of h at the same time of week over the last weeks weeks of h, that
// is at t − k weeks for the weeks smallest k ≥ 1 that fall before h.End().
// Weeks that h does not cover are left out of the mean. The forecast has a
// point every step (h.Step() when step is 0) from from. It returns an error
// with code joule.ENOTFOUND when no week is covered for some t, and
// joule.EINVALID for an empty range, a bad step or weeks < 1.
func WeeklyProfile(h Series, weeks int, from, to time.Time, step time.Duration) (Series, error) {
	if weeks < 1 {
		return Series{}, joule.Errorf(joule.EINVALID, "weekly profile over %d weeks: want at least 1", weeks)
	}
	return buildForecast(h, from, to, step, func(t time.Time) (float64, error) {
		k0 := lag(t, h.End(), week)
		var sum float64
		n := 0
		for k := k0; k < k0+int64(weeks); k++ {
			v, err := h.At(t.Add(-time.Duration(k) * week))
			if err != nil {
				continue
			}
			sum += v
			n++
		}
		if n == 0 {
			return 0, h.noData(t.Add(-time.Duration(k0) * week))
		}
		return sum / float64(n), nil
	})
}

// lag returns the smallest k ≥ 1 with t − k·period before end.
func lag(t, end time.Time, period time.Duration) int64 {
	x := t.Sub(end)
	if x < 0 {
		return 1
	}
	return int64(x/period) + 1
}

func buildForecast(h Series, from, to time.Time, step time.Duration, value func(time.Time) (float64, error)) (Series, error) {
	if step == 0 {
		step = h.Step()
	}
	if step <= 0 {
		return Series{}, joule.Errorf(joule.EINVALID, "forecast step %v: want a positive step or a non-empty history", step)
	}
	if !to.After(from) {
		return Series{}, joule.Errorf(joule.EINVALID, "forecast range %s to %s is empty", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if n := to.Sub(from) / step; n > maxForecastPoints {
		return Series{}, joule.Errorf(joule.EINVALID, "forecast of %d points: at most %d", n, maxForecastPoints)
	}
	var ps []Point
	for t := from.UTC(); t.Before(to); t = t.Add(step) {
		v, err := value(t)
		if err != nil {
			return Series{}, fmt.Errorf("forecast at %s: %w", t.Format(time.RFC3339), err)
		}
		ps = append(ps, Point{Time: t, GramsPerKWh: v})
	}
	return Series{points: ps, end: ps[len(ps)-1].Time.Add(step)}, nil
}
