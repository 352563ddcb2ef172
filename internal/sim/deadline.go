package sim

import (
	"fmt"
	"time"
)

// Deadline is the rule that turns a job's natural finish (arrival plus
// duration) into the time it must be done by.
type Deadline int

const (
	// NoDeadline gives no spare time: the job must finish at its natural
	// finish. It is the rule of the carbon-agnostic baseline.
	NoDeadline Deadline = iota
	// NextWorkday lets a job that would finish outside working hours
	// finish by 09:00 of the next working day (Let's Wait Awhile, Scenario
	// II): on a Saturday, by Monday 09:00; on a Sunday or after 17:00, by
	// 09:00 the next day; before 09:00, by 09:00 the same day. Otherwise it
	// has no spare time. The rule is the paper's: a job finishing late on
	// a Friday may wait only until Saturday 09:00.
	NextWorkday
	// SemiWeekly lets a job finish by the next Thursday 09:00 when it
	// would finish from Monday after 09:00 to Thursday 09:00, and by the
	// next Monday 09:00 otherwise.
	SemiWeekly
)

// String returns the rule's name as the simulator's flags spell it.
func (d Deadline) String() string {
	switch d {
	case NoDeadline:
		return "none"
	case NextWorkday:
		return "next-workday"
	case SemiWeekly:
		return "semi-weekly"
	}
	return fmt.Sprintf("Deadline(%d)", int(d))
}

// ParseDeadline reads a rule by its String name.
func ParseDeadline(s string) (Deadline, error) {
	for _, d := range []Deadline{NoDeadline, NextWorkday, SemiWeekly} {
		if s == d.String() {
			return d, nil
		}
	}
	return 0, fmt.Errorf("deadline %q: want none, next-workday or semi-weekly", s)
}

// Finish returns the time by which a job whose natural finish is oft must be
// done under the rule. Times are naive wall-clock times: the location of oft
// is kept and no time zone is applied.
func (d Deadline) Finish(oft time.Time) time.Time {
	at9 := func(days int) time.Time {
		y, m, dd := oft.Date()
		return time.Date(y, m, dd+days, 9, 0, 0, 0, oft.Location())
	}
	minute := oft.Hour()*60 + oft.Minute()
	switch d {
	case NextWorkday:
		switch {
		case oft.Weekday() == time.Saturday:
			return at9(2)
		case oft.Weekday() == time.Sunday || minute > 17*60:
			return at9(1)
		case minute < 9*60:
			return at9(0)
		}
	case SemiWeekly:
		wd := (int(oft.Weekday()) + 6) % 7 // Monday 0 … Sunday 6
		inThuBlock := (wd == 0 && minute > 9*60) || wd == 1 || wd == 2 || (wd == 3 && minute <= 9*60)
		if inThuBlock {
			return at9((7 - wd + 3) % 7)
		}
		return at9((7 - wd) % 7)
	}
	return oft
}
