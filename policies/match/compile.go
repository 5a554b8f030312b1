package match

import (
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/vigilhq/vigil/policies/sigma"
)

// Compiler compiles detections. Fields is shared by every matcher evaluated with one Ctx.
type Compiler struct {
	Fields       *FieldTable
	Placeholders map[string][]string
	// Budget, when set, bounds what the detections compiled with this Compiler may cost.
	Budget *Budget
}

// Matcher is a compiled detection.
type Matcher struct {
	root node
	// Need is the prefilter's necessary condition for the detection to match.
	Need Need
}

// Match evaluates the detection on the Ctx's current event.
func (m *Matcher) Match(c *Ctx) bool { return m.root.eval(c) }

// Compile compiles a detection. Errors carry positions; the caller adds the file name.
func (cm *Compiler) Compile(det *sigma.Detection) (*Matcher, []sigma.Error) {
	cm.Budget.begin()
	searches := map[string]node{}
	var errs []sigma.Error
	for _, name := range det.Order {
		n, err := cm.search(det.Searches[name])
		if err != nil {
			errs = append(errs, sigma.Error{Line: err.pos.Line, Column: err.pos.Column, Message: err.msg})
			if err.budget {
				break // the budget is spent: the other searches would only repeat it
			}
			continue
		}
		searches[name] = n
	}
	if len(errs) == 0 {
		root := condNode(det.Condition, searches)
		m := &Matcher{root: root, Need: root.need()}
		if err := cm.Budget.chargePrefilter(m.Need, det.ConditionPos); err != nil {
			errs = append(errs, sigma.Error{Line: err.pos.Line, Column: err.pos.Column, Message: err.msg})
		} else {
			return m, nil
		}
	}
	return nil, errs
}

func condNode(c sigma.Cond, s map[string]node) node {
	switch t := c.(type) {
	case *sigma.And:
		var a andNode
		for _, x := range t.Args {
			a = append(a, condNode(x, s))
		}
		return a
	case *sigma.Or:
		var o orNode
		for _, x := range t.Args {
			o = append(o, condNode(x, s))
		}
		return o
	case *sigma.Not:
		return &notNode{condNode(t.Arg, s)}
	case *sigma.Ref:
		return s[t.Name]
	case *sigma.Of:
		args := make([]node, len(t.Names))
		for i, n := range t.Names {
			args[i] = s[n]
		}
		if len(args) == 1 {
			return args[0]
		}
		if t.All {
			return andNode(args)
		}
		return orNode(args)
	}
	panic("match: unknown condition node")
}

func (cm *Compiler) search(s *sigma.Search) (node, *compileError) {
	var alts orNode
	for _, conj := range s.Any {
		var and andNode
		for _, it := range conj {
			n, err := cm.item(it)
			if err != nil {
				return nil, err
			}
			and = append(and, n)
		}
		if len(and) == 1 {
			alts = append(alts, and[0])
		} else {
			alts = append(alts, and)
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

func (cm *Compiler) item(it *sigma.Item) (node, *compileError) {
	var n node
	switch {
	case it.Has("exists"):
		n = &existsNode{field: cm.Fields.ID(it.Field), want: strings.EqualFold(it.Values[0].Text, "true")}
	case len(it.Values) == 1 && it.Values[0].Kind == sigma.Null:
		n = &nullNode{field: cm.Fields.ID(it.Field)}
	case it.Has("fieldref"):
		fr := &fieldrefNode{field: cm.Fields.ID(it.Field), all: it.Has("all"), cased: it.Has("cased")}
		switch {
		case it.Has("contains"):
			fr.mode = pContains
		case it.Has("startswith"):
			fr.mode = pPrefix
		case it.Has("endswith"):
			fr.mode = pSuffix
		}
		for _, v := range it.Values {
			if strings.ContainsAny(v.Text, "*?") || v.Text == "" {
				return nil, errAt(v.Pos, "fieldref value %q must be a field name without wildcards", v.Text)
			}
			fr.others = append(fr.others, cm.Fields.ID(v.Text))
		}
		n = fr
	default:
		groups, err := cm.valueGroups(it)
		if err != nil {
			return nil, err
		}
		in := &itemNode{field: -1, groups: groups, all: it.Has("all")}
		if !it.Keyword {
			in.field = cm.Fields.ID(it.Field)
		}
		if !in.all {
			in.fast, in.rest = newLitSet(groups, cm.Budget)
		}
		n = in
	}
	if it.Has("neq") {
		// [pySigma] neq negates the whole item: NOT (v1 OR v2 ...), so an absent field matches.
		n = &notNode{n}
	}
	return n, nil
}

// node is a compiled condition or item.
type node interface {
	eval(c *Ctx) bool
	need() Need
}

type andNode []node
type orNode []node
type notNode struct{ n node }

func (a andNode) eval(c *Ctx) bool {
	for _, n := range a {
		if !n.eval(c) {
			return false
		}
	}
	return true
}

func (o orNode) eval(c *Ctx) bool {
	for _, n := range o {
		if n.eval(c) {
			return true
		}
	}
	return false
}

func (n *notNode) eval(c *Ctx) bool { return !n.n.eval(c) }

// itemNode compares a field (or, with field -1, every value of the event: keywords) with groups
// of comparisons: one group per value as written, OR-linked (AND with "all"); a group matches
// when any of its comparisons matches any element of the field's value.
type itemNode struct {
	field  int
	groups [][]cmp
	all    bool
	// fast, when set, matches the item's plain literal comparisons at once (an OR item with
	// many values); rest are its other comparisons.
	fast *litSet
	rest []cmp
}

func (in *itemNode) eval(c *Ctx) bool {
	var vals []scalar
	if in.field < 0 {
		vals = c.keywordValues()
	} else {
		e := c.field(in.field)
		if !e.present {
			return false
		}
		vals = e.vals
	}
	if len(vals) == 0 {
		return false
	}
	if in.fast != nil {
		for i := range vals {
			v := &vals[i]
			if v.kind == vNull || v.kind == vOther {
				continue
			}
			if in.fast.match(c.folded(v)) {
				return true
			}
			for _, x := range in.rest {
				if x.match(c, v) {
					return true
				}
			}
		}
		return false
	}
	for _, g := range in.groups {
		if groupMatch(c, g, vals) {
			if !in.all {
				return true
			}
		} else if in.all {
			return false
		}
	}
	return in.all
}

func groupMatch(c *Ctx, g []cmp, vals []scalar) bool {
	for i := range vals {
		for _, x := range g {
			if x.match(c, &vals[i]) {
				return true
			}
		}
	}
	return false
}

// nullNode: the field is absent or null.
type nullNode struct{ field int }

func (n *nullNode) eval(c *Ctx) bool {
	e := c.field(n.field)
	return !e.present || !e.list && len(e.vals) == 1 && e.vals[0].kind == vNull
}

// existsNode: presence only (null and empty count as present).
type existsNode struct {
	field int
	want  bool
}

func (n *existsNode) eval(c *Ctx) bool { return c.field(n.field).present == n.want }

// fieldrefNode compares a field with other fields of the same event, case-insensitively unless
// cased: equality, or contains/startswith/endswith.
type fieldrefNode struct {
	field  int
	others []int
	mode   patKind
	all    bool
	cased  bool
}

func (n *fieldrefNode) eval(c *Ctx) bool {
	e := c.field(n.field)
	if !e.present {
		return false
	}
	for _, o := range n.others {
		ok := n.pair(c, e, c.field(o))
		if ok && !n.all {
			return true
		}
		if !ok && n.all {
			return false
		}
	}
	return n.all
}

func (n *fieldrefNode) pair(c *Ctx, a, b *fieldEntry) bool {
	if !b.present {
		return false
	}
	for i := range a.vals {
		x := &a.vals[i]
		if x.kind == vNull || x.kind == vOther {
			continue
		}
		for j := range b.vals {
			y := &b.vals[j]
			if y.kind == vNull || y.kind == vOther {
				continue
			}
			xs, ys := x.raw, y.raw
			if !n.cased {
				xs, ys = c.folded(x), c.folded(y)
			}
			var ok bool
			switch n.mode {
			case pContains:
				ok = strings.Contains(xs, ys)
			case pPrefix:
				ok = strings.HasPrefix(xs, ys)
			case pSuffix:
				ok = strings.HasSuffix(xs, ys)
			default:
				ok = xs == ys
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// Atom is one literal of a prefilter condition: it must occur in the folded value of Field (-1:
// in any value of the event, for keywords); or, when Numeric, a value of Field must be the
// number Num (decimal or 0x text, or a number).
type Atom struct {
	Field   int
	Lit     string
	Numeric bool
	Num     float64
}

// size is what the atom costs the prefilter budget.
func (a Atom) size() int {
	if a.Numeric {
		return 8
	}
	return len(a.Lit)
}

// Need is the prefilter's necessary condition for a match, in conjunctive normal form: when OK,
// every clause has at least one atom that occurs in the event. When not OK the detection is
// unconstrained and is always evaluated. An AND keeps its children's clauses (the best
// maxClauses of them), so a rule is a candidate only when each part of it has a reason to match;
// an OR joins its children's best clauses into one.
type Need struct {
	OK      bool
	Clauses [][]Atom
}

// minAtom is the shortest literal worth indexing.
const minAtom = 2

// maxClauses bounds the clauses of one detection (the index keeps a bit per clause).
const maxClauses = 8

// clauseScore ranks a clause by selectivity: its shortest literal (longer is rarer, up to 24
// bytes), then fewer atoms.
func clauseScore(c []Atom) int {
	m := 1 << 30
	for _, a := range c {
		if a.Numeric {
			m = min(m, 8) // about as selective as an 8-byte literal
		} else {
			m = min(m, selectivity(a.Lit))
		}
	}
	return min(m, 24)*1024 - min(len(c), 1023)
}

// best returns the most selective clause.
func (n Need) best() []Atom {
	var b []Atom
	for _, c := range n.Clauses {
		if b == nil || clauseScore(c) > clauseScore(b) {
			b = c
		}
	}
	return b
}

// Atoms lists every atom of every clause.
func (n Need) Atoms() []Atom {
	var out []Atom
	for _, c := range n.Clauses {
		out = append(out, c...)
	}
	return out
}

// and combines needs that must all hold.
func and(needs []Need) Need {
	var out Need
	for _, x := range needs {
		if x.OK {
			out.OK = true
			out.Clauses = append(out.Clauses, x.Clauses...)
		}
	}
	if len(out.Clauses) > maxClauses {
		sort.SliceStable(out.Clauses, func(i, j int) bool { return clauseScore(out.Clauses[i]) > clauseScore(out.Clauses[j]) })
		out.Clauses = out.Clauses[:maxClauses]
	}
	return out
}

// or combines needs one of which holds: the union of their best clauses.
func or(needs []Need) Need {
	out := Need{OK: len(needs) > 0, Clauses: [][]Atom{nil}}
	for _, x := range needs {
		if !x.OK {
			return Need{}
		}
		out.Clauses[0] = append(out.Clauses[0], x.best()...)
	}
	if !out.OK {
		return Need{}
	}
	return out
}

func (a andNode) need() Need {
	needs := make([]Need, len(a))
	for i, n := range a {
		needs[i] = n.need()
	}
	return and(needs)
}

func (o orNode) need() Need {
	needs := make([]Need, len(o))
	for i, n := range o {
		needs[i] = n.need()
	}
	return or(needs)
}

func (n *notNode) need() Need      { return Need{} }
func (n *nullNode) need() Need     { return Need{} }
func (n *existsNode) need() Need   { return Need{} }
func (n *fieldrefNode) need() Need { return Need{} }

func (in *itemNode) need() Need {
	per := make([]Need, 0, len(in.groups))
	for _, g := range in.groups {
		var clause []Atom
		ok := true
		for _, x := range g {
			if nn, isNum := x.(interface{ numNeed() (float64, bool) }); isNum && in.field >= 0 {
				if f, ok2 := nn.numNeed(); ok2 {
					clause = append(clause, Atom{Field: in.field, Numeric: true, Num: f})
					continue
				}
			}
			lits := x.need()
			if len(lits) == 0 {
				ok = false
				break
			}
			for _, l := range lits {
				if len(l) < minAtom {
					ok = false
					break
				}
				clause = append(clause, Atom{Field: in.field, Lit: l[:min(len(l), maxAtomLen)]})
			}
			if !ok {
				break
			}
		}
		if ok {
			per = append(per, Need{OK: true, Clauses: [][]Atom{clause}})
		} else {
			per = append(per, Need{})
		}
	}
	if in.all {
		return and(per)
	}
	return or(per)
}

// regexpLiterals extracts literals one of which every match of the simplified regexp re
// contains (folded), or nil.
func regexpLiterals(re *syntax.Regexp) []string {
	return litsOf(re, 0).literals()
}

// maxExact bounds the exact sets of regexpLiterals: "[Pp]rogram[Dd]ata" is exactly one of four
// strings (one folded), "\.[ \"']" one of three.
const maxExact = 32

// litInfo describes what a regexp node matches, for the prefilter: exactly one of the strings of
// exact (folded), when exact is set; otherwise one of req occurs in every match (nil: nothing
// known).
type litInfo struct {
	isExact bool
	exact   []string
	req     []string
}

var anything = litInfo{}

func exactly(ss ...string) litInfo { return litInfo{isExact: true, exact: dedupe(ss)} }

func dedupe(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// literals turns the info into prefilter literals: nil when some match could contain none long
// enough.
func (l litInfo) literals() []string {
	lits := l.req
	if l.isExact {
		lits = l.exact
	}
	if len(lits) == 0 {
		return nil
	}
	for _, x := range lits {
		if len(x) < minAtom {
			return nil
		}
	}
	return lits
}

func litScore(lits []string) int {
	if lits == nil {
		return -1
	}
	m := 1 << 30
	for _, x := range lits {
		m = min(m, selectivity(x))
	}
	return min(m, 24)*1024 - min(len(lits), 1023)
}

func litsOf(re *syntax.Regexp, depth int) litInfo {
	if depth > 64 {
		return anything
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r == utf8.RuneError {
				return anything
			}
		}
		return exactly(Fold(string(re.Rune)))
	case syntax.OpCharClass:
		var ss []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] >= maxExact {
				return anything
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if r == utf8.RuneError || len(ss) >= maxExact {
					return anything
				}
				ss = append(ss, Fold(string(r)))
			}
		}
		return exactly(ss...)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactly("")
	case syntax.OpCapture:
		return litsOf(re.Sub[0], depth+1)
	case syntax.OpQuest:
		sub := litsOf(re.Sub[0], depth+1)
		if sub.isExact && len(sub.exact) < maxExact {
			return exactly(append(sub.exact, "")...)
		}
		return anything
	case syntax.OpPlus:
		return litInfo{req: litsOf(re.Sub[0], depth+1).literals()}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return litInfo{req: litsOf(re.Sub[0], depth+1).literals()}
		}
		return anything
	case syntax.OpConcat:
		// Runs of exact parts multiply out while small; each run, and each inexact part,
		// offers its literals, and the most selective offer wins.
		var best []string
		offer := func(lits []string) {
			if litScore(lits) > litScore(best) {
				best = lits
			}
		}
		run := []string{""}
		allExact := true
		for _, sub := range re.Sub {
			x := litsOf(sub, depth+1)
			if x.isExact && len(run)*len(x.exact) <= maxExact {
				var next []string
				for _, a := range run {
					for _, b := range x.exact {
						next = append(next, a+b)
					}
				}
				run = dedupe(next)
				continue
			}
			allExact = false
			offer(litInfo{isExact: true, exact: run}.literals())
			if x.isExact {
				run = x.exact
			} else {
				run = []string{""}
				offer(x.literals())
			}
		}
		if allExact {
			return exactly(run...)
		}
		offer(litInfo{isExact: true, exact: run}.literals())
		return litInfo{req: best}
	case syntax.OpAlternate:
		var all []string
		exact := true
		for _, sub := range re.Sub {
			x := litsOf(sub, depth+1)
			if x.isExact && exact {
				all = append(all, x.exact...)
				continue
			}
			exact = false
			lits := x.literals()
			if lits == nil {
				return anything
			}
			all = append(all, lits...)
		}
		if exact && len(all) <= maxExact {
			return exactly(all...)
		}
		// Not exact (or too many): every alternative must offer literals.
		var req []string
		for _, sub := range re.Sub {
			lits := litsOf(sub, depth+1).literals()
			if lits == nil {
				return anything
			}
			req = append(req, lits...)
		}
		return litInfo{req: dedupe(req)}
	}
	return anything
}
