package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies/lolrmm"
)

func init() { policySubcommands = append(policySubcommands, newPolicyImportLolrmmCmd) }

// newPolicyImportLolrmmCmd is `vigil policy import-lolrmm DIR [-o OUT]`.
func newPolicyImportLolrmmCmd() *cobra.Command {
	var (
		out     string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "import-lolrmm DIR",
		Short: "Turn the LOLRMM catalog (its yaml/ folder) into Sigma rules, one file per tool",
		Long: `Reads the LOLRMM catalog's per-tool YAML files (https://lolrmm.io, github.com/magicsword-io/LOLRMM,
the yaml/ folder) and writes Sigma rules under OUT, one file per tool: a process_creation rule per
operating system (executable names, PE original file names, installation folders) and a
network_connection rule (relay host names, addresses, tool-specific ports). Catalog values that are
not valid Sigma (regex host names, %APPDATA%, doubled backslashes, placeholders) are rewritten into
correct Sigma values or skipped with a reason; generic names such as setup.exe never become a rule
on their own. Rule ids are UUIDv5 of tool, OS and kind, so re-imports diff cleanly; files an earlier
import wrote for tools no longer in the catalog are removed. A summary (tools, rules, rewritten and
skipped values with reasons) goes to standard error. Check the output with vigil policy lint.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := lolrmm.LoadDir(args[0])
			if err != nil {
				return err
			}
			res, err := lolrmm.Convert(cat)
			if err != nil {
				return err
			}
			if err := res.Write(out); err != nil {
				return err
			}
			res.Summary(cmd.ErrOrStderr(), verbose)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files to %s\n", len(res.Files), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "lolrmm-rules", "folder to write the rule files to")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list every rewritten value")
	return cmd
}
