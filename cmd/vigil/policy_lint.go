package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/policies/policytest"
)

func init() { policySubcommands = append(policySubcommands, newPolicyLintCmd) }

func newPolicyLintCmd() *cobra.Command {
	var ph placeholderFlag
	var strict bool
	cmd := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Check rule files and folders; print every problem as file:line[:column]: message",
		Long: `Parses every Sigma rule file (*.yml, *.yaml) under the given files and folders, and every test-case
file (*.test.yml), and prints each problem as file:line[:column]: message. Exit status 0 when there is no
problem; 1 when there is an error (or, with --strict, a warning too); 2 when a path or the
placeholders file cannot be read. docs/policy-tools.md describes the command.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := ph.spec(args, false)
			spec.AllowEmpty = true
			rs, problems, err := policies.Load(spec)
			if err != nil {
				return err
			}
			testFiles, err := findTestFiles(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			errs, warns := printProblems(out, problems)
			for _, tf := range testFiles {
				s, err := policytest.LoadFile(tf)
				if err != nil {
					fmt.Fprintln(out, err)
					errs++
					continue
				}
				for _, b := range s.Broken {
					fmt.Fprintln(out, b.Err)
					errs++
				}
			}
			rules, corrs := 0, 0
			for _, ri := range rs.Rules() {
				if ri.Kind == "correlation" {
					corrs++
				} else {
					rules++
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rules and %d correlations loaded, %d test files; %d errors, %d warnings\n",
				rules, corrs, len(testFiles), errs, warns)
			if errs > 0 || (strict && warns > 0) {
				return exitError{1}
			}
			return nil
		},
	}
	ph.register(cmd)
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	return cmd
}
