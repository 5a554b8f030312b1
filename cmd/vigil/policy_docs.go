package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies/ruledoc"
)

func init() { policySubcommands = append(policySubcommands, newPolicyDocsCmd) }

func newPolicyDocsCmd() *cobra.Command {
	var (
		builtin bool
		output  string
		ph      placeholderFlag
	)
	cmd := &cobra.Command{
		Use:   "docs [--builtin] [PATH...] [-o FILE]",
		Short: "Write Markdown reference documentation of rules (docs/rules.md is the built-in pack's)",
		Long: `Renders every rule and correlation (id, title, level, logsource, tags, what it catches, its
false positives), grouped by folder and sorted by level, as Markdown. docs/rules.md is
'vigil policy docs --builtin -o docs/rules.md'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !builtin {
				return fmt.Errorf("no rules: give PATH or --builtin")
			}
			// The pack alone keeps its files' paths relative to policies/rules.
			rs, err := loadRules(cmd.ErrOrStderr(), ph.spec(args, builtin))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return ruledoc.Write(w, rs)
		},
	}
	cmd.Flags().BoolVar(&builtin, "builtin", false, "document the built-in rule pack")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	ph.register(cmd)
	return cmd
}
