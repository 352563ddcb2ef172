package carbon

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ElectricityMaps is a client of the Electricity Maps API v3
// (carbon-intensity latest, history, past-range and forecast), which
// answers in gCO2eq/kWh, life-cycle by default. Zones are Electricity Maps
// zone keys: "DE", "US-CAL-CISO", "SE-SE3".
type ElectricityMaps struct {
	HTTPOptions
	Token string // sent as the auth-token header
	cache cache
}

// NewElectricityMaps returns a client that authenticates with token.
func NewElectricityMaps(token string) *ElectricityMaps {
	return &ElectricityMaps{Token: token}
}

var (
	_ Source     = (*ElectricityMaps)(nil)
	_ Forecaster = (*ElectricityMaps)(nil)
)

const electricityMapsName = "Electricity Maps"

// emPoint is one carbon-intensity answer of the API.
type emPoint struct {
	Zone               string    `json:"zone"`
	CarbonIntensity    *float64  `json:"carbonIntensity"`
	Datetime           time.Time `json:"datetime"`
	EmissionFactorType string    `json:"emissionFactorType"`
	IsEstimated        bool      `json:"isEstimated"`
	EstimationMethod   *string   `json:"estimationMethod"`
}

func (c *ElectricityMaps) fetch(ctx context.Context, path string, q url.Values, v any) error {
	u := c.base("https://api.electricitymap.org") + path + "?" + q.Encode()
	return c.getJSON(ctx, electricityMapsName, u, func(r *http.Request) { r.Header.Set("auth-token", c.Token) }, v)
}

// Current returns the latest intensity of zone from
// /v3/carbon-intensity/latest.
func (c *ElectricityMaps) Current(ctx context.Context, zone string) (Intensity, error) {
	return cached(&c.cache, &c.HTTPOptions, "latest:"+zone, func() (Intensity, error) {
		var p emPoint
		if err := c.fetch(ctx, "/v3/carbon-intensity/latest", url.Values{"zone": {zone}}, &p); err != nil {
			return Intensity{}, err
		}
		if p.CarbonIntensity == nil {
			return Intensity{}, (&ProviderError{Provider: electricityMapsName, Status: http.StatusOK, Attempts: 1, Err: errNoValue}).wrap()
		}
		in := Intensity{GramsPerKWh: *p.CarbonIntensity, Source: "electricitymaps:" + zone, Estimated: p.IsEstimated}
		if p.EmissionFactorType != "" {
			in.Source += " (" + p.EmissionFactorType + ")"
		}
		if p.IsEstimated {
			in.Note = "estimated by Electricity Maps"
			if p.EstimationMethod != nil {
				in.Note += " (" + *p.EstimationMethod + ")"
			}
		}
		if err := checkValue(in.GramsPerKWh); err != nil {
			return Intensity{}, (&ProviderError{Provider: electricityMapsName, Status: http.StatusOK, Attempts: 1, Err: err}).wrap()
		}
		return in, nil
	})
}

// History returns the intensity of zone over [from, to): from
// /v3/carbon-intensity/history (the last 24 hours, free tier) when from is
// within the last 24 hours, else from /v3/carbon-intensity/past-range.
func (c *ElectricityMaps) History(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	var s Series
	var err error
	if !from.Before(c.now().Add(-24 * time.Hour)) {
		s, err = cached(&c.cache, &c.HTTPOptions, "history:"+zone, func() (Series, error) {
			var r struct {
				History []emPoint `json:"history"`
			}
			if err := c.fetch(ctx, "/v3/carbon-intensity/history", url.Values{"zone": {zone}}, &r); err != nil {
				return Series{}, err
			}
			return emSeries(r.History)
		})
	} else {
		q := url.Values{"zone": {zone}, "start": {from.UTC().Format(time.RFC3339)}, "end": {to.UTC().Format(time.RFC3339)}}
		s, err = cached(&c.cache, &c.HTTPOptions, "past-range:"+q.Encode(), func() (Series, error) {
			var r struct {
				Data []emPoint `json:"data"`
			}
			if err := c.fetch(ctx, "/v3/carbon-intensity/past-range", q, &r); err != nil {
				return Series{}, err
			}
			return emSeries(r.Data)
		})
	}
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

// Forecast returns the forecast intensity of zone over [from, to) from
// /v3/carbon-intensity/forecast.
func (c *ElectricityMaps) Forecast(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	s, err := cached(&c.cache, &c.HTTPOptions, "forecast:"+zone, func() (Series, error) {
		var r struct {
			Forecast []emPoint `json:"forecast"`
		}
		if err := c.fetch(ctx, "/v3/carbon-intensity/forecast", url.Values{"zone": {zone}}, &r); err != nil {
			return Series{}, err
		}
		return emSeries(r.Forecast)
	})
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

func emSeries(ps []emPoint) (Series, error) {
	out := make([]Point, 0, len(ps))
	for _, p := range ps {
		if p.CarbonIntensity == nil { // a gap at the source
			continue
		}
		out = append(out, Point{Time: p.Datetime, GramsPerKWh: *p.CarbonIntensity})
	}
	return seriesOf(electricityMapsName, out)
}

// nonEmpty returns r, or a not-found error when the range r of s is empty.
func nonEmpty(r, s Series, from time.Time) (Series, error) {
	if r.Len() == 0 {
		return Series{}, s.noData(from)
	}
	return r, nil
}
