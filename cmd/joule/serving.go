package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/energy"
	"github.com/joule-dev/joule/internal/serving"
)

// servingMeter attributes the node's dynamic power to the serving replicas
// by the CPU time their worker threads spent in predict calls, exactly as
// jobs get theirs (energy.AttributeSeries over the power sampler's 1 Hz
// intervals), and adds it, with the predictions made, to each deployment.
type servingMeter struct {
	mgr    *serving.Manager
	power  *powerSampler
	cfg    energy.AccountConfig
	policy energy.IdlePolicy
	logger *slog.Logger

	series  map[string][]joule.UsageSample // replica → cumulative CPU time
	depOf   map[string]string              // replica → deployment ID
	preds   map[string]int64               // replica → predictions at the last round
	cpu     map[string]float64             // replica → CPU seconds at the last round
	lastEnd time.Time                      // end of the last accounted interval
	lastRun time.Time

	stop func()
	wg   sync.WaitGroup
}

// Start runs a round every 2 s until ctx ends or Stop.
func (s *servingMeter) Start(ctx context.Context) {
	s.series, s.depOf, s.preds, s.cpu = map[string][]joule.UsageSample{}, map[string]string{}, map[string]int64{}, map[string]float64{}
	s.lastEnd, s.lastRun = time.Now(), time.Now()
	ctx, s.stop = context.WithCancel(ctx)
	s.wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				s.round(now)
			}
		}
	})
}

// Stop ends the loop; safe before Start and more than once.
func (s *servingMeter) Stop() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
}

func (s *servingMeter) round(now time.Time) {
	seen := map[string]bool{}
	perDep := map[string]*serving.Energy{}
	dep := func(id string) *serving.Energy {
		if perDep[id] == nil {
			perDep[id] = &serving.Energy{}
		}
		return perDep[id]
	}
	for _, u := range s.mgr.Usage() {
		seen[u.Replica] = true
		if _, ok := s.series[u.Replica]; !ok {
			// A new replica: its counters were zero at the last round.
			s.series[u.Replica] = []joule.UsageSample{{Time: s.lastRun}}
			s.depOf[u.Replica] = u.DeploymentID
		}
		s.series[u.Replica] = append(s.series[u.Replica], joule.UsageSample{Time: now, CPUUserSec: u.CPUSeconds})
		e := dep(u.DeploymentID)
		e.Predictions += u.Predictions - s.preds[u.Replica]
		e.CPUSeconds += u.CPUSeconds - s.cpu[u.Replica]
		s.preds[u.Replica], s.cpu[u.Replica] = u.Predictions, u.CPUSeconds
	}
	var nodes []energy.NodeInterval
	for _, n := range s.power.between(s.lastEnd, now) {
		if !n.Start.Before(s.lastEnd) && !n.End.After(now) {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) > 0 {
		s.lastEnd = nodes[len(nodes)-1].End
		for _, attr := range energy.AttributeSeries(nodes, s.series, nil, s.policy) {
			for id, t := range energy.Totals(energy.Account(s.cfg, attr)) {
				depID, ok := s.depOf[id]
				if !ok {
					continue
				}
				e := dep(depID)
				e.MeasuredJoules += t.MeasuredJoules
				e.EstimatedJoules += t.EstimatedJoules
				e.EmissionsG += t.EmissionsG
				if t.Method != "" {
					e.Method = t.Method + "; attribution: node dynamic power by the CPU time of replica worker threads (" + serving.CPUMethod + ") over the node's; idle power apart; emissions location-based"
				}
			}
		}
	}
	for id, e := range perDep {
		s.mgr.AddEnergy(id, *e)
	}
	// Keep a minute of samples; forget replicas gone since the last round.
	for id, ser := range s.series {
		if !seen[id] {
			delete(s.series, id)
			delete(s.depOf, id)
			delete(s.preds, id)
			delete(s.cpu, id)
			continue
		}
		cut := 0
		for cut < len(ser)-2 && now.Sub(ser[cut].Time) > time.Minute {
			cut++
		}
		s.series[id] = ser[cut:]
	}
	s.lastRun = now
}

// servingCollector exports each deployment's live status on /metrics.
type servingCollector struct {
	mgr                                                      *serving.Manager
	replicas, inflight, requests, errors, preds, lat, rps, e *prometheus.Desc
}

func newServingCollector(mgr *serving.Manager) *servingCollector {
	l := []string{"workspace_id", "deployment"}
	return &servingCollector{
		mgr:      mgr,
		replicas: prometheus.NewDesc("joule_deployment_replicas", "Replicas of a deployment.", l, nil),
		inflight: prometheus.NewDesc("joule_deployment_in_flight", "Predict requests in flight.", l, nil),
		requests: prometheus.NewDesc("joule_deployment_requests_total", "Predict requests since the server started.", l, nil),
		errors:   prometheus.NewDesc("joule_deployment_errors_total", "Predict requests that failed on the server's side (5xx).", l, nil),
		preds:    prometheus.NewDesc("joule_deployment_predictions_total", "Rows predicted since the server started.", l, nil),
		lat:      prometheus.NewDesc("joule_deployment_latency_ms", "Predict latency percentiles over the latest 2048 requests, in ms.", append(l, "quantile"), nil),
		rps:      prometheus.NewDesc("joule_deployment_rps", "Predict requests per second over the latest autoscaler tick.", l, nil),
		e:        prometheus.NewDesc("joule_deployment_joules_per_1000_predictions", "Energy per 1,000 predictions, attributed by CPU-time share (see the deployment's energy.method).", l, nil),
	}
}

func (c *servingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.replicas, c.inflight, c.requests, c.errors, c.preds, c.lat, c.rps, c.e} {
		ch <- d
	}
}

func (c *servingCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.mgr.Deployments() {
		st, l := d.Status, []string{d.WorkspaceID, d.Name}
		ch <- prometheus.MustNewConstMetric(c.replicas, prometheus.GaugeValue, float64(st.Replicas), l...)
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(st.InFlight), l...)
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(st.Requests), l...)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(st.Errors), l...)
		ch <- prometheus.MustNewConstMetric(c.preds, prometheus.CounterValue, float64(st.Predictions), l...)
		ch <- prometheus.MustNewConstMetric(c.rps, prometheus.GaugeValue, st.RPS, l...)
		for _, q := range []string{"p50", "p95", "p99"} {
			if v, ok := st.LatencyMS[q]; ok {
				ch <- prometheus.MustNewConstMetric(c.lat, prometheus.GaugeValue, v, append(l, q)...)
			}
		}
		if st.Energy != nil && st.Energy.Predictions > 0 {
			ch <- prometheus.MustNewConstMetric(c.e, prometheus.GaugeValue, st.Energy.JoulesPer1000, l...)
		}
	}
}
