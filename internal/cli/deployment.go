package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

func (m *Main) deployCommand() *cobra.Command {
	var d joule.Deployment
	var idle, cold time.Duration
	var healthPath, predictPath, workDir string
	var env []string
	var mon *monitorFlags
	var retrain retrainFlags
	cmd := &cobra.Command{
		Use:   "deploy MODEL[@VERSION] --name N [--min 0] [--max 4] [--target-concurrency 8] [-- SERVER COMMAND…]",
		Short: "Serve a model version, or your own model server, as an endpoint with autoscaling replicas",
		Long: `deploy serves a model version (default: the latest) at
POST /v1/workspaces/{workspace}/deployments/{name}/predict.

Replicas run in the server's process. The autoscaler keeps between --min and
--max of them, --target-concurrency requests in flight each; with --min 0 the
deployment scales to zero after --idle-timeout without requests, and the next
request waits for a replica up to --cold-start-timeout.

Under overload a deployment refuses at once rather than queueing without
end: beyond --rate-limit a request gets 429, and beyond --max ×
--target-concurrency × 17 requests in flight it gets 503.

After --, a command line makes a deployment of kind command: each replica
runs that command (your own model server, e.g. a Python app) as a process,
with PORT in its environment. It must listen on 127.0.0.1:$PORT, answer 200
on --health-path when ready, and answer POST --predict-path with
{"predictions": [...]} (and optionally "probabilities"), one per row. joule
starts, health-checks, proxies to, scales and stops the processes; MODEL is
then optional (the registered version the server serves, for lineage).`,
		Example: `  joule deploy german@1 --name credit --min 0 --max 4 --target-concurrency 8
  joule predict credit -d '{"instances": [{"col_1": 1, "col_2": 6}]}'
  joule deploy --name fraud --min 1 --health-path /ping -- python3 serve.py`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				d.Kind = joule.DeploymentCommand
				d.Command = &joule.DeploymentServer{Args: args[dash:], HealthPath: healthPath, PredictPath: predictPath, WorkDir: workDir}
				if len(d.Command.Args) == 0 {
					return joule.Errorf(joule.EINVALID, "--: give the model server's command after it")
				}
				for _, kv := range env {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return joule.Errorf(joule.EINVALID, "--env %q: want NAME=VALUE", kv)
					}
					if d.Command.Env == nil {
						d.Command.Env = map[string]string{}
					}
					d.Command.Env[k] = v
				}
				args = args[:dash]
			} else if cmd.Flags().Changed("health-path") || cmd.Flags().Changed("predict-path") || len(env) > 0 || workDir != "" {
				return joule.Errorf(joule.EINVALID, "--health-path, --predict-path, --env and --workdir are for a model server command: give it after --")
			}
			switch {
			case len(args) > 1:
				return joule.Errorf(joule.EINVALID, "want one MODEL[@VERSION], got %d arguments (a server command goes after --)", len(args))
			case len(args) == 0 && d.Kind != joule.DeploymentCommand:
				return joule.Errorf(joule.EINVALID, "MODEL[@VERSION]: required (or a model server command after --)")
			case len(args) == 1:
				name, n, err := modelRef(args[0])
				if err != nil {
					return err
				}
				d.Model, d.ModelVersion = name, n
			}
			d.IdleTimeout, d.ColdStartTimeout = joule.Duration(idle), joule.Duration(cold)
			d.Monitor = mon.deployMonitor() // monitor: nil when no monitor flag is given
			d.Retrain = retrain.policy(cmd)
			if d.Name == "" {
				return joule.Errorf(joule.EINVALID, "--name: required")
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			out, err := c.CreateDeployment(cmd.Context(), ws, d)
			if err != nil {
				return err
			}
			return m.print(out, func(tw *tabwriter.Writer) {
				if out.Kind == joule.DeploymentCommand {
					row(tw, "Deployed", strings.Join(out.Command.Args, " "), "as", out.Name, out.ID)
				} else {
					row(tw, "Deployed", fmt.Sprintf("%s@%d", out.Model, out.ModelVersion), "as", out.Name, out.ID)
				}
				row(tw, "Predict:", fmt.Sprintf("POST /v1/workspaces/%s/deployments/%s/predict", ws, out.Name))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.Name, "name", "", "deployment name")
	f.IntVar(&d.MinReplicas, "min", 0, "min replicas (0: scale to zero when idle)")
	f.IntVar(&d.MaxReplicas, "max", joule.DefaultMaxReplicas, "max replicas")
	f.IntVar(&d.TargetConcurrency, "target-concurrency", joule.DefaultTargetConcurrency, "requests in flight per replica the autoscaler aims for")
	f.Float64Var(&d.TargetRPS, "target-rps", 0, "requests per second per replica the autoscaler also aims for (0: concurrency only)")
	f.DurationVar(&idle, "idle-timeout", joule.DefaultIdleTimeout, "scale to zero after this long without requests (with --min 0)")
	f.DurationVar(&cold, "cold-start-timeout", joule.DefaultColdStartTimeout, "how long a request at zero waits for a replica before 503")
	f.Float64Var(&d.RateLimit, "rate-limit", 0, "requests per second over the deployment (0: none); excess gets 429")
	f.Int64Var(&d.BodyLimit, "body-limit", joule.DefaultBodyLimit, "largest request body in bytes; larger gets 413")
	f.IntVar(&d.MaxBatch, "max-batch", joule.DefaultMaxBatch, "most rows in one request")
	f.BoolVar(&d.Public, "public", false, "allow predict without a token")
	f.StringVar(&healthPath, "health-path", "/healthz", "model server command: the path that answers 200 when ready")
	f.StringVar(&predictPath, "predict-path", "/predict", "model server command: the path that answers predict bodies")
	f.StringArrayVar(&env, "env", nil, "model server command: NAME=VALUE in its environment (repeatable)")
	f.StringVar(&workDir, "workdir", "", "model server command: its working directory")
	mon = addMonitorFlags(f) // --window-rows, --psi-threshold, --min-accuracy, … (deployment_monitor.go)
	retrain.add(cmd, "retrain-")
	return cmd
}

func (m *Main) deploymentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployment", Aliases: []string{"deployments"}, Short: "List, inspect, scale, split traffic, promote, roll back and delete deployments"}
	cmd.AddCommand(m.deploymentTrafficCommands()...)
	cmd.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List deployments with replicas and traffic", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, ws, err := m.clientAndWorkspace(cmd.Context())
				if err != nil {
					return err
				}
				p, err := c.ListDeployments(cmd.Context(), ws, joule.ListOptions{Limit: joule.MaxLimit})
				if err != nil {
					return err
				}
				return m.print(p.Items, func(tw *tabwriter.Writer) {
					row(tw, "NAME", "MODEL", "REPLICAS", "MIN/MAX", "REQUESTS", "P99 MS", "J/1000")
					for _, d := range p.Items {
						reps, reqs, p99, e := "-", "-", "-", "-"
						if st := d.Status; st != nil {
							reps, reqs = fmt.Sprint(st.Replicas), fmt.Sprint(st.Requests)
							if v, ok := st.LatencyMS["p99"]; ok {
								p99 = fmt.Sprintf("%.2f", v)
							}
							if st.Energy != nil && st.Energy.Predictions > 0 {
								e = fmt.Sprintf("%.3g", st.Energy.JoulesPer1000)
							}
						}
						row(tw, d.Name, fmt.Sprintf("%s@%d", d.Model, d.ModelVersion), reps, fmt.Sprintf("%d/%d", d.MinReplicas, d.MaxReplicas), reqs, p99, e)
					}
				})
			},
		},
		&cobra.Command{
			Use: "get NAME", Short: "Show a deployment: settings, replicas, latency, energy and emissions per 1,000 predictions", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ws, err := m.clientAndWorkspace(cmd.Context())
				if err != nil {
					return err
				}
				d, err := c.GetDeployment(cmd.Context(), ws, args[0])
				if err != nil {
					return err
				}
				return m.print(d, func(tw *tabwriter.Writer) { deploymentTable(tw, d) })
			},
		},
		m.deploymentScaleCommand(),
		m.deploymentMonitorCommand(), m.deploymentDriftCommand(), m.deploymentFeedbackCommand(), // monitor (deployment_monitor.go)
		m.deploymentRetrainCommand(),
		m.deploymentLifecycleCommand(),
		&cobra.Command{
			Use: "events NAME", Short: "A deployment's events: every scaling decision with its reason, cold starts", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ws, err := m.clientAndWorkspace(cmd.Context())
				if err != nil {
					return err
				}
				p, err := c.ListDeploymentEvents(cmd.Context(), ws, args[0], joule.ListOptions{Limit: joule.MaxLimit})
				if err != nil {
					return err
				}
				return m.print(p.Items, func(tw *tabwriter.Writer) {
					row(tw, "TIME", "KIND", "REPLICAS", "REASON")
					for _, e := range p.Items {
						reps := ""
						if e.Kind == joule.DeploymentScale {
							reps = fmt.Sprintf("%d → %d", e.From, e.To)
						}
						row(tw, fmtTime(e.Time), e.Kind, reps, e.Reason)
					}
				})
			},
		},
		&cobra.Command{
			Use: "delete NAME", Short: "Stop and delete a deployment (audited)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ws, err := m.clientAndWorkspace(cmd.Context())
				if err != nil {
					return err
				}
				d, err := c.DeleteDeployment(cmd.Context(), ws, args[0])
				if err != nil {
					return err
				}
				return m.print(d, func(tw *tabwriter.Writer) { row(tw, "Deleted deployment", d.Name, d.ID) })
			},
		},
	)
	return cmd
}

func (m *Main) deploymentScaleCommand() *cobra.Command {
	var minR, maxR int
	cmd := &cobra.Command{
		Use: "scale NAME [--min N] [--max N]", Short: "Set a deployment's min and max replicas (audited)", Args: cobra.ExactArgs(1),
		Example: "  joule deployment scale credit --min 1 --max 8",
		RunE: func(cmd *cobra.Command, args []string) error {
			var lo, hi *int
			if cmd.Flags().Changed("min") {
				lo = &minR
			}
			if cmd.Flags().Changed("max") {
				hi = &maxR
			}
			if lo == nil && hi == nil {
				return joule.Errorf(joule.EINVALID, "give --min, --max or both")
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.ScaleDeployment(cmd.Context(), ws, args[0], lo, hi)
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { deploymentTable(tw, d) })
		},
	}
	cmd.Flags().IntVar(&minR, "min", 0, "min replicas")
	cmd.Flags().IntVar(&maxR, "max", 0, "max replicas")
	return cmd
}

func deploymentTable(tw *tabwriter.Writer, d joule.Deployment) {
	row(tw, "Name:", d.Name)
	row(tw, "ID:", d.ID)
	if d.Kind == joule.DeploymentCommand {
		row(tw, "Server:", fmt.Sprintf("%s (health %s, predict %s)", strings.Join(d.Command.Args, " "), d.Command.HealthPath, d.Command.PredictPath))
	}
	if d.Model != "" {
		row(tw, "Model:", fmt.Sprintf("%s@%d", d.Model, d.ModelVersion))
	}
	target := fmt.Sprintf("target concurrency %d", d.TargetConcurrency)
	if d.TargetRPS > 0 {
		target += fmt.Sprintf(", target %g req/s", d.TargetRPS)
	}
	row(tw, "Replicas:", fmt.Sprintf("min %d, max %d, %s", d.MinReplicas, d.MaxReplicas, target))
	row(tw, "Timeouts:", fmt.Sprintf("idle %s, cold start %s", time.Duration(d.IdleTimeout), time.Duration(d.ColdStartTimeout)))
	row(tw, "Public:", d.Public)
	trafficRows(tw, d)
	st := d.Status
	if st == nil {
		return
	}
	row(tw, "Running:", fmt.Sprintf("%d replicas, %d in flight, %.1f req/s", st.Replicas, st.InFlight, st.RPS))
	row(tw, "Traffic:", fmt.Sprintf("%d requests, %d predictions, %d errors", st.Requests, st.Predictions, st.Errors))
	if st.LatencyMS != nil {
		row(tw, "Latency:", fmt.Sprintf("p50 %.2f ms, p95 %.2f ms, p99 %.2f ms", st.LatencyMS["p50"], st.LatencyMS["p95"], st.LatencyMS["p99"]))
	}
	if st.ColdStartMS > 0 {
		row(tw, "Cold start:", fmt.Sprintf("%.1f ms", st.ColdStartMS))
	}
	if e := st.Energy; e != nil && e.Predictions > 0 {
		kind := "estimated"
		if e.Measured {
			kind = "measured"
		}
		row(tw, "Energy:", fmt.Sprintf("%.4g J and %.4g g CO2e per 1,000 predictions (%s; %d predictions, %.3g CPU s)", e.JoulesPer1000, e.EmissionsGPer1000, kind, e.Predictions, e.CPUSeconds))
		row(tw, "Method:", e.Method)
	}
	monitorStatusRows(tw, st) // monitor: latest drift window and live quality (deployment_monitor.go)
}

func (m *Main) predictCommand() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "predict DEPLOYMENT -d JSON|@FILE|@-",
		Short: "Send rows to a deployment and print its predictions",
		Example: `  joule predict credit -d '{"instances": [{"age": 31, "income": 5200}]}'
  joule predict credit -d @rows.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := m.jsonData(data)
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := c.PredictDeployment(cmd.Context(), ws, args[0], json.RawMessage(b))
			if err != nil {
				return err
			}
			return m.print(resp, func(tw *tabwriter.Writer) {
				if resp.ID != "" { // monitor: the ID feedback names rows by
					row(tw, "ID:", resp.ID)
				}
				row(tw, "ROW", "PREDICTION", "PROBABILITIES")
				for i, p := range resp.Predictions {
					probs := ""
					if i < len(resp.Probabilities) {
						b, _ := json.Marshal(resp.Probabilities[i])
						probs = string(b)
					}
					row(tw, i, p, probs)
				}
			})
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "the request body: JSON, @FILE, or @- for stdin")
	return cmd
}

// jsonData reads a -d flag's JSON: inline, @FILE, or @- for standard
// input.
func (m *Main) jsonData(data string) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case data == "":
		return nil, joule.Errorf(joule.EINVALID, "-d: required (JSON, @FILE or @- for stdin)")
	case data == "@-":
		b, err = io.ReadAll(m.Stdin)
	case strings.HasPrefix(data, "@"):
		b, err = os.ReadFile(data[1:])
	default:
		b = []byte(data)
	}
	if err != nil {
		return nil, joule.Errorf(joule.EINVALID, "-d: %v", err)
	}
	if !json.Valid(b) {
		return nil, joule.Errorf(joule.EINVALID, "-d: not JSON")
	}
	return b, nil
}
