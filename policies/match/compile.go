package match

import (
	"regexp/syntax"
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
// in any value of the event, for keywords).
type Atom struct {
	Field int
	Lit   string
}

// Need is a necessary condition for a match: when OK, at least one atom occurs. When not OK the
// detection is unconstrained and is always evaluated.
type Need struct {
	OK    bool
	Atoms []Atom
}

// minAtom is the shortest literal worth indexing.
const minAtom = 2

func (n Need) score() int {
	if !n.OK {
		return -1
	}
	m := 1 << 30
	for _, a := range n.Atoms {
		m = min(m, len(a.Lit))
	}
	return min(m, 24)*1024 - min(len(n.Atoms), 1023)
}

func (a andNode) need() Need {
	best := Need{}
	for _, n := range a {
		if x := n.need(); x.score() > best.score() {
			best = x
		}
	}
	return best
}

func (o orNode) need() Need {
	var out Need
	out.OK = true
	for _, n := range o {
		x := n.need()
		if !x.OK {
			return Need{}
		}
		out.Atoms = append(out.Atoms, x.Atoms...)
	}
	return out
}

func (n *notNode) need() Need      { return Need{} }
func (n *nullNode) need() Need     { return Need{} }
func (n *existsNode) need() Need   { return Need{} }
func (n *fieldrefNode) need() Need { return Need{} }

func (in *itemNode) need() Need {
	var per []Need
	for _, g := range in.groups {
		gn := Need{OK: true}
		for _, x := range g {
			lits := x.need()
			if len(lits) == 0 {
				gn = Need{}
				break
			}
			for _, l := range lits {
				if len(l) < minAtom {
					gn = Need{}
					break
				}
				gn.Atoms = append(gn.Atoms, Atom{Field: in.field, Lit: l[:min(len(l), maxAtomLen)]})
			}
			if !gn.OK {
				break
			}
		}
		per = append(per, gn)
	}
	if in.all {
		best := Need{}
		for _, x := range per {
			if x.score() > best.score() {
				best = x
			}
		}
		return best
	}
	out := Need{OK: len(per) > 0}
	for _, x := range per {
		if !x.OK {
			return Need{}
		}
		out.Atoms = append(out.Atoms, x.Atoms...)
	}
	return out
}

// regexpLiterals extracts literals one of which every match of the simplified regexp re
// contains (folded), or nil.
func regexpLiterals(re *syntax.Regexp) []string {
	lits := required(re, 0)
	for _, l := range lits {
		if len(l) < minAtom {
			return nil
		}
	}
	return lits
}

func required(re *syntax.Regexp, depth int) []string {
	if depth > 64 {
		return nil
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r == utf8.RuneError {
				return nil
			}
		}
		return []string{Fold(string(re.Rune))}
	case syntax.OpCapture:
		return required(re.Sub[0], depth+1)
	case syntax.OpPlus:
		return required(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0], depth+1)
		}
		return nil
	case syntax.OpConcat:
		var best []string
		bestScore := -1
		for _, s := range re.Sub {
			l := required(s, depth+1)
			if l == nil {
				continue
			}
			sc := 1 << 30
			for _, x := range l {
				sc = min(sc, len(x))
			}
			if sc > bestScore {
				best, bestScore = l, sc
			}
		}
		return best
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			l := required(s, depth+1)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	}
	return nil
}
