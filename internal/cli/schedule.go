package cli

import (
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schedule",
		Aliases: []string{"schedules"},
		Short:   "Submit a job periodically on a cron schedule",
		Long: `A schedule submits a new job from its spec each time its cron expression
(five fields, UTC: minute hour day-of-month month day-of-week) fires.`,
	}
	var cronExpr, file, name string
	var f jobFlags
	create := &cobra.Command{
		Use:   "create --cron EXPR (-f job.yaml | -- COMMAND [ARGS…])",
		Short: "Create a schedule",
		Example: `  joule schedule create --cron "0 2 * * *" -f retrain.yaml
  joule schedule create --name heartbeat --cron "*/5 * * * *" -- sh -c 'date'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cronExpr == "" {
				return joule.Errorf(joule.EINVALID, "--cron is required, e.g. --cron \"0 2 * * *\"")
			}
			var spec joule.JobSpec
			var err error
			if file != "" {
				data, err := readFileOrStdin(file, m.Stdin)
				if err != nil {
					return err
				}
				if spec, err = parseJobFile(file, data); err != nil {
					return err
				}
			} else {
				f.name = firstNonEmpty(f.name, name)
				if spec, err = f.spec(args); err != nil {
					return err
				}
			}
			name = firstNonEmpty(name, spec.Name)
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			s, err := c.CreateSchedule(cmd.Context(), ws, httpapi.CreateScheduleRequest{Name: name, Cron: cronExpr, Spec: spec})
			if err != nil {
				return err
			}
			return m.print(s, func(tw *tabwriter.Writer) {
				row(tw, "Created schedule", s.Name, s.ID)
				row(tw, "Next run:", fmtTime(s.NextRunAt))
			})
		},
	}
	create.Flags().StringVar(&cronExpr, "cron", "", "cron expression, UTC (\"0 2 * * *\" = 02:00 daily)")
	create.Flags().StringVarP(&file, "file", "f", "", "job spec file (YAML or JSON)")
	create.Flags().StringVar(&name, "name", "", "schedule name (default: the job's)")
	create.Flags().StringVar(&f.cpu, "cpu", "", "CPU for the job")
	create.Flags().StringVar(&f.memory, "memory", "", "memory for the job")
	create.Flags().IntVar(&f.gpu, "gpu", 0, "GPUs for the job")
	create.Flags().IntVar(&f.retries, "retries", 0, "retries for the job")
	create.Flags().StringVar(&f.timeout, "timeout", "", "timeout for the job")

	list := &cobra.Command{
		Use:   "list",
		Short: "List schedules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			all, err := collect(0, func(cursor string) (httpapi.Page[joule.Schedule], error) {
				return c.ListSchedules(cmd.Context(), ws, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			})
			if err != nil {
				return err
			}
			return m.print(all, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "CRON", "PAUSED", "NEXT RUN", "LAST RUN", "LAST JOB")
				for _, s := range all {
					lastRun := "-"
					if s.LastRunAt != nil {
						lastRun = fmtTime(*s.LastRunAt)
					}
					row(tw, s.Name, s.Cron, s.Paused, fmtTime(s.NextRunAt), lastRun, orDash(s.LastJobID))
				}
			})
		},
	}
	pause := func(paused bool, use, short string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ws, err := m.clientAndWorkspace(cmd.Context())
				if err != nil {
					return err
				}
				s, err := c.SetSchedulePaused(cmd.Context(), ws, args[0], paused)
				if err != nil {
					return err
				}
				return m.print(s, func(tw *tabwriter.Writer) {
					row(tw, "Schedule", s.Name, map[bool]string{true: "paused", false: "resumed; next run " + fmtTime(s.NextRunAt)}[paused])
				})
			},
		}
	}
	cmd.AddCommand(create, list, pause(true, "pause", "Pause a schedule"), pause(false, "resume", "Resume a schedule from its next activation"))
	return cmd
}
