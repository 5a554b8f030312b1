package sigma

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// Cond is a node of a parsed condition: *And, *Or, *Not, *Ref or *Of.
type Cond interface {
	String() string
}

// And is the conjunction of its arguments.
type And struct{ Args []Cond }

// Or is the disjunction of its arguments.
type Or struct{ Args []Cond }

// Not negates its argument.
type Not struct{ Arg Cond }

// Ref names one search identifier.
type Ref struct{ Name string }

// Of is "1 of P" (All false) or "all of P" over the identifiers Names that Pattern matched
// (Pattern "them" means every identifier not starting with "_").
type Of struct {
	All     bool
	Pattern string
	Names   []string
}

func (c *And) String() string { return join("and", c.Args) }
func (c *Or) String() string  { return join("or", c.Args) }
func (c *Not) String() string { return "not " + c.Arg.String() }
func (c *Ref) String() string { return c.Name }
func (c *Of) String() string {
	q := "1"
	if c.All {
		q = "all"
	}
	return q + " of " + c.Pattern
}

func join(op string, args []Cond) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return "(" + strings.Join(parts, " "+op+" ") + ")"
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string
	off  int
}

// condError is a condition syntax error at a byte offset of the condition text.
type condError struct {
	off int
	msg string
}

func (e *condError) Error() string { return e.msg }

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '*' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '|':
			return nil, &condError{i, fmt.Sprintf("legacy Sigma v1 aggregation pipe '|' at position %d (%q): aggregations are written as correlation rules in Sigma v2", i+1, strings.TrimSpace(s[i:]))}
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{tWord, s[i:j], i})
			i = j
		default:
			return nil, &condError{i, fmt.Sprintf("unexpected character %q at position %d", c, i+1)}
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}

// maxCondDepth bounds nesting (parentheses and 'not') so hostile conditions cannot exhaust the
// stack.
const maxCondDepth = 200

type condParser struct {
	toks  []token
	i     int
	depth int
	ids   map[string]bool
	// warnings collects "pattern matched nothing" notes.
	warnings []string
}

func (p *condParser) peek() token { return p.toks[p.i] }
func (p *condParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *condParser) errf(t token, format string, args ...any) error {
	where := fmt.Sprintf(" at position %d", t.off+1)
	if t.kind == tEOF {
		where = " at end of condition"
	} else {
		where += fmt.Sprintf(" (%q)", clip(t.text))
	}
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = clip(s)
		}
	}
	return &condError{t.off, fmt.Sprintf(format, args...) + where}
}

// clipLen is how much of a condition or token an error message quotes.
const clipLen = 60

// clip shortens s for an error message: its first clipLen bytes (whole code points), an
// ellipsis and its length, so a hostile 200 KB condition is not echoed whole.
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	cut := clipLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

func isOp(t token, op string) bool { return t.kind == tWord && t.text == op }

// parseCondition parses one condition string against the detection's identifiers. It returns the
// tree (nil when every term was dropped) and warnings for patterns that matched no identifier.
func parseCondition(s string, ids map[string]bool) (Cond, []string, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, nil, err
	}
	p := &condParser{toks: toks, ids: ids}
	for _, t := range toks {
		if t.kind != tWord {
			continue
		}
		switch t.text {
		case "AND", "OR", "NOT", "And", "Or", "Not":
			if !ids[t.text] {
				return nil, nil, p.errf(t, "operator %q must be lowercase (%q)", t.text, strings.ToLower(t.text))
			}
		case "near":
			return nil, nil, p.errf(t, "legacy Sigma v1 'near' operator is not supported (write a temporal correlation rule)")
		}
	}
	if p.peek().kind == tEOF {
		return nil, nil, p.errf(p.peek(), "empty condition")
	}
	c, err := p.parseOr()
	if err != nil {
		return nil, nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, nil, p.errf(t, "unbalanced ')'")
		}
		return nil, nil, p.errf(t, "expected 'and', 'or' or end of condition")
	}
	return c, p.warnings, nil
}

// Dropped terms (a pattern that matched nothing) are nil; and/or/not propagate nil upward by
// dropping the term, as pySigma does.

func (p *condParser) parseOr() (Cond, error) {
	var args []Cond
	for {
		c, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if c != nil {
			args = append(args, c)
		}
		if !isOp(p.peek(), "or") {
			break
		}
		p.next()
	}
	return combine(args, func(a []Cond) Cond { return &Or{a} }), nil
}

func (p *condParser) parseAnd() (Cond, error) {
	var args []Cond
	for {
		c, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if c != nil {
			args = append(args, c)
		}
		if !isOp(p.peek(), "and") {
			break
		}
		p.next()
	}
	return combine(args, func(a []Cond) Cond { return &And{a} }), nil
}

func combine(args []Cond, mk func([]Cond) Cond) Cond {
	switch len(args) {
	case 0:
		return nil
	case 1:
		return args[0]
	}
	return mk(args)
}

func (p *condParser) parseNot() (Cond, error) {
	if isOp(p.peek(), "not") {
		t := p.next()
		if p.depth++; p.depth > maxCondDepth {
			return nil, p.errf(t, "condition nested deeper than %d levels", maxCondDepth)
		}
		defer func() { p.depth-- }()
		c, err := p.parseNot()
		if err != nil || c == nil {
			return nil, err
		}
		return &Not{c}, nil
	}
	return p.parseAtom()
}

var reserved = map[string]bool{"and": true, "or": true, "not": true, "of": true, "them": true}

func (p *condParser) parseAtom() (Cond, error) {
	t := p.next()
	switch t.kind {
	case tEOF:
		return nil, p.errf(t, "expected an identifier, 'not', 'x of' or '('")
	case tRParen:
		return nil, p.errf(t, "unexpected ')'")
	case tLParen:
		if p.depth++; p.depth > maxCondDepth {
			return nil, p.errf(t, "condition nested deeper than %d levels", maxCondDepth)
		}
		defer func() { p.depth-- }()
		c, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != tRParen {
			return nil, p.errf(r, "expected ')' to close '(' at position %d", t.off+1)
		}
		return c, nil
	}
	// A quantifier?
	if isOp(p.peek(), "of") && (t.text == "1" || t.text == "all" || t.text == "any") {
		p.next()
		pt := p.next()
		if pt.kind != tWord || pt.text == "of" || reserved[pt.text] && pt.text != "them" {
			return nil, p.errf(pt, "expected an identifier pattern or 'them' after '%s of'", t.text)
		}
		return p.resolveOf(t.text == "all", pt)
	}
	if isOp(p.peek(), "of") {
		return nil, p.errf(t, "unsupported quantifier %q (use '1', 'any' or 'all')", t.text)
	}
	if reserved[t.text] {
		return nil, p.errf(t, "unexpected %q", t.text)
	}
	if strings.Contains(t.text, "*") {
		return nil, p.errf(t, "wildcard identifier %q needs a quantifier ('1 of' or 'all of')", t.text)
	}
	if !p.ids[t.text] {
		return nil, p.errf(t, "undefined search identifier %q", t.text)
	}
	return &Ref{t.text}, nil
}

func (p *condParser) resolveOf(all bool, pt token) (Cond, error) {
	var names []string
	for id := range p.ids {
		if pt.text == "them" {
			if !strings.HasPrefix(id, "_") {
				names = append(names, id)
			}
			continue
		}
		if strings.HasPrefix(id, "_") && !strings.HasPrefix(pt.text, "_") {
			continue
		}
		// path.Match treats only '*', '?', '[' and '\' specially; identifiers cannot hold the
		// last three, and the pattern alphabet excludes them, so '*' is the only wildcard.
		if ok, _ := path.Match(pt.text, id); ok {
			names = append(names, id)
		}
	}
	if len(names) == 0 {
		if pt.text == "them" {
			return nil, p.errf(pt, "'them' matches no identifier")
		}
		if !strings.Contains(pt.text, "*") {
			return nil, p.errf(pt, "undefined search identifier %q", pt.text)
		}
		p.warnings = append(p.warnings, fmt.Sprintf("condition pattern %q matches no search identifier: the term is dropped", clip(pt.text)))
		return nil, nil
	}
	sort.Strings(names)
	return &Of{All: all, Pattern: pt.text, Names: names}, nil
}
