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

func (m *Main) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke API tokens of a workspace",
		Long: `Tokens are bound to one workspace and one role: viewer (read), editor
(read and change resources) or admin (everything, including tokens and the
audit log). Only a hash of each token is stored; the secret is shown once.`,
	}
	var role, expires string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a token; its secret is printed once",
		Example: `  joule token create ci-bot --role editor --expires 720h
  joule token create dashboards --role viewer -w credit-risk`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			r, err := c.CreateToken(cmd.Context(), ws, httpapi.CreateTokenRequest{Name: args[0], Role: joule.Role(role), ExpiresIn: expires})
			if err != nil {
				return err
			}
			return m.print(r, func(tw *tabwriter.Writer) {
				row(tw, "Token:", r.Secret)
				row(tw, "ID:", r.Token.ID)
				row(tw, "Role:", r.Token.Role)
				row(tw, "Workspace:", ws)
				if r.Token.ExpiresAt != nil {
					row(tw, "Expires:", fmtTime(*r.Token.ExpiresAt))
				}
				row(tw, "")
				row(tw, "Save the token now: it is not shown again.")
			})
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "role: viewer, editor or admin")
	create.Flags().StringVar(&expires, "expires", "", "lifetime such as 720h (default: no expiry)")
	_ = create.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"viewer", "editor", "admin"}, cobra.ShellCompDirectiveNoFileComp))

	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List a workspace's tokens (never their secrets)",
		Long: `list shows a workspace's tokens. The short-lived tokens that jobs get
(named job-…, revoked when the attempt ends) are hidden once revoked; --all
shows them too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			listed, err := collect(0, func(cursor string) (httpapi.Page[joule.Token], error) {
				return c.ListTokens(cmd.Context(), ws, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			})
			if err != nil {
				return err
			}
			var toks []joule.Token
			for _, t := range listed {
				if all || t.RevokedAt == nil || !strings.HasPrefix(t.Name, "job-") {
					toks = append(toks, t)
				}
			}
			now := time.Now()
			return m.print(toks, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "ID", "ROLE", "CREATED", "EXPIRES", "STATE")
				for _, t := range toks {
					exp := "never"
					if t.ExpiresAt != nil {
						exp = fmtTime(*t.ExpiresAt)
					}
					state := "active"
					switch {
					case t.RevokedAt != nil:
						state = "revoked " + fmtTime(*t.RevokedAt)
					case !t.Active(now):
						state = "expired"
					}
					row(tw, t.Name, t.ID, t.Role, fmtTime(t.CreatedAt), exp, state)
				}
			})
		},
	}
	list.Flags().BoolVar(&all, "all", false, "also list revoked job tokens")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			t, err := c.RevokeToken(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(t, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Revoked token %s (%s).\n", t.Name, t.ID)
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
