package match

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies/sigma"
)

var fuzzMods = [][]string{
	nil, {"contains"}, {"startswith"}, {"endswith"}, {"windash"}, {"contains", "windash"},
	{"cased"}, {"contains", "cased"}, {"base64offset", "contains"}, {"wide", "base64offset", "contains"},
	{"base64"}, {"utf16le", "contains"}, {"re"}, {"re", "i"}, {"re", "startswith"}, {"endswith", "cased"},
}

// refRegexp is the reference semantics of a compiled pattern: Go's regexp over the same folded
// text, anchored at both ends.
func refRegexp(p pat) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, t := range p {
		switch t.kind {
		case tkLit:
			b.WriteString(regexp.QuoteMeta(t.lit))
		case tkStar:
			b.WriteString(`.*`)
		case tkOne:
			b.WriteString(`.`)
		case tkDash:
			b.WriteString(`[-/\x{2013}\x{2014}\x{2015}]`)
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// FuzzMatch runs fuzzed values and event texts through compile and match, checks string
// patterns against a regexp reference, and checks that a match always satisfies the
// prefilter's necessary condition.
func FuzzMatch(f *testing.F) {
	f.Add("*\\\\system32\\\\*.dll", `C:\Windows\System32\kernel32.dll`, uint8(0))
	f.Add("a?c", "aéc", uint8(0))
	f.Add(" -enc", "powershell /enc x", uint8(5))
	f.Add("http", "aHR0cHM6", uint8(8))
	f.Add("\u212Aelvin", "KELVIN", uint8(1))
	f.Add("(?i)ab+c", "xxABBC", uint8(12))
	f.Add("*a?", "xa\x80", uint8(0))
	f.Add("ß*ẞ", "ẞxß", uint8(0))
	f.Fuzz(func(t *testing.T, value, text string, sel uint8) {
		if len(value) > 200 || len(text) > 2000 || !utf8.ValidString(value) {
			return // rule values come from YAML, which is UTF-8
		}
		mods := fuzzMods[int(sel)%len(fuzzMods)]
		it := &sigma.Item{Field: "F", Modifiers: mods, Values: []sigma.Value{{Text: value}}}
		ft := NewFieldTable()
		cm := &Compiler{Fields: ft}
		det := &sigma.Detection{
			Searches:  map[string]*sigma.Search{"s": {Name: "s", Any: [][]*sigma.Item{{it}}}},
			Order:     []string{"s"},
			Condition: &sigma.Ref{Name: "s"},
		}
		m, errs := cm.Compile(det)
		if len(errs) > 0 {
			return
		}
		c := NewCtx(ft)
		c.Reset(&event.Event{Fields: map[string]any{"F": text}})
		got := m.Match(c)
		if got && m.Need.OK {
			ftext := Fold(text)
			for _, clause := range m.Need.Clauses {
				found := false
				for _, a := range clause {
					if a.Numeric {
						if f, ok := parseNumber(text); ok && f == a.Num {
							found = true
						}
					} else if strings.Contains(ftext, a.Lit) {
						found = true
					}
				}
				if !found {
					t.Fatalf("match of %q %v on %q, but no atom of clause %v occurs in %q", value, mods, text, clause, ftext)
				}
			}
		}
		if it.Has("re") {
			return
		}
		pats, err := cm.stringPatterns(it.Values[0], it)
		if err != nil {
			return
		}
		cased := it.Has("cased")
		subject := text
		if !cased {
			subject = Fold(text)
		}
		want := false
		for _, p := range pats {
			cp := compilePattern(p, cased)
			if !utf8.ValidString(cp.src.text()) {
				return // UTF-16 encodings of non-ASCII text: regexp cannot express raw bytes
			}
			if refRegexp(cp.src).MatchString(subject) {
				want = true
			}
		}
		if got != want {
			t.Fatalf("value %q %v on %q (valid utf-8 %v): matcher %v, regexp reference %v", value, mods, text, utf8.ValidString(text), got, want)
		}
	})
}
