package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

// benchInput makes a fixed cluster of 100 nodes (a quarter with 4 GPUs, two
// zones, some busy, a few not ready) and a queue of 1,000 jobs of mixed
// sizes, priorities, ages and selectors: more work than fits, so Place both
// assigns and explains.
func benchInput() ([]scheduler.Node, []scheduler.Pending) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := []string{"a", "b"}
	nodes := make([]scheduler.Node, 100)
	for i := range nodes {
		n := scheduler.Node{
			ID:        fmt.Sprintf("node-%03d", i),
			Capacity:  joule.Resources{CPUMillis: 32 * core, MemoryBytes: 128 * gi},
			Allocated: joule.Resources{CPUMillis: int64(r.IntN(16)) * core, MemoryBytes: int64(r.IntN(64)) * gi},
			Labels:    map[string]string{"zone": zones[i%2]},
			Ready:     i%20 != 0,
		}
		if i%4 == 0 {
			n.GPUs = []int{0, 1, 2, 3}
			n.GPUsInUse = []int{r.IntN(4)}
			n.Labels["gpu"] = "h100"
		}
		nodes[i] = n
	}
	pending := make([]scheduler.Pending, 1000)
	for i := range pending {
		p := scheduler.Pending{
			JobID:     fmt.Sprintf("job-%04d", i),
			Priority:  1 + r.IntN(9),
			Resources: joule.Resources{CPUMillis: int64(1+r.IntN(8)) * 500, MemoryBytes: int64(1+r.IntN(16)) * gi},
			QueuedAt:  t0.Add(-time.Duration(r.IntN(180)) * time.Minute),
		}
		switch r.IntN(10) {
		case 0:
			p.Resources.GPUs = 1 + r.IntN(2)
			p.Selector = map[string]string{"gpu": "h100"}
		case 1:
			p.Selector = map[string]string{"zone": zones[r.IntN(2)]}
		}
		pending[i] = p
	}
	return nodes, pending
}

func BenchmarkPlace(b *testing.B) {
	nodes, pending := benchInput()
	plan := scheduler.Place(scheduler.Config{}, nodes, pending, t0)
	b.ReportMetric(float64(len(plan.Assignments)), "assigned")
	for b.Loop() {
		scheduler.Place(scheduler.Config{}, nodes, pending, t0)
	}
}
