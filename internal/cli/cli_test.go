package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/cli"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md")

// TestCLIDocs fails when docs/cli.md is not what the command tree generates.
func TestCLIDocs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := (&cli.Main{}).WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test ./internal/cli -run TestCLIDocs -update)", path, err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("%s is stale: run go test ./internal/cli -run TestCLIDocs -update", path)
	}
}

// upConfig runs `joule up` with a captured Up and returns the config it got.
func upConfig(t *testing.T, env map[string]string, args ...string) (cli.UpConfig, error) {
	t.Helper()
	var got cli.UpConfig
	m := &cli.Main{
		Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string { return env[k] },
		Up: func(_ context.Context, cfg cli.UpConfig, _, _ io.Writer) error {
			got = cfg
			return nil
		},
	}
	err := m.Run(t.Context(), append([]string{"up"}, args...))
	return got, err
}

// TestEnergyConfigPrecedence: energy settings follow flags, then JOULE_*
// variables, then the file; credentials come from the environment or file.
func TestEnergyConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "joule.yaml")
	yaml := "pue: 1.1\ncurrency: EUR\nprice: \"0.2\"\nelectricitymaps_token: from-file\nprices:\n  - {from: \"00:00\", to: \"24:00\", per_kwh: 0.3}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": "/home/u", "JOULE_CONFIG_FILE": file, "JOULE_PUE": "1.2", "JOULE_ELECTRICITYMAPS_TOKEN": "from-env"}
	got, err := upConfig(t, env, "--price", "0.25", "--powercap-root", "/host")
	if err != nil {
		t.Fatal(err)
	}
	want := cli.EnergyConfig{PUE: "1.2", Currency: "EUR", Price: "0.25", ElectricityMapsToken: "from-env", PowercapRoot: "/host",
		Prices: []cli.PriceBand{{From: "00:00", To: "24:00", PerKWh: 0.3}}}
	if !reflect.DeepEqual(got.Energy, want) {
		t.Errorf("energy config = %+v, want %+v", got.Energy, want)
	}
}

func TestUpConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "joule.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:7000\nlog_level: debug\ndata_dir: /from/file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JOULE_LISTEN": "127.0.0.1:7001", "HOME": "/home/u", "JOULE_CONFIG_FILE": file}
	got, err := upConfig(t, env, "--data-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	want := cli.UpConfig{DataDir: "/from/flag", Listen: "127.0.0.1:7001", LogFormat: "text", LogLevel: "debug"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v, want %+v", got, want)
	}
	got, err = upConfig(t, map[string]string{"HOME": "/home/u"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DataDir != "/home/u/.local/share/joule" || got.Listen != cli.DefaultListen {
		t.Errorf("defaults = %+v", got)
	}
}

func TestUpConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: :8080\nlisten_port: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown key", nil, []string{"--config", bad}, bad + `:2: unknown key "listen_port"`},
		{"listen nonsense", nil, []string{"--listen", "nonsense"}, `listen: "nonsense" is not HOST:PORT`},
		{"listen bad port", nil, []string{"--listen", "127.0.0.1:99999"}, `listen: port "99999"`},
		{"bad store", nil, []string{"--store", "mysql://x"}, "store:"},
		{"bad log format", map[string]string{"JOULE_LOG_FORMAT": "xml"}, nil, "log_format:"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "log_level:"},
		{"missing config file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "config:"},
		{"empty data dir", nil, []string{"--data-dir", ""}, "data_dir: must not be empty"},
		{"unknown flag", nil, []string{"--colour"}, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := upConfig(t, env, tc.args...)
			if err == nil {
				t.Fatalf("up %v: no error, want %q", tc.args, tc.want)
			}
			msg := cli.ErrorText(err)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("up %v: %q, want one line containing %q", tc.args, msg, tc.want)
			}
		})
	}
}

func TestBadClientConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("server: http://x\ntokn: y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
		if k == "JOULE_CONFIG" {
			return path
		}
		return ""
	}}
	err := m.Run(t.Context(), []string{"node", "list"})
	if err == nil || !strings.Contains(cli.ErrorText(err), path+`:2: unknown key "tokn"`) {
		t.Errorf("node list with a bad config: %v, want the file, line and key", err)
	}
}

// TestSimReproduces runs `joule sim` on the Let's Wait Awhile inputs and
// checks the published Next Workday figure.
func TestSimReproduces(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	err := m.Run(t.Context(), []string{"sim", "--carbon", "../carbon/testdata/ger_ci.csv", "--jobs", "../sim/testdata/lets-wait-awhile-ml-jobs.csv", "--deadline", "next-workday", "-o", "json"})
	if err != nil {
		t.Fatalf("sim: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"savings_pct": 5.926`) || !strings.Contains(out.String(), `"active_job_steps": 311252`) {
		t.Errorf("sim output lacks the published figures:\n%s", out.String())
	}
	err = m.Run(t.Context(), []string{"sim", "--carbon", "nope.csv", "--jobs", "nope.csv"})
	if err == nil {
		t.Error("sim with missing files: no error")
	}
}

// TestSimCluster runs the consolidation simulation from the CLI: 4 nodes at
// 30 % load, and checks that the power hooks save energy and that bad
// flags are named.
func TestSimCluster(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if err := m.Run(t.Context(), []string{"sim", "cluster", "--nodes", "4", "--load", "0.3", "-o", "json"}); err != nil {
		t.Fatalf("sim cluster: %v\n%s", err, out.String())
	}
	var r struct {
		AlwaysOn   struct{ IdleNodeHours, EnergyKWh float64 } `json:"always_on"`
		PowerHooks struct {
			AsleepNodeHours float64 `json:"asleep_node_hours"`
			EnergyKWh       float64 `json:"energy_kwh"`
		} `json:"power_hooks"`
		SavedKWh float64 `json:"saved_kwh"`
		Method   string  `json:"method"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.SavedKWh <= 0 || r.PowerHooks.AsleepNodeHours <= 0 || !strings.HasPrefix(r.Method, "simulated: assumed") {
		t.Errorf("sim cluster: %+v", r)
	}
	for args, want := range map[string]string{"--load 1.5": "--load", "--nodes 0": "--nodes", "--sleep-watts 200": "--sleep-watts"} {
		err := m.Run(t.Context(), append([]string{"sim", "cluster"}, strings.Fields(args)...))
		if err == nil || !strings.Contains(cli.ErrorText(err), want) {
			t.Errorf("sim cluster %s: %v, want an error naming %s", args, err, want)
		}
	}
}

// TestEnergyPowercap advises power limits from the embedded Zeus V100
// trace and from a user's file, and names bad input.
func TestEnergyPowercap(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if err := m.Run(t.Context(), []string{"energy", "powercap", "--gpu", "v100", "--workload", "imagenet/resnet50", "--eta", "1", "-o", "json"}); err != nil {
		t.Fatalf("energy powercap: %v\n%s", err, out.String())
	}
	var rows []struct {
		LimitW, MaxLimitW, EnergySavedPct float64
		BatchSize                         int `json:"batch_size"`
	}
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, r := range rows {
		if r.LimitW > r.MaxLimitW || r.EnergySavedPct < 0 {
			t.Errorf("advice %+v: a limit above the maximum or a negative saving", r)
		}
	}
	path := filepath.Join(t.TempDir(), "sweep.csv")
	csv := "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power\nd,n,32,sgd,300,100,290\nd,n,32,sgd,200,110,190\nd,n,32,sgd,150,140,148\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := m.Run(t.Context(), []string{"energy", "powercap", "--trace", path, "--eta", "1", "--max-slowdown", "20%"}); err != nil {
		t.Fatalf("energy powercap --trace: %v\n%s", err, out.String())
	}
	// 300 W: 29,000 J; 200 W: 20,900 J (10 % slower); 150 W: 20,720 J but 40 % slower.
	if !strings.Contains(out.String(), "200 W") || !strings.Contains(out.String(), "27.9%") {
		t.Errorf("advice from the file:\n%s", out.String())
	}
	for args, want := range map[string]string{"--gpu h100": "h100", "": "--gpu", "--gpu v100 --workload x/y": "--workload", "--gpu v100 --eta 2": "eta"} {
		err := m.Run(t.Context(), append([]string{"energy", "powercap"}, strings.Fields(args)...))
		if err == nil || !strings.Contains(cli.ErrorText(err), want) {
			t.Errorf("energy powercap %s: %v, want an error naming %s", args, err, want)
		}
	}
}

// TestSimElastic replays CarbonScaler's greedy from the CLI on the shipped
// Germany series and profile, and names bad flags.
func TestSimElastic(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	args := []string{"sim", "elastic", "--carbon", "../carbon/testdata/ger_ci.csv", "--profile", "../sim/testdata/carbonscaler-nbody100k.csv"}
	if err := m.Run(t.Context(), append(args, "-o", "json")); err != nil {
		t.Fatalf("sim elastic: %v\n%s", err, out.String())
	}
	var r struct {
		Jobs                                    int
		VsAgnostic, VsSuspend, VsBest, Agnostic float64
	}
	var raw map[string]float64
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	r.Jobs, r.VsAgnostic, r.VsSuspend, r.VsBest = int(raw["jobs"]), raw["vs_agnostic_pct"], raw["vs_suspend_resume_pct"], raw["vs_best_static_pct"]
	if r.Jobs < 300 || !(r.VsAgnostic > r.VsSuspend && r.VsSuspend > r.VsBest && r.VsBest > 0) {
		t.Errorf("sim elastic: %+v", raw)
	}
	for extra, want := range map[string]string{"--base 9": "--base", "--deadline 10h --work-hours 24": "does not fit", "--work-hours -1": "--work-hours"} {
		err := m.Run(t.Context(), append(append([]string{}, args...), strings.Fields(extra)...))
		if err == nil || !strings.Contains(cli.ErrorText(err), want) {
			t.Errorf("sim elastic %s: %v, want an error naming %s", extra, err, want)
		}
	}
}

func TestEnergyValidate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := &cli.Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if err := m.Run(t.Context(), []string{"energy", "validate", "-o", "json"}); err != nil {
		t.Fatalf("energy validate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"profiles": 5`) {
		t.Errorf("energy validate did not evaluate the 5 shipped profiles:\n%s", out.String())
	}
	out.Reset()
	if err := m.Run(t.Context(), []string{"energy", "validate", "--profile", "../energy/data/profiles/E3-1240/all_cores.csv"}); err != nil {
		t.Fatalf("energy validate --profile: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "E3-1240") || !strings.Contains(out.String(), "of 1 profiles") {
		t.Errorf("energy validate --profile output:\n%s", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("cpu_name,cpu_load\nx,notanumber\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := m.Run(t.Context(), []string{"energy", "validate", "--profile", bad})
	if err == nil || !strings.Contains(cli.ErrorText(err), bad) {
		t.Errorf("bad profile: %v, want an error naming the file", err)
	}
}
