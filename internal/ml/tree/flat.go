package tree

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Flat is an ensemble of trees packed for fast batch prediction: all
// nodes in one array of 16-byte nodes, each split's two children side by
// side, so that a walk touches one cache line per level. Build it with
// Flatten; it predicts exactly as the trees' Leaf does.
type Flat struct {
	nodes   []flatNode
	roots   []int32
	values  []float64
	outputs int
}

type flatNode struct {
	threshold float64
	feature   int32 // -1 for a leaf
	next      int32 // a split's left child (the right is next+1); a leaf's offset in values
}

// Flatten packs trees, which must share NumOutputs and be valid.
func Flatten(trees []*Tree) *Flat {
	f := &Flat{roots: make([]int32, len(trees))}
	if len(trees) > 0 {
		f.outputs = trees[0].NumOutputs
	}
	for i, t := range trees {
		f.roots[i] = int32(len(f.nodes))
		f.nodes = append(f.nodes, flatNode{})
		// Breadth first: each split's children are appended together.
		queue := [][2]int32{{0, f.roots[i]}} // (node in t, slot in f)
		for len(queue) > 0 {
			n, slot := queue[0][0], queue[0][1]
			queue = queue[1:]
			if t.Feature[n] < 0 {
				k := int(n) * t.NumOutputs
				f.nodes[slot] = flatNode{feature: -1, next: int32(len(f.values))}
				f.values = append(f.values, t.Value[k:k+t.NumOutputs]...)
				continue
			}
			c := int32(len(f.nodes))
			f.nodes = append(f.nodes, flatNode{}, flatNode{})
			f.nodes[slot] = flatNode{threshold: t.Threshold[n], feature: t.Feature[n], next: c}
			queue = append(queue, [2]int32{t.Left[n], c}, [2]int32{t.Right[n], c + 1})
		}
	}
	return f
}

// AddLeaves adds every tree's leaf values for one row x to out (len
// NumOutputs), tree after tree: the same sums, in the same order, as
// adding Leaf(x) tree by tree.
//
// Several trees are walked side by side. Each level of a walk waits on a
// load whose address the level before computed, so one walk at a time
// leaves the core idle on cache misses; independent walks overlap them.
// A lane that reaches its leaf takes the next tree. The leaves found are
// then added in tree order.
func (f *Flat) AddLeaves(x []float64, out []float64) {
	nodes, values, roots := f.nodes, f.values, f.roots
	var buf [256]int32
	leaves := buf[:0]
	if len(roots) > len(buf) {
		leaves = make([]int32, len(roots))
	}
	leaves = leaves[:len(roots)]
	const lanes = 16
	var at, tree [lanes]int32
	live := min(lanes, len(roots))
	for l := range live {
		at[l], tree[l] = roots[l], int32(l)
	}
	next := live
	for live > 0 {
		for l := 0; l < live; {
			nd := &nodes[at[l]]
			if nd.feature >= 0 {
				at[l] = step(nd, x)
				l++
				continue
			}
			leaves[tree[l]] = at[l]
			if next < len(roots) {
				at[l], tree[l] = roots[next], int32(next)
				next++
				l++
				continue
			}
			live-- // the last lane takes this one's place
			at[l], tree[l] = at[live], tree[live]
		}
	}
	for _, n := range leaves {
		v := int(nodes[n].next)
		for j := range out {
			out[j] += values[v+j]
		}
	}
}

// step returns the child of split nd that x goes to: as Leaf, NaN goes
// right.
func step(nd *flatNode, x []float64) int32 {
	n := nd.next
	if !(x[nd.feature] <= nd.threshold) {
		n++
	}
	return n
}

// NumTrees returns the number of trees.
func (f *Flat) NumTrees() int { return len(f.roots) }

// batchRows is the number of rows walked through one tree before the
// next, so that the tree's nodes stay in cache across the block.
const batchRows = 256

// Accumulate adds, for every row of X, the leaf values of the trees
// group(i) picks into out: with width w, tree i's leaf value (one
// number; the trees must have one output) is added to out[r*w+group(i)];
// with group nil every tree adds its NumOutputs values to
// out[r*w : r*w+NumOutputs]. Trees are added in order, so each sum is
// the same as adding Leaf(x) tree by tree. Row blocks run on every core.
func (f *Flat) Accumulate(X [][]float64, out []float64, w int, group func(i int) int) {
	nb := (len(X) + batchRows - 1) / batchRows
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nb) {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo, hi := b*batchRows, min(len(X), (b+1)*batchRows)
				nodes, values := f.nodes, f.values
				for i, root := range f.roots {
					g := 0
					if group != nil {
						g = group(i)
					}
					add := func(r int, n int32) {
						v := int(nodes[n].next)
						if f.outputs == 1 {
							out[r*w+g] += values[v]
							return
						}
						o := out[r*w+g : r*w+g+f.outputs]
						for j := range o {
							o[j] += values[v+j]
						}
					}
					// Four rows walk the tree together, so that their
					// cache misses overlap instead of queueing.
					r := lo
					for ; r+4 <= hi; r += 4 {
						x0, x1, x2, x3 := X[r], X[r+1], X[r+2], X[r+3]
						n0, n1, n2, n3 := root, root, root, root
						for {
							live := false
							if nd := &nodes[n0]; nd.feature >= 0 {
								n0 = nd.next
								if !(x0[nd.feature] <= nd.threshold) { // as Leaf: NaN goes right
									n0++
								}
								live = true
							}
							if nd := &nodes[n1]; nd.feature >= 0 {
								n1 = nd.next
								if !(x1[nd.feature] <= nd.threshold) {
									n1++
								}
								live = true
							}
							if nd := &nodes[n2]; nd.feature >= 0 {
								n2 = nd.next
								if !(x2[nd.feature] <= nd.threshold) {
									n2++
								}
								live = true
							}
							if nd := &nodes[n3]; nd.feature >= 0 {
								n3 = nd.next
								if !(x3[nd.feature] <= nd.threshold) {
									n3++
								}
								live = true
							}
							if !live {
								break
							}
						}
						add(r, n0)
						add(r+1, n1)
						add(r+2, n2)
						add(r+3, n3)
					}
					for ; r < hi; r++ {
						x := X[r]
						n := root
						for nodes[n].feature >= 0 {
							nd := &nodes[n]
							n = nd.next
							if !(x[nd.feature] <= nd.threshold) { // as Leaf: NaN goes right
								n++
							}
						}
						add(r, n)
					}
				}
			}
		})
	}
	wg.Wait()
}
