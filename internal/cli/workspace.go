package cli

import (
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) workspaceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workspace",
		Aliases: []string{"workspaces", "ws"},
		Short:   "List and create workspaces (tenants)",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspaces you can see (all of them for admins of default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			all, err := collect(0, func(cursor string) (httpapi.Page[joule.Workspace], error) {
				return c.ListWorkspaces(cmd.Context(), joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
			})
			if err != nil {
				return err
			}
			return m.print(all, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "ID", "CREATED", "DESCRIPTION")
				for _, w := range all {
					row(tw, w.Name, w.ID, fmtTime(w.CreatedAt), w.Description)
				}
			})
		},
	}
	var desc string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a workspace (needs an admin token of the default workspace)",
		Example: `  joule workspace create credit-risk --description "credit scoring team"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			w, err := c.CreateWorkspace(cmd.Context(), httpapi.CreateWorkspaceRequest{Name: args[0], Description: desc})
			if err != nil {
				return err
			}
			return m.print(w, func(tw *tabwriter.Writer) {
				row(tw, "Created workspace", w.Name, w.ID)
			})
		},
	}
	create.Flags().StringVar(&desc, "description", "", "what the workspace is for")
	cmd.AddCommand(list, create)
	return cmd
}
