package match

import (
	"unicode"
	"unicode/utf8"
)

// foldRune maps r to the canonical member of its simple case-folding orbit (unicode.SimpleFold):
// the ASCII lowercase letter when the orbit holds an ASCII letter (so 'K', 'k' and the Kelvin sign
// U+212A all fold to 'k'), else the smallest rune of the orbit.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}
	if r == utf8.RuneError {
		return r
	}
	lo := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lo {
			lo = f
		}
	}
	if lo < utf8.RuneSelf && 'A' <= lo && lo <= 'Z' {
		return lo + ('a' - 'A')
	}
	return lo
}

// needsFold reports whether Fold(s) differs from s, with an ASCII fast path.
func needsFold(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return needsFoldSlow(s[i:])
		}
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func needsFoldSlow(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			i++
			continue
		}
		if foldRune(r) != r {
			return true
		}
		i += n
	}
	return false
}

// appendFold appends the simple case folding of s to dst. Invalid UTF-8 bytes are copied as they
// are, so folding never loses bytes that a pattern could match.
func appendFold(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// Fold returns the simple Unicode case folding of s (the form all case-insensitive comparisons
// use on both sides).
func Fold(s string) string {
	if !needsFold(s) {
		return s
	}
	return string(appendFold(make([]byte, 0, len(s)), s))
}
