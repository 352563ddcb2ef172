package compute

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-dev/joule"
)

// Metrics are the compute layer's Prometheus metrics:
//
//	joule_jobs{state}                      jobs queued, scheduled or running now (read from the store at scrape time)
//	joule_job_wait_seconds                 time from submission to the first attempt's start
//	joule_job_duration_seconds{state}      run time of ended attempts, by how they ended
//	joule_node_power_watts{node,component,method}  each node's power at its last heartbeat
//	joule_energy_joules_total{node,kind}   energy attributed to job attempts, kind measured or estimated
//	joule_emissions_grams_total{node}      their location-based emissions
//	joule_grid_intensity{zone,source}      the intensity this node accounts with now (follows each interval's lookup)
type Metrics struct {
	store    joule.Store
	depth    *prometheus.Desc
	power    *prometheus.Desc
	wait     prometheus.Histogram
	joules   *prometheus.CounterVec
	grams    *prometheus.CounterVec
	grid     *prometheus.GaugeVec
	duration *prometheus.HistogramVec

	mu      sync.Mutex
	sources map[string]string // zone → the source its gauge carries now
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer, store joule.Store) (*Metrics, error) {
	m := &Metrics{
		store: store,
		depth: prometheus.NewDesc("joule_jobs", "Jobs that have not ended, by state.", []string{"state"}, nil),
		power: prometheus.NewDesc("joule_node_power_watts", "Node power at its last heartbeat, by component and how it was obtained (measured:… or estimated:…).", []string{"node", "component", "method"}, nil),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "joule_job_wait_seconds",
			Help:    "Time from a job's submission to the start of its first attempt.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms … 43 min
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "joule_job_duration_seconds",
			Help:    "Run time of job attempts that ended, by how they ended.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 10), // 100 ms … 7 h
		}, []string{"state"}),
	}
	m.joules = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "joule_energy_joules_total",
		Help: "Energy attributed to job attempts (before PUE), by node and kind: measured or estimated.",
	}, []string{"node", "kind"})
	m.grams = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "joule_emissions_grams_total",
		Help: "Location-based emissions of job attempts in grams CO2e (energy × PUE × grid intensity), by node.",
	}, []string{"node"})
	m.grid = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "joule_grid_intensity",
		Help: "Grid carbon intensity in gCO2e/kWh this process accounts with, by zone and source.",
	}, []string{"zone", "source"})
	for _, c := range []prometheus.Collector{m, m.wait, m.duration, m.joules, m.grams, m.grid} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Describe implements prometheus.Collector for the queue-depth gauge.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.depth; ch <- m.power }

// Collect counts the jobs in each non-terminal state.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, st := range []joule.JobState{joule.JobQueued, joule.JobScheduled, joule.JobRunning} {
		js, err := listAll(ctx, m.store, joule.JobFilter{States: []joule.JobState{st}})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(m.depth, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(len(js)), string(st))
	}
	nodes, _, err := m.store.ListNodes(ctx, joule.ListOptions{Limit: joule.MaxLimit})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.power, err)
		return
	}
	for _, n := range nodes {
		if n.Usage == nil || n.State != joule.NodeReady {
			continue
		}
		for _, p := range n.Usage.Power {
			ch <- prometheus.MustNewConstMetric(m.power, prometheus.GaugeValue, p.Watts, n.Name, p.Component, p.Method)
		}
	}
}

// Started observes the wait of a job's first attempt: from submission to
// its start.
func (m *Metrics) Started(j joule.Job) {
	if m == nil || j.StartedAt == nil || j.Attempts != 1 {
		return
	}
	m.wait.Observe(j.StartedAt.Sub(j.CreatedAt).Seconds())
}

// Ended observes the run time of an attempt that ended.
func (m *Metrics) Ended(a joule.Attempt) {
	if m == nil || a.FinishedAt == nil {
		return
	}
	m.duration.WithLabelValues(string(a.State)).Observe(a.FinishedAt.Sub(a.StartedAt).Seconds())
}

// Accounted counts the energy and emissions of an accounted attempt.
func (m *Metrics) Accounted(node string, e *joule.JobEnergy) {
	if m == nil || e == nil {
		return
	}
	m.joules.WithLabelValues(node, "measured").Add(e.MeasuredJoules)
	m.joules.WithLabelValues(node, "estimated").Add(e.EstimatedJoules)
	m.grams.WithLabelValues(node).Add(e.EmissionsG)
}

// GridIntensity records the intensity a zone is accounted with now. A
// source other than the zone's last one replaces it, so that the zone has
// one series: the intensity in use.
func (m *Metrics) GridIntensity(zone, source string, gPerKWh float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.sources[zone]; ok && old != source {
		m.grid.DeleteLabelValues(zone, old)
	}
	if m.sources == nil {
		m.sources = map[string]string{}
	}
	m.sources[zone] = source
	m.grid.WithLabelValues(zone, source).Set(gPerKWh)
}

// TrackIntensity returns f, an intensity lookup, reporting each lookup for
// a time no earlier than the latest one so far to the zone's
// joule_grid_intensity gauge, so that the gauge follows the intensity the
// node accounts with as time goes on; lookups for earlier times (an
// attempt accounted after it ended) leave it alone.
func (m *Metrics) TrackIntensity(zone string, f func(time.Time) (float64, string)) func(time.Time) (float64, string) {
	if m == nil || f == nil {
		return f
	}
	var mu sync.Mutex
	var latest time.Time
	return func(t time.Time) (float64, string) {
		g, src := f(t)
		mu.Lock()
		defer mu.Unlock()
		if !t.Before(latest) {
			latest = t
			m.GridIntensity(zone, src, g)
		}
		return g, src
	}
}
