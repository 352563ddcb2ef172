package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Job is one job of a trace.
type Job struct {
	ID       string
	Arrival  time.Time     // naive wall-clock time, as in the carbon series
	Duration time.Duration // run time; rounded up to whole steps
	// Deadline, when not zero, is the time the job must be done by and
	// overrides Config.Deadline.
	Deadline time.Time
	// Interruptible jobs may pause and resume at step boundaries.
	Interruptible bool
}

// Formats of job traces that ParseJobs reads, told apart by the header.
const (
	// FormatLWA is the Let's Wait Awhile ML-jobs trace:
	// job_id,arrival_time,arrival_minute,duration_minutes. arrival_time is
	// used; arrival_minute is ignored.
	FormatLWA = "lets-wait-awhile"
	// FormatCanonical is joule's own trace: id,arrival,duration, then the
	// optional columns deadline and interruptible in any order. Times are
	// RFC 3339 or "YYYY-MM-DD HH:MM[:SS]"; duration is a Go duration
	// ("90m", "2h30m"); deadline may be empty; interruptible is true or
	// false.
	FormatCanonical = "canonical"
)

// maxJobs bounds the rows ParseJobs reads.
const maxJobs = 10_000_000

// ParseError is a problem at one line of a job trace. Its text reads
// "name:line: problem".
type ParseError struct {
	Name string // file name as given to ParseJobs
	Line int    // 1-based; 0 when the problem is the file as a whole
	Err  error
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseJobs reads a job trace in FormatLWA or FormatCanonical and returns
// its jobs in file order and the format's name. Errors are *joule.Error
// values with code joule.EINVALID wrapping a *ParseError, whose text reads
// "name:line: problem".
func ParseJobs(r io.Reader, name string) ([]Job, string, error) {
	fail := func(line int, err error) ([]Job, string, error) {
		pe := &ParseError{Name: name, Line: line, Err: err}
		return nil, "", &joule.Error{Code: joule.EINVALID, Message: pe.Error(), Err: pe}
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fail(0, errors.New("empty file: want a header row"))
	}
	if err != nil {
		return fail(csvLine(err, 1), csvCause(err))
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	col := func(n string) int { return slices.Index(cols, n) }
	var format string
	var parse func(rec []string) (Job, error)
	switch {
	case col("job_id") >= 0 && col("arrival_time") >= 0 && col("duration_minutes") >= 0:
		format = FormatLWA
		id, at, dur := col("job_id"), col("arrival_time"), col("duration_minutes")
		parse = func(rec []string) (Job, error) {
			t, err := parseTime(rec[at])
			if err != nil {
				return Job{}, err
			}
			m, err := strconv.ParseInt(strings.TrimSpace(rec[dur]), 10, 64)
			if err != nil || m <= 0 || m > maxMinutes {
				return Job{}, fmt.Errorf("bad duration_minutes %q: want a whole number from 1 to %d", rec[dur], maxMinutes)
			}
			return Job{ID: strings.TrimSpace(rec[id]), Arrival: t, Duration: time.Duration(m) * time.Minute}, nil
		}
	case col("id") >= 0 && col("arrival") >= 0 && col("duration") >= 0:
		format = FormatCanonical
		id, at, dur, dl, intr := col("id"), col("arrival"), col("duration"), col("deadline"), col("interruptible")
		parse = func(rec []string) (Job, error) {
			j := Job{ID: strings.TrimSpace(rec[id])}
			var err error
			if j.Arrival, err = parseTime(rec[at]); err != nil {
				return Job{}, err
			}
			d, err := time.ParseDuration(strings.TrimSpace(rec[dur]))
			if err != nil || d <= 0 || d > maxMinutes*time.Minute {
				return Job{}, fmt.Errorf("bad duration %q: want a positive Go duration such as 90m, at most %d minutes", rec[dur], maxMinutes)
			}
			j.Duration = d
			if dl >= 0 && strings.TrimSpace(rec[dl]) != "" {
				if j.Deadline, err = parseTime(rec[dl]); err != nil {
					return Job{}, err
				}
				if j.Deadline.Before(j.Arrival.Add(j.Duration)) {
					return Job{}, fmt.Errorf("deadline %s is before arrival plus duration", rec[dl])
				}
			}
			if intr >= 0 {
				switch strings.ToLower(strings.TrimSpace(rec[intr])) {
				case "", "false":
				case "true":
					j.Interruptible = true
				default:
					return Job{}, fmt.Errorf("bad interruptible %q: want true or false", rec[intr])
				}
			}
			return j, nil
		}
	default:
		return fail(1, fmt.Errorf("unknown header %q: want job_id,arrival_time,arrival_minute,duration_minutes or id,arrival,duration[,deadline][,interruptible]", strings.Join(header, ",")))
	}
	var jobs []Job
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(csvLine(err, 0), csvCause(err))
		}
		line, _ := cr.FieldPos(0)
		if len(jobs) >= maxJobs {
			return fail(line, fmt.Errorf("more than %d jobs", maxJobs))
		}
		j, err := parse(rec)
		if err != nil {
			return fail(line, err)
		}
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return fail(0, errors.New("no jobs"))
	}
	return jobs, format, nil
}

// maxMinutes bounds a job's duration: one year.
const maxMinutes = 366 * 24 * 60

// parseTime reads RFC 3339 or a naive "YYYY-MM-DD HH:MM[:SS]" time; naive
// times are read as UTC, as package carbon reads the series.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 or YYYY-MM-DD HH:MM:SS", s)
}

// csvLine returns the line of a csv.ParseError, or def.
func csvLine(err error, def int) int {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Line
	}
	return def
}

// csvCause strips the position from a csv.ParseError.
func csvCause(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err
	}
	return err
}
