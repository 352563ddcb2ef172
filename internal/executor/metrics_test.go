package executor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func step(n int64) *int64 { return &n }

func TestParseMetricLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want []joule.Metric
	}{
		{"joule:metric loss=0.25 step=3", []joule.Metric{{Name: "loss", Value: 0.25, Step: step(3), Time: t0}}},
		{"  joule:metric loss=1e-3\r", []joule.Metric{{Name: "loss", Value: 0.001, Time: t0}}},
		{"joule:metric step=7 loss=1 acc=0.5", []joule.Metric{
			{Name: "loss", Value: 1, Step: step(7), Time: t0},
			{Name: "acc", Value: 0.5, Step: step(7), Time: t0},
		}},
		{"joule:metric\ttrain/loss=-2", []joule.Metric{{Name: "train/loss", Value: -2, Time: t0}}},
		{"joule:metric", nil},
		{"joule:metricloss=1", nil},
		{"joule:metric step=3", nil},
		{"joule:metric loss=abc", nil},
		{"joule:metric loss=NaN", nil},
		{"joule:metric loss=Inf", nil},
		{"joule:metric loss=1 step=1.5", nil},
		{"joule:metric loss=1 step=1 step=2", nil},
		{"joule:metric loss", nil},
		{"joule:metric =1", nil},
		{"joule:metric lo$s=1", nil},
		{"epoch 1 joule:metric loss=1", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := ParseMetricLine(tt.line, t0)
		if ok != (tt.want != nil) {
			t.Errorf("ParseMetricLine(%q) ok = %v, want %v", tt.line, ok, tt.want != nil)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseMetricLine(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestParseMetricsFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []joule.Metric
		wantErr bool
	}{
		{"object", `{"loss":0.25,"step":3}`, []joule.Metric{{Name: "loss", Value: 0.25, Step: step(3), Time: t0}}, false},
		{"object keys sorted", `{"loss":1,"acc":2}`, []joule.Metric{{Name: "acc", Value: 2, Time: t0}, {Name: "loss", Value: 1, Time: t0}}, false},
		{"array", `[{"loss":1,"step":1},{"loss":0.5,"step":2.0}]`, []joule.Metric{
			{Name: "loss", Value: 1, Step: step(1), Time: t0},
			{Name: "loss", Value: 0.5, Step: step(2), Time: t0},
		}, false},
		{"json lines", "{\"loss\":1,\"step\":1}\n{\"loss\":0.5,\"step\":2}\n", []joule.Metric{
			{Name: "loss", Value: 1, Step: step(1), Time: t0},
			{Name: "loss", Value: 0.5, Step: step(2), Time: t0},
		}, false},
		{"empty", "  \n", nil, false},
		{"empty object", "{}", nil, false},
		{"string value", `{"loss":"0.25"}`, nil, true},
		{"null value", `{"loss":null}`, nil, true},
		{"bool value", `{"loss":true}`, nil, true},
		{"fractional step", `{"loss":1,"step":1.5}`, nil, true},
		{"string step", `{"loss":1,"step":"1"}`, nil, true},
		{"bad name", `{"lo ss":1}`, nil, true},
		{"not an object", `3`, nil, true},
		{"null", `null`, nil, true},
		{"array of numbers", `[1,2]`, nil, true},
		{"array with null", `[null]`, nil, true},
		{"truncated", `{"loss":1`, nil, true},
		{"bad second line", "{\"loss\":1}\n{oops}\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMetricsFile([]byte(tt.in), t0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMetricsFile(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMetricsFile(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseMetricLine(f *testing.F) {
	for _, s := range []string{
		"joule:metric loss=0.25 step=3", "joule:metric a=1 b=2", "joule:metric step=x",
		"joule:metric loss=1e400", "joule:metric \x00=1", "joule:metric ünï=1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ms, ok := ParseMetricLine(line, t0)
		if ok != (len(ms) > 0) {
			t.Fatalf("ParseMetricLine(%q) = %v, %v: ok must mean at least one metric", line, ms, ok)
		}
		for _, m := range ms {
			if !validMetricName(m.Name) {
				t.Fatalf("ParseMetricLine(%q) gave the bad name %q", line, m.Name)
			}
		}
	})
}

func FuzzParseMetricsFile(f *testing.F) {
	for _, s := range []string{
		`{"loss":0.25,"step":3}`, `[{"a":1},{"b":2,"step":1}]`, "{\"a\":1}\n{\"a\":2}",
		`{"a":1e999}`, `[null]`, `{"step":-0}`, `{"a":"1"}`, ``, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseMetricsFile(data, t0)
		if err != nil && ms != nil {
			t.Fatalf("ParseMetricsFile(%q) returned metrics with an error", data)
		}
		for _, m := range ms {
			if !validMetricName(m.Name) {
				t.Fatalf("ParseMetricsFile(%q) gave the bad name %q", data, m.Name)
			}
		}
	})
}

func TestLogSink(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	s := newLogSink(f, 20, func() time.Time { return t0 })
	// A metric line split across writes, then output past the cap, then a
	// metric after the cap and one without a final newline.
	for _, w := range []string{"joule:met", "ric loss=1\nabcdefghij", "klmnop\n", "joule:metric acc=2\n", "joule:metric x=3"} {
		s.write([]byte(w))
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := "joule:metric loss=1\n[joule: log truncated at 20 bytes]\n"
	if string(got) != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	wantM := []joule.Metric{{Name: "loss", Value: 1, Time: t0}, {Name: "acc", Value: 2, Time: t0}, {Name: "x", Value: 3, Time: t0}}
	if diff := cmp.Diff(wantM, s.metrics); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}

	// A cap in the middle of a line gets the marker on a line of its own,
	// and a line longer than maxMetricLine is not a metric.
	p2 := filepath.Join(t.TempDir(), "log")
	f2, _ := os.Create(p2)
	s2 := newLogSink(f2, 5, time.Now)
	s2.write([]byte("joule:metric a=1 " + strings.Repeat("b", maxMetricLine) + "\n"))
	s2.finish()
	got2, _ := os.ReadFile(p2)
	if want := "joule\n[joule: log truncated at 5 bytes]\n"; string(got2) != want {
		t.Errorf("log = %q, want %q", got2, want)
	}
	if len(s2.metrics) != 0 {
		t.Errorf("metrics of an over-long line = %v, want none", s2.metrics)
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	line := "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 30 5 1 20 0 1 0 123456 10000000 321 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	got, ok := parseProcStat([]byte(line))
	if !ok {
		t.Fatalf("parseProcStat(%q) failed", line)
	}
	want := procStat{pid: 4242, ppid: 1, pgrp: 4242, state: 'S', utime: 250, stime: 30, cutime: 5, cstime: 1, starttime: 123456, rssPages: 321}
	if got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1 2", "12 (x) S 1 2 3"} {
		if _, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("parseProcStat(%q) ok, want failure", bad)
		}
	}
	if !bytes.Contains([]byte(line), []byte("(name)")) {
		t.Fatal("fixture changed")
	}
}
