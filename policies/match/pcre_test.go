package match

import (
	"regexp"
	"strings"
	"testing"
)

// TestRegexpPCRE: `re` values mean what PCRE makes of them where PCRE's defaults differ from
// RE2's: `$` also matches before a final newline, `\s` includes the vertical tab.
func TestRegexpPCRE(t *testing.T) {
	runValueCases(t, []valueCase{
		{"$ at end", "F|re", `'foo$'`, "foo", true},
		{"$ before final newline", "F|re", `'foo$'`, "foo\n", true},
		{"$ not before an inner newline", "F|re", `'foo$'`, "foo\nbar", false},
		{"$ not before two newlines", "F|re", `'foo$'`, "foo\n\n", false},
		{"$ in an alternation", "F|re", `'^(?:a$|b)'`, "a\n", true},
		{"$ under case folding", "F|re|i", `'FOO$'`, "foo\n", true},
		{"multiline $ before inner newline", "F|re|m", `'foo$'`, "foo\nbar", true},
		{"inline multiline $", "F|re", `'(?m)foo$'`, "foo\nbar", true},
		{"inline multiline off again", "F|re", `'(?m:x)foo$'`, "foo\nbar", false},
		{"$ in a class is literal", "F|re", `'a[$]b'`, "a$b", true},
		{"escaped $ is literal", "F|re", `'a\$'`, "a$", true},
		{"escaped $ needs the $", "F|re", `'a\$'`, "a\n", false},
		{`\Z before final newline`, "F|re", `'foo\Z'`, "foo\n", true},
		{`\Z at end`, "F|re", `'foo\Z'`, "foo", true},
		{`\z stays strict`, "F|re", `'foo\z'`, "foo\n", false},
		{"endswith anchors with \\z", "F|re|endswith", `'foo'`, "foo\n", false},
		{"the SigmaHQ metasploit shape", "WorkstationName|re", `'^[A-Za-z0-9]{16}$'`, "ABCDEFGHIJKLMNOP\n", true},
		{`\s matches VT`, "F|re", `'a\sb'`, "a\vb", true},
		{`\s matches space`, "F|re", `'a\sb'`, "a b", true},
		{`\S refuses VT`, "F|re", `'a\Sb'`, "a\vb", false},
		{`\S takes a letter`, "F|re", `'a\Sb'`, "axb", true},
		{`[\s] matches VT`, "F|re", `'a[\s]b'`, "a\vb", true},
		{`[^\s] refuses VT`, "F|re", `'a[^\s]b'`, "a\vb", false},
		{`[\S] refuses VT`, "F|re", `'a[\S]b'`, "a\vb", false},
		{`[^\S] takes VT`, "F|re", `'a[^\S]b'`, "a\vb", true},
		{`[^\S] refuses a letter`, "F|re", `'a[^\S]b'`, "axb", false},
		{`[]\s] takes ]`, "F|re", `'a[]\s]b'`, "a]b", true},
		{`[[:alpha:]\s] takes VT`, "F|re", `'a[[:alpha:]\s]b'`, "a\vb", true},
		{`escaped backslash then s`, "F|re", `'a\\s'`, `a\s`, true},
		{`\Q quotes \s`, "F|re", `'\Q\s$\E'`, `x\s$`, true},
		{`\Q quotes \s, no VT`, "F|re", `'\Q\s\E'`, "\v", false},
		{`\s+ in a longer pattern`, "CommandLine|re", `'cmd\s+/c\s+del'`, "cmd\v/c del", true},
	})
}

// FuzzPCRETranslation: on text without a newline or vertical tab, where PCRE and RE2 agree, the
// translated pattern matches exactly when the original does, so the translation changes nothing
// else (it also exercises syntax.Regexp.String, used to print the rewritten tree).
func FuzzPCRETranslation(f *testing.F) {
	for _, s := range []string{`foo$`, `^[A-Za-z0-9]{16}$`, `(?i)a\s+b$|c\S`, `[\s\]]x$`, `(?m)a$`, `\Q$\E$`,
		`(?:[Pp]rogram[Dd]ata|%(?:[Ll]ocal)?[Aa]pp[Dd]ata%)\\[^\\]{1,256}$`, `a[[:space:]]$`, `x*$|$y`, `(a$)*`} {
		f.Add(s, "foo bar")
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		orig, err := regexp.Compile(pattern)
		if err != nil || strings.Contains(pattern, `\Z`) {
			return
		}
		tr := translatePCRE(pattern)
		re, err := regexp.Compile(tr)
		if err != nil {
			t.Fatalf("%q compiles, its translation %q does not: %v", pattern, tr, err)
		}
		text = strings.NewReplacer("\n", "", "\v", "").Replace(text)
		if a, b := orig.MatchString(text), re.MatchString(text); a != b {
			t.Fatalf("%q on %q: RE2 %v, translated %q %v", pattern, text, a, tr, b)
		}
	})
}
