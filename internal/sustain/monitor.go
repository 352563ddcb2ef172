package sustain

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Load reads the accounting of [since, until) from the store: a
// workspace's hourly job rollups ("" for every workspace), the whole
// nodes' when nodes is true, the jobs behind them, the installation's
// facility meter and certificates, and the workspace's KPIs.
func Load(ctx context.Context, st joule.Store, workspaceID string, since, until time.Time, nodes bool) (Data, error) {
	d := Data{Since: since, Until: until, Jobs: map[string]joule.Job{}}
	var err error
	d.JobRows, err = st.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupJob, Width: time.Hour, WorkspaceID: workspaceID, Since: since, Until: until})
	if err != nil {
		return Data{}, err
	}
	if nodes {
		if d.NodeRows, err = st.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupNode, Width: time.Hour, Since: since, Until: until}); err != nil {
			return Data{}, err
		}
		if d.NodeRows == nil {
			d.NodeRows = []joule.EnergyRollup{}
		}
	}
	for _, r := range d.JobRows {
		if _, ok := d.Jobs[r.Entity]; ok {
			continue
		}
		j, err := st.GetJob(ctx, r.WorkspaceID, r.Entity)
		if err != nil && joule.ErrorCode(err) != joule.ENOTFOUND {
			return Data{}, err
		}
		d.Jobs[r.Entity] = j
	}
	if d.Facility, err = st.ListSeries(ctx, "", joule.SeriesMeter+"facility", since, until); err != nil {
		return Data{}, err
	}
	recs, err := st.ListSeriesNames(ctx, "", joule.SeriesREC)
	if err != nil {
		return Data{}, err
	}
	for _, name := range recs {
		pts, err := st.ListSeries(ctx, "", name, since, until)
		if err != nil {
			return Data{}, err
		}
		d.REC = append(d.REC, pts...)
	}
	if workspaceID != "" {
		kpis, err := st.ListKPIs(ctx, workspaceID)
		if err != nil {
			return Data{}, err
		}
		for _, k := range kpis {
			pts, err := st.ListSeries(ctx, workspaceID, joule.SeriesKPI+k.Name, since, until)
			if err != nil {
				return Data{}, err
			}
			d.KPIs = append(d.KPIs, KPIData{KPI: k, Points: pts})
		}
	}
	return d, nil
}

// needsNodes reports whether a slice needs whole-node rows.
func needsNodes(s joule.Slice) bool { return strings.HasPrefix(string(s), joule.SliceNode+":") }

// EvaluateTarget projects a target from its baseline's end to now and
// records the evaluation in its history when the status changed or the
// last record is a day old. It returns the status, the previous status
// ("" for none) and whether it was recorded.
func EvaluateTarget(ctx context.Context, st joule.Store, t joule.Target, now time.Time) (joule.TargetStatus, string, bool, error) {
	b, err := st.GetBaseline(ctx, t.WorkspaceID, t.BaselineID)
	if err != nil {
		return joule.TargetStatus{}, "", false, fmt.Errorf("baseline of target %s: %w", t.Name, err)
	}
	d, err := Load(ctx, st, t.WorkspaceID, b.Until, now, needsNodes(t.Slice))
	if err != nil {
		return joule.TargetStatus{}, "", false, err
	}
	weekly, err := TargetSeries(d, t, b, now)
	if err != nil {
		return joule.TargetStatus{}, "", false, err
	}
	s := Evaluate(t, weekly, now)
	prev := ""
	if t.Status != nil {
		prev = t.Status.Status
	}
	if t.Status != nil && prev == s.Status && now.Sub(t.Status.Time) < 24*time.Hour {
		return s, prev, false, nil
	}
	if err := st.AppendTargetStatus(ctx, t.ID, s); err != nil {
		return joule.TargetStatus{}, "", false, err
	}
	return s, prev, true, nil
}

// Monitor evaluates targets and thresholds on a schedule, records an event
// for each target that falls at risk or off track and each threshold
// crossed, and posts it to the webhook when one is configured.
type Monitor struct {
	Store      joule.Store
	Webhook    *Webhook // nil: events only
	Thresholds []Threshold
	// Every is the time between evaluations (default 1h).
	Every  time.Duration
	Now    func() time.Time
	Logger *slog.Logger

	mu      sync.Mutex
	crossed map[string]bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start runs Tick at once and then every Every until Stop.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	every := m.Every
	if every <= 0 {
		every = time.Hour
	}
	go func() {
		defer close(m.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
				m.logger().ErrorContext(ctx, "sustainability monitor", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return nil
}

// Stop ends the loop and waits for it; safe to call twice or before Start.
func (m *Monitor) Stop() {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (m *Monitor) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Tick evaluates every target and threshold once and sends the alerts.
func (m *Monitor) Tick(ctx context.Context) error {
	now := m.now()
	targets, err := m.Store.ListTargets(ctx, "")
	if err != nil {
		return err
	}
	var errs []string
	for _, t := range targets {
		if !now.Before(t.Due.Add(Week)) {
			continue // a week past due: its history stands
		}
		s, prev, _, err := EvaluateTarget(ctx, m.Store, t, now)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if s.Status != prev && (s.Status == joule.TargetAtRisk || s.Status == joule.TargetOffTrack) {
			t.Status = &s
			m.alert(ctx, Alert{Kind: "target." + s.Status, WorkspaceID: t.WorkspaceID, Subject: t.Name, Target: &t,
				Message: fmt.Sprintf("target %s is %s: %s", t.Name, strings.ReplaceAll(s.Status, "_", " "), s.Reason)}, now)
		}
	}
	for _, th := range m.Thresholds {
		d, err := Load(ctx, m.Store, "", now.Add(-th.Window), now, true)
		if err != nil {
			return err
		}
		set, err := Compute(d, th.Slice)
		if err != nil {
			return err
		}
		v, ok := set.Get(th.Indicator)
		key := th.String()
		m.mu.Lock()
		if m.crossed == nil {
			m.crossed = map[string]bool{}
		}
		was := m.crossed[key]
		now := ok && th.Crossed(v)
		m.crossed[key] = now
		m.mu.Unlock()
		if now && !was {
			m.alert(ctx, Alert{Kind: "indicator.threshold", Subject: th.Indicator, Indicator: &v,
				Message: fmt.Sprintf("%s over the last %s is %.4g %s, %s %g", th.Indicator, th.Window, v.Value, v.Unit, map[string]string{">": "above", "<": "below"}[th.Op], th.Value)}, m.now())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("evaluate targets: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (m *Monitor) alert(ctx context.Context, a Alert, now time.Time) {
	a.ID = joule.NewID("alert", now)
	a.Time = now
	if err := m.Store.AppendEvent(ctx, joule.Event{ID: joule.NewID("evt", now), Time: now, WorkspaceID: a.WorkspaceID, Kind: a.Kind, Subject: a.Subject, Message: a.Message}); err != nil {
		m.logger().ErrorContext(ctx, "record alert event", "err", err)
	}
	if m.Webhook != nil {
		if err := m.Webhook.Send(ctx, a); err != nil {
			m.logger().ErrorContext(ctx, "alert webhook", "err", err)
		}
	}
}
