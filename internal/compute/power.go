package compute

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/scheduler"
)

// PowerConfig turns on node power states in the dispatcher: idle nodes are
// put in a low-power state by the operator's OnIdle command and brought back
// by OnWake, with the hysteresis of scheduler.PowerPolicy. Placement packs
// work (best fit), so that spare capacity falls on whole nodes. A sleeping
// node gets no work. Every change is recorded as an event (node.sleep,
// node.wake, node.power_hook_failed) with its reason.
type PowerConfig struct {
	Policy scheduler.PowerPolicy
	// OnIdle and OnWake are shell commands (sh -c), run with JOULE_NODE_ID
	// and JOULE_NODE_NAME set, e.g. "ssh $JOULE_NODE_NAME systemctl suspend"
	// and "wakeonlan aa:bb:…". OnIdle is required.
	OnIdle, OnWake string
	// Timeout bounds each hook (default one minute). A hook that fails or
	// times out leaves the node's state unchanged.
	Timeout time.Duration
	// Run runs a hook; nil runs it with sh -c.
	Run func(ctx context.Context, command string, env []string) error
}

// nodePower is what the dispatcher remembers of a node's power state.
type nodePower struct {
	asleep    bool
	since     time.Time
	idleSince time.Time // zero while it holds jobs
}

// powerManager applies PowerConfig; the dispatcher owns one.
type powerManager struct {
	cfg   PowerConfig
	mu    sync.Mutex
	nodes map[string]*nodePower
}

func newPowerManager(cfg *PowerConfig) *powerManager {
	if cfg == nil || cfg.OnIdle == "" {
		return nil
	}
	c := *cfg
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	if c.Run == nil {
		c.Run = func(ctx context.Context, command string, env []string) error {
			cmd := exec.CommandContext(ctx, "sh", "-c", command)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	return &powerManager{cfg: c, nodes: map[string]*nodePower{}}
}

// asleep reports whether the node is asleep.
func (p *powerManager) asleep(id string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nodes[id]
	return n != nil && n.asleep
}

// powerRound updates idleness from the snapshot (with this round's
// placements added to Allocated), asks the policy, and runs the hooks.
// wantedCPU is the CPU (millicores) of queued jobs that no awake node could
// take this round.
func (d *Dispatcher) powerRound(ctx context.Context, nodes []scheduler.Node, wantedCPU int64, now time.Time) {
	p := d.power
	if p == nil {
		return
	}
	p.mu.Lock()
	var views []scheduler.NodePower
	var perNode int64
	names := map[string]string{}
	for _, n := range nodes {
		names[n.ID] = n.Name
		st := p.nodes[n.ID]
		if st == nil {
			st = &nodePower{since: now}
			p.nodes[n.ID] = st
		}
		busy := n.Allocated.CPUMillis > 0 || n.Allocated.MemoryBytes > 0 || len(n.GPUsInUse) > 0
		switch {
		case busy:
			st.idleSince = time.Time{}
		case st.idleSince.IsZero():
			st.idleSince = now
		}
		if !st.asleep && !n.Ready {
			continue // lost or draining: not ours to manage
		}
		perNode = max(perNode, n.Capacity.CPUMillis)
		v := scheduler.NodePower{ID: n.ID, Asleep: st.asleep, Since: st.since}
		if !busy {
			v.IdleSince = st.idleSince
		}
		views = append(views, v)
	}
	wanted := 0
	if wantedCPU > 0 && perNode > 0 {
		wanted = int((wantedCPU + perNode - 1) / perNode)
	}
	actions := p.cfg.Policy.Decide(now, views, wanted)
	p.mu.Unlock()

	for _, a := range actions {
		hook, kind := p.cfg.OnIdle, "node.sleep"
		if !a.Sleep {
			hook, kind = p.cfg.OnWake, "node.wake"
		}
		name := names[a.NodeID]
		var err error
		if hook != "" {
			hctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
			err = p.cfg.Run(hctx, hook, []string{"JOULE_NODE_ID=" + a.NodeID, "JOULE_NODE_NAME=" + name})
			cancel()
		}
		msg := fmt.Sprintf("node %s: %s", name, a.Reason)
		if err != nil {
			kind, msg = "node.power_hook_failed", fmt.Sprintf("node %s: %s hook failed, state unchanged: %v", name, strings.TrimPrefix(kind, "node."), err)
			d.cfg.Logger.Warn("power hook failed", "node", name, "err", err)
		} else {
			p.mu.Lock()
			st := p.nodes[a.NodeID]
			st.asleep, st.since = a.Sleep, now
			if !a.Sleep {
				st.idleSince = now
			}
			p.mu.Unlock()
			d.cfg.Logger.Info("node power state", "node", name, "asleep", a.Sleep, "reason", a.Reason)
		}
		if err := d.cfg.Store.AppendEvent(ctx, joule.Event{ID: joule.NewID("evt", now), Time: now, Kind: kind, Subject: a.NodeID, Message: msg}); err != nil {
			d.cfg.Logger.Warn("record power event", "err", err)
		}
	}
}
