package policies

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
