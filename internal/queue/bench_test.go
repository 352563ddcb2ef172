package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// latencies collects insert-to-start times.
type latencies struct {
	mu       sync.Mutex
	inserted map[string]time.Time
	samples  []time.Duration
}

func (l *latencies) insert(id string) {
	l.mu.Lock()
	l.inserted[id] = time.Now()
	l.mu.Unlock()
}

func (l *latencies) start(id string) {
	now := time.Now()
	l.mu.Lock()
	l.samples = append(l.samples, now.Sub(l.inserted[id]))
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return
	}
	s := slices.Clone(l.samples)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	b.ReportMetric(float64(p(0.50).Microseconds())/1000, prefix+"p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, prefix+"p99-ms")
}

// BenchmarkQueue measures, on each database with the default configuration
// (a 1s poll, 10 workers) and no-op jobs:
//
//   - idle: insert-to-start latency of one job at a time;
//   - 1000: the time to insert (one transaction each, 8 inserters) and work
//     1,000 jobs, and their insert-to-start latency.
//
// Run it with -run='^$' -bench=Queue -benchtime=1x.
func BenchmarkQueue(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name+"/idle", func(b *testing.B) {
			lat := &latencies{inserted: map[string]time.Time{}}
			started := make(chan struct{}, 1)
			e := bk.open(b, Config{Handler: func(ctx context.Context, j Job) error {
				lat.start(j.ID)
				started <- struct{}{}
				return nil
			}})
			time.Sleep(time.Second) // let the client settle (leader election)
			n := 0
			for b.Loop() {
				for range 50 {
					n++
					id := fmt.Sprintf("idle_%d", n)
					lat.insert(id)
					if _, err := e.createJob(b.Context(), id, EnqueueOpts{}, true); err != nil {
						b.Fatal(err)
					}
					<-started
				}
			}
			lat.report(b, "")
		})
		b.Run(bk.name+"/1000", func(b *testing.B) {
			const n = 1000
			lat := &latencies{inserted: map[string]time.Time{}}
			var done atomic.Int64
			e := bk.open(b, Config{Handler: func(ctx context.Context, j Job) error {
				lat.start(j.ID)
				done.Add(1)
				return nil
			}})
			time.Sleep(time.Second)
			round := 0
			for b.Loop() {
				round++
				start := time.Now()
				done.Store(0)
				var wg sync.WaitGroup
				for w := range 8 {
					wg.Go(func() {
						for i := w; i < n; i += 8 {
							id := fmt.Sprintf("bulk_%d_%d", round, i)
							lat.insert(id)
							if _, err := e.createJob(b.Context(), id, EnqueueOpts{}, true); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				inserted := time.Since(start)
				waitFor(b, 5*time.Minute, "all jobs to run", func() bool { return done.Load() == n })
				b.ReportMetric(inserted.Seconds(), "insert-s")
				b.ReportMetric(time.Since(start).Seconds(), "total-s")
			}
			lat.report(b, "")
		})
	}
}
