package carbon

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// UKCarbonIntensity is a client of the GB national Carbon Intensity API
// (api.carbonintensity.org.uk, NESO; no key). It answers for zone "GB"
// (or "UK") only, in gCO2/kWh per half hour.
type UKCarbonIntensity struct {
	HTTPOptions
	cache cache
}

// NewUKCarbonIntensity returns a client of the public API.
func NewUKCarbonIntensity() *UKCarbonIntensity { return &UKCarbonIntensity{} }

var (
	_ Source     = (*UKCarbonIntensity)(nil)
	_ Forecaster = (*UKCarbonIntensity)(nil)
)

const (
	ukName = "UK Carbon Intensity"
	// ukTime is the API's time form: "2018-01-20T12:00Z".
	ukTime = "2006-01-02T15:04Z"
	// ukMaxRange is the longest range one /intensity/{from}/{to} call takes.
	ukMaxRange = 14 * 24 * time.Hour
)

type ukPeriod struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Intensity struct {
		Forecast *float64 `json:"forecast"`
		Actual   *float64 `json:"actual"`
		Index    string   `json:"index"`
	} `json:"intensity"`
}

type ukAnswer struct {
	Data []ukPeriod `json:"data"`
}

func (c *UKCarbonIntensity) check(zone string) error {
	switch strings.ToUpper(zone) {
	case "GB", "UK":
		return nil
	}
	return joule.Errorf(joule.ENOTFOUND, "%s: zone %q: the national API covers GB only", ukName, zone)
}

func (c *UKCarbonIntensity) fetch(ctx context.Context, path string) ([]ukPeriod, error) {
	var a ukAnswer
	err := c.getJSON(ctx, ukName, c.base("https://api.carbonintensity.org.uk")+path, nil, &a)
	return a.Data, err
}

// Current returns the intensity of the current half hour from /intensity:
// the actual value, or the forecast (Estimated) until the actual is
// published.
func (c *UKCarbonIntensity) Current(ctx context.Context, zone string) (Intensity, error) {
	if err := c.check(zone); err != nil {
		return Intensity{}, err
	}
	return cached(&c.cache, &c.HTTPOptions, "intensity", func() (Intensity, error) {
		data, err := c.fetch(ctx, "/intensity")
		if err != nil {
			return Intensity{}, err
		}
		if len(data) == 0 {
			return Intensity{}, (&ProviderError{Provider: ukName, Status: http.StatusOK, Attempts: 1, Err: errNoValue}).wrap()
		}
		p := data[0]
		in := Intensity{Source: "ukci:GB"}
		switch {
		case p.Intensity.Actual != nil:
			in.GramsPerKWh = *p.Intensity.Actual
		case p.Intensity.Forecast != nil:
			in.GramsPerKWh = *p.Intensity.Forecast
			in.Estimated = true
			in.Note = "NESO forecast: the actual value is not yet published"
		default:
			return Intensity{}, (&ProviderError{Provider: ukName, Status: http.StatusOK, Attempts: 1, Err: errNoValue}).wrap()
		}
		if err := checkValue(in.GramsPerKWh); err != nil {
			return Intensity{}, (&ProviderError{Provider: ukName, Status: http.StatusOK, Attempts: 1, Err: err}).wrap()
		}
		return in, nil
	})
}

// History returns the half-hourly intensity over [from, to) from
// /intensity/{from}/{to}, in calls of at most 14 days: actual values, and
// forecasts where no actual is published.
func (c *UKCarbonIntensity) History(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	if err := c.check(zone); err != nil {
		return Series{}, err
	}
	var all []ukPeriod
	for a := from.UTC().Truncate(30 * time.Minute); a.Before(to); a = a.Add(ukMaxRange) {
		b := a.Add(ukMaxRange)
		if b.After(to) {
			b = to.UTC()
		}
		path := "/intensity/" + a.Format(ukTime) + "/" + b.Format(ukTime)
		data, err := cached(&c.cache, &c.HTTPOptions, path, func() ([]ukPeriod, error) { return c.fetch(ctx, path) })
		if err != nil {
			return Series{}, err
		}
		all = append(all, data...)
	}
	s, err := ukSeries(all, false)
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

// Forecast returns the forecast over [from, to) from
// /intensity/{from}/fw48h; the API forecasts up to 48 hours ahead.
func (c *UKCarbonIntensity) Forecast(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	if err := c.check(zone); err != nil {
		return Series{}, err
	}
	path := "/intensity/" + from.UTC().Truncate(30*time.Minute).Format(ukTime) + "/fw48h"
	data, err := cached(&c.cache, &c.HTTPOptions, path, func() ([]ukPeriod, error) { return c.fetch(ctx, path) })
	if err != nil {
		return Series{}, err
	}
	s, err := ukSeries(data, true)
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

// ukSeries turns half-hour periods into a series ending at the last
// period's "to".
func ukSeries(data []ukPeriod, forecast bool) (Series, error) {
	ps := make([]Point, 0, len(data))
	var end time.Time
	for _, p := range data {
		t, err := time.Parse(ukTime, p.From)
		if err != nil {
			return Series{}, (&ProviderError{Provider: ukName, Status: http.StatusOK, Attempts: 1, Err: err}).wrap()
		}
		v := p.Intensity.Actual
		if forecast || v == nil {
			v = p.Intensity.Forecast
		}
		if v == nil {
			continue
		}
		if e, err := time.Parse(ukTime, p.To); err == nil && e.After(end) {
			end = e
		}
		ps = append(ps, Point{Time: t, GramsPerKWh: *v})
	}
	s, err := seriesOf(ukName, ps)
	if err != nil || s.Len() == 0 {
		return s, err
	}
	if end.After(s.points[s.Len()-1].Time) {
		s.end = end.UTC()
	}
	return s, nil
}
