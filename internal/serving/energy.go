package serving

import "github.com/joule-dev/joule"

// ReplicaUsage is one replica's cumulative use: the CPU time its workers
// spent in predict calls and the rows they predicted.
type ReplicaUsage struct {
	DeploymentID string
	Replica      string
	CPUSeconds   float64
	Predictions  int64
	// Retired is true for a replica stopped since the last call: this is
	// its final reading, and it is not reported again.
	Retired bool
}

// CPUMethod says how replica CPU time is measured.
const CPUMethod = threadCPUMethod

// Usage returns every replica's cumulative usage, the replicas stopped
// since the last call included once more.
func (m *Manager) Usage() []ReplicaUsage {
	m.mu.Lock()
	deps := make([]*deployment, 0, len(m.deps))
	for _, d := range m.deps {
		deps = append(deps, d)
	}
	m.mu.Unlock()
	var out []ReplicaUsage
	for _, d := range deps {
		d.mu.Lock()
		for _, t := range d.tracks {
			for _, r := range t.replicas {
				out = append(out, usageOf(d, r, false))
			}
		}
		for _, r := range d.retired {
			out = append(out, usageOf(d, r, true))
		}
		d.retired = nil
		d.mu.Unlock()
	}
	return out
}

// usageOf reads a replica's CPU time: its workers' threads, and for a
// command replica its model server process too.
func usageOf(d *deployment, r *replica, retired bool) ReplicaUsage {
	cpu := r.cpuNanos.Load()
	if r.proc != nil {
		cpu += r.proc.cpuNanos()
	}
	return ReplicaUsage{DeploymentID: d.spec.ID, Replica: r.id, CPUSeconds: float64(cpu) / 1e9, Predictions: r.predictions.Load(), Retired: retired}
}

// Energy is energy attributed to one deployment's replicas over some
// interval, and the predictions they made in it.
type Energy struct {
	Predictions     int64
	CPUSeconds      float64
	MeasuredJoules  float64
	EstimatedJoules float64
	EmissionsG      float64
	// Method says how the energy was obtained and split (see
	// joule.DeploymentEnergy.Method).
	Method string
}

// AddEnergy adds e to a deployment's accounted energy and recomputes its
// per-1,000-prediction figures.
func (m *Manager) AddEnergy(deploymentID string, e Energy) {
	m.mu.Lock()
	d := m.deps[deploymentID]
	m.mu.Unlock()
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t := &d.energy
	t.Predictions += e.Predictions
	t.CPUSeconds += e.CPUSeconds
	t.MeasuredJoules += e.MeasuredJoules
	t.EstimatedJoules += e.EstimatedJoules
	t.Joules = t.MeasuredJoules + t.EstimatedJoules
	t.EmissionsG += e.EmissionsG
	t.Measured = t.Joules > 0 && t.EstimatedJoules == 0
	if e.Method != "" {
		t.Method = e.Method
	}
	if t.Predictions > 0 {
		t.JoulesPer1000 = t.Joules / float64(t.Predictions) * 1000
		t.EmissionsGPer1000 = t.EmissionsG / float64(t.Predictions) * 1000
	}
}

// Deployments returns every live deployment with its status, from memory
// (for metrics).
func (m *Manager) Deployments() []joule.Deployment {
	m.mu.Lock()
	deps := make([]*deployment, 0, len(m.deps))
	for _, d := range m.deps {
		deps = append(deps, d)
	}
	m.mu.Unlock()
	out := make([]joule.Deployment, 0, len(deps))
	for _, d := range deps {
		st := d.status()
		d.mu.Lock()
		spec := d.spec
		d.mu.Unlock()
		spec.Status = st
		m.monitorStatus(&spec) // monitor: drift and live quality for /metrics
		out = append(out, spec)
	}
	return out
}
