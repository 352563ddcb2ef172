package carbon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// LbsPerMWhToGramsPerKWh converts WattTime's lbs CO2/MWh to g/kWh:
// 453.59237 g per lb over 1000 kWh per MWh.
const LbsPerMWhToGramsPerKWh = 0.45359237

// WattTime is a client of the WattTime API v3. It logs in at /login with
// basic auth for a bearer token (valid 30 minutes, renewed before then and
// after a 401), then reads /v3/forecast, /v3/historical and
// /v3/signal-index. Zones are WattTime regions ("CAISO_NORTH").
//
// WattTime's co2_moer signal is a marginal operating emissions rate, of CO2
// only, in lbs/MWh: the client converts it to g/kWh
// (× LbsPerMWhToGramsPerKWh) and says in Intensity.Note that it is
// marginal, which is not the average intensity of the static tables.
type WattTime struct {
	HTTPOptions
	Username, Password string
	SignalType         string // "co2_moer" when empty

	cache cache
	mu    sync.Mutex
	token string
	until time.Time
}

// NewWattTime returns a client that logs in as username.
func NewWattTime(username, password string) *WattTime {
	return &WattTime{Username: username, Password: password}
}

var (
	_ Source     = (*WattTime)(nil)
	_ Forecaster = (*WattTime)(nil)
)

const (
	wattTimeName     = "WattTime"
	wattTimeTokenTTL = 25 * time.Minute // tokens last 30 minutes
)

type wtAnswer struct {
	Data []struct {
		PointTime time.Time `json:"point_time"`
		Value     float64   `json:"value"`
	} `json:"data"`
	Meta struct {
		Region     string `json:"region"`
		SignalType string `json:"signal_type"`
		Units      string `json:"units"`
	} `json:"meta"`
}

func (c *WattTime) signal() string {
	if c.SignalType == "" {
		return "co2_moer"
	}
	return c.SignalType
}

func (c *WattTime) login(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !renew && c.token != "" && c.now().Before(c.until) {
		return c.token, nil
	}
	var r struct {
		Token string `json:"token"`
	}
	err := c.getJSON(ctx, wattTimeName, c.base("https://api.watttime.org")+"/login",
		func(req *http.Request) { req.SetBasicAuth(c.Username, c.Password) }, &r)
	if err != nil {
		return "", err
	}
	if r.Token == "" {
		return "", (&ProviderError{Provider: wattTimeName, Status: http.StatusOK, Attempts: 1, Err: fmt.Errorf("login answer has no token")}).wrap()
	}
	c.token, c.until = r.Token, c.now().Add(wattTimeTokenTTL)
	return c.token, nil
}

// fetch GETs a v3 path with the bearer token, logging in again once if the
// token is refused.
func (c *WattTime) fetch(ctx context.Context, path string, q url.Values) (wtAnswer, error) {
	var a wtAnswer
	u := c.base("https://api.watttime.org") + path + "?" + q.Encode()
	for renew := false; ; renew = true {
		tok, err := c.login(ctx, renew)
		if err != nil {
			return a, err
		}
		err = c.getJSON(ctx, wattTimeName, u, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, &a)
		if pe, ok := errors.AsType[*ProviderError](err); ok && pe.Status == http.StatusUnauthorized && !renew {
			continue
		}
		return a, err
	}
}

// toGrams converts a WattTime value to g/kWh by the answer's units.
func toGrams(units string, v float64) (float64, error) {
	switch units {
	case "lbs_co2_per_mwh", "lbs_per_mwh":
		return v * LbsPerMWhToGramsPerKWh, nil
	case "g_co2_per_kwh", "kg_co2_per_mwh":
		return v, nil
	}
	return 0, (&ProviderError{Provider: wattTimeName, Status: http.StatusOK, Attempts: 1, Err: fmt.Errorf("units %q are not an emissions rate", units)}).wrap()
}

func (c *WattTime) series(a wtAnswer) (Series, error) {
	ps := make([]Point, 0, len(a.Data))
	for _, d := range a.Data {
		g, err := toGrams(a.Meta.Units, d.Value)
		if err != nil {
			return Series{}, err
		}
		ps = append(ps, Point{Time: d.PointTime, GramsPerKWh: g})
	}
	return seriesOf(wattTimeName, ps)
}

// Current returns the current MOER of region: the first point of
// /v3/forecast with horizon_hours=0.
func (c *WattTime) Current(ctx context.Context, region string) (Intensity, error) {
	return cached(&c.cache, &c.HTTPOptions, "current:"+region, func() (Intensity, error) {
		a, err := c.fetch(ctx, "/v3/forecast", url.Values{"region": {region}, "signal_type": {c.signal()}, "horizon_hours": {"0"}})
		if err != nil {
			return Intensity{}, err
		}
		if len(a.Data) == 0 {
			return Intensity{}, (&ProviderError{Provider: wattTimeName, Status: http.StatusOK, Attempts: 1, Err: errNoValue}).wrap()
		}
		g, err := toGrams(a.Meta.Units, a.Data[0].Value)
		if err != nil {
			return Intensity{}, err
		}
		if err := checkValue(g); err != nil {
			return Intensity{}, (&ProviderError{Provider: wattTimeName, Status: http.StatusOK, Attempts: 1, Err: err}).wrap()
		}
		return Intensity{GramsPerKWh: g, Source: "watttime:" + region + " (" + c.signal() + ")",
			Note: fmt.Sprintf("WattTime marginal rate (%s, CO2 only), converted from %s to g/kWh", c.signal(), a.Meta.Units)}, nil
	})
}

// History returns the MOER of region over [from, to) from /v3/historical.
func (c *WattTime) History(ctx context.Context, region string, from, to time.Time) (Series, error) {
	q := url.Values{"region": {region}, "signal_type": {c.signal()},
		"start": {from.UTC().Format(time.RFC3339)}, "end": {to.UTC().Format(time.RFC3339)}}
	s, err := cached(&c.cache, &c.HTTPOptions, "historical:"+q.Encode(), func() (Series, error) {
		a, err := c.fetch(ctx, "/v3/historical", q)
		if err != nil {
			return Series{}, err
		}
		return c.series(a)
	})
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

// Forecast returns the MOER forecast of region over [from, to) from
// /v3/forecast, asking for up to 72 hours ahead.
func (c *WattTime) Forecast(ctx context.Context, region string, from, to time.Time) (Series, error) {
	h := int(to.Sub(c.now()).Hours() + 1)
	h = min(max(h, 1), 72)
	q := url.Values{"region": {region}, "signal_type": {c.signal()}, "horizon_hours": {fmt.Sprint(h)}}
	s, err := cached(&c.cache, &c.HTTPOptions, "forecast:"+q.Encode(), func() (Series, error) {
		a, err := c.fetch(ctx, "/v3/forecast", q)
		if err != nil {
			return Series{}, err
		}
		return c.series(a)
	})
	if err != nil {
		return Series{}, err
	}
	return nonEmpty(s.Range(from, to), s, from)
}

// SignalIndex returns the current relative cleanliness of region from
// /v3/signal-index: a percentile from 0 (cleanest of the coming day) to 100,
// not an intensity.
func (c *WattTime) SignalIndex(ctx context.Context, region string) (percentile float64, at time.Time, err error) {
	a, err := c.fetch(ctx, "/v3/signal-index", url.Values{"region": {region}, "signal_type": {c.signal()}})
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(a.Data) == 0 {
		return 0, time.Time{}, (&ProviderError{Provider: wattTimeName, Status: http.StatusOK, Attempts: 1, Err: errNoValue}).wrap()
	}
	return a.Data[0].Value, a.Data[0].PointTime.UTC(), nil
}
