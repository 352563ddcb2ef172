package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) nodeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "node",
		Aliases: []string{"nodes"},
		Short:   "Show the machines that run work: inventory, meters, health and usage",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			all, err := collect(0, func(cursor string) (httpapi.Page[joule.Node], error) {
				return c.ListNodes(cmd.Context(), joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			})
			if err != nil {
				return err
			}
			now := time.Now()
			return m.print(all, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "STATE", "CPUS", "MEMORY", "GPUS", "CPU USE", "POWER", "POWER METERS", "HEARTBEAT")
				for _, n := range all {
					use, power := "-", "-"
					if n.Usage != nil {
						use = fmt.Sprintf("%.0f%%", n.Usage.CPUFraction*100)
						if len(n.Usage.Power) > 0 {
							power = powerSummary(n.Usage.Power)
						}
					}
					row(tw, n.Name, n.State, n.CPUCores, fmtBytes(n.MemoryBytes), len(n.GPUs), use, power, meterSummary(n), fmtAgo(n.LastHeartbeat, now))
				}
			})
		},
	}
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Show one node in detail",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			n, err := c.GetNode(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.print(n, func(tw *tabwriter.Writer) {
				row(tw, "Name:", n.Name)
				row(tw, "ID:", n.ID)
				row(tw, "State:", n.State)
				row(tw, "Host:", n.Hostname+" ("+n.OS+"/"+n.Arch+", kernel "+n.Kernel+")")
				row(tw, "CPU:", fmt.Sprintf("%d × %s", n.CPUCores, n.CPUModel))
				row(tw, "Memory:", fmtBytes(n.MemoryBytes))
				for _, g := range n.GPUs {
					row(tw, "GPU:", fmt.Sprintf("%d %s (%s)", g.Index, g.Name, fmtBytes(g.MemoryBytes)))
				}
				if len(n.Meters) == 0 {
					row(tw, "Power meters:", "none detected: energy will be estimated from utilisation")
				}
				for _, mt := range n.Meters {
					row(tw, "Power meter:", mt.Kind+" "+mt.Name+" ("+mt.Source+")")
				}
				if len(n.Labels) > 0 {
					var ls []string
					for k, v := range n.Labels {
						ls = append(ls, k+"="+v)
					}
					row(tw, "Labels:", strings.Join(ls, ","))
				}
				row(tw, "Heartbeat:", fmtAgo(n.LastHeartbeat, time.Now()))
				if u := n.Usage; u != nil {
					row(tw, "CPU use:", fmt.Sprintf("%.1f%% (load %.2f)", u.CPUFraction*100, u.Load1))
					row(tw, "Memory use:", fmtBytes(u.MemoryUsed))
					if len(u.Power) > 0 {
						row(tw, "Power:", powerSummary(u.Power))
						for _, p := range u.Power {
							row(tw, "", fmt.Sprintf("%s %.1f W (%s)", p.Component, p.Watts, p.Method))
						}
					}
				}
			})
		},
	}
	cmd.AddCommand(list, get, m.nodeTopCommand())
	return cmd
}

func (m *Main) nodeTopCommand() *cobra.Command {
	var once bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show live utilisation of every node (refreshes until Ctrl-C)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			for {
				p, err := c.ListNodes(cmd.Context(), joule.ListOptions{Limit: joule.MaxLimit})
				if err != nil {
					return err
				}
				now := time.Now()
				if err := m.print(p.Items, func(tw *tabwriter.Writer) {
					row(tw, "NODE", "STATE", "CPU", "LOAD", "MEMORY USED", "GPU", "SAMPLED")
					for _, n := range p.Items {
						if n.Usage == nil {
							row(tw, n.Name, n.State, "-", "-", "-", "-", "never")
							continue
						}
						u := n.Usage
						gpu := "-"
						if len(u.GPUFractions) > 0 {
							parts := make([]string, len(u.GPUFractions))
							for i, g := range u.GPUFractions {
								parts[i] = fmt.Sprintf("%.0f%%", g*100)
							}
							gpu = strings.Join(parts, " ")
						}
						row(tw, n.Name, n.State, fmt.Sprintf("%5.1f%% of %d", u.CPUFraction*100, n.CPUCores),
							fmt.Sprintf("%.2f", u.Load1), fmt.Sprintf("%s / %s", fmtBytes(u.MemoryUsed), fmtBytes(n.MemoryBytes)), gpu, fmtAgo(u.Time, now))
					}
				}); err != nil {
					return err
				}
				if once {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(interval):
				}
				fmt.Fprintln(m.Stdout)
			}
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh interval")
	return cmd
}

// powerSummary totals a node's power and says how it was obtained, never
// hiding a mix of measured and estimated figures.
func powerSummary(ps []joule.PowerReading) string {
	total := 0.0
	methods := map[string]bool{}
	var order []string
	for _, p := range ps {
		total += p.Watts
		if !methods[p.Method] {
			methods[p.Method] = true
			order = append(order, p.Method)
		}
	}
	return fmt.Sprintf("%.1f W (%s)", total, strings.Join(order, " + "))
}
