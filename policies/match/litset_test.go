package match

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// A litSet answers exactly what trying each of its comparisons in turn answers.
func TestLitSetAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte("ab\\.x"[rng.IntN(5)])
		}
		return b.String()
	}
	for round := 0; round < 2000; round++ {
		var groups [][]cmp
		var all []cmp
		for i := 0; i < minLitSet+rng.IntN(20); i++ {
			lit := word(1 + rng.IntN(4))
			var p pat
			switch rng.IntN(5) {
			case 0:
				p = literalPat(lit)
			case 1:
				p = literalPat(lit).withTrailingStar()
			case 2:
				p = literalPat(lit).withLeadingStar()
			case 3:
				p = literalPat(lit).withLeadingStar().withTrailingStar()
			default:
				p = parseSigmaString(lit + "*" + word(2)) // a glob: stays out of the set
			}
			x := &strCmp{compilePattern(p, false)}
			groups = append(groups, []cmp{x})
			all = append(all, x)
		}
		ls, rest := newLitSet(groups, nil)
		if ls == nil {
			continue
		}
		for k := 0; k < 20; k++ {
			text := word(rng.IntN(12))
			want := false
			for _, x := range all {
				if x.(*strCmp).p.Match(text) {
					want = true
				}
			}
			got := ls.match(text)
			for _, x := range rest {
				if x.(*strCmp).p.Match(text) {
					got = true
				}
			}
			if got != want {
				t.Fatalf("text %q: set %v, one by one %v (patterns %v)", text, got, want, all)
			}
		}
	}
}
