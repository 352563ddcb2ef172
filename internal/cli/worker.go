package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

// WorkerConfig is the configuration of `joule worker`.
type WorkerConfig struct {
	Server     string // the joule server's URL, given to jobs as JOULE_SERVER
	Token      string // an admin token: checked against the server at start
	Store      string // the server's store, postgres://…
	DataDir    string // logs, outputs and metrics of the jobs run here
	NodeName   string
	CarbonZone string // grid zone for emissions; "" = world average
	Labels     map[string]string
	Energy     EnergyConfig
	LogFormat  string
	LogLevel   string
}

func (m *Main) workerCommand() *cobra.Command {
	var cfg WorkerConfig
	var labels []string
	cmd := &cobra.Command{
		Use:   "worker --server URL --token TOKEN --store postgres://…",
		Short: "Run jobs on this machine for a joule server (many machines on PostgreSQL)",
		Long: `worker registers this machine as a node of a joule installation, sends its
heartbeats and utilisation, and runs the jobs that placement gives it. It
reaches the metadata store directly (PostgreSQL, shared with the server) and
gives jobs the server's URL. --token must be an admin token of the
"default" workspace.

A node whose heartbeats stop is marked lost after 30 s, and its running jobs
are retried elsewhere or failed with the reason "node lost".`,
		Example: `  joule worker --server https://joule.internal --token "$JOULE_TOKEN" \
    --store 'postgres://joule@db.internal:5432/joule?sslmode=require' --label gpu=a100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.Worker == nil {
				return fmt.Errorf("this build cannot run a worker")
			}
			cfg.Server = firstNonEmpty(m.server, m.getenv("JOULE_SERVER"))
			cfg.Token = firstNonEmpty(m.token, m.getenv("JOULE_TOKEN"))
			cfg.Store = firstNonEmpty(cfg.Store, m.getenv("JOULE_STORE"))
			cfg.DataDir = firstNonEmpty(cfg.DataDir, m.getenv("JOULE_DATA_DIR"))
			cfg.NodeName = firstNonEmpty(cfg.NodeName, m.getenv("JOULE_NODE_NAME"))
			cfg.CarbonZone = firstNonEmpty(cfg.CarbonZone, m.getenv("JOULE_CARBON_ZONE"))
			up := UpConfig{DataDir: cfg.DataDir, Store: cfg.Store, LogFormat: cfg.LogFormat, LogLevel: cfg.LogLevel, NodeName: cfg.NodeName}.WithDefaults(m.getenv)
			up.Listen = DefaultListen
			if err := up.Validate(); err != nil {
				return err
			}
			cfg.DataDir, cfg.LogFormat, cfg.LogLevel = up.DataDir, up.LogFormat, up.LogLevel
			switch {
			case cfg.Server == "":
				return joule.Errorf(joule.EINVALID, "--server is required (the joule server's URL)")
			case cfg.Token == "":
				return joule.Errorf(joule.EINVALID, "--token is required")
			case cfg.Store == "":
				return joule.Errorf(joule.EINVALID, "--store is required: the server's postgres://… URL")
			}
			cfg.Energy = m.energyConfig(cmd, EnergyConfig{})
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return joule.Errorf(joule.EINVALID, "--label: %q is not KEY=VALUE", l)
				}
				if cfg.Labels == nil {
					cfg.Labels = map[string]string{}
				}
				cfg.Labels[k] = v
			}
			return m.Worker(cmd.Context(), cfg, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Store, "store", "", "the server's metadata store: postgres://… (env JOULE_STORE)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for job logs and outputs (default ~/.local/share/joule)")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of this node (default the host name)")
	f.StringVar(&cfg.CarbonZone, "carbon-zone", "", "grid zone for emissions: DE, US-CAL-CISO, gcp:europe-west1, … (default: world average)")
	addEnergyFlags(f)
	f.StringArrayVar(&labels, "label", nil, "node label KEY=VALUE for job selectors (repeatable)")
	f.StringVar(&cfg.LogFormat, "log-format", "", "log format: text or json")
	f.StringVar(&cfg.LogLevel, "log-level", "", "log level: debug, info, warn or error")
	return cmd
}
