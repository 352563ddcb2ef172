package executor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// MetricPrefix starts a metric line in a job's output.
const MetricPrefix = "joule:metric"

// Metric limits.
const (
	maxMetricName     = 128
	maxMetricLine     = 64 << 10 // longer lines are not parsed for metrics
	maxMetricsPerRun  = 100_000  // further metrics of an attempt are dropped
	maxMetricsFileLen = 16 << 20 // a bigger metrics file is ignored
)

// validMetricName reports whether s may name a metric: 1 to 128 letters,
// digits and _ . - / characters.
func validMetricName(s string) bool {
	if s == "" || len(s) > maxMetricName {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' || r == '/') {
			return false
		}
	}
	return true
}

// ParseMetricLine parses one line of job output of the form
//
//	joule:metric name=value [name2=value2 …] [step=N]
//
// Leading and trailing white space is ignored. Values are finite floats, N
// is an integer and applies to every value on the line. It returns the
// metrics, stamped with now, and false for any other line or a line with a
// bad pair (such lines stay in the log and record nothing).
func ParseMetricLine(line string, now time.Time) ([]joule.Metric, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), MetricPrefix)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return nil, false
	}
	var (
		ms   []joule.Metric
		step *int64
	)
	for f := range strings.FieldsSeq(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, false
		}
		if k == "step" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || step != nil {
				return nil, false
			}
			step = &n
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !validMetricName(k) || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		ms = append(ms, joule.Metric{Name: k, Value: x, Time: now})
	}
	if len(ms) == 0 {
		return nil, false
	}
	for i := range ms {
		if step != nil {
			s := *step
			ms[i].Step = &s
		}
	}
	return ms, true
}

// ParseMetricsFile parses what a job wrote to JOULE_METRICS_FILE: one JSON
// object such as {"loss":0.25,"step":3}, an array of such objects, or a
// sequence of them (JSON lines). Every key but "step" names a metric whose
// value must be a finite number; "step", optional, must be an integer. The
// metrics are stamped with now and come in file order, keys sorted within
// an object. Any error rejects the whole file; empty input gives no metrics.
func ParseMetricsFile(data []byte, now time.Time) ([]joule.Metric, error) {
	if len(data) > maxMetricsFileLen {
		return nil, fmt.Errorf("metrics file is %d bytes, more than %d", len(data), maxMetricsFileLen)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	var objs []map[string]json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &objs); err != nil {
			return nil, fmt.Errorf("metrics file: %w", err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var o map[string]json.RawMessage
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("metrics file: %w", err)
			}
			if o == nil {
				return nil, errors.New("metrics file: null is not a metrics object")
			}
			objs = append(objs, o)
		}
	}
	var ms []joule.Metric
	for i, o := range objs {
		if o == nil {
			return nil, fmt.Errorf("metrics file: object %d is null", i+1)
		}
		var step *int64
		if raw, ok := o["step"]; ok {
			n, err := jsonInt(raw)
			if err != nil {
				return nil, fmt.Errorf("metrics file: object %d: step: %w", i+1, err)
			}
			step = &n
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			if k != "step" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !validMetricName(k) {
				return nil, fmt.Errorf("metrics file: object %d: %q is not a metric name (letters, digits, _ . - /)", i+1, k)
			}
			x, err := jsonFloat(o[k])
			if err != nil {
				return nil, fmt.Errorf("metrics file: object %d: %s: %w", i+1, k, err)
			}
			m := joule.Metric{Name: k, Value: x, Time: now}
			if step != nil {
				s := *step
				m.Step = &s
			}
			ms = append(ms, m)
			if len(ms) > maxMetricsPerRun {
				return nil, fmt.Errorf("metrics file: more than %d metrics", maxMetricsPerRun)
			}
		}
	}
	return ms, nil
}

// jsonFloat reads a JSON number as a finite float.
func jsonFloat(raw json.RawMessage) (float64, error) {
	var n json.Number
	if !isJSONNumber(raw) || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("%s is not a number", truncate(string(raw), 40))
	}
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%s is not a finite number", truncate(string(raw), 40))
	}
	return x, nil
}

// jsonInt reads a JSON number with an integral value (3 or 3.0).
func jsonInt(raw json.RawMessage) (int64, error) {
	var n json.Number
	if !isJSONNumber(raw) || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("%s is not an integer", truncate(string(raw), 40))
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, fmt.Errorf("%s is not an integer", truncate(string(raw), 40))
	}
	return int64(x), nil
}

// isJSONNumber reports whether raw is a number literal rather than a string
// (which json.Number would also accept), null or anything else.
func isJSONNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
