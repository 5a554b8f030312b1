package match

import (
	"regexp/syntax"

	"github.com/vigilhq/vigil/policies/sigma"
)

// Default budget limits (see Budget). The whole SigmaHQ corpus with LOLRMM and the built-in pack
// (about 4,600 rules) uses about 52,000 comparisons (4,432 in its largest rule), 12,000 regular
// expression instructions (1,003 in one rule) and 1.3 MB of prefilter literals (litSets included).
const (
	DefaultMaxComparisonsPerRule = 10000
	DefaultMaxComparisons        = 250000
	DefaultMaxRegexpPerRule      = 20000
	DefaultMaxRegexp             = 100000
	DefaultMaxPrefilterBytes     = 8 << 20
)

// maxAtomLen caps a prefilter literal: a prefix of a literal every match contains is one too, and
// selectivity stops growing long before (Need.score caps at 24 bytes), so the automaton's states
// are bounded by 64 per atom.
const maxAtomLen = 64

// Budget bounds what compiling detections may cost, so that rules from an untrusted source cannot
// exhaust memory or time: comparisons (one per value, after lists, anchors, placeholders and the
// base64offset and encoding variants are expanded), regular-expression program size (RE2
// instructions) and prefilter literal bytes (which bound the Aho-Corasick automaton's states).
// Its totals run across every Compile made with it (one load); zero limits take the defaults.
// A detection over budget is refused with an error at the value that crossed it. What a refused
// detection compiled still counts against the totals: the work was done, and otherwise every
// later rule could spend the same headroom again.
type Budget struct {
	MaxComparisonsPerRule, MaxComparisons int
	MaxRegexpPerRule, MaxRegexp           int
	MaxPrefilterBytes                     int

	comparisons, regexp, prefilter int // totals
	ruleComparisons, ruleRegexp    int // the detection being compiled
}

func (b *Budget) limits() (cmpRule, cmpTotal, reRule, reTotal, pre int) {
	or := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	return or(b.MaxComparisonsPerRule, DefaultMaxComparisonsPerRule), or(b.MaxComparisons, DefaultMaxComparisons),
		or(b.MaxRegexpPerRule, DefaultMaxRegexpPerRule), or(b.MaxRegexp, DefaultMaxRegexp),
		or(b.MaxPrefilterBytes, DefaultMaxPrefilterBytes)
}

// Used reports the totals charged so far: comparisons, regexp instructions, prefilter bytes.
func (b *Budget) Used() (comparisons, regexpInsts, prefilterBytes int) {
	return b.comparisons, b.regexp, b.prefilter
}

func (b *Budget) chargeComparisons(n int, at sigma.Pos) *compileError {
	if b == nil {
		return nil
	}
	perRule, total, _, _, _ := b.limits()
	return charge(&b.ruleComparisons, &b.comparisons, n, perRule, total, at,
		"more than %d comparisons in one rule (values after lists, placeholders and base64offset/encoding variants are expanded)",
		"the rules loaded together have more than %d comparisons")
}

// chargeRegexp charges the program size of a parsed regular expression, before the costly
// regexp.Compile.
func (b *Budget) chargeRegexp(re *syntax.Regexp, at sigma.Pos) *compileError {
	if b == nil {
		return nil
	}
	prog, err := syntax.Compile(re)
	if err != nil {
		return nil // regexp.Compile reports it
	}
	_, _, perRule, total, _ := b.limits()
	return charge(&b.ruleRegexp, &b.regexp, len(prog.Inst), perRule, total, at,
		"the rule's regular expressions compile to more than %d instructions",
		"the regular expressions of the rules loaded together compile to more than %d instructions")
}

// charge adds n to a rule's counter and to the load's, and reports the first limit crossed.
func charge(rule, load *int, n, maxRule, maxLoad int, at sigma.Pos, ruleMsg, loadMsg string) *compileError {
	*rule += n
	*load += n
	switch {
	case *rule > maxRule:
		return errAt(at, "over the complexity budget: "+ruleMsg, maxRule)
	case *load > maxLoad:
		return errAt(at, "over the complexity budget: "+loadMsg, maxLoad)
	}
	return nil
}

func (b *Budget) chargePrefilter(need Need, at sigma.Pos) *compileError {
	if b == nil || !need.OK {
		return nil
	}
	_, _, _, _, total := b.limits()
	for _, a := range need.Atoms() {
		b.prefilter += a.size()
	}
	if b.prefilter > total {
		return errAt(at, "over the complexity budget: the prefilter literals of the rules loaded together exceed %d bytes", total)
	}
	return nil
}

// tryAccel charges n bytes of an optional accelerating automaton (a litSet) to the prefilter
// bytes, and reports whether they fit; when they do not, the caller does without.
func (b *Budget) tryAccel(n int) bool {
	if b == nil {
		return true
	}
	_, _, _, _, total := b.limits()
	if b.prefilter+n > total {
		return false
	}
	b.prefilter += n
	return true
}

// begin starts a detection.
func (b *Budget) begin() {
	if b != nil {
		b.ruleComparisons, b.ruleRegexp = 0, 0
	}
}
