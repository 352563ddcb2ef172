package executor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/joule-dev/joule"
)

// logSink receives an attempt's output: it writes it to the log file up to
// the cap and parses metric lines from all of it, capped or not. It is used
// by one goroutine.
type logSink struct {
	f         *os.File
	limit     int64
	written   int64
	truncated bool
	lastNL    bool // the last byte written to the file was a newline
	now       func() time.Time

	line     []byte // the current, unfinished line
	longLine bool   // the current line passed maxMetricLine: not a metric
	metrics  []joule.Metric
	dropped  int // metrics over maxMetricsPerRun
	writeErr error
}

func newLogSink(f *os.File, limit int64, now func() time.Time) *logSink {
	return &logSink{f: f, limit: limit, now: now, lastNL: true}
}

// copyFrom drains r into the sink until EOF or an error (a closed pipe or a
// read deadline). It never stops reading because the file is full, so the
// job never blocks on a full pipe.
func (s *logSink) copyFrom(r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (s *logSink) write(p []byte) {
	s.scan(p)
	if s.truncated || s.writeErr != nil {
		return
	}
	room := s.limit - s.written
	chunk := p
	if int64(len(chunk)) > room {
		chunk = chunk[:room]
	}
	if len(chunk) > 0 {
		n, err := s.f.Write(chunk)
		s.written += int64(n)
		if n > 0 {
			s.lastNL = chunk[n-1] == '\n'
		}
		if err != nil {
			s.writeErr = err
			return
		}
	}
	if int64(len(p)) > room {
		s.truncated = true
		marker := fmt.Sprintf("[joule: log truncated at %d bytes]\n", s.limit)
		if !s.lastNL {
			marker = "\n" + marker
		}
		if _, err := s.f.WriteString(marker); err != nil {
			s.writeErr = err
		}
	}
}

// scan finds metric lines in p.
func (s *logSink) scan(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		if !s.longLine {
			if len(s.line)+len(part) > maxMetricLine {
				s.longLine, s.line = true, s.line[:0]
			} else {
				s.line = append(s.line, part...)
			}
		}
		if i < 0 {
			return
		}
		s.endLine()
		p = p[i+1:]
	}
}

func (s *logSink) endLine() {
	if !s.longLine && bytes.HasPrefix(bytes.TrimLeft(s.line, " \t"), []byte(MetricPrefix)) {
		if ms, ok := ParseMetricLine(string(s.line), s.now()); ok {
			if room := maxMetricsPerRun - len(s.metrics); len(ms) > room {
				s.dropped += len(ms) - room
				ms = ms[:room]
			}
			s.metrics = append(s.metrics, ms...)
		}
	}
	s.line, s.longLine = s.line[:0], false
}

// finish parses a last line without a newline and closes the file.
func (s *logSink) finish() error {
	if len(s.line) > 0 {
		s.endLine()
	}
	err := s.f.Close()
	if s.writeErr != nil {
		return s.writeErr
	}
	return err
}
