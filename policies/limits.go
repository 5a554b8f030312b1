package policies

import (
	"github.com/vigilhq/vigil/policies/match"
	"github.com/vigilhq/vigil/policies/sigma"
)

// Limits are the complexity budget of loading rules: they bound the memory and time a rule file
// can cost, so that rules from an untrusted source (the server accepts rules over its API)
// cannot exhaust either. A rule over a limit is refused with a problem naming its file and line
// and the limit; the rest load. The per-load limits apply to one LoadPaths, LoadFS, ParseBytes
// or Merge call. A zero field takes its default (DefaultLimits).
//
// Within the defaults, loading one file of at most MaxFileBytes, building the engine and its
// prefilter allocates at most MemoryBound bytes in total (TestLoadMemoryBound and
// FuzzLoadMemoryBound check it on the shapes that cost most per byte).
type Limits struct {
	// MaxFileBytes is the largest rule file (default 2 MiB; SigmaHQ's largest is 295 KB).
	MaxFileBytes int
	// MaxValuesPerRule bounds one rule's (or filter's) values: as written, where each list
	// element and each reference to a YAML anchor counts, and as compiled, after placeholders
	// and the base64offset and encoding variants are expanded (default 10,000).
	MaxValuesPerRule int
	// MaxValues bounds the values of one load (default 250,000).
	MaxValues int
	// MaxRegexpPerRule bounds one rule's regular expressions, in RE2 program instructions
	// (default 20,000).
	MaxRegexpPerRule int
	// MaxRegexp bounds them across one load (default 100,000).
	MaxRegexp int
	// MaxPrefilterBytes bounds the prefilter literals of one load (each at most 64 bytes),
	// which bound the states of its Aho-Corasick automata (default 8 MiB).
	MaxPrefilterBytes int
}

// MemoryBound is what loading one rule file within the default Limits may allocate in total,
// engine and prefilter included (so also its peak memory): 512 MiB. The costliest shape per byte
// is a flow list (`[a,a,a,...]`): YAML parsing allocates about 128 bytes per byte of it.
const MemoryBound = 512 << 20

// DefaultLimits returns the limits a zero Limits stands for. The whole SigmaHQ corpus with the
// LOLRMM rules and the built-in pack (about 4,600 rules, the largest file 295 KB) uses about
// 52,000 values (4,432 in its largest rule), 11,000 regular-expression instructions (1,003 in one
// rule) and under 1 MB of prefilter literals.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:      sigma.MaxFileSize,
		MaxValuesPerRule:  match.DefaultMaxComparisonsPerRule,
		MaxValues:         match.DefaultMaxComparisons,
		MaxRegexpPerRule:  match.DefaultMaxRegexpPerRule,
		MaxRegexp:         match.DefaultMaxRegexp,
		MaxPrefilterBytes: match.DefaultMaxPrefilterBytes,
	}
}

func (l Limits) sigma() sigma.Limits {
	return sigma.Limits{MaxFileBytes: l.MaxFileBytes, MaxValuesPerDocument: l.MaxValuesPerRule, MaxValues: l.MaxValues}
}

// fileBytes is the file-size limit in force.
func (l Limits) fileBytes() int {
	if l.MaxFileBytes > 0 {
		return l.MaxFileBytes
	}
	return sigma.MaxFileSize
}

// apply sets b's limits to l's (totals keep running across sources of one load).
func (l Limits) apply(b *match.Budget) {
	b.MaxComparisonsPerRule, b.MaxComparisons = l.MaxValuesPerRule, l.MaxValues
	b.MaxRegexpPerRule, b.MaxRegexp = l.MaxRegexpPerRule, l.MaxRegexp
	b.MaxPrefilterBytes = l.MaxPrefilterBytes
}
