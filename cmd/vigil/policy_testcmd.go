package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies/policytest"
)

func init() { policySubcommands = append(policySubcommands, newPolicyTestCmd) }

func newPolicyTestCmd() *cobra.Command {
	var (
		builtin, strict, verbose bool
		ph                       placeholderFlag
	)
	cmd := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run rule test cases (*.test.yml): events in, expected findings out",
		Long: `Loads the rules under the given paths (and, with --builtin, the embedded pack), then runs every
test-case file (*.test.yml, *.test.yaml) found under the paths. Each case runs on a fresh engine.
Prints PASS or FAIL per case with the reasons (a case that cannot be read fails alone, naming its
file line; the file's other cases still run), then the rules under the given paths that no case
expects to fire (the built-in pack's own coverage is its business, not yours), and a summary.

Exit status 0 when every case passes; 1 when a case fails or cannot be read, or with --strict when
a rule under the paths has no positive case; 2 when a rule does not load (the rules under the paths,
the pack, or a test file's own rules) or no test file is found. docs/policy-tools.md documents the
test-case format.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			// A test folder may hold only cases whose files name their own rules.
			spec := ph.spec(args, builtin)
			spec.AllowEmpty = true
			rs, err := loadRules(out, spec)
			if err != nil {
				return err
			}
			files, err := findTestFiles(args)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no test files (*.test.yml) under %s", strings.Join(args, ", "))
			}
			var suites []*policytest.Suite
			pass, fail, unloadable := 0, 0, 0
			for _, file := range files {
				s, err := policytest.LoadFile(file)
				if err != nil {
					fmt.Fprintln(out, "FAIL", err)
					fail++
					continue
				}
				suites = append(suites, s)
				for _, b := range s.Broken {
					fmt.Fprintf(out, "FAIL %s:%d %s\n    %s\n", s.File, b.Line, b.Case, b.Err)
					fail++
				}
				set := rs
				if len(s.Rules) > 0 {
					if set, err = loadRules(out, ph.spec(s.SuiteRules(), false)); err != nil {
						fmt.Fprintf(out, "FAIL %s: its rules: %v\n", file, err)
						unloadable++
						continue
					}
				}
				for _, r := range policytest.Run(s, set) {
					if r.Passed() {
						pass++
						if verbose {
							fmt.Fprintf(out, "PASS %s:%d %s\n", r.File, r.Line, r.Case)
						}
						continue
					}
					fail++
					fmt.Fprintf(out, "FAIL %s:%d %s\n", r.File, r.Line, r.Case)
					for _, f := range r.Failures {
						fmt.Fprintf(out, "    %s\n", f)
					}
				}
			}
			covered := policytest.Covered(rs, suites)
			var uncovered []string
			mine := 0
			for _, ri := range rs.Rules() {
				if ri.Builtin {
					continue
				}
				mine++
				if !covered[ri.ID] {
					uncovered = append(uncovered, fmt.Sprintf("%s (%s:%d)", ri.Title, ri.File, ri.Line))
				}
			}
			sort.Strings(uncovered)
			for _, u := range uncovered {
				fmt.Fprintln(out, "no positive case:", u)
			}
			fmt.Fprintf(out, "%d passed, %d failed; %d of %d rules have a positive case\n",
				pass, fail, mine-len(uncovered), mine)
			switch {
			case unloadable > 0:
				return fmt.Errorf("the rules of %d test file(s) do not load", unloadable)
			case fail > 0 || (strict && len(uncovered) > 0):
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&builtin, "builtin", false, "add the built-in rule pack to the rules the cases run against")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail when a rule under the paths has no case that expects it to fire")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing cases too")
	ph.register(cmd)
	return cmd
}
