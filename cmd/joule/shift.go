package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/carbon"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/energy"
)

// Carbon-aware timing in the server: the dispatcher's forecast and the
// worker's actual intensities come from a forecast file (--carbon-forecast),
// a CSV in one of the formats internal/carbon reads. With a file, the
// forecast and the actual intensities are the same series, and every figure
// names the file.

// loadForecast reads a forecast file. Gaps of up to two steps are filled
// (and logged); longer gaps, bad timestamps and negative values are
// rejected with the line named.
func loadForecast(path string, logger *slog.Logger) (carbon.Series, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return carbon.Series{}, "", joule.Errorf(joule.EINVALID, "carbon_forecast: %v", err)
	}
	defer f.Close()
	name := "file " + filepath.Base(path)
	s, rep, err := carbon.ParseCSV(f, path)
	if err != nil {
		return carbon.Series{}, "", joule.Errorf(joule.EINVALID, "carbon_forecast: %s", joule.ErrorMessage(err))
	}
	if s.Len() == 0 {
		return carbon.Series{}, "", joule.Errorf(joule.EINVALID, "carbon_forecast: %s has no values", path)
	}
	if len(rep.Filled) > 0 {
		logger.Warn("carbon forecast file had gaps; filled", "file", path, "filled", len(rep.Filled))
	}
	return s, name, nil
}

// forecastFunc serves the part of s covering [from, to) on s's step. A
// series with a gap on that step in the window is an error, so the job runs
// at once and says why.
func forecastFunc(s carbon.Series, name string) compute.ForecastFunc {
	return func(_ context.Context, from, to time.Time) (compute.Forecast, error) {
		r := s.Range(from, to)
		pts := r.Points()
		if len(pts) == 0 {
			return compute.Forecast{}, fmt.Errorf("%s covers %s to %s, not %s", name,
				s.Start().Format(time.RFC3339), s.End().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
		}
		step := s.Step()
		f := compute.Forecast{Start: pts[0].Time, Step: step, Source: name}
		for i, p := range pts {
			if want := pts[0].Time.Add(time.Duration(i) * step); !p.Time.Equal(want) {
				return compute.Forecast{}, fmt.Errorf("%s has no value for %s (missing hours)", name, want.Format(time.RFC3339))
			}
			f.Values = append(f.Values, p.GramsPerKWh)
		}
		return f, nil
	}
}

// intensityFunc returns the time-weighted mean of s over [from, to), which
// s must cover.
func intensityFunc(s carbon.Series, name string) compute.IntensityFunc {
	return func(_ context.Context, from, to time.Time) (float64, string, error) {
		if !to.After(from) {
			return 0, "", fmt.Errorf("empty period at %s", from.Format(time.RFC3339))
		}
		if from.Before(s.Start()) || to.After(s.End()) {
			return 0, "", fmt.Errorf("%s covers %s to %s, not %s to %s", name, s.Start().Format(time.RFC3339),
				s.End().Format(time.RFC3339), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
		}
		pts := s.Range(from, to).Points()
		var sum float64
		for i, p := range pts {
			a, b := p.Time, to
			if i+1 < len(pts) {
				b = pts[i+1].Time
			}
			if a.Before(from) {
				a = from
			}
			if b.After(to) {
				b = to
			}
			sum += p.GramsPerKWh * b.Sub(a).Seconds()
		}
		return sum / to.Sub(from).Seconds(), name, nil
	}
}

// jobWatts assumes a job draws its share of this node's dynamic CPU power
// at full load: requested cores × (P(100%) − P(idle)) / cores, from the
// estimation model and the CPU's TDP; DefaultWattsPerCore per core when the
// TDP is not known.
func jobWatts(cores int) func(joule.Job) float64 {
	info, _ := os.ReadFile("/proc/cpuinfo")
	tdp := energy.DefaultTDPTable().ForCPU(energy.ParseCPUInfo(info))
	perCore := compute.DefaultWattsPerCore
	if m := energy.DefaultModel(); tdp.Watts > 0 && cores > 0 {
		perCore = (m.CPUWatts(tdp.Watts, 1) - m.IdleWatts(tdp.Watts)) / float64(cores)
	}
	return func(j joule.Job) float64 {
		return perCore * float64(max(j.Spec.Resources.CPUMillis, 1)) / 1000
	}
}
