package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

func (m *Main) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server, who you are, and the nodes with their power meters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.checkOutput(); err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			me, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			out := struct {
				Server joule.ServerStatus `json:"server"`
				You    joule.Principal    `json:"you"`
			}{st, me}
			return m.print(out, func(tw *tabwriter.Writer) {
				now := time.Now()
				row(tw, "Server:", c.BaseURL)
				row(tw, "Version:", st.Version)
				row(tw, "Store:", st.Store)
				row(tw, "Up since:", fmtTime(st.StartedAt)+" ("+fmtAgo(st.StartedAt, now)+")")
				row(tw, "You:", fmt.Sprintf("token %s (%s), role %s, workspace %s", me.TokenName, me.TokenID, me.Role, me.WorkspaceName))
				row(tw, "")
				row(tw, "NODE", "STATE", "CPU", "MEMORY", "GPUS", "POWER METERS", "HEARTBEAT")
				for _, n := range st.Nodes {
					row(tw, n.Name, n.State, fmt.Sprintf("%d × %s", n.CPUCores, n.CPUModel), fmtBytes(n.MemoryBytes), len(n.GPUs), meterSummary(n), fmtAgo(n.LastHeartbeat, now))
				}
			})
		},
	}
}

// meterSummary says which meters a node has, or that energy is estimated.
func meterSummary(n joule.Node) string {
	if len(n.Meters) == 0 {
		return "none (energy will be estimated)"
	}
	kinds := map[string]int{}
	var order []string
	for _, mt := range n.Meters {
		if kinds[mt.Kind] == 0 {
			order = append(order, mt.Kind)
		}
		kinds[mt.Kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s×%d", k, kinds[k])
	}
	return strings.Join(parts, ", ") + " (measured)"
}
