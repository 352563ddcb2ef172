package energy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// day is the length of a UTC day; tariffs are times of day in UTC.
const day = 24 * time.Hour

// JoulesPerKWh converts kilowatt-hours to joules.
const JoulesPerKWh = 3.6e6

// Tariff is one time-of-use band: PricePerKWh applies from From to To,
// both offsets from 00:00 UTC in [0, 24h]. A band with From > To wraps
// past midnight ("22:00-06:00").
type Tariff struct {
	From        time.Duration `json:"from"`
	To          time.Duration `json:"to"`
	PricePerKWh float64       `json:"price_per_kwh"`
}

// contains reports whether the time of day tod (in [0, 24h)) is in the band.
func (t Tariff) contains(tod time.Duration) bool {
	if t.From <= t.To {
		return tod >= t.From && tod < t.To
	}
	return tod >= t.From || tod < t.To
}

// Price is an electricity price per kWh: a time-of-use Schedule where one
// is given, with Flat for the times no band covers (and for everything
// when Schedule is empty). Prices are in the configured currency.
type Price struct {
	FlatPerKWh float64  `json:"flat_per_kwh"`
	Schedule   []Tariff `json:"schedule,omitempty"`
}

// At returns the price per kWh at t: the first band of Schedule that
// contains t's UTC time of day, else Flat.
func (p Price) At(t time.Time) float64 {
	tod := timeOfDay(t)
	for _, b := range p.Schedule {
		if b.contains(tod) {
			return b.PricePerKWh
		}
	}
	return p.FlatPerKWh
}

// Mean returns the time-weighted mean price per kWh over [start, end),
// splitting the interval at every band boundary, so that energy spread
// evenly over an interval that crosses a boundary pays each band's price
// for its part. An empty interval returns the price at start.
func (p Price) Mean(start, end time.Time) float64 {
	if !end.After(start) {
		return p.At(start)
	}
	if len(p.Schedule) == 0 {
		return p.FlatPerKWh
	}
	bounds := []time.Duration{0, day}
	for _, b := range p.Schedule {
		bounds = append(bounds, b.From, b.To)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	total := end.Sub(start).Seconds()
	var sum float64
	for t := start; t.Before(end); {
		tod := timeOfDay(t)
		// next boundary strictly after tod
		i, _ := slices.BinarySearch(bounds, tod+1)
		next := t.Add(bounds[min(i, len(bounds)-1)] - tod)
		if !next.After(t) { // tod at 24h cannot happen; guard anyway
			next = t.Add(time.Nanosecond)
		}
		if next.After(end) {
			next = end
		}
		sum += p.At(t) * next.Sub(t).Seconds()
		t = next
	}
	return sum / total
}

// timeOfDay returns t's offset from the start of its UTC day.
func timeOfDay(t time.Time) time.Duration {
	t = t.UTC()
	return t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC))
}

// EnergyCost returns the cost of joules drawn evenly over [start, end) at
// price p: kWh × mean price.
func EnergyCost(joules float64, p Price, start, end time.Time) float64 {
	return joules / JoulesPerKWh * p.Mean(start, end)
}

// Amortisation returns the hardware cost charged for holding share (0..1)
// of a node for d at perNodeHour: perNodeHour × hours × share.
func Amortisation(perNodeHour float64, d time.Duration, share float64) float64 {
	return perNodeHour * nonNeg(d.Hours()) * clamp01(share)
}

// ParseTariffs parses a time-of-use schedule written as comma-separated
// bands "HH:MM-HH:MM=PRICE", times in UTC, e.g.
// "00:00-07:00=0.12,07:00-23:00=0.30,23:00-24:00=0.12". "24:00" is the end
// of the day; a band whose start is after its end wraps past midnight.
// Prices must be finite and not negative; bands must be non-empty and must
// not overlap. Whitespace around items is ignored; an empty string is an
// empty schedule.
func ParseTariffs(s string) ([]Tariff, error) {
	var out []Tariff
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		span, price, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("tariff %d %q: want HH:MM-HH:MM=PRICE", i+1, item)
		}
		from, to, ok := strings.Cut(strings.TrimSpace(span), "-")
		if !ok {
			return nil, fmt.Errorf("tariff %d %q: want HH:MM-HH:MM=PRICE", i+1, item)
		}
		f, err := parseClock(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("tariff %d %q: %v", i+1, item, err)
		}
		t, err := parseClock(strings.TrimSpace(to))
		if err != nil {
			return nil, fmt.Errorf("tariff %d %q: %v", i+1, item, err)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(price), 64)
		if err != nil || p < 0 || math.IsInf(p, 0) || math.IsNaN(p) {
			return nil, fmt.Errorf("tariff %d %q: price %q: want a number ≥ 0", i+1, item, strings.TrimSpace(price))
		}
		if f == t || (f == day && t == 0) {
			return nil, fmt.Errorf("tariff %d %q: empty band", i+1, item)
		}
		if f == day {
			f = 0
		}
		if t == 0 {
			t = day
		}
		out = append(out, Tariff{From: f, To: t, PricePerKWh: p})
	}
	// Overlap: check each band's pieces within the day against the others.
	type piece struct{ from, to time.Duration }
	var pieces []piece
	for _, b := range out {
		if b.From < b.To {
			pieces = append(pieces, piece{b.From, b.To})
		} else {
			pieces = append(pieces, piece{b.From, day}, piece{0, b.To})
		}
	}
	slices.SortFunc(pieces, func(a, b piece) int { return int(a.from - b.from) })
	for i := 1; i < len(pieces); i++ {
		if pieces[i].from < pieces[i-1].to {
			return nil, fmt.Errorf("tariffs overlap at %s", clockString(pieces[i].from))
		}
	}
	return out, nil
}

// parseClock parses "HH:MM" in 00:00..24:00.
func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) || hh[0] == '+' || hh[0] == '-' || mm[0] == '+' || mm[0] == '-' {
		return 0, fmt.Errorf("time %q: want HH:MM from 00:00 to 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// clock formats a time of day as HH:MM.
func clockString(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// FormatTariffs writes a schedule in the form ParseTariffs reads.
func FormatTariffs(ts []Tariff) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = clockString(t.From) + "-" + clockString(t.To) + "=" + strconv.FormatFloat(t.PricePerKWh, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}
