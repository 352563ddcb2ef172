package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) loginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login --server URL --token TOKEN",
		Short: "Check a server and token, and save them for later commands",
		Long: `login calls the server with the token, and on success saves both to
~/.config/joule/config (or $XDG_CONFIG_HOME/joule/config, or $JOULE_CONFIG)
with mode 0600, so that later commands need no flags.`,
		Example: `  joule login --server http://127.0.0.1:8080 --token "$(cat ~/.local/share/joule/admin.token)"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server := firstNonEmpty(m.server, m.getenv("JOULE_SERVER"))
			token := firstNonEmpty(m.token, m.getenv("JOULE_TOKEN"))
			if server == "" {
				return joule.Errorf(joule.EINVALID, "--server is required, e.g. --server http://127.0.0.1:8080")
			}
			if token == "" {
				return joule.Errorf(joule.EINVALID, "--token is required (the first admin token is in DATA_DIR/admin.token)")
			}
			if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
				return joule.Errorf(joule.EINVALID, "server: %q must start with http:// or https://", server)
			}
			c := httpapi.NewClient(server, token)
			p, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			path := m.clientConfigPath()
			if err := writeClientConfig(path, clientConfig{Server: strings.TrimRight(server, "/"), Token: token, Workspace: m.workspace}); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "Logged in to %s as %s: workspace %s, role %s.\nSaved to %s.\n", server, p.TokenName, p.WorkspaceName, p.Role, path)
			return nil
		},
	}
	return cmd
}
