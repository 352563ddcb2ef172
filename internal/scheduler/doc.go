// Package scheduler decides where pending jobs run. It is pure: Place takes a
// snapshot of the nodes, the pending jobs and the current time, and returns a
// Plan of assignments and of jobs left waiting, each with a reason. It reads
// no database, clock or random source and does no I/O, so the live queue and
// the carbon-aware simulator get the same answer from the same input.
//
// Place works in four stages (see README.md):
//
//	snapshot → filter → rank → assign
//
// In turn:
//   - snapshot: copy the nodes and work out what is free on each: CPU and
//     memory as capacity minus allocations, GPUs as the node's GPU indices
//     minus those in use.
//   - filter: set aside jobs whose not_before is still ahead and jobs whose
//     ID appears twice.
//   - rank: order the rest by effective priority (highest first), then by
//     queue time, then by job ID. The effective priority is the priority
//     plus one for each Config.AgeingStep waited, at most Config.MaxAgeBoost
//     more and never above MaxPriority.
//   - assign: give each job in turn the ready node that matches its selector,
//     has room for it, and is left with the least free room (best fit), so
//     that work packs onto few nodes and idle ones can sleep. GPUs are given
//     as concrete indices, lowest free first.
//
// A job that does not fit now does not hold up smaller jobs behind it. That
// alone would let a large job starve while small ones keep taking the room it
// needs, so Place keeps one reservation: the first job in rank order that has
// waited long enough to reach its full age boost and cannot fit now, although
// some matching node is large enough, holds the matching node closest to
// fitting it. No job ranked after it is placed there, so the node drains
// until the starving job fits. Together with the cap at MaxPriority, which
// puts a job that has aged fully behind only jobs queued before it, every job
// that some node can hold eventually runs, as long as running jobs end.
//
// Dependencies are the caller's business: pass only jobs whose dependencies
// have succeeded.
package scheduler
