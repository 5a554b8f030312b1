package main

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies/policytest"
)

func init() { subcommands = append(subcommands, newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, test and run Sigma detection rules",
		Long: `Tools for detection engineers: check Sigma rule files, run rule test cases, and evaluate rules
over events. docs/policy-tools.md describes these commands and the test-case format;
docs/policies.md the engine's semantics.`,
	}
	for _, add := range policySubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}

// policySubcommands holds the `vigil policy` commands, each registered by its own file.
var policySubcommands []func() *cobra.Command

// findTestFiles lists the test-case files under the given paths.
func findTestFiles(paths []string) ([]string, error) {
	var out []string
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && policytest.IsTestFile(d.Name()) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find test files: %w", err)
		}
	}
	return out, nil
}
