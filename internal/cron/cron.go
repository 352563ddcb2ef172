// Package cron parses five-field cron expressions and finds their next
// activation. It is pure: no clock, no goroutines; times are evaluated in
// UTC.
//
// Fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12)
// and day of week (0-7, 0 and 7 are Sunday). Each field takes *, a number,
// a range a-b, a list a,b,c and steps */n or a-b/n. Month and day names
// (jan, mon) are accepted. As in Vixie cron, when both day fields are
// restricted a time matches if either matches. Shorthands: @hourly, @daily
// (@midnight), @weekly, @monthly, @yearly (@annually).
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron expression.
type Schedule struct {
	expr                          string
	minute, hour, dom, month, dow uint64 // bit sets
	domStar, dowStar              bool
}

// String returns the expression the schedule was parsed from.
func (s *Schedule) String() string { return s.expr }

var shorthands = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

var monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// Parse parses a cron expression. Errors name the field and the problem.
func Parse(expr string) (*Schedule, error) {
	e := strings.TrimSpace(expr)
	if sh, ok := shorthands[strings.ToLower(e)]; ok {
		e = sh
	}
	fields := strings.Fields(e)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(fields))
	}
	s := &Schedule{expr: expr}
	var err error
	specs := []struct {
		name     string
		min, max int
		names    map[string]int
		dst      *uint64
	}{
		{"minute", 0, 59, nil, &s.minute},
		{"hour", 0, 23, nil, &s.hour},
		{"day of month", 1, 31, nil, &s.dom},
		{"month", 1, 12, monthNames, &s.month},
		{"day of week", 0, 7, dayNames, &s.dow},
	}
	for i, sp := range specs {
		if *sp.dst, err = parseField(fields[i], sp.min, sp.max, sp.names); err != nil {
			return nil, fmt.Errorf("cron %q: %s: %v", expr, sp.name, err)
		}
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow |= 1
	}
	s.domStar = fields[2] == "*" || strings.HasPrefix(fields[2], "*/")
	s.dowStar = fields[4] == "*" || strings.HasPrefix(fields[4], "*/")
	return s, nil
}

func parseField(f string, min, max int, names map[string]int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		if part == "" {
			return 0, fmt.Errorf("empty list item in %q", f)
		}
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > max {
				return 0, fmt.Errorf("step %q must be a number from 1 to %d", stepStr, max)
			}
			step = n
		}
		lo, hi := min, max
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, min, max, names); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = value(b, min, max, names); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %q runs backwards", rng)
				}
			} else if hasStep {
				hi = max
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func value(s string, min, max int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		return 0, fmt.Errorf("%q is not a value from %d to %d", s, min, max)
	}
	return v, nil
}

// Next returns the first activation strictly after t (in UTC, to the
// minute), or the zero time if there is none within five years (such as
// "0 0 30 2 *").
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		if s.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if s.hour&(1<<uint(t.Hour())) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if s.minute&(1<<uint(t.Minute())) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case s.domStar && s.dowStar:
		return true
	case s.domStar:
		return dow
	case s.dowStar:
		return dom
	}
	return dom || dow
}
