// Package serving runs model deployments in the server's process: each
// deployment is a set of replicas of one model version, each replica
// running a bounded number of predict calls at once, one call in 16 locked
// to its OS thread while it runs, so that its CPU time is measured
// (CLOCK_THREAD_CPUTIME_ID) and the energy meter can treat a replica as an
// entity.
//
// The Manager keeps the deployments, routes predict calls to the least
// busy replica, rate-limits them, and autoscales: Tick (called every
// second by Start's loop, or by tests with a fake time) sizes each
// deployment by its peak concurrency over the target per replica, between
// its min and max, and scales to zero after the idle timeout. A request
// that finds a deployment at zero starts a replica and waits for it, up to
// the cold-start timeout. Every scaling decision is a DeploymentEvent with
// its reason.
package serving
