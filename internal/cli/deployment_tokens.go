package cli

import (
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (m *Main) deploymentTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Tokens of one deployment: they call its predict endpoint and nothing else",
		Long: `A deployment token lets an application call one deployment's predict
endpoint without a workspace token: it is refused (401) by every other route
and every other deployment. Create one per client so that each can be revoked
on its own. The secret is printed once; only its hash is stored.`,
	}
	var name string
	create := &cobra.Command{
		Use:     "create DEPLOYMENT --name N",
		Short:   "Create a deployment token and print its secret once (audited)",
		Example: "  joule deployment token create credit --name checkout-service",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			out, err := c.CreateDeploymentToken(cmd.Context(), ws, args[0], name)
			if err != nil {
				return err
			}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "Token", out.Token.Name, out.Token.ID, "of deployment", args[0])
				row(tw, "Secret (shown once):", out.Secret)
				row(tw, "Use:", "Authorization: Bearer <secret> on POST …/deployments/"+args[0]+"/predict")
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "token name, unique in the deployment")
	list := &cobra.Command{
		Use: "list DEPLOYMENT", Short: "List a deployment's tokens", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			toks, err := c.ListDeploymentTokens(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(toks, func(tw *tabwriter.Writer) {
				row(tw, "ID", "NAME", "CREATED", "BY")
				for _, t := range toks {
					row(tw, t.ID, t.Name, fmtTime(t.CreatedAt), t.CreatedBy)
				}
			})
		},
	}
	revoke := &cobra.Command{
		Use: "revoke DEPLOYMENT TOKEN", Short: "Revoke a deployment token by ID or name (audited)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			t, err := c.RevokeDeploymentToken(cmd.Context(), ws, args[0], args[1])
			if err != nil {
				return err
			}
			return m.print(t, func(tw *tabwriter.Writer) { row(tw, "Revoked token", t.Name, t.ID) })
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
