package nodeinfo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// heartbeatCall is one call to recordingStore.Heartbeat.
type heartbeatCall struct {
	NodeID string
	At     time.Time
	Usage  *joule.NodeUsage
}

// recordingStore is a Heartbeater that records its calls. Its methods fail
// while fail is set, and MarkLostNodes returns lost once.
type recordingStore struct {
	mu         sync.Mutex
	heartbeats []heartbeatCall
	cutoffs    []time.Time
	fail       error
	lost       []joule.Node
}

var _ Heartbeater = (*recordingStore)(nil)

func (s *recordingStore) Heartbeat(ctx context.Context, nodeID string, at time.Time, usage *joule.NodeUsage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heartbeats = append(s.heartbeats, heartbeatCall{nodeID, at, usage})
	return s.fail
}

func (s *recordingStore) MarkLostNodes(ctx context.Context, cutoff time.Time) ([]joule.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutoffs = append(s.cutoffs, cutoff)
	if s.fail != nil {
		return nil, s.fail
	}
	lost := s.lost
	s.lost = nil
	return lost, nil
}

func (s *recordingStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// calls returns the number of heartbeats and lost-node sweeps so far.
func (s *recordingStore) calls() (heartbeats, sweeps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heartbeats), len(s.cutoffs)
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestReporter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().UTC() // the bubble's fake clock
		root := t.TempDir()
		writeFile(t, root, "proc/stat", "cpu 1 0 0 3\n")
		writeFile(t, root, "proc/meminfo", "MemTotal: 10 kB\nMemAvailable: 4 kB\n")
		writeFile(t, root, "proc/loadavg", "0.25 0 0 1/1 1\n")
		logger := slog.New(slog.NewTextHandler(t.Output(), nil))

		lostNode := joule.Node{ID: "node_LOST", Name: "gone", State: joule.NodeLost}
		store := &recordingStore{lost: []joule.Node{lostNode}}
		var onLost []joule.Node
		r := NewReporter(ReporterConfig{
			Store:    store,
			NodeID:   "node_1",
			Sampler:  NewSampler(Config{Root: root, Logger: logger}),
			Interval: 10 * time.Second,
			OnLost:   func(n joule.Node) { onLost = append(onLost, n) },
			Logger:   logger,
		})
		if err := r.Start(t.Context()); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		if err := r.Start(t.Context()); err == nil {
			t.Errorf("second Start() = nil, want an error")
		}
		synctest.Wait() // the first heartbeat goes out at once
		if hb, _ := store.calls(); hb != 1 {
			t.Fatalf("after Start: %d heartbeats, want 1", hb)
		}
		time.Sleep(25 * time.Second) // fake time: ticks at 10s and 20s
		synctest.Wait()
		r.Stop()
		r.Stop()

		var want []heartbeatCall
		var wantCutoffs []time.Time
		for i := range 3 {
			at := start.Add(time.Duration(i) * 10 * time.Second)
			cpu := 0.25 // since boot, then no progress
			if i > 0 {
				cpu = 0
			}
			want = append(want, heartbeatCall{"node_1", at, &joule.NodeUsage{Time: at, CPUFraction: cpu, MemoryUsed: 6 << 10, Load1: 0.25}})
			wantCutoffs = append(wantCutoffs, at.Add(-30*time.Second)) // LostAfter defaults to 3 × Interval
		}
		if diff := cmp.Diff(want, store.heartbeats); diff != "" {
			t.Errorf("heartbeats mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantCutoffs, store.cutoffs); diff != "" {
			t.Errorf("MarkLostNodes cutoffs mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]joule.Node{lostNode}, onLost); diff != "" {
			t.Errorf("OnLost calls mismatch (-want +got):\n%s", diff)
		}

		time.Sleep(time.Minute) // stopped: no more ticks
		if hb, _ := store.calls(); hb != 3 {
			t.Errorf("after Stop: %d heartbeats, want 3", hb)
		}
	})
}

// TestReporterFailures checks that the loop outlives store and sampler
// errors, sends heartbeats without usage when sampling fails, and logs each
// run of failures once.
func TestReporterFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		store := &recordingStore{fail: errors.New("database is locked")}
		r := NewReporter(ReporterConfig{
			Store:    store,
			NodeID:   "node_1",
			Sampler:  NewSampler(Config{Root: t.TempDir()}), // no proc files
			Interval: time.Second,
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)), // info and up
		})
		if err := r.Start(t.Context()); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		synctest.Wait()
		time.Sleep(2500 * time.Millisecond) // ticks at 0s, 1s, 2s
		synctest.Wait()
		store.setFail(nil)
		time.Sleep(time.Second) // tick at 3s succeeds
		synctest.Wait()
		r.Stop()

		hb, sweeps := store.calls()
		if hb != 4 || sweeps != 4 {
			t.Errorf("%d heartbeats and %d sweeps, want 4 and 4", hb, sweeps)
		}
		for i, c := range store.heartbeats {
			if c.Usage != nil {
				t.Errorf("heartbeat %d has usage %+v, want nil: sampling fails", i, c.Usage)
			}
		}
		out := logs.String()
		for msg, want := range map[string]int{
			`msg="heartbeat failed"`:       1,
			`msg="mark lost nodes failed"`: 1,
			`msg="sample failed"`:          1,
			`msg="heartbeat recovered"`:    1,
		} {
			if got := strings.Count(out, msg); got != want {
				t.Errorf("log has %d lines with %s, want %d; log:\n%s", got, msg, want, out)
			}
		}
	})
}

func TestReporterContextDone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := &recordingStore{}
		r := NewReporter(ReporterConfig{Store: store, NodeID: "node_1"})
		ctx, cancel := context.WithCancel(t.Context())
		if err := r.Start(ctx); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		synctest.Wait()
		cancel()
		synctest.Wait() // the goroutine has returned; synctest.Test would fail on a leak
		time.Sleep(time.Minute)
		if hb, _ := store.calls(); hb != 1 {
			t.Errorf("%d heartbeats, want 1", hb)
		}
		r.Stop()
	})
}

func TestReporterStopBeforeStart(t *testing.T) {
	t.Parallel()
	r := NewReporter(ReporterConfig{Store: &recordingStore{}, NodeID: "node_1"})
	r.Stop()
	r.Stop()
	if err := r.Start(t.Context()); err == nil {
		r.Stop()
		t.Errorf("Start() after Stop = nil, want an error")
	}
}

func TestReporterConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       ReporterConfig
		wantField string
	}{
		{"no store", ReporterConfig{NodeID: "n"}, "Store"},
		{"no node", ReporterConfig{Store: &recordingStore{}}, "NodeID"},
		{"negative interval", ReporterConfig{Store: &recordingStore{}, NodeID: "n", Interval: -time.Second}, "Interval"},
		{"negative lost after", ReporterConfig{Store: &recordingStore{}, NodeID: "n", LostAfter: -time.Second}, "LostAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := NewReporter(tt.cfg).Start(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("Start() = %v, want an error naming %s", err, tt.wantField)
			}
		})
	}
	if err := (ReporterConfig{Store: &recordingStore{}, NodeID: "n"}).WithDefaults().Validate(); err != nil {
		t.Errorf("Validate() of defaults = %v, want nil", err)
	}
}
