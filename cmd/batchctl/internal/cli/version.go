package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is batchctl's version, set at build time with
// -ldflags "-X github.com/batchd/batchd/cmd/batchctl/internal/cli.Version=v1.2.3";
// without it the module version from the build info is used.
var Version = ""

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of batchctl",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			var b strings.Builder
			fmt.Fprintf(&b, "batchctl %s\n", versionString())
			fmt.Fprintf(&b, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/aws/aws-sdk-go-v2/service/batch" {
						fmt.Fprintf(&b, "aws-sdk-go-v2/service/batch: %s\n", d.Version)
					}
				}
			}
			_, err := fmt.Fprint(a.env.Stdout, b.String())
			return err
		}),
	}
}
