package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// WriteMarkdown writes the CLI reference, generated from the command tree,
// as Markdown: one section per command with its usage, description,
// examples and flags. docs/cli.md is this output; a test keeps it current.
func (m *Main) WriteMarkdown(w io.Writer) error {
	root := m.Command()
	var b strings.Builder
	b.WriteString("# joule CLI reference\n\n")
	b.WriteString("<!-- Generated from the command tree by `go test ./internal/cli -run TestCLIDocs -update`. Do not edit. -->\n\n")
	b.WriteString(root.Long + "\n\n")
	b.WriteString("Global flags, accepted by every command:\n\n```\n" + root.PersistentFlags().FlagUsages() + "```\n\n")
	b.WriteString("Shell completion: `joule completion bash|zsh|fish|powershell --help` explains how to install it.\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c != root {
			fmt.Fprintf(&b, "## %s\n\n%s\n\n", c.CommandPath(), c.Short)
			if c.Long != "" {
				b.WriteString(c.Long + "\n\n")
			}
			if c.Runnable() {
				fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
			}
			if len(c.Aliases) > 0 {
				fmt.Fprintf(&b, "Aliases: %s\n\n", strings.Join(c.Aliases, ", "))
			}
			if c.Example != "" {
				fmt.Fprintf(&b, "Examples:\n\n```\n%s\n```\n\n", c.Example)
			}
			if fl := c.LocalNonPersistentFlags().FlagUsages(); fl != "" {
				fmt.Fprintf(&b, "Flags:\n\n```\n%s```\n\n", fl)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	_, err := io.WriteString(w, b.String())
	return err
}
