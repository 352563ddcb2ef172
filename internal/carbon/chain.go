package carbon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Chain answers for a zone from a live provider and falls back to the
// static table, marking every fallback:
//
//   - no zone (""): the world average; the Note says no zone is configured;
//   - no live provider (Live is nil, as with no provider key): the static
//     table; the Note says so;
//   - the live provider fails: the static table; the Note says why, e.g.
//     "Electricity Maps unavailable (429 after 3 tries): using static table
//     DE 2023";
//   - a zone the static table lacks: the world average; the Note says so.
//
// Each fallback is also logged as a warning, once per zone per hour. A
// Chain is safe for concurrent use.
type Chain struct {
	Live     Source       // nil when no provider is configured
	LiveName string       // names Live in notes: "Electricity Maps"
	Static   *Static      // DefaultStatic() when nil
	Logger   *slog.Logger // slog.Default() when nil
	NowFunc  func() time.Time
	// ProfileWeeks is how many weeks of history a weekly-profile forecast
	// averages when Live has no forecast of its own: 4 when 0.
	ProfileWeeks int

	mu     sync.Mutex
	warned map[string]time.Time // zone → last warning
}

var (
	_ Source     = (*Chain)(nil)
	_ Forecaster = (*Chain)(nil)
)

// warnEvery is how often a Chain repeats the warning for one zone.
const warnEvery = time.Hour

func (c *Chain) now() time.Time {
	if c.NowFunc != nil {
		return c.NowFunc()
	}
	return time.Now()
}

func (c *Chain) static() *Static {
	if c.Static != nil {
		return c.Static
	}
	return DefaultStatic()
}

func (c *Chain) liveName() string {
	if c.LiveName != "" {
		return c.LiveName
	}
	return "live provider"
}

// reason says briefly why err made the live provider fail.
func reason(err error) string {
	if pe, ok := errors.AsType[*ProviderError](err); ok {
		return pe.Reason()
	}
	if joule.ErrorCode(err) != joule.EINTERNAL {
		return joule.ErrorMessage(err)
	}
	return err.Error()
}

// fallback returns the static intensity of zone with a note that starts with
// why (which may be empty), and logs it.
func (c *Chain) fallback(zone, why string) Intensity {
	st := c.static()
	var in Intensity
	switch {
	case zone == "":
		in = st.World()
		in.Note = "no carbon zone configured: using the world average (IEA 2019)"
	default:
		e, ok, parent := st.lookupEntry(zone)
		if !ok {
			in = st.World()
			in.Note = fmt.Sprintf("zone %s is not in the static table: using the world average (IEA 2019)", zone)
			break
		}
		in = Intensity{GramsPerKWh: e.GramsPerKWh, Source: e.Source(), Estimated: true,
			Note: "using static table " + e.label()}
		if parent {
			in.Note += " (the country of zone " + zone + ")"
		}
	}
	if why != "" {
		in.Note = why + ": " + in.Note
	}
	c.warn(zone, in.Note)
	return in
}

// warn logs note for zone unless it did so in the last hour.
func (c *Chain) warn(zone, note string) {
	now := c.now()
	c.mu.Lock()
	last, ok := c.warned[zone]
	if ok && now.Sub(last) < warnEvery {
		c.mu.Unlock()
		return
	}
	if c.warned == nil {
		c.warned = map[string]time.Time{}
	}
	c.warned[zone] = now
	c.mu.Unlock()
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Warn("carbon intensity fallback", "zone", zone, "note", note)
}

// whyNot says why the live provider did not answer, or "" when no zone is
// configured.
func (c *Chain) whyNot(zone string, err error) string {
	switch {
	case zone == "":
		return ""
	case c.Live == nil:
		return "no live provider configured"
	}
	return fmt.Sprintf("%s unavailable (%s)", c.liveName(), reason(err))
}

// Current returns the live intensity of zone, or a marked fallback. It
// returns an error only when ctx is done.
func (c *Chain) Current(ctx context.Context, zone string) (Intensity, error) {
	var err error
	if zone != "" && c.Live != nil {
		var in Intensity
		if in, err = c.Live.Current(ctx, zone); err == nil {
			return in, nil
		}
		if ctx.Err() != nil {
			return Intensity{}, err
		}
	}
	return c.fallback(zone, c.whyNot(zone, err)), nil
}

// History returns the live history of zone over [from, to), or a flat
// series at the fallback intensity, logged as Current's fallbacks are. It
// returns an error when ctx is done or the range is empty.
func (c *Chain) History(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	var err error
	if zone != "" && c.Live != nil {
		var s Series
		if s, err = c.Live.History(ctx, zone, from, to); err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return Series{}, err
		}
	}
	return Flat(from, to, c.fallback(zone, c.whyNot(zone, err)).GramsPerKWh)
}

// Forecast returns, for zone over [from, to), the first of: the live
// provider's own forecast; a weekly profile of its last ProfileWeeks weeks
// of history (when it has a week or more); a persistence forecast of its
// last day; a flat series at the fallback intensity.
func (c *Chain) Forecast(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	var err error
	if zone != "" && c.Live != nil {
		if f, ok := c.Live.(Forecaster); ok {
			var s Series
			if s, err = f.Forecast(ctx, zone, from, to); err == nil {
				return s, nil
			}
		}
		if s, herr := c.fromHistory(ctx, zone, from, to); herr == nil {
			return s, nil
		} else if err == nil {
			err = herr
		}
		if ctx.Err() != nil {
			return Series{}, ctx.Err()
		}
	}
	return Flat(from, to, c.fallback(zone, c.whyNot(zone, err)).GramsPerKWh)
}

func (c *Chain) fromHistory(ctx context.Context, zone string, from, to time.Time) (Series, error) {
	weeks := c.ProfileWeeks
	if weeks <= 0 {
		weeks = 4
	}
	now := c.now()
	h, err := c.Live.History(ctx, zone, now.Add(-time.Duration(weeks)*week), now)
	if err == nil && h.End().Sub(h.Start()) >= week {
		return WeeklyProfile(h, weeks, from, to, 0)
	}
	if err != nil {
		if h, err = c.Live.History(ctx, zone, now.Add(-day), now); err != nil {
			return Series{}, err
		}
	}
	return Persistence(h, from, to, 0)
}
