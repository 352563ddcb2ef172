package carbon

import (
	"context"
	"time"

	"github.com/joule-dev/joule"
)

// Source gives the carbon intensity of a zone.
type Source interface {
	// Current returns the latest intensity of zone. Errors carry the codes
	// joule.ENOTFOUND (unknown zone or no data), joule.EUNAUTHORIZED (the
	// provider refused the credentials) and joule.EUNAVAILABLE (the
	// provider could not be reached or kept failing).
	Current(ctx context.Context, zone string) (Intensity, error)
	// History returns the intensity of zone over [from, to), with the same
	// error codes as Current.
	History(ctx context.Context, zone string, from, to time.Time) (Series, error)
}

// Forecaster gives forecast intensity.
type Forecaster interface {
	// Forecast returns the forecast intensity of zone over [from, to), with
	// the same error codes as Source.Current.
	Forecast(ctx context.Context, zone string, from, to time.Time) (Series, error)
}

// Trace is a Source backed by one recorded series, such as a file read by
// ParseCSV. It answers for one zone only.
type Trace struct {
	Zone   string
	Series Series
	Name   string           // Intensity.Source; "trace:" + Zone when empty
	Now    func() time.Time // Current asks for Now(); time.Now when nil
}

var _ Source = (*Trace)(nil)

func (t *Trace) check(zone string) error {
	if normZone(zone) != normZone(t.Zone) {
		return joule.Errorf(joule.ENOTFOUND, "trace %s has no data for zone %q", t.Zone, zone)
	}
	return nil
}

// Current returns the value of the series at Now.
func (t *Trace) Current(_ context.Context, zone string) (Intensity, error) {
	if err := t.check(zone); err != nil {
		return Intensity{}, err
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	v, err := t.Series.At(now())
	if err != nil {
		return Intensity{}, err
	}
	name := t.Name
	if name == "" {
		name = "trace:" + t.Zone
	}
	return Intensity{GramsPerKWh: v, Source: name}, nil
}

// History returns the part of the series that overlaps [from, to), or an
// error with code joule.ENOTFOUND when none does.
func (t *Trace) History(_ context.Context, zone string, from, to time.Time) (Series, error) {
	if err := t.check(zone); err != nil {
		return Series{}, err
	}
	s := t.Series.Range(from, to)
	if s.Len() == 0 {
		return Series{}, t.Series.noData(from)
	}
	return s, nil
}
