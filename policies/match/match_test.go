package match

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies/sigma"
)

// compile parses a detection block (YAML, indented by the caller as under "detection:") and
// compiles it.
func compile(t *testing.T, det string, ph map[string][]string) (*Matcher, *FieldTable, []string) {
	t.Helper()
	doc := "title: test\nlogsource: {product: windows}\ndetection:\n" + det
	f, errs := sigma.Parse("t.yml", []byte(doc))
	var msgs []string
	for _, e := range errs {
		if !e.Warning {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) > 0 {
		return nil, nil, msgs
	}
	if len(f.Rules) != 1 {
		t.Fatalf("want one rule, got %d", len(f.Rules))
	}
	ft := NewFieldTable()
	m, cerrs := (&Compiler{Fields: ft, Placeholders: ph}).Compile(&f.Rules[0].Detection)
	for _, e := range cerrs {
		msgs = append(msgs, e.Error())
	}
	return m, ft, msgs
}

func mustCompile(t *testing.T, det string) (*Matcher, *FieldTable) {
	t.Helper()
	m, ft, errs := compile(t, det, nil)
	if len(errs) > 0 {
		t.Fatalf("compile %q: %v", det, errs)
	}
	return m, ft
}

func eval(m *Matcher, ft *FieldTable, fields map[string]any) bool {
	c := NewCtx(ft)
	c.Reset(&event.Event{ID: "e", Product: "windows", Fields: fields})
	return m.Match(c)
}

// sel builds a one-item detection "sel: {key: value}; condition: sel".
func sel(key, yamlValue string) string {
	return "  sel:\n    " + key + ": " + yamlValue + "\n  condition: sel\n"
}

type valueCase struct {
	name  string
	key   string // field|modifiers
	value string // YAML text of the value
	event any    // value of the field in the event; absentField = not set
	want  bool
}

type absent struct{}

var absentField = absent{}

func runValueCases(t *testing.T, cases []valueCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ft := mustCompile(t, sel(tc.key, tc.value))
			field, _, _ := strings.Cut(tc.key, "|")
			fields := map[string]any{}
			if tc.event != absentField {
				fields[field] = tc.event
			}
			if got := eval(m, ft, fields); got != tc.want {
				t.Errorf("%s: %s vs %#v: got %v, want %v", tc.key, tc.value, tc.event, got, tc.want)
			}
		})
	}
}

// TestEscaping pins every row of sigma.md section 4's escaping table.
func TestEscaping(t *testing.T) {
	runValueCases(t, []valueCase{
		{"trailing backslash literal", "F", `'C:\Windows\'`, `C:\Windows\`, true},
		{"trailing backslash literal, no match without it", "F", `'C:\Windows\'`, `C:\Windows`, false},
		{"other backslash kept", "F", `'C:\Windows\'`, `C:Windows`, false},
		{`\\ is one backslash`, "F", `'\\'`, `\`, true},
		{`\\ is not two`, "F", `'\\'`, `\\`, false},
		{`\* literal star`, "F", `'\*'`, `*`, true},
		{`\* is no wildcard`, "F", `'\*'`, `abc`, false},
		{`\\* backslash then wildcard`, "F", `'\\*'`, `\anything`, true},
		{`\\* backslash then wildcard, empty`, "F", `'\\*'`, `\`, true},
		{`\\* needs the backslash`, "F", `'\\*'`, `anything`, false},
		{`\\\* backslash and literal star`, "F", `'\\\*'`, `\*`, true},
		{`\\\* no wildcard`, "F", `'\\\*'`, `\abc`, false},
		{`\\\\ two backslashes`, "F", `'\\\\'`, `\\`, true},
		{`\\\ two backslashes`, "F", `'\\\'`, `\\`, true},
		{`\\\ not three`, "F", `'\\\'`, `\\\`, false},
		{"rar rule", "F", `' ?:\\\*.'`, ` C:\*.`, true},
		{"rar rule: star literal", "F", `' ?:\\\*.'`, ` C:\x.`, false},
		{"rar rule: ? is one char", "F", `' ?:\\\*.'`, ` CD:\*.`, false},
		{"pipe", "F", `'\\\\.\\pipe'`, `\\.\pipe`, true},
		{"pipe: not single", "F", `'\\\\.\\pipe'`, `\.\pipe`, false},
		{"percent literal without expand", "F", `'%APPDATA%\x'`, `%APPDATA%\x`, true},
		{"escaped question mark", "F", `'a\?'`, `a?`, true},
		{"escaped question mark is literal", "F", `'a\?'`, `ab`, false},
	})
}

func TestWildcards(t *testing.T) {
	runValueCases(t, []valueCase{
		{"plain is anchored", "F", "'cmd'", "cmd.exe", false},
		{"plain whole value", "F", "'cmd.exe'", "cmd.exe", true},
		{"star crosses newlines", "F", "'a*b'", "a\nline\nb", true},
		{"star empty", "F", "'a*b'", "ab", true},
		{"question one ascii", "F", "'a?c'", "abc", true},
		{"question one code point (2 bytes)", "F", "'a?c'", "aéc", true},
		{"question one code point (emoji)", "F", "'a?c'", "a😀c", true},
		{"question not two", "F", "'a?c'", "abbc", false},
		{"question not zero", "F", "'a?c'", "ac", false},
		{"star only: present", "F", "'*'", "", true},
		{"star only: absent field", "F", "'*'", absentField, false},
		{"star only: null", "F", "'*'", nil, false},
		{"glob middle", "F", "'*\\system32\\\\*.dll'", `C:\Windows\System32\x\kernel32.dll`, true},
		{"glob middle no", "F", "'*\\system32\\\\*.dll'", `C:\Windows\System32\kernel32.exe`, false},
		{"glob backtracking", "F", "'*ab*abc'", "xxabyyababc", true},
		{"glob backtracking no", "F", "'*ab*abc'", "xxabyyabab", false},
		{"glob question in last segment", "F", "'*a?'", "xaé", true},
		{"glob question and star", "F", "'?*?'", "é", false},
		{"endswith keeps wildcards", "F|endswith", "'*.anydesk.com'", "relay-1.net.anydesk.com", true},
		{"endswith keeps wildcards no", "F|endswith", "'*.anydesk.com'", "anydesk.com", false},
		{"contains adds stars", "F|contains", "'mimikatz'", "run MIMIKATZ now", true},
		{"contains with stars already", "F|contains", "'*mimi*katz*'", "mimi and katz", true},
		{"startswith", "F|startswith", "'C:\\Users\\'", `C:\Users\alice`, true},
		{"startswith no", "F|startswith", "'C:\\Users\\'", `D:\C:\Users\alice`, false},
		{"endswith", "F|endswith", "'\\cmd.exe'", `C:\Windows\System32\CMD.EXE`, true},
	})
}

// TestCaseFolding: simple Unicode case folding on both sides; field names are exact.
func TestCaseFolding(t *testing.T) {
	runValueCases(t, []valueCase{
		{"ascii", "F", "'CMD.exe'", "cmd.EXE", true},
		{"kelvin sign folds to k", "F", "'kelvin'", "\u212Aelvin", true},
		{"k folds to kelvin sign", "F", "'\u212Aelvin'", "KELVIN", true},
		{"long s folds to s", "F", "'s'", "\u017F", true},
		{"greek final sigma", "F", "'ΟΔΟΣ'", "οδος", true},
		{"greek final sigma variant", "F", "'οδοσ'", "οδος", true},
		{"cyrillic homoglyph is not latin", "F", "'paypal'", "pаypal", false}, // U+0430
		{"cyrillic case folds", "F", "'pАypal'", "pаypal", true},
		{"fullwidth is not ascii", "F", "'abc'", "ａｂｃ", false},
		{"rtlo literal", "F|contains", "'\u202E'", "invoice\u202Efdp.exe", true},
		{"rtlo absent", "F|contains", "'\u202E'", "invoicefdp.exe", false},
		{"rtlo filename", "F|endswith", "'\u202Efdp.exe'", "Invoice\u202EFDP.EXE", true},
		{"emoji exact", "F", "'🔥 fire'", "🔥 FIRE", true},
		{"emoji different", "F", "'🔥'", "💧", false},
		{"cased exact", "F|cased", "'CMD.exe'", "CMD.exe", true},
		{"cased differs", "F|cased", "'CMD.exe'", "cmd.exe", false},
		{"cased contains", "F|contains|cased", "'Invoke-'", "x Invoke-Y", true},
		{"cased contains differs", "F|contains|cased", "'Invoke-'", "x invoke-Y", false},
		{"invalid utf-8 in event", "F|contains", "'abc'", "\xff\xfeABC\xff", true},
	})
	t.Run("field names are case-sensitive", func(t *testing.T) {
		m, ft := mustCompile(t, sel("image", "'x'"))
		if eval(m, ft, map[string]any{"Image": "x"}) {
			t.Error("rule field 'image' matched event field 'Image'")
		}
	})
}

// TestNullEmptyExists: null = absent or JSON null; [] = null; ” = present and empty; exists
// tests presence only.
func TestNullEmptyExists(t *testing.T) {
	runValueCases(t, []valueCase{
		{"null matches absent", "F", "null", absentField, true},
		{"null matches json null", "F", "null", nil, true},
		{"null does not match empty", "F", "null", "", false},
		{"null does not match value", "F", "null", "x", false},
		{"empty list is null", "F", "[]", absentField, true},
		{"empty list is null: value", "F", "[]", "x", false},
		{"empty string: empty", "F", "''", "", true},
		{"empty string: absent", "F", "''", absentField, false},
		{"empty string: null", "F", "''", nil, false},
		{"empty string: value", "F", "''", "x", false},
		{"exists true: present", "F|exists", "true", "x", true},
		{"exists true: empty", "F|exists", "true", "", true},
		{"exists true: null", "F|exists", "true", nil, true},
		{"exists true: absent", "F|exists", "true", absentField, false},
		{"exists false: absent", "F|exists", "false", absentField, true},
		{"exists false: null", "F|exists", "false", nil, false},
		{"comparison on absent is false", "F|contains", "'x'", absentField, false},
		{"neq on absent is true", "F|neq", "'x'", absentField, true},
		{"neq equal", "F|neq", "'x'", "X", false},
		{"neq other", "F|neq", "'x'", "y", true},
		{"neq list", "F|neq", "['a', 'b']", "b", false},
		{"neq list other", "F|neq", "['a', 'b']", "c", true},
	})
	t.Run("not over absent field is true", func(t *testing.T) {
		m, ft := mustCompile(t, "  sel:\n    F: x\n  condition: not sel\n")
		if !eval(m, ft, map[string]any{}) {
			t.Error("not sel on an absent field should be true (two-valued logic)")
		}
	})
}

// TestNumbersAndStrings: numbers match their text and equal numbers; booleans likewise.
func TestNumbersAndStrings(t *testing.T) {
	runValueCases(t, []valueCase{
		{"int vs string", "EventID", "4624", "4624", true},
		{"int vs int", "EventID", "4624", 4624, true},
		{"int vs float64 (JSON)", "EventID", "4624", float64(4624), true},
		{"int vs json.Number", "EventID", "4624", json.Number("4624"), true},
		{"int vs decimal string", "EventID", "4624", "4624.0", true},
		{"int vs other", "EventID", "4624", "4625", false},
		{"int vs hex string", "ProcessId", "888", "0x378", true},
		{"hex rule vs decimal", "ProcessId", "0x378", "888", true},
		{"int vs padded text", "EventID", "4624", "04624", true},
		{"int vs words", "EventID", "4624", "x4624", false},
		{"string rule vs int event", "DestinationPort", "'3389'", 3389, true},
		{"string rule vs float text", "DestinationPort", "'3389'", "3389.0", false},
		{"string rule wildcard vs int", "DestinationPort", "'33*'", 3389, true},
		{"contains on number", "DestinationPort|contains", "38", 3389, true},
		{"float rule", "Ratio", "0.5", 0.5, true},
		{"float rule vs string", "Ratio", "0.5", ".5", true},
		{"bool rule vs bool", "Initiated", "true", true, true},
		{"bool rule vs string", "Initiated", "true", "True", true},
		{"bool rule vs false", "Initiated", "true", false, false},
		{"string 'True' vs bool", "Initiated", "'True'", true, true},
		{"string 'false' vs bool", "Initiated", "'false'", true, false},
		{"number vs bool", "Initiated", "1", true, false},
		// Values are strings: whitespace around a number's text makes it not that number.
		{"int vs spaced text", "EventID", "4624", " 4624 ", false},
		{"int vs text with newline", "EventID", "4624", "4624\n", false},
		{"OpNum 1 vs spaced 1", "OpNum", "1", " 1 ", false},
		{"gt vs spaced text", "EventID|gt", "4000", " 4624", false},
		{"gt vs text", "EventID|gt", "4000", "4624", true},
		// Integers compare exactly, also beyond 2^53 and beyond int64.
		{"2^53+1 vs 2^53", "N", "9007199254740993", int64(9007199254740992), false},
		{"2^53+1 vs itself", "N", "9007199254740993", int64(9007199254740993), true},
		{"2^53+1 vs its text", "N", "9007199254740993", "9007199254740993", true},
		{"2^53+1 vs json.Number 2^53", "N", "9007199254740993", json.Number("9007199254740992"), false},
		{"beyond int64 vs json.Number", "N", "420044004500530056004300", json.Number("420044004500530056004300"), true},
		{"beyond int64 vs neighbour", "N", "420044004500530056004300", json.Number("420044004500530056004301"), false},
		{"beyond int64 vs decimal text", "N", "420044004500530056004300", "420044004500530056004300.0", true},
		{"big hex rule vs decimal", "N", "0xFFFFFFFFFFFFFFFF", uint64(18446744073709551615), true},
		{"big hex rule vs neighbour", "N", "0xFFFFFFFFFFFFFFFF", "18446744073709551614", false},
		{"contains on big json.Number", "Binary|contains", "'4500530056'", json.Number("420044004500530056004300"), true},
	})
}

// cidr takes an address as written: surrounding whitespace makes it not an address, so it does
// not match (docs/policies.md, cidr).
func TestCidrNoTrimming(t *testing.T) {
	runValueCases(t, []valueCase{
		{"address", "DestinationIp|cidr", "'10.0.0.0/8'", "10.1.2.3", true},
		{"spaced address", "DestinationIp|cidr", "'10.0.0.0/8'", " 10.1.2.3", false},
		{"address with newline", "DestinationIp|cidr", "'10.0.0.0/8'", "10.1.2.3\n", false},
		{"zone", "DestinationIp|cidr", "'fe80::/10'", "fe80::1%eth0", true},
	})
	if _, _, errs := compile(t, sel("DestinationIp|cidr", "' 10.0.0.0/8'"), nil); len(errs) == 0 {
		t.Error("a cidr rule value with spaces must be refused")
	}
}

// TestEventLists: a comparison matches when any element matches.
func TestEventLists(t *testing.T) {
	runValueCases(t, []valueCase{
		{"[]any", "F", "'b'", []any{"a", "B"}, true},
		{"[]string", "F", "'b'", []string{"a", "b"}, true},
		{"[]string none", "F", "'c'", []string{"a", "b"}, false},
		{"[]int", "F", "2", []int{1, 2}, true},
		{"mixed", "F|contains", "'x'", []any{1, "axb", nil}, true},
		{"empty list is not null", "F", "null", []any{}, false},
		{"empty list matches nothing", "F|contains", "''", []any{}, false},
		{"all across elements", "F|contains|all", "['a', 'b']", []any{"xa", "yb"}, true},
		{"all missing one", "F|contains|all", "['a', 'c']", []any{"xa", "yb"}, false},
		{"nested map value is no string", "F|contains", "'x'", map[string]any{"x": "x"}, false},
	})
}

// TestNestedFields: a dotted name is a flat key first, then a nested path.
func TestNestedFields(t *testing.T) {
	m, ft := mustCompile(t, sel("dns.question.name|endswith", "'.example.com'"))
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   bool
	}{
		{"flat", map[string]any{"dns.question.name": "a.example.com"}, true},
		{"nested", map[string]any{"dns": map[string]any{"question": map[string]any{"name": "a.example.com"}}}, true},
		{"flat wins", map[string]any{"dns.question.name": "other", "dns": map[string]any{"question": map[string]any{"name": "a.example.com"}}}, false},
		{"nested miss", map[string]any{"dns": map[string]any{"question": "a.example.com"}}, false},
		{"absent", map[string]any{}, false},
	} {
		if got := eval(m, ft, tc.fields); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestKeywords: case-insensitive substrings of any value (all fields, lists, nested maps).
func TestKeywords(t *testing.T) {
	cases := []struct {
		name   string
		det    string
		fields map[string]any
		want   bool
	}{
		{"list of keywords", "  kw:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: kw\n", map[string]any{"CommandLine": "run SEKURLSA::logonpasswords"}, true},
		{"keyword no match", "  kw:\n    - 'mimikatz'\n  condition: kw\n", map[string]any{"CommandLine": "notepad"}, false},
		{"scalar keyword", "  kw: 'evil'\n  condition: kw\n", map[string]any{"A": 1, "B": "so EVIL"}, true},
		{"in list element", "  kw:\n    - 'evil'\n  condition: kw\n", map[string]any{"L": []any{"good", "evil one"}}, true},
		{"in nested map", "  kw:\n    - 'evil'\n  condition: kw\n", map[string]any{"M": map[string]any{"x": map[string]any{"y": "evil"}}}, true},
		{"numbers are text", "  kw:\n    - 4624\n  condition: kw\n", map[string]any{"EventID": 4624}, true},
		{"keyword wildcard", "  kw:\n    - 'a*c'\n  condition: kw\n", map[string]any{"X": "zzabbbczz"}, true},
		{"all keywords", "  kw:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: kw\n", map[string]any{"X": "a1", "Y": "b2"}, true},
		{"all keywords missing", "  kw:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: kw\n", map[string]any{"X": "a1"}, false},
		{"keyword contains modifier", "  kw:\n    '|contains': 'abc'\n  condition: kw\n", map[string]any{"X": "xxABCxx"}, true},
		{"keyword re", "  kw:\n    '|re': 'a[0-9]+z'\n  condition: kw\n", map[string]any{"X": "xa123z"}, true},
		{"keywords mixed in list of maps", "  sel:\n    - F: 'a'\n    - 'kwd'\n  condition: sel\n", map[string]any{"G": "the kwd"}, true},
		{"keyword with base64offset", "  kw:\n    '|base64offset|contains': 'http'\n  condition: kw\n", map[string]any{"X": "xxaHR0cHM6"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ft := mustCompile(t, tc.det)
			if got := eval(m, ft, tc.fields); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestModifiers covers every modifier of sigma.md section 6.
func TestModifiers(t *testing.T) {
	runValueCases(t, []valueCase{
		{"contains", "F|contains", "'bc'", "abcd", true},
		{"startswith", "F|startswith", "'ab'", "abcd", true},
		{"endswith", "F|endswith", "'cd'", "abcd", true},
		{"all", "F|contains|all", "['a', 'd']", "abcd", true},
		{"all fails", "F|contains|all", "['a', 'z']", "abcd", false},
		{"list is or", "F|contains", "['z', 'd']", "abcd", true},
		{"base64", "F|base64", "'cmd'", "Y21k", true},
		{"base64 case-insensitive", "F|base64", "'cmd'", "y21K", true},
		{"base64 contains", "F|base64|contains", "'cmd'", "xxY21kxx", true},
		{"base64offset 0", "F|base64offset|contains", "'http'", "aHR0cDovL2V4YW1wbGU=", true},
		{"base64offset 1", "F|base64offset|contains", "'http'", "IGh0dHA6Ly8=", true},
		{"base64offset 2", "F|base64offset|contains", "'http'", "ICBodHRwOi8v", true},
		{"base64offset none", "F|base64offset|contains", "'http'", "Zm9vYmFy", false},
		{"utf16le", "F|utf16le|contains", "'cmd'", "xx" + "c\x00m\x00d\x00", true},
		{"wide", "F|wide|contains", "'cmd'", "c\x00m\x00d\x00", true},
		{"utf16be", "F|utf16be|contains", "'cmd'", "\x00c\x00m\x00d", true},
		{"utf16 bom", "F|utf16", "'cmd'", "\xff\xfec\x00m\x00d\x00", true},
		{"wide base64offset", "F|wide|base64offset|contains", "'ping'", "cABpAG4AZwA=", true},
		{"windash hyphen", "F|windash|contains", "' -enc '", "powershell -enc AAA", true},
		{"escaped star is literal in glob", "F", "'*\\system32\\*.dll'", `C:\Windows\System32\x\kernel32.dll`, false},
		{"windash flag hyphen", "F|windash|contains", "' -e'", "powershell -e AAA", true},
		{"windash slash", "F|windash|contains", "' -e'", "powershell /e AAA", true},
		{"windash en dash", "F|windash|contains", "' -e'", "powershell \u2013e AAA", true},
		{"windash em dash", "F|windash|contains", "' -e'", "powershell \u2014e AAA", true},
		{"windash horizontal bar", "F|windash|contains", "' -e'", "powershell \u2015e AAA", true},
		{"windash other char", "F|windash|contains", "' -e'", "powershell +e AAA", false},
		{"windash inner dash kept", "F|windash|contains", "'param-name'", "x param/name", false},
		{"windash inner dash literal", "F|windash|contains", "'param-name'", "x param-name", true},
		{"windash contains first", "F|contains|windash", "' -decode '", "certutil /decode a b", true},
		{"windash several", "F|windash", "'-a -b'", "/a \u2013b", true},
		{"windash rule en dash is literal", "F|windash|contains", "' \u2013e'", "x -e", false},
		{"re search", "F|re", "'a[0-9]+'", "xxa123yy", true},
		{"re case-sensitive", "F|re", "'abc'", "ABC", false},
		{"re i", "F|re|i", "'abc'", "ABC", true},
		{"re ignorecase", "F|re|ignorecase", "'abc'", "xABCx", true},
		{"re inline (?i)", "F|re", "'(?i)abc'", "ABC", true},
		{"re dot no newline", "F|re", "'a.b'", "a\nb", false},
		{"re s", "F|re|s", "'a.b'", "a\nb", true},
		{"re dotall", "F|re|dotall", "'a.b'", "a\nb", true},
		{"re m", "F|re|m", "'^b$'", "a\nb\nc", true},
		{"re without m", "F|re", "'^b$'", "a\nb\nc", false},
		{"re multiline", "F|re|multiline", "'^b'", "a\nb", true},
		{"re on number", "F|re", "'^46'", 4624, true},
		{"re contains is search", "F|re|contains", "'b+'", "abbbc", true},
		{"re startswith anchors", "F|re|startswith", "'b+'", "abbbc", false},
		{"re startswith anchored ok", "F|re|startswith", "'a|z'", "abc", true},
		{"re endswith anchors", "F|re|endswith", "'b+'", "abbbc", false},
		{"re endswith ok", "F|re|endswith", "'c'", "abbbc", true},
		{"cidr v4", "F|cidr", "'10.0.0.0/8'", "10.1.2.3", true},
		{"cidr v4 no", "F|cidr", "'10.0.0.0/8'", "11.1.2.3", false},
		{"cidr list", "F|cidr", "['192.168.0.0/16', '172.16.0.0/12']", "172.20.0.1", true},
		{"cidr v6", "F|cidr", "'fe80::/10'", "fe80::1", true},
		{"cidr v6 zone", "F|cidr", "'fe80::/10'", "fe80::1%eth0", true},
		{"cidr v6 no", "F|cidr", "'fe80::/10'", "2001:db8::1", false},
		{"cidr v4-mapped", "F|cidr", "'10.0.0.0/8'", "::ffff:10.0.0.1", true},
		{"cidr not an ip", "F|cidr", "'10.0.0.0/8'", "host", false},
		{"gt", "F|gt", "10", 11, true},
		{"gt equal", "F|gt", "10", 10, false},
		{"gte", "F|gte", "10", "10", true},
		{"lt", "F|lt", "10", 9.5, true},
		{"lte", "F|lte", "10", "0xA", true},
		{"gt non-numeric", "F|gt", "10", "eleven", false},
		{"gt absent", "F|gt", "10", absentField, false},
		{"hour rfc3339", "T|hour", "3", "2026-11-22T03:15:00Z", true},
		{"hour of spaced text", "T|hour", "3", " 2026-11-22T03:15:00Z", false},
		{"epoch in spaced text", "T|hour", "3", "1795835700 ", false},
		{"hour utc conversion", "T|hour", "3", "2026-11-22T12:15:00+09:00", true},
		{"hour sysmon utctime", "T|hour", "22", "2026-11-22 22:01:02.345", true},
		{"minute", "T|minute", "15", "2026-11-22T03:15:00Z", true},
		{"day", "T|day", "22", "2026-11-22T03:15:00Z", true},
		{"month", "T|month", "11", "2026-11-22T03:15:00Z", true},
		{"year", "T|year", "2026", "2026-11-22T03:15:00Z", true},
		{"iso week 53", "T|week", "53", "2021-01-01T12:00:00Z", true},
		{"iso week 1", "T|week", "1", "2026-01-01T12:00:00Z", true},
		{"epoch seconds", "T|hour", "3", 1795835700, true}, // 2026-11-22T03:15:00Z
		{"epoch millis", "T|hour", "3", int64(1795835700000), true},
		{"hour list", "T|hour", "[1, 2, 3]", "2026-11-22T03:15:00Z", true},
		{"hour gte", "T|hour|gte", "18", "2026-11-22T19:15:00Z", true},
		{"hour gte no", "T|hour|gte", "18", "2026-11-22T09:15:00Z", false},
		{"hour not a time", "T|hour", "3", "yesterday", false},
	})
}

func TestFieldrefAndExpand(t *testing.T) {
	cases := []struct {
		name   string
		det    string
		ph     map[string][]string
		fields map[string]any
		want   bool
	}{
		{"fieldref equal", sel("A|fieldref", "B"), nil, map[string]any{"A": "x", "B": "x"}, true},
		{"fieldref case-insensitive", sel("A|fieldref", "B"), nil, map[string]any{"A": "ALICE", "B": "alice"}, true},
		{"fieldref differ", sel("A|fieldref", "B"), nil, map[string]any{"A": "x", "B": "y"}, false},
		{"fieldref absent", sel("A|fieldref", "B"), nil, map[string]any{"A": "x"}, false},
		{"fieldref number", sel("A|fieldref", "B"), nil, map[string]any{"A": 5, "B": "5"}, true},
		{"fieldref contains", sel("A|fieldref|contains", "B"), nil, map[string]any{"A": "C:\\x\\alice\\y", "B": "Alice"}, true},
		{"fieldref startswith", sel("A|fieldref|startswith", "B"), nil, map[string]any{"A": "alice.txt", "B": "alice"}, true},
		{"fieldref endswith", sel("A|fieldref|endswith", "B"), nil, map[string]any{"A": "alice.txt", "B": "alice"}, false},
		{"fieldref neq", sel("A|fieldref|neq", "B"), nil, map[string]any{"A": "x", "B": "y"}, true},
		{"fieldref cased", sel("A|fieldref|cased", "B"), nil, map[string]any{"A": "X", "B": "x"}, false},
		{"expand", sel("Computer|expand", "'%dc%'"), map[string][]string{"dc": {"dc-01", "dc-02"}}, map[string]any{"Computer": "DC-02"}, true},
		{"expand no", sel("Computer|expand", "'%dc%'"), map[string][]string{"dc": {"dc-01"}}, map[string]any{"Computer": "ws-1"}, false},
		{"expand inside text", sel("U|expand", `'CORP\\%admins%'`), map[string][]string{"admins": {"alice", "bob"}}, map[string]any{"U": "CORP\\bob"}, true},
		{"expand literal percent", sel("U|expand", `'CORP\%admins\%'`), map[string][]string{}, map[string]any{"U": "CORP%admins%"}, true},
		{"expand with wildcard value", sel("U|expand", "'%admins%'"), map[string][]string{"admins": {"adm_*"}}, map[string]any{"U": "adm_carol"}, true},
		{"expand escaped percent", sel("U|expand", "'50\\% %x%'"), map[string][]string{"x": {"off"}}, map[string]any{"U": "50% off"}, true},
		{"expand contains", sel("U|contains|expand", "'%x%'"), map[string][]string{"x": {"mid"}}, map[string]any{"U": "amidb"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ft, errs := compile(t, tc.det, tc.ph)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := eval(m, ft, tc.fields); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestConditionGrammar: precedence or < and < not < x-of < parens, patterns, _ identifiers,
// dropped patterns.
func TestConditionGrammar(t *testing.T) {
	det := func(cond string) string {
		return "  a:\n    A: 1\n  b:\n    B: 1\n  c:\n    C: 1\n  sel_x:\n    X: 1\n  sel_y:\n    Y: 1\n  _u:\n    U: 1\n  condition: " + cond + "\n"
	}
	ev := func(names string) map[string]any {
		m := map[string]any{}
		for _, n := range strings.Fields(names) {
			m[n] = 1
		}
		return m
	}
	cases := []struct {
		cond   string
		fields string
		want   bool
	}{
		{"a or b and c", "A", true},        // a or (b and c)
		{"a or b and c", "B", false},       //
		{"a or b and c", "B C", true},      //
		{"(a or b) and c", "A", false},     //
		{"not a and b", "B", true},         // (not a) and b
		{"not a and b", "A B", false},      //
		{"not (a and b)", "A B", false},    //
		{"not (a and b)", "A", true},       //
		{"not not a", "A", true},           //
		{"a and b or c", "C", true},        // left associativity: (a and b) or c
		{"a and not b or c", "A", true},    //
		{"a and not b or c", "A B", false}, //
		{"1 of sel_*", "Y", true},          //
		{"all of sel_*", "Y", false},       //
		{"all of sel_*", "X Y", true},      //
		{"any of sel_*", "X", true},        //
		{"1 of sel_x", "X", true},          // literal name
		{"not 1 of sel_* and a", "A", true},
		{"not 1 of sel_* and a", "A X", false},
		{"1 of them", "C", true},
		{"1 of them", "U", false}, // _u excluded from them
		{"all of them", "A B C X Y", true},
		{"1 of _*", "U", true},                  // included when the pattern starts with _
		{"1 of *", "U", false},                  // not otherwise
		{"a and not 1 of filter_*", "A", true},  // pattern matching nothing is dropped
		{"a and not 1 of filter_*", "B", false}, // ... so the condition is 'a'
		{"a or all of nothing_*", "A", true},
		{"a\n  and b", "A B", true},
	}
	for _, tc := range cases {
		m, ft, errs := compile(t, det(strings.ReplaceAll(tc.cond, "\n", "\n  ")), nil)
		if len(errs) > 0 {
			// Multi-line conditions need a block scalar.
			m, ft, errs = compile(t, det("|\n    "+strings.ReplaceAll(tc.cond, "\n  ", "\n    ")), nil)
			if len(errs) > 0 {
				t.Fatalf("%q: %v", tc.cond, errs)
			}
		}
		if got := eval(m, ft, ev(tc.fields)); got != tc.want {
			t.Errorf("%q with %s: got %v, want %v", tc.cond, tc.fields, got, tc.want)
		}
	}
	t.Run("condition list is OR", func(t *testing.T) {
		m, ft := mustCompile(t, "  a:\n    A: 1\n  b:\n    B: 1\n  condition:\n    - a\n    - b\n")
		if !eval(m, ft, ev("B")) || eval(m, ft, ev("C")) {
			t.Error("a condition list must be OR-linked")
		}
	})
}

// TestNeed checks the prefilter's necessary conditions: clauses separated by ';', the atoms of a
// clause by '|'.
func TestNeed(t *testing.T) {
	cases := []struct {
		det  string
		ok   bool
		need string
	}{
		{sel("Image|endswith", "'\\Cmd.exe'"), true, `\cmd.exe`},
		{sel("Image|endswith", "['\\a.exe', '\\bb.exe']"), true, `\a.exe|\bb.exe`},
		// An AND keeps a clause per constrained part: both must have an atom present.
		{"  a:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: ' /c '\n  condition: a\n", true, `\cmd.exe; /c `},
		{"  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    CommandLine|contains: [' /c ', ' /k ']\n  condition: a and b\n", true, `\cmd.exe; /c | /k `},
		// An OR joins its children's best clauses.
		{"  a:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: ' /c '\n  b:\n    Image|endswith: '\\pwsh.exe'\n  condition: a or b\n", true, `\cmd.exe|\pwsh.exe`},
		// Rule numbers are looked up by value (#).
		{"  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    X: 5\n  condition: a or b\n", true, `\cmd.exe|#5`},
		{"  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    X: 5\n  condition: a and b\n", true, `\cmd.exe;#5`},
		{"  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    X|gt: 5\n  condition: a or b\n", false, ""},
		{"  a:\n    Image|endswith: '\\cmd.exe'\n  condition: not a\n", false, ""},
		{sel("F|re", "'abc[0-9]+defgh'"), true, "defgh"},
		{sel("F|re", "'(?i)(foo|barbaz)'"), true, "barbaz|foo"},
		// A literal known to be common (".exe") loses to a shorter, rarer one.
		{sel("Image|endswith", "'g2a*.exe'"), true, "g2a"},
		{sel("Image|endswith", "['g2a*.exe', '\\cmd.exe']"), true, `g2a|\cmd.exe`},
		// Small classes and alternations multiply out into exact sets.
		{sel("F|re", "'[Pp]rogram[Dd]ata'"), true, "programdata"},
		{sel("F|re", `'\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "'']{1}'`), true, `. |."|.'`},
		{sel("F|re", "'ab?c'"), true, "abc|ac"},
		{sel("F|re", "'x[0-9]y'"), true, "x0y|x1y|x2y|x3y|x4y|x5y|x6y|x7y|x8y|x9y"},
		{sel("F|re", "'x[0-9a-z]y'"), false, ""},
		{sel("F|re", "'a*'"), false, ""},
		{sel("F|windash|contains", "' -encodedcommand '"), true, "encodedcommand "},
		{sel("F|base64offset|contains", "'http'"), true, "ahr0c|h0dh|odhrw"},
		{sel("F", "4624"), true, "#4624"},
		{sel("F", "0x17"), true, "#23"},
		{sel("F", "[4624, '4625']"), true, "#4624|4625"},
		{sel("F|contains", "4624"), true, "4624"},
		{sel("F|contains|all", "['ab', 'abcdef']"), true, "ab;abcdef"},
		{sel("F|contains|all", "['a', 'abcdef']"), true, "abcdef"},
		{"  kw:\n    - 'mimikatz'\n  condition: kw\n", true, "mimikatz"},
	}
	for _, tc := range cases {
		m, _ := mustCompile(t, tc.det)
		var clauses []string
		for _, c := range m.Need.Clauses {
			var lits []string
			for _, a := range c {
				if a.Numeric {
					lits = append(lits, fmt.Sprintf("#%g", a.Num))
				} else {
					lits = append(lits, a.Lit)
				}
			}
			clauses = append(clauses, strings.Join(lits, "|"))
		}
		if got := strings.Join(clauses, ";"); m.Need.OK != tc.ok || got != tc.need {
			t.Errorf("%q: need %v %q, want %v %q", tc.det, m.Need.OK, got, tc.ok, tc.need)
		}
	}
}

// TestCompileRefusals: value-level refusals name the construct and the value's line.
func TestCompileRefusals(t *testing.T) {
	cases := []struct {
		det, msg string
	}{
		{sel("A|re", "'(?<=x)y'"), "lookaround and backreferences are not supported (Go regexp is RE2)"},
		{sel("A|re", `'(a)\1'`), "lookaround and backreferences are not supported"},
		{sel("A|re", "'(unclosed'"), "does not compile: error parsing regexp: missing closing )"},
		{sel("A|expand", "'%nope%'"), "unresolved placeholder %nope%"},
		{sel("A|base64", "'a*b'"), "wildcards are not allowed in base64 values"},
		{sel("A|base64offset|contains", "'a?'"), "wildcards are not allowed in base64offset values"},
		{sel("A|contains|base64", "'ab'"), "wildcards are not allowed in base64 values"},
		{sel("A|wide", "'a*'"), "wildcards are not allowed in wide values"},
		{sel("A|fieldref", "'B*'"), "fieldref value \"B*\" must be a field name without wildcards"},
		{sel("A|gt", "'ten'"), "must be a number"},
		{sel("A|hour", "'noon'"), "must be a number"},
		{sel("A|cidr", "'10.0.0.0/33'"), "is not an IPv4 or IPv6 network"},
		{sel("A|cidr", "'host'"), "is not an IPv4 or IPv6 network"},
	}
	for _, tc := range cases {
		_, _, errs := compile(t, tc.det, nil)
		if len(errs) != 1 || !strings.Contains(errs[0], tc.msg) || !strings.HasPrefix(errs[0], ":5:") {
			t.Errorf("%q: got %v, want line 5 and %q", tc.det, errs, tc.msg)
		}
	}
}

func TestApplies(t *testing.T) {
	ls := func(c, p, s string) sigma.Logsource { return sigma.Logsource{Category: c, Product: p, Service: s} }
	cases := []struct {
		rule          sigma.Logsource
		cat, prod, sv string
		want          bool
	}{
		{ls("process_creation", "windows", ""), "process_creation", "windows", "", true},
		{ls("process_creation", "", ""), "process_creation", "linux", "", true},
		{ls("process_creation", "windows", ""), "process_creation", "linux", "", false},
		{ls("", "windows", "security"), "", "windows", "security", true},
		{ls("", "windows", "security"), "process_creation", "windows", "", false},
		{ls("", "", ""), "anything", "x", "y", true},
		{ls("registry_event", "windows", ""), "registry_set", "windows", "", true},
		{ls("registry_event", "windows", ""), "registry_add", "windows", "", true},
		{ls("registry_event", "windows", ""), "registry_delete", "windows", "", true},
		{ls("registry_event", "windows", ""), "registry_rename", "windows", "", true},
		{ls("registry_event", "windows", ""), "registry_event", "windows", "", true},
		{ls("registry_set", "windows", ""), "registry_event", "windows", "", false},
		{ls("registry_set", "windows", ""), "registry_add", "windows", "", false},
		{ls("registry_event", "windows", ""), "", "windows", "", false},
	}
	for _, tc := range cases {
		if got := Applies(tc.rule, tc.cat, tc.prod, tc.sv); got != tc.want {
			t.Errorf("%+v on %s/%s/%s: got %v", tc.rule, tc.cat, tc.prod, tc.sv, got)
		}
	}
}
