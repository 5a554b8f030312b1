package match

import (
	"regexp/syntax"
	"strings"
)

// The Sigma specification names PCRE for `re` values; Go's regexp (RE2) differs from PCRE's
// defaults in two ways a detection can depend on, and translatePCRE rewrites a pattern so RE2
// gives PCRE's answer (keeping RE2's linear-time matching, which untrusted rules need):
//
//   - `$` outside multiline mode: PCRE matches at the end *or before a final newline*; RE2 only
//     at the end. It becomes `\n?\z` (the final newline, if any, is consumed: the match is the
//     same unless the pattern goes on to require that newline, as in `a$\n`, where PCRE matches
//     and the translation does not). `\Z`, which RE2 lacks, means the same in PCRE and is
//     translated the same way. Multiline `$` already agrees.
//   - `\s` (and `\S`): PCRE since 8.34 counts the vertical tab (\x0b) as white space, RE2 does
//     not. `\s` becomes [\t-\r ] (tab, newline, vertical tab, form feed, return, space) and `\S`
//     its complement, inside and outside character classes.

// spaceClass is PCRE's \s (tab, LF, VT, FF, CR, space) as class members; notSpaceClass is every
// other code point, as class members.
const (
	spaceClass    = `\t-\r `
	notSpaceClass = `\x00-\x08\x0e-\x1f!-\x{10FFFF}`
	finalNewline  = `(?:\n?\z)`
)

// translatePCRE rewrites a PCRE pattern into RE2 syntax with the same matches (see above). A
// pattern RE2 cannot parse is returned with its \s rewritten and left for regexp.Compile to
// refuse.
func translatePCRE(expr string) string {
	expr = rewriteEscapes(expr)
	if !strings.Contains(expr, "$") {
		return expr
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return expr
	}
	if !rewriteDollar(re) {
		return expr
	}
	return re.String()
}

// rewriteEscapes replaces \s, \S and \Z, outside and inside character classes, skipping \Q...\E
// quotes and escaped characters.
func rewriteEscapes(expr string) string {
	if !strings.Contains(expr, `\`) {
		return expr
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr):
			n := expr[i+1]
			switch {
			case n == 'Q':
				end := strings.Index(expr[i+2:], `\E`)
				if end < 0 {
					b.WriteString(expr[i:])
					return b.String()
				}
				b.WriteString(expr[i : i+2+end+2])
				i += 2 + end + 1
				continue
			case n == 's' && inClass:
				b.WriteString(spaceClass)
			case n == 's':
				b.WriteString("[" + spaceClass + "]")
			case n == 'S' && inClass:
				b.WriteString(notSpaceClass)
			case n == 'S':
				b.WriteString("[^" + spaceClass + "]")
			case n == 'Z' && !inClass:
				b.WriteString(finalNewline)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal member.
			if i+1 < len(expr) && expr[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(expr) && expr[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == '[' && inClass && strings.HasPrefix(expr[i:], "[:"):
			// A POSIX class such as [:alpha:] inside a class.
			end := strings.Index(expr[i+2:], ":]")
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString(expr[i : i+2+end+2])
			i += 2 + end + 1
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rewriteDollar replaces every non-multiline `$` (OpEndText written as $) in re with
// `(?:\n?\z)`, and reports whether it found one.
func rewriteDollar(re *syntax.Regexp) bool {
	found := false
	for i, sub := range re.Sub {
		if sub.Op == syntax.OpEndText && sub.Flags&syntax.WasDollar != 0 {
			re.Sub[i] = dollarPCRE(sub.Flags)
			found = true
			continue
		}
		if rewriteDollar(sub) {
			found = true
		}
	}
	if re.Op == syntax.OpEndText && re.Flags&syntax.WasDollar != 0 {
		*re = *dollarPCRE(re.Flags)
		found = true
	}
	return found
}

func dollarPCRE(flags syntax.Flags) *syntax.Regexp {
	flags &^= syntax.WasDollar | syntax.FoldCase
	nl := &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{'\n'}, Flags: flags}
	opt := &syntax.Regexp{Op: syntax.OpQuest, Sub: []*syntax.Regexp{nl}, Flags: flags}
	end := &syntax.Regexp{Op: syntax.OpEndText, Flags: flags}
	return &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{opt, end}, Flags: flags}
}
