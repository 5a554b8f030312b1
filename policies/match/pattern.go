package match

import (
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of one element of a Sigma value pattern.
type tokKind uint8

const (
	tkLit  tokKind = iota // literal text
	tkStar                // '*': any sequence, newlines included
	tkOne                 // '?': exactly one code point
	tkDash                // windash: one of - / U+2013 U+2014 U+2015
)

type tok struct {
	kind tokKind
	lit  string
}

// pat is a value pattern: literals merged, consecutive stars collapsed.
type pat []tok

// dashRunes are the characters a windash position matches.
var dashRunes = [...]rune{'-', '/', '\u2013', '\u2014', '\u2015'}

func isDash(r rune) bool {
	for _, d := range dashRunes {
		if r == d {
			return true
		}
	}
	return false
}

// parseSigmaString turns a Sigma string value into a pattern: '*' and '?' are wildcards; a
// backslash escapes only '*', '?' and '\'; any other backslash (a trailing one included) is a
// literal backslash.
func parseSigmaString(s string) pat {
	var p pat
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, tok{kind: tkLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			p = p.add(tok{kind: tkStar})
		case '?':
			flush()
			p = append(p, tok{kind: tkOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// literalPat is a pattern matching s literally.
func literalPat(s string) pat {
	if s == "" {
		return nil
	}
	return pat{{kind: tkLit, lit: s}}
}

// add appends t, merging literals and collapsing stars.
func (p pat) add(t tok) pat {
	if n := len(p); n > 0 {
		last := &p[n-1]
		if t.kind == tkStar && last.kind == tkStar {
			return p
		}
		if t.kind == tkLit && last.kind == tkLit {
			out := append(pat(nil), p...)
			out[n-1].lit += t.lit
			return out
		}
	}
	if t.kind == tkLit && t.lit == "" {
		return p
	}
	return append(p, t)
}

func (p pat) hasWildcards() bool {
	for _, t := range p {
		if t.kind == tkStar || t.kind == tkOne {
			return true
		}
	}
	return false
}

// text is the literal text of a pattern without wildcards.
func (p pat) text() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteString(t.lit)
	}
	return b.String()
}

func (p pat) withLeadingStar() pat {
	if len(p) > 0 && p[0].kind == tkStar {
		return p
	}
	return append(pat{{kind: tkStar}}, p...)
}

func (p pat) withTrailingStar() pat {
	if len(p) > 0 && p[len(p)-1].kind == tkStar {
		return p
	}
	return append(append(pat(nil), p...), tok{kind: tkStar})
}

// String renders the pattern back in Sigma syntax (windash positions as [-/–—―]).
func (p pat) String() string {
	var b strings.Builder
	for _, t := range p {
		switch t.kind {
		case tkLit:
			for _, r := range t.lit {
				if r == '*' || r == '?' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		case tkStar:
			b.WriteByte('*')
		case tkOne:
			b.WriteByte('?')
		case tkDash:
			b.WriteString("[-/–—―]")
		}
	}
	return b.String()
}

// patKind classifies compiled patterns so the common cases are one string operation.
type patKind uint8

const (
	pExact patKind = iota
	pPrefix
	pSuffix
	pContains
	pAny
	pGlob
)

type segment struct {
	elems          []tok // tkLit, tkOne, tkDash
	minLen, maxLen int   // byte length bounds of a match
}

// Pattern is a compiled string pattern. Literals are case-folded unless the pattern is cased;
// Match expects text folded the same way.
type Pattern struct {
	kind      patKind
	lit       string
	segs      []segment
	leadStar  bool
	trailStar bool
	cased     bool
	src       pat
}

func compilePattern(p pat, cased bool) *Pattern {
	if !cased {
		f := make(pat, len(p))
		for i, t := range p {
			f[i] = t
			if t.kind == tkLit {
				f[i].lit = Fold(t.lit)
			}
		}
		p = f
	}
	cp := &Pattern{cased: cased, src: p}
	n := len(p)
	simple := true
	for _, t := range p {
		if t.kind == tkOne || t.kind == tkDash {
			simple = false
		}
	}
	if simple {
		switch {
		case n == 0:
			cp.kind, cp.lit = pExact, ""
			return cp
		case n == 1 && p[0].kind == tkLit:
			cp.kind, cp.lit = pExact, p[0].lit
			return cp
		case n == 1 && p[0].kind == tkStar:
			cp.kind = pAny
			return cp
		case n == 2 && p[0].kind == tkLit && p[1].kind == tkStar:
			cp.kind, cp.lit = pPrefix, p[0].lit
			return cp
		case n == 2 && p[0].kind == tkStar && p[1].kind == tkLit:
			cp.kind, cp.lit = pSuffix, p[1].lit
			return cp
		case n == 3 && p[0].kind == tkStar && p[1].kind == tkLit && p[2].kind == tkStar:
			cp.kind, cp.lit = pContains, p[1].lit
			return cp
		}
	}
	cp.kind = pGlob
	cp.leadStar = n > 0 && p[0].kind == tkStar
	cp.trailStar = n > 0 && p[n-1].kind == tkStar
	var cur segment
	for _, t := range p {
		if t.kind == tkStar {
			if len(cur.elems) > 0 {
				cp.segs = append(cp.segs, cur)
			}
			cur = segment{}
			continue
		}
		cur.elems = append(cur.elems, t)
		switch t.kind {
		case tkLit:
			cur.minLen += len(t.lit)
			cur.maxLen += len(t.lit)
		case tkOne:
			cur.minLen++
			cur.maxLen += utf8.UTFMax
		case tkDash:
			cur.minLen++
			cur.maxLen += 3
		}
	}
	if len(cur.elems) > 0 {
		cp.segs = append(cp.segs, cur)
	}
	return cp
}

// Match reports whether s (folded unless the pattern is cased) matches the whole pattern.
func (p *Pattern) Match(s string) bool {
	switch p.kind {
	case pExact:
		return s == p.lit
	case pPrefix:
		return strings.HasPrefix(s, p.lit)
	case pSuffix:
		return strings.HasSuffix(s, p.lit)
	case pContains:
		return strings.Contains(s, p.lit)
	case pAny:
		return true
	}
	return p.matchGlob(s)
}

// matchSeg matches seg at s[i:] and returns the end offset, or -1.
func matchSeg(seg *segment, s string, i int) int {
	for _, e := range seg.elems {
		switch e.kind {
		case tkLit:
			if !strings.HasPrefix(s[i:], e.lit) {
				return -1
			}
			i += len(e.lit)
		case tkOne:
			if i >= len(s) {
				return -1
			}
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		case tkDash:
			if i >= len(s) {
				return -1
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isDash(r) {
				return -1
			}
			i += n
		}
	}
	return i
}

// findSeg returns the end of the leftmost match of seg starting at or after pos, or -1.
func findSeg(seg *segment, s string, pos int) int {
	if first := seg.elems[0]; first.kind == tkLit {
		for pos <= len(s) {
			j := strings.Index(s[pos:], first.lit)
			if j < 0 {
				return -1
			}
			if isBoundary(s, pos+j) {
				if e := matchSeg(seg, s, pos+j); e >= 0 {
					return e
				}
			}
			pos += j + 1
		}
		return -1
	}
	for pos <= len(s)-seg.minLen {
		if e := matchSeg(seg, s, pos); e >= 0 {
			return e
		}
		_, n := utf8.DecodeRuneInString(s[pos:])
		pos += n
	}
	return -1
}

// matchGlob is the general case: segments between stars are matched leftmost-first (each
// segment's match end grows with its start, so the greedy choice is optimal) and the last one is
// anchored at the end. No recursion; work is bounded by len(s) times the pattern length.
func (p *Pattern) matchGlob(s string) bool {
	segs := p.segs
	pos := 0
	if len(segs) == 0 {
		return p.leadStar || len(s) == 0
	}
	if !p.leadStar {
		e := matchSeg(&segs[0], s, 0)
		if e < 0 {
			return false
		}
		if len(segs) == 1 && !p.trailStar {
			return e == len(s)
		}
		pos = e
		segs = segs[1:]
	}
	var last *segment
	if !p.trailStar && len(segs) > 0 {
		last = &segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	for i := range segs {
		e := findSeg(&segs[i], s, pos)
		if e < 0 {
			return false
		}
		pos = e
	}
	if last == nil {
		return true
	}
	lo := max(pos, len(s)-last.maxLen)
	for st := len(s) - last.minLen; st >= lo; st-- {
		if isBoundary(s, st) && matchSeg(last, s, st) == len(s) {
			return true
		}
	}
	return false
}

// isBoundary reports whether i is a code point boundary of s as forward decoding sees it (each
// byte of an invalid sequence is a code point of its own, as in package regexp).
func isBoundary(s string, i int) bool {
	if i <= 0 || i >= len(s) || utf8.RuneStart(s[i]) {
		return true
	}
	for k := 1; k <= 3 && i-k >= 0; k++ {
		if utf8.RuneStart(s[i-k]) {
			_, n := utf8.DecodeRuneInString(s[i-k:])
			return n <= k
		}
	}
	return true
}

// longestLiteral is the longest literal run of the pattern (folded), the prefilter's atom.
func (p pat) longestLiteral() string {
	best := ""
	for _, t := range p {
		if t.kind != tkLit {
			continue
		}
		if l := Fold(t.lit); selectivity(l) > selectivity(best) || selectivity(l) == selectivity(best) && len(l) > len(best) {
			best = l
		}
	}
	return best
}

// commonLiterals occur in most endpoint events, so they select nothing: a pattern such as
// 'g2a*.exe' is better indexed by "g2a" than by ".exe".
var commonLiterals = map[string]bool{
	".exe": true, ".dll": true, "exe": true, "dll": true, `c:\`: true, `:\`: true, `\windows\`: true,
	`c:\windows\`: true, `c:\windows`: true, `\windows`: true, `windows\`: true, `\system32\`: true,
	`\system32`: true, `system32\`: true, "system32": true, "windows": true, `c:\windows\system32\`: true,
	`\program files`: true, "program files": true, `c:\program files`: true, `c:\users\`: true,
	`\users\`: true, "microsoft": true, "microsoft corporation": true, "true": true, "false": true,
	"/usr/bin/": true, "/usr/": true, "/bin/": true,
}

// selectivity is how much a prefilter literal narrows events down: its length, but 1 for a
// literal known to be common.
func selectivity(lit string) int {
	if commonLiterals[lit] {
		return 1
	}
	return len(lit)
}
