package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the tamper-evident audit log",
		Long: `Every state-changing call is recorded in the audit log: who, what, when,
the request ID and the outcome. Entries are hash-chained, so 'audit verify'
detects any entry that was edited or deleted behind joule's back.`,
	}
	var since, until, principal, action string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit entries of a workspace, oldest first",
		Example: `  joule audit list --since 24h
  joule audit list --action token. --principal tok_01J…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := httpapi.AuditQuery{Principal: principal, Action: action}
			var err error
			if q.Since, err = parseWhen("since", since); err != nil {
				return err
			}
			if q.Until, err = parseWhen("until", until); err != nil {
				return err
			}
			if limit < 1 {
				return joule.Errorf(joule.EINVALID, "limit: must be at least 1")
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			q.Limit = min(limit, joule.MaxLimit)
			all, err := collect(limit, func(cursor string) (httpapi.Page[joule.AuditEntry], error) {
				q.Cursor = cursor
				return c.ListAudit(cmd.Context(), ws, q)
			})
			if err != nil {
				return err
			}
			return m.print(all, func(tw *tabwriter.Writer) {
				row(tw, "SEQ", "TIME", "PRINCIPAL", "ACTION", "RESOURCE", "OUTCOME", "REQUEST")
				for _, e := range all {
					row(tw, e.Seq, fmtTime(e.Time), e.Principal, e.Action, e.Resource, e.Outcome, e.RequestID)
				}
			})
		},
	}
	f := list.Flags()
	f.StringVar(&since, "since", "", "only entries at or after this time: RFC 3339 or a duration ago such as 24h")
	f.StringVar(&until, "until", "", "only entries before this time: RFC 3339 or a duration ago")
	f.StringVar(&principal, "principal", "", "only entries by this token ID (or \"system\")")
	f.StringVar(&action, "action", "", "only this action, or actions starting with a prefix ending in '.' (token.)")
	f.IntVar(&limit, "limit", 1000, "at most this many entries")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit hash chain; exits 1 and names the first broken entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			r, err := c.VerifyAudit(cmd.Context(), ws)
			if err != nil {
				return err
			}
			if err := m.print(r, func(tw *tabwriter.Writer) {
				if r.OK {
					fmt.Fprintf(tw, "Audit chain intact: %d entries verified (one chain covers every workspace).\n", r.Entries)
				}
			}); err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("audit chain broken at entry %d: %s", r.BrokenAt, r.Reason)
			}
			return nil
		},
	}
	cmd.AddCommand(list, verify)
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration ago.
func parseWhen(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, joule.Errorf(joule.EINVALID, "%s: %q is not an RFC 3339 time (2026-11-27T10:00:00Z) or a duration ago (24h)", field, v)
}
