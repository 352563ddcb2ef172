package cli

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

// UpConfig is the server's configuration after flags, JOULE_* variables, the
// config file and defaults have been merged, in that order of precedence.
type UpConfig struct {
	DataDir   string `yaml:"data_dir"`
	Listen    string `yaml:"listen"`
	Store     string `yaml:"store"` // "" or sqlite://PATH: SQLite; postgres://…: PostgreSQL
	LogFormat string `yaml:"log_format"`
	LogLevel  string `yaml:"log_level"`
	NodeName  string `yaml:"node_name"`
	// CarbonZone is this node's grid zone for emissions: a country code
	// (DE, FR), a sub-zone (US-CAL-CISO) or a cloud region (gcp:europe-west1,
	// aws:eu-central-1); "" uses the world average and says so.
	CarbonZone string `yaml:"carbon_zone"`
	// CarbonForecast is a carbon-intensity forecast file (CSV) that flexible
	// jobs are timed by; "" runs them at once and says so.
	CarbonForecast string `yaml:"carbon_forecast"`
	// OnIdle and OnWake are shell commands that put an idle node in a
	// low-power state and bring it back (see docs/scheduling.md); with
	// OnIdle empty, nodes always stay awake. IdleAfter and MinDwell are
	// their hysteresis.
	// PreferGreenNodes places each job on the node whose grid zone and
	// measured efficiency give the fewest grams per CPU-second now, instead
	// of packing by best fit.
	PreferGreenNodes bool   `yaml:"prefer_green_nodes"`
	OnIdle           string `yaml:"on_idle"`
	OnWake           string `yaml:"on_wake"`
	IdleAfter        string `yaml:"idle_after"`
	MinDwell         string `yaml:"min_dwell"`
	// Energy holds the meter, carbon and cost settings (energyconfig.go).
	// AlertWebhook is the URL the sustainability monitor POSTs alerts to,
	// signed with the secret in AlertSecretFile (HMAC-SHA256); without it
	// alerts are events only. AlertThresholds are comma-separated rules
	// such as "emissions_kg>50@24h,pue>1.6@168h" (docs/sustainability.md).
	AlertWebhook    string `yaml:"alert_webhook"`
	AlertSecretFile string `yaml:"alert_secret_file"`
	AlertThresholds string `yaml:"alert_thresholds"`

	Energy EnergyConfig `yaml:",inline"`
	// AllowPrivateURLs lets dataset URL imports reach loopback, link-local
	// and private addresses.
	AllowPrivateURLs bool `yaml:"allow_private_urls"`
}

// Defaults for UpConfig.
const (
	DefaultListen = "127.0.0.1:8080"
)

// WithDefaults fills empty fields.
func (c UpConfig) WithDefaults(getenv func(string) string) UpConfig {
	if c.DataDir == "" {
		if d := getenv("XDG_DATA_HOME"); d != "" {
			c.DataDir = filepath.Join(d, "joule")
		} else if h := getenv("HOME"); h != "" {
			c.DataDir = filepath.Join(h, ".local", "share", "joule")
		} else {
			c.DataDir = "joule-data"
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate names the first bad field.
func (c UpConfig) Validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return joule.Errorf(joule.EINVALID, "listen: %q is not HOST:PORT (for example 127.0.0.1:8080 or :8080)", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return joule.Errorf(joule.EINVALID, "listen: port %q is not a number from 0 to 65535", port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /\\") {
		return joule.Errorf(joule.EINVALID, "listen: host %q is not a host name or IP address", host)
	}
	if _, _, err := ParseStore(c.Store); err != nil {
		return err
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return joule.Errorf(joule.EINVALID, "log_format: %q is not one of text, json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return joule.Errorf(joule.EINVALID, "log_level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.NodeName != "" {
		if err := joule.ValidateName("node_name", c.NodeName); err != nil {
			return err
		}
	}
	for _, d := range []struct{ key, v string }{{"idle_after", c.IdleAfter}, {"min_dwell", c.MinDwell}} {
		if d.v == "" {
			continue
		}
		if v, err := time.ParseDuration(d.v); err != nil || v <= 0 {
			return joule.Errorf(joule.EINVALID, "%s: %q is not a positive duration such as 10m or 1h", d.key, d.v)
		}
	}
	if c.OnWake != "" && c.OnIdle == "" {
		return joule.Errorf(joule.EINVALID, "on_wake: set on_idle too; without it no node ever sleeps")
	}
	if (c.AlertWebhook == "") != (c.AlertSecretFile == "") {
		return joule.Errorf(joule.EINVALID, "alert_webhook and alert_secret_file: set both or neither")
	}
	return nil
}

// ParseStore splits a store URL into its kind ("sqlite" or "postgres") and
// the path or DSN. "" means SQLite in the data directory (path "").
func ParseStore(s string) (kind, target string, err error) {
	switch {
	case s == "" || s == "sqlite" || s == "sqlite://":
		return "sqlite", "", nil
	case strings.HasPrefix(s, "sqlite://"):
		return "sqlite", strings.TrimPrefix(s, "sqlite://"), nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", "", joule.Errorf(joule.EINVALID, "store: not a valid postgres:// URL (postgres://USER@HOST:5432/DB?sslmode=disable)")
		}
		return "postgres", s, nil
	}
	return "", "", joule.Errorf(joule.EINVALID, "store: %q must be sqlite://PATH or postgres://USER@HOST:PORT/DB", redact(s))
}

// redact hides a password in a URL.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

func (m *Main) upCommand() *cobra.Command {
	var flags UpConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the joule server: API, console, metrics and a worker for this node",
		Long: `up starts joule on this machine: the REST API under /v1, the web console
at /, Prometheus metrics at /metrics, and the local node's inventory and
heartbeat. Everything is kept in the data directory (SQLite by default).

On first start it creates the "default" workspace and an admin token, which
it prints once and writes to DATA_DIR/admin.token (mode 0600).

Settings come from flags, then JOULE_* environment variables (JOULE_DATA_DIR,
JOULE_LISTEN, JOULE_STORE, JOULE_LOG_FORMAT, JOULE_LOG_LEVEL, JOULE_NODE_NAME,
JOULE_CARBON_ZONE, JOULE_CARBON_FORECAST, JOULE_ON_IDLE, JOULE_ALLOW_PRIVATE_URLS,
…), then a YAML config file (--config or JOULE_CONFIG_FILE; keys data_dir,
listen, store, log_format, log_level, node_name, carbon_zone,
carbon_forecast, on_idle, on_wake, idle_after, min_dwell,
allow_private_urls), then defaults. The energy, carbon and cost settings
(powercap_root, hwmon_root, …) follow the same order; docs/operations.md
lists them.`,
		Example: `  joule up
  joule up --data-dir /var/lib/joule --listen :8080
  joule up --store postgres://joule@db.internal:5432/joule?sslmode=require
  # time flexible jobs (--flexibility, --deadline) by a forecast file (timestamp,g_per_kwh)
  joule up --carbon-zone DE --carbon-forecast de-forecast.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.Up == nil {
				return fmt.Errorf("this build cannot run a server")
			}
			cfg, err := m.upConfig(cmd, flags, configFile)
			if err != nil {
				return err
			}
			return m.Up(cmd.Context(), cfg, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.DataDir, "data-dir", "", "directory for the database, blobs and logs (default ~/.local/share/joule)")
	f.StringVar(&flags.Listen, "listen", "", "address to serve on (default "+DefaultListen+")")
	f.StringVar(&flags.Store, "store", "", "metadata store: sqlite://PATH or postgres://… (default SQLite in the data dir)")
	f.StringVar(&flags.LogFormat, "log-format", "", "log format: text or json (default text)")
	f.StringVar(&flags.LogLevel, "log-level", "", "log level: debug, info, warn or error (default info)")
	f.StringVar(&flags.NodeName, "node-name", "", "name of this node (default the host name)")
	f.StringVar(&flags.CarbonZone, "carbon-zone", "", "grid zone for emissions: DE, US-CAL-CISO, gcp:europe-west1, … (default: world average)")
	f.BoolVar(&flags.PreferGreenNodes, "prefer-green-nodes", false, "place each job on the node with the fewest grams CO2e per CPU-second now (zone intensity × measured efficiency), not by packing")
	f.StringVar(&flags.OnIdle, "on-idle", "", "shell command that puts an idle node in a low-power state ($JOULE_NODE_NAME, $JOULE_NODE_ID set); default: nodes stay awake")
	f.StringVar(&flags.OnWake, "on-wake", "", "shell command that wakes a sleeping node when queued work needs it")
	f.StringVar(&flags.IdleAfter, "idle-after", "", "how long a node must be idle before --on-idle runs (default 10m)")
	f.StringVar(&flags.MinDwell, "min-dwell", "", "least time a node stays awake before it may sleep again (default 30m)")
	f.StringVar(&flags.AlertWebhook, "alert-webhook", "", "URL that target, threshold and deployment (drift, live quality) alerts are POSTed to, signed (HMAC-SHA256)")
	f.StringVar(&flags.AlertSecretFile, "alert-secret-file", "", "file holding the webhook's signing secret (at least 16 bytes)")
	f.StringVar(&flags.AlertThresholds, "alert-threshold", "", "indicator alert rules, comma-separated: emissions_kg>50@24h,pue>1.6@168h")
	f.StringVar(&flags.CarbonForecast, "carbon-forecast", "", "carbon-intensity forecast CSV (timestamp,g_per_kwh) that times flexible jobs (default: none; they run at once)")
	addEnergyFlags(f)
	f.BoolVar(&flags.AllowPrivateURLs, "allow-private-urls", false, "let dataset URL imports reach loopback, link-local and private addresses")
	f.StringVar(&configFile, "config", "", "YAML config file")
	return cmd
}

// upConfig merges flags, environment, file and defaults.
func (m *Main) upConfig(cmd *cobra.Command, flags UpConfig, configFile string) (UpConfig, error) {
	var file UpConfig
	if configFile = firstNonEmpty(configFile, m.getenv("JOULE_CONFIG_FILE")); configFile != "" {
		data, err := os.ReadFile(configFile)
		if err != nil {
			return UpConfig{}, joule.Errorf(joule.EINVALID, "config: %v", err)
		}
		if err := decodeStrict(configFile, data, &file); err != nil {
			return UpConfig{}, err
		}
	}
	pick := func(flag, env, fromFile string) string {
		if cmd.Flags().Changed(flag) {
			return cmd.Flags().Lookup(flag).Value.String()
		}
		return firstNonEmpty(m.getenv(env), fromFile)
	}
	cfg := UpConfig{
		DataDir:         pick("data-dir", "JOULE_DATA_DIR", file.DataDir),
		Listen:          pick("listen", "JOULE_LISTEN", file.Listen),
		Store:           pick("store", "JOULE_STORE", file.Store),
		LogFormat:       pick("log-format", "JOULE_LOG_FORMAT", file.LogFormat),
		LogLevel:        pick("log-level", "JOULE_LOG_LEVEL", file.LogLevel),
		NodeName:        pick("node-name", "JOULE_NODE_NAME", file.NodeName),
		CarbonZone:      pick("carbon-zone", "JOULE_CARBON_ZONE", file.CarbonZone),
		CarbonForecast:  pick("carbon-forecast", "JOULE_CARBON_FORECAST", file.CarbonForecast),
		OnIdle:          pick("on-idle", "JOULE_ON_IDLE", file.OnIdle),
		OnWake:          pick("on-wake", "JOULE_ON_WAKE", file.OnWake),
		IdleAfter:       pick("idle-after", "JOULE_IDLE_AFTER", file.IdleAfter),
		MinDwell:        pick("min-dwell", "JOULE_MIN_DWELL", file.MinDwell),
		AlertWebhook:    pick("alert-webhook", "JOULE_ALERT_WEBHOOK", file.AlertWebhook),
		AlertSecretFile: pick("alert-secret-file", "JOULE_ALERT_SECRET_FILE", file.AlertSecretFile),
		AlertThresholds: pick("alert-threshold", "JOULE_ALERT_THRESHOLDS", file.AlertThresholds),
		Energy:          m.energyConfig(cmd, file.Energy),
	}
	cfg.PreferGreenNodes = file.PreferGreenNodes || m.getenv("JOULE_PREFER_GREEN_NODES") == "true"
	if cmd.Flags().Changed("prefer-green-nodes") {
		cfg.PreferGreenNodes = flags.PreferGreenNodes
	}
	cfg.AllowPrivateURLs = file.AllowPrivateURLs || m.getenv("JOULE_ALLOW_PRIVATE_URLS") == "true"
	if cmd.Flags().Changed("allow-private-urls") {
		cfg.AllowPrivateURLs = flags.AllowPrivateURLs
	}
	for _, name := range []string{"data-dir", "listen", "store", "log-format", "log-level"} {
		if cmd.Flags().Changed(name) && cmd.Flags().Lookup(name).Value.String() == "" {
			return UpConfig{}, joule.Errorf(joule.EINVALID, "%s: must not be empty", strings.ReplaceAll(name, "-", "_"))
		}
	}
	cfg = cfg.WithDefaults(m.getenv)
	return cfg, cfg.Validate()
}
