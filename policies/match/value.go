package match

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vigilhq/vigil/policies/sigma"
)

// cmp compares one event scalar with one rule value.
type cmp interface {
	match(c *Ctx, v *scalar) bool
	// need lists literals (folded) one of which the scalar's folded text contains whenever the
	// comparison matches; nil when no such literal is known.
	need() []string
}

// strCmp is a string or wildcard comparison.
type strCmp struct{ p *Pattern }

func (s *strCmp) match(c *Ctx, v *scalar) bool {
	if v.kind == vNull || v.kind == vOther {
		return false
	}
	if s.p.cased {
		return s.p.Match(v.raw)
	}
	return s.p.Match(c.folded(v))
}

func (s *strCmp) need() []string {
	if l := s.p.src.longestLiteral(); l != "" {
		return []string{l}
	}
	return nil
}

// numCmp is a rule number: the lexical text (case-insensitively), or numeric equality.
type numCmp struct {
	text string // folded lexical text
	f    float64
	ok   bool
}

func (n *numCmp) match(c *Ctx, v *scalar) bool {
	switch v.kind {
	case vNull, vOther, vBool:
		return false
	}
	if c.folded(v) == n.text {
		return true
	}
	f, ok := v.number()
	if !ok || !n.ok {
		return false
	}
	// Below 2^53 every integer is exact in a float64; beyond it, compare the decimal values
	// exactly, so 9007199254740993 does not equal 9007199254740992.
	if math.Abs(f) < 1<<53 && math.Abs(n.f) < 1<<53 {
		return f == n.f
	}
	return exactEqual(n.text, v.raw)
}

// exactEqual compares two numbers written as parseNumber accepts them, exactly.
func exactEqual(a, b string) bool {
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	return okx && oky && x.Cmp(y) == 0
}

func (n *numCmp) need() []string { return nil }

// numNeed is the number the prefilter can look an event value up by: a match means the texts
// are equal (so, both parsing alike, the numbers too) or the numbers are. Only a rule text that
// parseNumber reads qualifies (not "1_000", whose text could equal an event's unparsed one).
func (n *numCmp) numNeed() (float64, bool) {
	f, ok := parseNumber(n.text)
	return f, ok && n.ok && f == n.f
}

// boolCmp is a rule boolean: an event boolean, or the text "true"/"false" in any case.
type boolCmp struct{ b bool }

func (b *boolCmp) match(c *Ctx, v *scalar) bool {
	switch v.kind {
	case vBool:
		return v.b == b.b
	case vString:
		if b.b {
			return strings.EqualFold(v.raw, "true")
		}
		return strings.EqualFold(v.raw, "false")
	}
	return false
}

func (b *boolCmp) need() []string { return nil }

// reCmp is a regular expression search over the raw (unfolded) text.
type reCmp struct {
	re   *regexp.Regexp
	lits []string
}

func (r *reCmp) match(c *Ctx, v *scalar) bool {
	if v.kind == vNull || v.kind == vOther {
		return false
	}
	return r.re.MatchString(v.raw)
}

func (r *reCmp) need() []string { return r.lits }

// cidrCmp is network membership.
type cidrCmp struct{ p netip.Prefix }

func (n *cidrCmp) match(c *Ctx, v *scalar) bool {
	if v.kind != vString {
		return false
	}
	s := v.raw
	if i := strings.IndexByte(s, '%'); i >= 0 { // zone
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return n.p.Contains(a.Unmap())
}

func (n *cidrCmp) need() []string { return nil }

// ordCmp is gt/gte/lt/lte (or, with a time part, equality when op is "eq").
type ordCmp struct {
	op   string
	f    float64
	part string // time part, "" for the value itself
}

func (o *ordCmp) match(c *Ctx, v *scalar) bool {
	var x float64
	if o.part != "" {
		t, ok := v.timestamp()
		if !ok {
			return false
		}
		x = float64(timePart(t, o.part))
	} else {
		f, ok := v.number()
		if !ok {
			return false
		}
		x = f
	}
	switch o.op {
	case "gt":
		return x > o.f
	case "gte":
		return x >= o.f
	case "lt":
		return x < o.f
	case "lte":
		return x <= o.f
	}
	return x == o.f
}

func (o *ordCmp) need() []string { return nil }

func timePart(t time.Time, part string) int {
	switch part {
	case "minute":
		return t.Minute()
	case "hour":
		return t.Hour()
	case "day":
		return t.Day()
	case "week":
		_, w := t.ISOWeek()
		return w
	case "month":
		return int(t.Month())
	}
	return t.Year()
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// timestamp parses the value as a time: RFC 3339, "2006-01-02 15:04:05.000" (Sysmon UtcTime,
// taken as UTC), or a number of seconds (milliseconds when ≥ 1e11) since the epoch. The result
// is in UTC.
func (v *scalar) timestamp() (time.Time, bool) {
	switch v.kind {
	case vNumber:
	case vString:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, v.raw); err == nil {
				return t.UTC(), true
			}
		}
	default:
		return time.Time{}, false
	}
	f, ok := v.number()
	if !ok || math.Abs(f) > 1e16 {
		return time.Time{}, false
	}
	if math.Abs(f) >= 1e11 {
		return time.UnixMilli(int64(f)).UTC(), true
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// compileError is a refusal at a value's position.
type compileError struct {
	pos    sigma.Pos
	msg    string
	budget bool // the complexity budget is spent
}

func errAt(p sigma.Pos, format string, args ...any) *compileError {
	return &compileError{pos: p, msg: fmt.Sprintf(format, args...)}
}

// expandPlaceholders substitutes %name% placeholders (values from opts), producing every
// combination. "\%" is a literal percent sign.
func expandPlaceholders(v sigma.Value, ph map[string][]string) ([]string, *compileError) {
	outs := []string{""}
	s := v.Text
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\':
			for j := range outs {
				outs[j] += `\\`
			}
			i += 2
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '%':
			for j := range outs {
				outs[j] += "%"
			}
			i += 2
		case s[i] == '%':
			end := strings.IndexByte(s[i+1:], '%')
			if end < 0 {
				return nil, errAt(v.Pos, "unterminated placeholder in %q (a literal percent sign is written \\%%)", s)
			}
			name := s[i+1 : i+1+end]
			vals, ok := ph[name]
			if !ok {
				return nil, errAt(v.Pos, "unresolved placeholder %%%s%% in %q: supply its values in the load options", name, s)
			}
			if len(vals) == 0 {
				return nil, errAt(v.Pos, "placeholder %%%s%% has no values", name)
			}
			var next []string
			for _, o := range outs {
				for _, x := range vals {
					next = append(next, o+x)
				}
			}
			if len(next) > 4096 {
				return nil, errAt(v.Pos, "placeholders in %q expand to more than 4096 values", s)
			}
			outs = next
			i += end + 2
		default:
			for j := range outs {
				outs[j] += s[i : i+1]
			}
			i++
		}
	}
	return outs, nil
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// windash turns each '-' or '/' that starts a flag (pySigma's regex \B[-/]\b within one literal
// run) into a position matching any of - / – — ―. A character class instead of 5^n expanded
// strings: the same meaning without the blow-up.
func windash(p pat) pat {
	var out pat
	for _, t := range p {
		if t.kind != tkLit {
			out = append(out, t)
			continue
		}
		s := t.lit
		start := 0
		prevWord := false
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == '-' || r == '/') && !prevWord && i+n < len(s) {
				nr, _ := utf8.DecodeRuneInString(s[i+n:])
				if isWordRune(nr) {
					if i > start {
						out = append(out, tok{kind: tkLit, lit: s[start:i]})
					}
					out = append(out, tok{kind: tkDash})
					start = i + n
				}
			}
			prevWord = isWordRune(r)
			i += n
		}
		if start < len(s) {
			out = append(out, tok{kind: tkLit, lit: s[start:]})
		}
	}
	return out
}

func encodeUTF16(s string, bigEndian, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three base64offset variants of s (offsets 0, 1 and 2), with the
// characters that depend on unknown neighbouring bytes cut off.
func base64Offsets(s string) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		end := len(enc) - ends[(len(s)+i)%3]
		if starts[i] >= end {
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

// item compiles one detection item's values into groups of comparisons: one group per value as
// written (an OR of its expansions).
func (cm *Compiler) valueGroups(it *sigma.Item) ([][]cmp, *compileError) {
	var groups [][]cmp
	mods := it.Modifiers
	has := it.Has
	cased := has("cased")
	var part, ordOp string
	for _, m := range mods {
		switch m {
		case "minute", "hour", "day", "week", "month", "year":
			part = m
		case "gt", "gte", "lt", "lte":
			ordOp = m
		}
	}
	for _, v := range it.Values {
		// Each value is one comparison at least; its expansions are charged below.
		if err := cm.Budget.chargeComparisons(1, v.Pos); err != nil {
			err.budget = true
			return nil, err
		}
		switch {
		case has("re"):
			c, err := cm.compileRegexp(v, it)
			if err != nil {
				return nil, err
			}
			groups = append(groups, []cmp{c})
			continue
		case has("cidr"):
			s := v.Text
			var p netip.Prefix
			var err error
			if strings.Contains(s, "/") {
				p, err = netip.ParsePrefix(s)
			} else {
				var a netip.Addr
				a, err = netip.ParseAddr(s)
				if err == nil {
					p = netip.PrefixFrom(a, a.BitLen())
				}
			}
			if err != nil {
				return nil, errAt(v.Pos, "cidr value %q is not an IPv4 or IPv6 network: %v", v.Text, err)
			}
			groups = append(groups, []cmp{&cidrCmp{p.Masked()}})
			continue
		case part != "" || ordOp != "":
			f, ok := parseNumber(v.Text)
			if v.Kind != sigma.Int && v.Kind != sigma.Float && !(v.Kind == sigma.String && ok) || !ok {
				return nil, errAt(v.Pos, "value %q of %s must be a number", v.Text, keyOf(it))
			}
			op := ordOp
			if op == "" {
				op = "eq"
			}
			groups = append(groups, []cmp{&ordCmp{op: op, f: f, part: part}})
			continue
		}
		// Plain numbers and booleans without string modifiers compare as such.
		stringMods := false
		for _, m := range mods {
			switch m {
			case "all", "neq":
			default:
				stringMods = true
			}
		}
		if !stringMods && !it.Keyword {
			switch v.Kind {
			case sigma.Int, sigma.Float:
				f, ok := parseNumber(v.Text)
				if !ok {
					if i, err := strconv.ParseInt(strings.ReplaceAll(v.Text, "_", ""), 0, 64); err == nil {
						f, ok = float64(i), true
					}
				}
				groups = append(groups, []cmp{&numCmp{text: Fold(v.Text), f: f, ok: ok}})
				continue
			case sigma.Bool:
				groups = append(groups, []cmp{&boolCmp{strings.EqualFold(v.Text, "true")}})
				continue
			}
		}
		pats, err := cm.stringPatterns(v, it)
		if err != nil {
			return nil, err
		}
		var g []cmp
		for _, p := range pats {
			g = append(g, &strCmp{compilePattern(p, cased)})
		}
		if err := cm.Budget.chargeComparisons(len(g)-1, v.Pos); err != nil {
			err.budget = true
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// stringPatterns runs a value through the string modifiers, in the written order.
func (cm *Compiler) stringPatterns(v sigma.Value, it *sigma.Item) ([]pat, *compileError) {
	texts := []string{v.Text}
	if it.Has("expand") {
		var err *compileError
		texts, err = expandPlaceholders(v, cm.Placeholders)
		if err != nil {
			return nil, err
		}
	}
	var pats []pat
	for _, t := range texts {
		pats = append(pats, parseSigmaString(t))
	}
	for _, m := range it.Modifiers {
		var next []pat
		for _, p := range pats {
			switch m {
			case "contains":
				next = append(next, p.withLeadingStar().withTrailingStar())
			case "startswith":
				next = append(next, p.withTrailingStar())
			case "endswith":
				next = append(next, p.withLeadingStar())
			case "windash":
				next = append(next, windash(p))
			case "base64", "base64offset", "utf16le", "wide", "utf16be", "utf16":
				if p.hasWildcards() {
					return nil, errAt(v.Pos, "wildcards are not allowed in %s values (%q in %s); escape them with a backslash", m, v.Text, keyOf(it))
				}
				s := p.text()
				switch m {
				case "base64":
					next = append(next, literalPat(base64.StdEncoding.EncodeToString([]byte(s))))
				case "base64offset":
					for _, x := range base64Offsets(s) {
						next = append(next, literalPat(x))
					}
				case "utf16le", "wide":
					next = append(next, literalPat(encodeUTF16(s, false, false)))
				case "utf16be":
					next = append(next, literalPat(encodeUTF16(s, true, false)))
				case "utf16":
					next = append(next, literalPat(encodeUTF16(s, false, true)))
				}
			default:
				next = append(next, p)
			}
		}
		pats = next
	}
	if it.Keyword {
		// A keyword is a substring of any value.
		for i := range pats {
			pats[i] = pats[i].withLeadingStar().withTrailingStar()
		}
	}
	return pats, nil
}

var (
	lookaroundRE = regexp.MustCompile(`\(\?<?[=!]`)
	backrefRE    = regexp.MustCompile(`\\[1-9]|\\k<`)
)

func (cm *Compiler) compileRegexp(v sigma.Value, it *sigma.Item) (*reCmp, *compileError) {
	flags := ""
	for _, m := range it.Modifiers {
		switch m {
		case "i", "ignorecase":
			flags += "i"
		case "m", "multiline":
			flags += "m"
		case "s", "dotall":
			flags += "s"
		}
	}
	expr := v.Text
	switch {
	case it.Has("startswith"):
		expr = `\A(?:` + expr + `)`
	case it.Has("endswith"):
		expr = `(?:` + expr + `)\z`
	}
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	expr = translatePCRE(expr)
	var lits []string
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		simple := tree.Simplify()
		if err := cm.Budget.chargeRegexp(simple, v.Pos); err != nil {
			err.budget = true
			return nil, err
		}
		lits = regexpLiterals(simple)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		msg := err.Error()
		if lookaroundRE.MatchString(v.Text) || backrefRE.MatchString(v.Text) {
			msg = "lookaround and backreferences are not supported (Go regexp is RE2): " + msg
		}
		return nil, errAt(v.Pos, "regular expression %q in %s does not compile: %s", v.Text, keyOf(it), msg)
	}
	return &reCmp{re: re, lits: lits}, nil
}

func keyOf(it *sigma.Item) string {
	k := it.Field
	for _, m := range it.Modifiers {
		k += "|" + m
	}
	if k == "" {
		return "keywords"
	}
	return "'" + k + "'"
}
