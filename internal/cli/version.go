package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
)

func (m *Main) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the joule version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := struct {
				Version string `json:"version"`
				Go      string `json:"go"`
				OS      string `json:"os"`
				Arch    string `json:"arch"`
			}{joule.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH}
			if m.output == "table" || m.output == "" {
				fmt.Fprintf(m.Stdout, "joule %s (%s %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
				return nil
			}
			return m.print(v, nil)
		},
	}
}
