package carbon

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lookup gives the intensity of one zone at the time of each sample
// interval, for accounting. In order:
//
//  1. a time-series file (File), where one is configured: the file's value
//     at t; a time the file does not cover falls back to the static table,
//     with a note naming the file;
//  2. a live provider (Chain.Live): the history fetched so far when it
//     covers t; else, for t in the last RecentWindow, the provider's latest
//     value (cached by the client); else the provider's history around t;
//  3. the static table, through Chain's fallback, with a note saying why
//     (no provider configured, the provider failed and how, an unknown
//     zone, or no zone at all), logged as a warning once per zone per hour.
//
// After a live failure, Lookup does not ask the provider again for
// RetryAfter, so that accounting never waits on a provider that is down.
// A Lookup is safe for concurrent use.
type Lookup struct {
	Zone  string
	Chain *Chain
	// File is a parsed time-series file, and FileName names it in
	// sources ("file:NAME").
	File     *Series
	FileName string
	// RecentWindow is how close to now a time must be for the provider's
	// latest value to stand for it: 1 h when 0.
	RecentWindow time.Duration
	// RetryAfter is how long a live failure keeps Lookup on the static
	// table: 1 min when 0.
	RetryAfter time.Duration

	mu       sync.Mutex
	hist     Series
	histSrc  string
	failedAt time.Time
	failWhy  string
}

// At returns the intensity at t. Its Source names where the value came
// from and its Note, when not empty, why it is a fallback.
func (l *Lookup) At(ctx context.Context, t time.Time) Intensity {
	c := l.Chain
	if c == nil {
		c = &Chain{}
	}
	if l.File != nil {
		if v, err := l.File.At(t); err == nil {
			return Intensity{GramsPerKWh: v, Source: "file:" + l.FileName}
		}
		return c.fallback(l.Zone, fmt.Sprintf("file %s has no value at %s", l.FileName, t.UTC().Format(time.RFC3339)))
	}
	if l.Zone == "" || c.Live == nil {
		in, _ := c.Current(ctx, l.Zone) // the marked static fallback
		return in
	}
	now := c.now()
	l.mu.Lock()
	if v, err := l.hist.At(t); err == nil {
		src := l.histSrc
		l.mu.Unlock()
		return Intensity{GramsPerKWh: v, Source: src}
	}
	if !l.failedAt.IsZero() && now.Sub(l.failedAt) < orDuration(l.RetryAfter, time.Minute) {
		why := l.failWhy
		l.mu.Unlock()
		return c.fallback(l.Zone, why)
	}
	l.mu.Unlock()

	var err error
	if d := now.Sub(t); d < orDuration(l.RecentWindow, time.Hour) && d > -time.Hour {
		var in Intensity
		if in, err = c.Live.Current(ctx, l.Zone); err == nil {
			return in
		}
	} else {
		var s Series
		if s, err = c.Live.History(ctx, l.Zone, t.Add(-time.Hour), minTime(t.Add(time.Hour), now)); err == nil {
			if v, verr := s.At(t); verr == nil {
				l.mu.Lock()
				l.hist, l.histSrc = s, c.liveName()+" history ("+l.Zone+")"
				l.mu.Unlock()
				return Intensity{GramsPerKWh: v, Source: l.histSrc}
			} else {
				err = verr
			}
		}
	}
	why := c.whyNot(l.Zone, err)
	l.mu.Lock()
	l.failedAt, l.failWhy = now, why
	l.mu.Unlock()
	return c.fallback(l.Zone, why)
}

// Label returns in's Source with its Note in parentheses, as figures record
// it.
func Label(in Intensity) string {
	if in.Note == "" {
		return in.Source
	}
	return in.Source + " (" + in.Note + ")"
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
