package agent

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
)

// compileBundle verifies b with key and builds the rules in force under it: the base (the
// built-in pack and the local rules) less the bundle's Disabled, plus the bundle's rules. Any
// refused document, in the bundle or caused by it, refuses the whole bundle: running a part of
// what the server published would pass for running all of it.
func compileBundle(base *policies.Ruleset, b *wire.Bundle, key ed25519.PublicKey) (*policies.Ruleset, error) {
	if err := b.Verify(key); err != nil {
		return nil, fmt.Errorf("bundle version %d: %w", b.Version, err)
	}
	sets := []*policies.Ruleset{}
	var problems []policies.Problem
	kept, p := base.Without(b.Disabled)
	sets, problems = append(sets, kept), append(problems, p...)
	for _, rf := range b.Rules {
		rs, p := policies.ParseBytes("bundle:"+rf.Name, []byte(rf.Content), policies.LoadOptions{})
		sets, problems = append(sets, rs), append(problems, p...)
	}
	merged, p := policies.Merge(sets...)
	problems = policies.SortProblems(append(problems, p...))
	var errs []string
	for _, pr := range problems {
		if !pr.Warning {
			errs = append(errs, pr.Error())
		}
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return nil, fmt.Errorf("bundle version %d does not compile: %s", b.Version, strings.Join(errs, "; "))
	}
	return merged, nil
}
