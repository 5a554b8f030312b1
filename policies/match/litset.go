package match

// litSet matches many folded literal comparisons (equality, contains, startswith, endswith) of
// one OR item in one pass: an Aho-Corasick scan of the value for the others, a map for
// equality. Rules such as "CommandLine|contains: [60 values]" otherwise try each value in turn.
type litSet struct {
	exact map[string]bool
	ac    *acAutomaton
	kinds []patKind // per automaton pattern
	lens  []int
}

// minLitSet is the number of literal comparisons from which an item uses a litSet.
const minLitSet = 8

// maxLitSetBytes bounds the literals of one litSet; bigger items compare value by value.
const maxLitSetBytes = 32 << 10

// newLitSet takes the folded, non-empty literal comparisons out of groups (an OR of all their
// comparisons) into a litSet, and returns the others. It returns a nil set when there are too
// few for the set to pay, too many bytes of them, or when the budget's prefilter bytes (which
// the set's automaton counts against) are spent.
func newLitSet(groups [][]cmp, b *Budget) (*litSet, []cmp) {
	var lits, rest []cmp
	for _, g := range groups {
		for _, x := range g {
			if s, ok := x.(*strCmp); ok && !s.p.cased && s.p.lit != "" {
				switch s.p.kind {
				case pExact, pPrefix, pSuffix, pContains:
					lits = append(lits, x)
					continue
				}
			}
			rest = append(rest, x)
		}
	}
	if len(lits) < minLitSet {
		return nil, nil
	}
	size := 0
	for _, x := range lits {
		size += len(x.(*strCmp).p.lit)
	}
	if size > maxLitSetBytes || !b.tryAccel(size) {
		return nil, nil
	}
	ls := &litSet{exact: map[string]bool{}}
	var pats []string
	for _, x := range lits {
		p := x.(*strCmp).p
		if p.kind == pExact {
			ls.exact[p.lit] = true
			continue
		}
		pats = append(pats, p.lit)
		ls.kinds = append(ls.kinds, p.kind)
		ls.lens = append(ls.lens, len(p.lit))
	}
	if len(pats) > 0 {
		ls.ac = newAutomaton(pats)
	}
	return ls, rest
}

// match reports whether one of the set's comparisons matches the folded text s.
func (ls *litSet) match(s string) bool {
	if ls.exact[s] {
		return true
	}
	if ls.ac == nil {
		return false
	}
	return ls.ac.scanUntil(s, func(p int32, end int) bool {
		switch ls.kinds[p] {
		case pPrefix:
			return end+1 == ls.lens[p]
		case pSuffix:
			return end+1 == len(s)
		}
		return true
	})
}
