package policies

import (
	"fmt"
	"strings"
)

// levels are Sigma's rule levels, least severe first. Every ordering of levels in Vigil (the
// scan report, --fail-on, the rule reference) goes through LevelRank.
var levels = [...]string{"informational", "low", "medium", "high", "critical"}

// Levels returns Sigma's rule levels, least severe first.
func Levels() []string { return append([]string(nil), levels[:]...) }

// LevelRank orders levels: 1 for informational up to 5 for critical, 0 for an empty or unknown
// level (so a finding without a level sorts below every level).
func LevelRank(level string) int {
	for i, l := range levels {
		if l == level {
			return i + 1
		}
	}
	return 0
}

// UnrankedFindings returns an error for each rule and correlation of rs, outside the built-in
// pack, that makes findings without one of Sigma's five levels. Sigma lets a rule leave its
// level out, but a Vigil server stores findings of those five levels only and refuses others,
// so the agent would drop every finding of such a rule: the server refuses the rule instead,
// and the agent refuses it as a local rule.
func UnrankedFindings(rs *Ruleset) []Problem {
	var out []Problem
	for _, ri := range rs.Rules() {
		if ri.Builtin || ri.Silent || LevelRank(ri.Level) > 0 {
			continue
		}
		what := "no level"
		if ri.Level != "" {
			what = fmt.Sprintf("level %q", ri.Level)
		}
		out = append(out, Problem{File: ri.File, Line: ri.Line, Message: fmt.Sprintf(
			"%s %q has %s: its findings need one of the levels %s", ri.Kind, ri.Title, what, strings.Join(levels[:], ", "))})
	}
	return out
}
