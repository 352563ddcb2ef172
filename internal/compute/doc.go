// Package compute is joule's compute layer at run time: it takes submitted
// jobs through placement to a worker that runs them, and keeps every job's
// state honest across retries, cancellation, lost nodes and restarts.
//
//	submit ──► queued ──dispatcher──► scheduled ──queue──► worker ──► running ──► succeeded
//	             ▲          (scheduler.Place,        (one River job     │          failed
//	             │           deps, not_before,        per placement,    │          cancelled
//	             └── retry ◄─ cron schedules)         same transaction) ┘          timed_out
//
// The Dispatcher runs in the server. Each tick it creates jobs for due cron
// schedules, fails queued jobs whose dependencies failed, and asks the pure
// scheduler to place the rest on ready nodes without overcommitting CPU,
// memory or GPUs. A placement moves the job to scheduled and enqueues it for
// its node in the same store transaction.
//
// A Worker runs on every node (inside `joule up` for the local node, or as
// `joule worker`). For each job handed to it, it moves the job from scheduled
// to running with a compare-and-set on the job's state, so no job runs twice
// at once, runs it through a joule.Runtime, records usage, metrics and the
// attempt, and then moves the job to its end state, or back to queued with a
// backoff while retries are left. A job cancelled through the API is stopped
// by the worker that runs it within one poll interval.
//
// On start a worker reconciles the jobs the store says are running on its
// node: a job whose process is still alive is adopted and watched again; any
// other is retried or failed with the reason "worker restarted".
package compute
