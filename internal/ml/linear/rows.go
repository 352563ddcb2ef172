package linear

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// blockRows is the number of rows a worker handles at a time. Blocks
// are fixed by the row count alone, and callers sum the blocks' partial
// results in block order, so a fit does not depend on the number of
// cores or on scheduling.
const blockRows = 2048

// numBlocks returns the number of row blocks for n rows.
func numBlocks(n int) int { return (n + blockRows - 1) / blockRows }

// forBlocks runs fn(b, lo, hi) for every block b of rows [lo, hi), on
// every core when there is more than one block.
func forBlocks(n int, fn func(b, lo, hi int)) {
	nb := numBlocks(n)
	workers := min(runtime.GOMAXPROCS(0), nb)
	run := func(b int) { fn(b, b*blockRows, min(n, (b+1)*blockRows)) }
	if workers <= 1 {
		for b := range nb {
			run(b)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				run(b)
			}
		})
	}
	wg.Wait()
}
