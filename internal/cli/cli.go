// Package cli is joule's command line: one file per command group, built on
// spf13/cobra. It parses flags, environment variables and config files, and
// reaches the control plane only through the httpapi client. Starting the
// server itself is wired in cmd/joule and handed in as Main.Up.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// Main is the joule command line. Tests drive it in process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (nil means os.Getenv).
	Getenv func(string) string
	// Up runs the server until ctx is done. cmd/joule wires it.
	Up func(ctx context.Context, cfg UpConfig, stdout, stderr io.Writer) error
	// Worker runs a worker until ctx is done. cmd/joule wires it.
	Worker func(ctx context.Context, cfg WorkerConfig, stdout, stderr io.Writer) error

	// global flags
	server, token, workspace, output string
}

func (m *Main) getenv(k string) string {
	if m.Getenv != nil {
		return m.Getenv(k)
	}
	return os.Getenv(k)
}

// Run parses args (without the program name) and runs the command.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := m.Command()
	root.SetArgs(args)
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	return root.ExecuteContext(ctx)
}

// ErrorText is the one line the program prints for err: the message of a
// joule error, or the error text.
func ErrorText(err error) string {
	var msg string
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Message
	}
	if _, ok := errors.AsType[*joule.Error](err); ok && joule.ErrorCode(err) != joule.EINTERNAL {
		msg = joule.ErrorMessage(err)
	} else {
		msg = err.Error()
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
}

// Command builds the whole command tree.
func (m *Main) Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "joule",
		Short: "joule: AI infrastructure that knows what your work costs in energy, carbon and money",
		Long: `joule runs your data, training and serving work on your own machines and
accounts for the energy, carbon and money each piece of it costs.

Start a server with 'joule up', then talk to it with the other commands.
The server and token come from --server/--token, JOULE_SERVER/JOULE_TOKEN,
or the file written by 'joule login', in that order.`,
		Example: `  joule up                                  # start API, console and metrics on 127.0.0.1:8080
  joule login --server http://127.0.0.1:8080 --token joule_…
  joule status
  joule token create ci-bot --role editor --expires 720h`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&m.server, "server", "", "joule server URL (env JOULE_SERVER)")
	pf.StringVar(&m.token, "token", "", "API token (env JOULE_TOKEN)")
	pf.StringVarP(&m.workspace, "workspace", "w", "", "workspace name or ID (env JOULE_WORKSPACE; default: the token's)")
	pf.StringVarP(&m.output, "output", "o", "table", "output format: table, json or yaml")
	root.AddGroup(&cobra.Group{ID: "server", Title: "Run joule:"}, &cobra.Group{ID: "use", Title: "Use a joule server:"})
	for _, c := range []*cobra.Command{m.upCommand(), m.workerCommand(), m.versionCommand()} {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{m.loginCommand(), m.statusCommand(), m.jobCommand(), m.scheduleCommand(), m.nodeCommand(), m.workspaceCommand(), m.tokenCommand(), m.auditCommand(), m.energyCommand(), m.simCommand(),
		m.indicatorCommand(), m.baselineCommand(), m.targetCommand(), m.kpiCommand(), m.importCommand(), m.reportCommand(), m.recommendCommand(), m.datasetCommand(), m.trainCommand(), m.modelCommand(), m.deployCommand(), m.deploymentCommand(), m.predictCommand()} {
		c.GroupID = "use"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("use")
	root.SetCompletionCommandGroupID("use")
	return root
}

// client builds the API client from flags, environment and the login file.
func (m *Main) client() (*httpapi.Client, error) {
	fc, err := readClientConfig(m.clientConfigPath())
	if err != nil {
		return nil, err
	}
	server := firstNonEmpty(m.server, m.getenv("JOULE_SERVER"), fc.Server)
	token := firstNonEmpty(m.token, m.getenv("JOULE_TOKEN"), fc.Token)
	if server == "" {
		return nil, joule.Errorf(joule.EINVALID, "no server: run `joule login --server URL --token TOKEN`, or pass --server / set JOULE_SERVER")
	}
	if token == "" {
		return nil, joule.Errorf(joule.EINVALID, "no token: run `joule login`, or pass --token / set JOULE_TOKEN (the admin token is in DATA_DIR/admin.token)")
	}
	return httpapi.NewClient(server, token), nil
}

// workspaceRef returns the workspace to act in: the flag, the environment,
// the login file, or else the token's own workspace.
func (m *Main) workspaceRef(ctx context.Context, c *httpapi.Client) (string, error) {
	fc, err := readClientConfig(m.clientConfigPath())
	if err != nil {
		return "", err
	}
	if ws := firstNonEmpty(m.workspace, m.getenv("JOULE_WORKSPACE"), fc.Workspace); ws != "" {
		return ws, nil
	}
	p, err := c.Whoami(ctx)
	if err != nil {
		return "", err
	}
	return p.WorkspaceName, nil
}

// clientAndWorkspace returns the API client and the workspace to act in.
func (m *Main) clientAndWorkspace(ctx context.Context) (*httpapi.Client, string, error) {
	c, err := m.client()
	if err != nil {
		return nil, "", err
	}
	ws, err := m.workspaceRef(ctx, c)
	if err != nil {
		return nil, "", err
	}
	return c, ws, nil
}

// collect pages through a list, from its first page, until the last page
// or until it holds limit items (0: no limit).
func collect[T any](limit int, page func(cursor string) (httpapi.Page[T], error)) ([]T, error) {
	var all []T
	cursor := ""
	for limit == 0 || len(all) < limit {
		p, err := page(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// printer writes v as JSON or YAML, or calls table for the table format.
func (m *Main) print(v any, table func(tw *tabwriter.Writer)) error {
	switch m.output {
	case "json":
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			return err
		}
		out, err := yaml.Marshal(generic)
		if err != nil {
			return err
		}
		_, err = m.Stdout.Write(out)
		return err
	case "table", "":
		tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	}
	return joule.Errorf(joule.EINVALID, "output: %q is not one of table, json, yaml", m.output)
}

func (m *Main) checkOutput() error {
	switch m.output {
	case "table", "json", "yaml", "":
		return nil
	}
	return joule.Errorf(joule.EINVALID, "output: %q is not one of table, json, yaml", m.output)
}

func row(tw io.Writer, cols ...any) {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(tw, strings.Join(parts, "\t"))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtAgo(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func fmtBytes(b int64) string {
	const gi = 1 << 30
	if b >= gi {
		return fmt.Sprintf("%.1f GiB", float64(b)/gi)
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
