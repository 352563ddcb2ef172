package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// ExitError carries the exit status a command wants, such as a job's exit
// code under `job run --wait`. Main exits with Code and prints Message, if
// any, as the error line.
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string { return e.Message }

func (m *Main) jobCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "job",
		Aliases: []string{"jobs"},
		Short:   "Run, follow and manage jobs: any command, on the node placement picks",
		Long: `A job runs a command on a node with the CPU, memory and GPUs it asks for.
Its states are queued → scheduled → running → succeeded, failed, cancelled
or timed_out; a failed attempt is retried while --retries allow, after a
doubling backoff. A job's script can report metrics by printing lines like
"joule:metric loss=0.31 step=120", and keeps files by writing them to
$JOULE_OUTPUT_DIR.`,
	}
	cmd.AddCommand(m.jobRunCommand(), m.jobListCommand(), m.jobGetCommand(), m.jobLogsCommand(),
		m.jobCancelCommand(), m.jobRetryCommand(), m.jobArtifactsCommand())
	return cmd
}

func (m *Main) jobRunCommand() *cobra.Command {
	var f jobFlags
	var file string
	var wait bool
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARGS…]",
		Short: "Submit a job, from flags and a command, or from a YAML/JSON spec file",
		Example: `  joule job run --name hello --cpu 1 --wait -- python3 -c "print(sum(range(10**8)))"
  joule job run --name resnet --gpu 1 --cpu 4 --memory 16Gi --retries 2 --timeout 6h -- python train.py
  joule job run -f job.yaml --wait
  # carbon-aware: start in the greenest hour of the next 12 (needs a carbon forecast on the server)
  joule job run --name nightly --flexibility 12h --expected-duration 1h -- python train.py
  joule job run --name batch --deadline 24h --expected-duration 3h --interruptible -- ./batch.sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec joule.JobSpec
			var err error
			if file != "" {
				if len(args) > 0 {
					return joule.Errorf(joule.EINVALID, "give the command in the spec file or after --, not both")
				}
				data, err := readFileOrStdin(file, m.Stdin)
				if err != nil {
					return err
				}
				if spec, err = parseJobFile(file, data); err != nil {
					return err
				}
			} else if spec, err = f.spec(args); err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			j, err := c.SubmitJob(cmd.Context(), ws, spec)
			if err != nil {
				return err
			}
			if !wait {
				return m.print(j, func(tw *tabwriter.Writer) {
					row(tw, "Submitted job", j.Spec.Name, j.ID, string(j.State))
				})
			}
			return m.waitJob(cmd.Context(), c, ws, j)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "job spec file (YAML or JSON; - for stdin)")
	fl.StringVar(&f.name, "name", "", "job name (default: from the command)")
	fl.StringVar(&f.cpu, "cpu", "", "CPU: cores (1, 0.5) or millicores (500m) (default 1)")
	fl.StringVar(&f.memory, "memory", "", "memory: 512Mi, 16Gi, … (default: none reserved)")
	fl.IntVar(&f.gpu, "gpu", 0, "GPUs")
	fl.IntVar(&f.priority, "priority", 0, "priority 1 (lowest) to 9 (default 5)")
	fl.IntVar(&f.retries, "retries", 0, "extra attempts after a failure")
	fl.StringVar(&f.backoff, "backoff", "", "wait before the first retry, doubling each time (default 1s)")
	fl.StringVar(&f.timeout, "timeout", "", "stop the job after this long (30m, 2h; default none)")
	fl.StringVar(&f.notBefore, "not-before", "", "start no earlier than this: RFC 3339 or a duration from now")
	fl.StringVar(&f.deadline, "deadline", "", "finish by this time: RFC 3339 or a duration from now; the job may wait for a greener window until then")
	fl.StringVar(&f.flexibility, "flexibility", "", "the job may start up to this long after submission (e.g. 12h) and waits for the greenest window in it")
	fl.StringVar(&f.expectedDuration, "expected-duration", "", "how long the job runs, for carbon-aware timing (default: learned from past runs of the same name)")
	fl.BoolVar(&f.interruptible, "interruptible", false, "with --deadline or --flexibility: suspend (SIGSTOP) and resume (SIGCONT) the job to run only in the greenest slots")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.selector, "selector", nil, "run only on nodes with label KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.dependsOn, "depends-on", nil, "job (ID or name) that must succeed first (repeatable)")
	fl.StringVar(&f.workDir, "work-dir", "", "working directory (default: the job's output dir)")
	fl.BoolVar(&wait, "wait", false, "wait for the job to end, print its state changes, and exit with its exit code")
	return cmd
}

// waitJob follows a job to its end and returns an ExitError with its exit
// code when it did not succeed.
func (m *Main) waitJob(ctx context.Context, c *httpapi.Client, ws string, j joule.Job) error {
	fmt.Fprintf(m.Stderr, "job %s (%s): %s\n", j.Spec.Name, j.ID, j.State)
	last := string(j.State) + j.Reason
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		d, err := c.GetJob(ctx, ws, j.ID)
		if err != nil {
			return err
		}
		if now := string(d.State) + d.Reason; now != last {
			last = now
			fmt.Fprintf(m.Stderr, "job %s: %s — %s\n", d.Name, d.State, d.Reason)
		}
		if !d.State.Terminal() {
			continue
		}
		if m.output == "json" || m.output == "yaml" {
			if err := m.print(d, nil); err != nil {
				return err
			}
		}
		if d.State == joule.JobSucceeded {
			return nil
		}
		code := 1
		if d.ExitCode != nil && *d.ExitCode > 0 && *d.ExitCode < 256 {
			code = *d.ExitCode
		}
		return &ExitError{Code: code, Message: fmt.Sprintf("job %s %s: %s", d.Name, d.State, d.Reason)}
	}
}

func readFileOrStdin(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		if stdin == nil {
			return nil, joule.Errorf(joule.EINVALID, "-f -: no standard input")
		}
		return io.ReadAll(stdin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "read %s: %v", path, err)
	}
	return data, nil
}

func (m *Main) jobListCommand() *cobra.Command {
	var states []string
	var name string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		Example: `  joule job list --state running,queued
  joule job list --name nightly-retrain --limit 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q := httpapi.JobQuery{Name: name, ListOptions: joule.ListOptions{Limit: min(max(limit, 1), joule.MaxLimit)}}
			for _, s := range states {
				for _, p := range strings.Split(s, ",") {
					q.States = append(q.States, joule.JobState(strings.TrimSpace(p)))
				}
			}
			all, err := collect(limit, func(cursor string) (httpapi.Page[joule.Job], error) {
				q.Cursor = cursor
				return c.ListJobs(cmd.Context(), ws, q)
			})
			if err != nil {
				return err
			}
			now := time.Now()
			return m.print(all, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "ID", "STATE", "ATTEMPTS", "CREATED", "REASON")
				for _, j := range all {
					row(tw, j.Spec.Name, j.ID, j.State, j.Attempts, fmtAgo(j.CreatedAt, now), truncateText(j.Reason, 70))
				}
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only these states (queued, scheduled, running, succeeded, failed, cancelled, timed_out)")
	cmd.Flags().StringVar(&name, "name", "", "only jobs with this name")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many jobs")
	return cmd
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func (m *Main) jobGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get JOB",
		Short: "Show a job (by ID, or the newest with that name): state, timeline, attempts, metrics, artifacts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.GetJob(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { printJob(tw, d) })
		},
	}
}

func printJob(tw *tabwriter.Writer, d httpapi.JobDetail) {
	row(tw, "Name:", d.Name)
	row(tw, "ID:", d.ID)
	row(tw, "State:", d.State)
	row(tw, "Reason:", d.Reason)
	if d.ExitCode != nil {
		row(tw, "Exit code:", *d.ExitCode)
	}
	row(tw, "Command:", strings.Join(d.Spec.Command, " "))
	row(tw, "Resources:", fmt.Sprintf("cpu %s, memory %s, gpus %d", fmtCPU(d.Resources.CPUMillis), fmtMem(d.Resources.MemoryBytes), d.Resources.GPUs))
	if d.Node != "" {
		gpus := ""
		if len(d.GPUIndices) > 0 {
			gpus = fmt.Sprintf(" (GPUs %v)", d.GPUIndices)
		}
		row(tw, "Node:", d.Node+gpus)
	}
	row(tw, "Attempts:", fmt.Sprintf("%d (retries allowed: %d)", d.Attempts, d.Spec.Retries))
	row(tw, "Created:", fmtTime(d.CreatedAt))
	if d.StartedAt != nil {
		row(tw, "Started:", fmtTime(*d.StartedAt))
	}
	if d.FinishedAt != nil {
		row(tw, "Finished:", fmtTime(*d.FinishedAt))
		if d.StartedAt != nil {
			row(tw, "Duration:", d.FinishedAt.Sub(*d.StartedAt).Round(time.Millisecond))
		}
	}
	if s := d.Shift; s != nil {
		printShift(tw, s)
	}
	if e := d.Energy; e != nil {
		row(tw, "Energy:", fmt.Sprintf("%s (measured %s, estimated %s)", fmtJoules(e.Joules), fmtJoules(e.MeasuredJoules), fmtJoules(e.EstimatedJoules)))
		row(tw, "  method:", e.Method)
		row(tw, "Emissions:", fmt.Sprintf("%.3g gCO2e at %.0f gCO2e/kWh × PUE %.2f", e.EmissionsG, e.IntensityGPerKWh, e.PUE))
		row(tw, "  intensity:", e.IntensitySource)
		if e.Currency != "" {
			row(tw, "Cost:", fmt.Sprintf("%.4f %s", e.Cost, e.Currency))
		} else {
			row(tw, "Cost:", "- (no electricity price configured)")
		}
	} else if d.State.Terminal() && d.Attempts > 0 {
		row(tw, "Energy:", "- (not accounted: no power samples covered the run)")
	}
	if len(d.Transitions) > 0 {
		row(tw, "")
		row(tw, "TIMELINE", "", "")
		for _, t := range d.Transitions {
			row(tw, fmtTime(t.Time), fmt.Sprintf("%s → %s", orDash(string(t.From)), t.To), t.Reason)
		}
	}
	if len(d.History) > 0 {
		row(tw, "")
		row(tw, "ATTEMPT", "STATE", "EXIT", "CPU (user+sys)", "PEAK MEMORY", "REASON")
		for _, a := range d.History {
			exit := "-"
			if a.ExitCode != nil {
				exit = fmt.Sprint(*a.ExitCode)
			}
			if a.Signal != "" {
				exit += " (" + a.Signal + ")"
			}
			row(tw, a.N, a.State, exit, fmt.Sprintf("%.2fs", a.CPUUserSec+a.CPUSysSec), fmtMem(a.PeakMemory), a.Reason)
		}
		if l := d.History[len(d.History)-1].Limits; l != "" {
			row(tw, "Limits:", l)
		}
	}
	if len(d.Metrics) > 0 {
		row(tw, "")
		row(tw, "METRIC", "LAST VALUE", "STEP", "POINTS")
		last := map[string]joule.Metric{}
		count := map[string]int{}
		var names []string
		for _, mt := range d.Metrics {
			if count[mt.Name] == 0 {
				names = append(names, mt.Name)
			}
			count[mt.Name]++
			last[mt.Name] = mt
		}
		slices.Sort(names)
		for _, n := range names {
			step := "-"
			if last[n].Step != nil {
				step = fmt.Sprint(*last[n].Step)
			}
			row(tw, n, fmt.Sprintf("%g", last[n].Value), step, count[n])
		}
	}
	if len(d.Artifacts) > 0 {
		row(tw, "")
		row(tw, "ARTIFACT", "SIZE", "MODIFIED")
		for _, a := range d.Artifacts {
			row(tw, a.Path, fmt.Sprintf("%d B", a.Size), fmtTime(a.Modified))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtCPU(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprint(m / 1000)
	}
	return fmt.Sprintf("%dm", m)
}

func fmtMem(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmtBytes(b)
}

func (m *Main) jobLogsCommand() *cobra.Command {
	var follow bool
	var attempt int
	cmd := &cobra.Command{
		Use:     "logs JOB",
		Short:   "Print a job's log (stdout and stderr); -f follows it",
		Example: `  joule job logs resnet -f`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			return c.JobLogs(cmd.Context(), ws, args[0], attempt, follow, m.Stdout)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the attempt ends")
	cmd.Flags().IntVar(&attempt, "attempt", 0, "which attempt (default: the latest)")
	return cmd
}

func (m *Main) jobCancelCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a job; a running job's processes get SIGTERM, then SIGKILL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			j, err := c.CancelJob(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(j, func(tw *tabwriter.Writer) { row(tw, "Cancelled job", j.Spec.Name, j.ID) })
		},
	}
}

func (m *Main) jobRetryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry JOB",
		Short: "Submit an ended job again, as a new job with the same spec",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			j, err := c.RetryJob(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(j, func(tw *tabwriter.Writer) { row(tw, "Submitted job", j.Spec.Name, j.ID, string(j.State)) })
		},
	}
}

func (m *Main) jobArtifactsCommand() *cobra.Command {
	var download, out string
	cmd := &cobra.Command{
		Use:   "artifacts JOB",
		Short: "List the files a job wrote to $JOULE_OUTPUT_DIR, or download one",
		Example: `  joule job artifacts resnet
  joule job artifacts resnet --download model.pt --out ./model.pt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			if download != "" {
				w := m.Stdout
				if out != "" && out != "-" {
					f, err := os.Create(filepath.Clean(out))
					if err != nil {
						return joule.Errorf(joule.EINVALID, "out: %v", err)
					}
					defer f.Close()
					w = f
				}
				return c.DownloadArtifact(cmd.Context(), ws, args[0], download, w)
			}
			as, err := c.ListArtifacts(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(as, func(tw *tabwriter.Writer) {
				row(tw, "PATH", "SIZE", "MODIFIED")
				for _, a := range as {
					row(tw, a.Path, fmt.Sprintf("%d B", a.Size), fmtTime(a.Modified))
				}
			})
		},
	}
	cmd.Flags().StringVar(&download, "download", "", "artifact path to download")
	cmd.Flags().StringVar(&out, "out", "", "file to write the download to (default stdout)")
	return cmd
}

// fmtJoules prints energy in J, kJ or kWh.
func fmtJoules(j float64) string {
	switch {
	case j >= 3.6e6:
		return fmt.Sprintf("%.3f kWh", j/3.6e6)
	case j >= 1e4:
		return fmt.Sprintf("%.1f kJ", j/1e3)
	}
	return fmt.Sprintf("%.1f J", j)
}

// printShift prints the carbon-aware timing of a flexible job.
func printShift(tw *tabwriter.Writer, s *joule.JobShift) {
	if s.Fallback != "" {
		row(tw, "Carbon shift:", "not shifted: "+s.Fallback)
		return
	}
	row(tw, "Carbon shift:", fmt.Sprintf("planned start %s, deadline %s", fmtTime(s.Start), fmtTime(s.Deadline)))
	for i, sl := range s.Slots {
		row(tw, fmt.Sprintf("  slot %d:", i+1), fmt.Sprintf("%s – %s", fmtTime(sl.Start), fmtTime(sl.End)))
	}
	row(tw, "  forecast:", fmt.Sprintf("%.0f gCO2e/kWh in the window vs %.0f at submission (%s)", s.ForecastGPerKWh, s.NowGPerKWh, orDash(s.Source)))
	row(tw, "  duration:", fmt.Sprintf("%s (%s)", time.Duration(s.ExpectedDuration), orDash(s.DurationSource)))
	row(tw, "  expected saving:", fmt.Sprintf("%s (estimated: %.0f W assumed)", joule.FormatGrams(s.ExpectedSavingG), s.ExpectedWatts))
	switch {
	case s.RealisedSavingG != nil:
		row(tw, "  realised saving:", fmt.Sprintf("%s: %s", joule.FormatGrams(*s.RealisedSavingG), s.RealisedNote))
	case s.RealisedNote != "":
		row(tw, "  realised saving:", "- ("+s.RealisedNote+")")
	}
}
