package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/policies"
)

// placeholderFlag is the --placeholders flag: a YAML file of values for Sigma's |expand
// placeholders (policies.ReadPlaceholders reads it).
type placeholderFlag struct{ path string }

func (p *placeholderFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.path, "placeholders", "", "YAML file mapping placeholder names to value lists, for |expand (e.g. Administrators: [admin, root])")
}

// spec is the policies.LoadSpec for these rule paths and the built-in pack.
func (p *placeholderFlag) spec(paths []string, builtin bool) policies.LoadSpec {
	return policies.LoadSpec{Paths: paths, Builtin: builtin, PlaceholdersFile: p.path}
}

// printProblems writes each problem as file:line: message and returns how many errors and
// warnings there were.
func printProblems(w io.Writer, problems []policies.Problem) (errs, warns int) {
	for _, p := range problems {
		fmt.Fprintln(w, p.Error())
	}
	return policies.CountProblems(problems)
}

// loadRules loads rules as spec says (policies.Load), printing every problem to w. A refused
// rule makes it fail, since evaluating with a silently missing rule would lie.
func loadRules(w io.Writer, spec policies.LoadSpec) (*policies.Ruleset, error) {
	rs, problems, err := policies.Load(spec)
	errs, _ := printProblems(w, problems)
	if errors.Is(err, policies.ErrNoRules) {
		return nil, fmt.Errorf("%w: give rule files (*.yml, *.yaml)", err)
	}
	if err != nil {
		return nil, err
	}
	if errs > 0 {
		return nil, fmt.Errorf("%d rule problem(s); fix them or leave those files out (see `vigil policy lint`)", errs)
	}
	return rs, nil
}
