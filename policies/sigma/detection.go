package sigma

import (
	"errors"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var ruleStructural = map[string]bool{"logsource": true, "detection": true}

func (p *parser) rule(d *yaml.Node) (*Rule, *docError) {
	r := &Rule{File: p.file, Pos: pos(d)}
	r.Meta = p.meta(d, ruleStructural)
	if r.Title == "" {
		return nil, fail(pos(d), "missing 'title'")
	}
	ls, err := p.logsource(d, true)
	if err != nil {
		return nil, err
	}
	r.Logsource = ls
	k, v := lookup(d, "detection")
	det, err := p.detection(k, v, nil)
	if err != nil {
		return nil, err
	}
	r.Detection = *det
	return r, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// detection parses a detection (or filter) mapping; skip names keys that are not identifiers.
func (p *parser) detection(k, v *yaml.Node, skip map[string]bool) (*Detection, *docError) {
	if v == nil || v.Kind != yaml.MappingNode {
		return nil, fail(pos(k), "'%s' must be a mapping of search identifiers and a condition", k.Value)
	}
	det := &Detection{Searches: map[string]*Search{}}
	var condKey, condVal *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], deref(v.Content[i+1])
		name := key.Value
		switch {
		case skip[name]:
			continue
		case name == "condition":
			condKey, condVal = key, val
			continue
		case name == "timeframe":
			return nil, fail(pos(key), "legacy Sigma v1 'timeframe' inside detection is not supported (write a correlation rule with 'timespan')")
		case !identRE.MatchString(name):
			return nil, fail(pos(key), "invalid search identifier %q (use letters, digits, '_' and '-')", name)
		}
		s, err := p.search(name, key, val)
		if err != nil {
			return nil, err
		}
		det.Searches[name] = s
		det.Order = append(det.Order, name)
	}
	if condKey == nil {
		return nil, fail(pos(k), "missing 'condition' in '%s'", k.Value)
	}
	if len(det.Searches) == 0 {
		return nil, fail(pos(k), "'%s' defines no search identifier", k.Value)
	}
	ids := map[string]bool{}
	for n := range det.Searches {
		ids[n] = true
	}
	var conds []*yaml.Node
	switch condVal.Kind {
	case yaml.ScalarNode:
		conds = []*yaml.Node{condVal}
	case yaml.SequenceNode:
		conds = condVal.Content
		if len(conds) == 0 {
			return nil, fail(pos(condKey), "empty condition list")
		}
	default:
		return nil, fail(pos(condKey), "'condition' must be a string or a list of strings")
	}
	var alts []Cond
	var texts []string
	var warns []string
	for _, cn := range conds {
		cn = deref(cn)
		if cn == nil || cn.Kind != yaml.ScalarNode || cn.ShortTag() == "!!null" {
			return nil, fail(pos(condKey), "condition must be a string")
		}
		c, w, err := parseCondition(cn.Value, ids)
		if err != nil {
			var ce *condError
			at := pos(cn)
			if errors.As(err, &ce) {
				at = condPos(cn, ce.off)
			}
			return nil, fail(at, "condition %q: %s", clip(strings.TrimSpace(cn.Value)), err.Error())
		}
		warns = append(warns, w...)
		texts = append(texts, strings.TrimSpace(cn.Value))
		if c != nil {
			alts = append(alts, c)
		}
	}
	for _, w := range warns {
		p.warnAt(pos(condVal), "%s", w)
	}
	det.ConditionText = strings.Join(texts, " | or | ")
	det.ConditionPos = pos(condVal)
	det.Condition = combine(alts, func(a []Cond) Cond { return &Or{a} })
	if det.Condition == nil {
		return nil, fail(pos(condVal), "condition %q reduces to nothing: every term names a pattern that matches no identifier", clip(det.ConditionText))
	}
	return det, nil
}

// condPos maps a byte offset of a condition scalar to a file position.
func condPos(n *yaml.Node, off int) Pos {
	v := n.Value
	if off > len(v) {
		off = len(v)
	}
	nl := strings.Count(v[:off], "\n")
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		col := off - strings.LastIndexByte(v[:off], '\n')
		return Pos{n.Line + nl + 1, n.Column + col}
	}
	if nl > 0 {
		return Pos{n.Line + nl, 0}
	}
	col := n.Column + off
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return Pos{n.Line, col}
}

func (p *parser) search(name string, key, v *yaml.Node) (*Search, *docError) {
	s := &Search{Name: name, Pos: pos(key)}
	if v == nil {
		return nil, fail(pos(key), "search identifier %q has no value", name)
	}
	switch v.Kind {
	case yaml.MappingNode:
		items, err := p.itemsOfMap(name, v)
		if err != nil {
			return nil, err
		}
		s.Any = [][]*Item{items}
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fail(pos(key), "search identifier %q is an empty list", name)
		}
		var kw *Item
		for _, e := range v.Content {
			e = deref(e)
			switch e.Kind {
			case yaml.MappingNode:
				items, err := p.itemsOfMap(name, e)
				if err != nil {
					return nil, err
				}
				s.Any = append(s.Any, items)
			case yaml.ScalarNode:
				if err := p.countValue(e); err != nil {
					return nil, err
				}
				val := scalarValue(e)
				if kw == nil {
					kw = &Item{Keyword: true, List: true, Pos: pos(e)}
				}
				kw.Values = append(kw.Values, val)
			default:
				return nil, fail(pos(e), "search identifier %q: a list may hold mappings or keyword scalars, not nested lists", name)
			}
		}
		if kw != nil {
			if _, msg := checkModifiers(kw); msg != "" {
				return nil, fail(kw.Pos, "search identifier %q: %s", name, msg)
			}
			if len(s.Any) == 0 {
				s.Any = [][]*Item{{kw}}
			} else {
				// Keywords mixed into a list of maps are alternatives of their own [pySigma].
				for _, val := range kw.Values {
					s.Any = append(s.Any, []*Item{{Keyword: true, Values: []Value{val}, Pos: val.Pos}})
				}
			}
		}
	case yaml.ScalarNode:
		if err := p.countValue(v); err != nil {
			return nil, err
		}
		val := scalarValue(v)
		if val.Kind == Null {
			return nil, fail(pos(key), "search identifier %q has no value", name)
		}
		s.Any = [][]*Item{{{Keyword: true, Values: []Value{val}, Pos: pos(v)}}}
	default:
		return nil, fail(pos(key), "search identifier %q has an unsupported value", name)
	}
	return s, nil
}

func scalarValue(n *yaml.Node) Value {
	v := Value{Text: n.Value, Pos: pos(n), Quoted: n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0}
	switch n.ShortTag() {
	case "!!int":
		v.Kind = Int
	case "!!float":
		v.Kind = Float
	case "!!bool":
		v.Kind = Bool
	case "!!null":
		v.Kind = Null
	}
	return v
}

func (p *parser) itemsOfMap(name string, m *yaml.Node) ([]*Item, *docError) {
	if len(m.Content) == 0 {
		return nil, fail(pos(m), "search identifier %q is an empty mapping", name)
	}
	var items []*Item
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		parts := strings.Split(k.Value, "|")
		it := &Item{Field: parts[0], Modifiers: parts[1:], Pos: pos(k)}
		it.Keyword = it.Field == ""
		switch v.Kind {
		case yaml.ScalarNode:
			if err := p.countValue(v); err != nil {
				return nil, err
			}
			it.Values = []Value{scalarValue(v)}
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				// Field: [] means null [pySigma].
				it.Values = []Value{{Kind: Null, Pos: pos(v)}}
				break
			}
			it.List = true
			for _, e := range v.Content {
				e = deref(e)
				if e.Kind != yaml.ScalarNode {
					return nil, fail(pos(e), "search identifier %q: field %s: list elements must be scalars", name, quoteKey(it))
				}
				if err := p.countValue(e); err != nil {
					return nil, err
				}
				it.Values = append(it.Values, scalarValue(e))
			}
		case yaml.MappingNode:
			return nil, fail(pos(k), "search identifier %q: field %s: value is a mapping (nested mappings are not Sigma; is the indentation wrong?)", name, quoteKey(it))
		default:
			return nil, fail(pos(k), "search identifier %q: field %s: unsupported value", name, quoteKey(it))
		}
		w, msg := checkModifiers(it)
		if msg != "" {
			return nil, fail(pos(k), "search identifier %q: %s", name, msg)
		}
		for _, x := range w {
			p.warnAt(pos(k), "search identifier %q: %s", name, x)
		}
		items = append(items, it)
	}
	return items, nil
}
