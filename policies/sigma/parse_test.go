package sigma

import (
	"strings"
	"testing"
	"time"
)

const head = "title: t\nlogsource:\n  product: windows\ndetection:\n"

// TestRefusals pins each refusal: the message names the construct, and the line points at it.
func TestRefusals(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		line int
		msg  string
	}{
		{"pipe aggregation", head + "  sel:\n    A: 1\n  condition: sel | count() by x > 5\n", 7, "legacy Sigma v1 aggregation pipe"},
		{"near", head + "  sel:\n    A: 1\n  sel2:\n    B: 1\n  condition: sel near sel2\n", 9, "'near'"},
		{"timeframe", head + "  sel:\n    A: 1\n  timeframe: 5m\n  condition: sel\n", 7, "legacy Sigma v1 'timeframe'"},
		{"action global", "action: global\ntitle: t\n---\nlogsource: {product: windows}\ndetection:\n  sel:\n    A: 1\n  condition: sel\n", 1, "action: global"},
		{"action repeat", "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    A: 1\n  condition: sel\n---\naction: repeat\n", 8, "action: repeat"},
		{"unknown modifier", head + "  sel:\n    A|contain: x\n  condition: sel\n", 6, `unknown modifier "contain"`},
		{"modifier twice", head + "  sel:\n    A|contains|contains: x\n  condition: sel\n", 6, `modifier "contains" used twice`},
		{"re not first", head + "  sel:\n    A|contains|re: x\n  condition: sel\n", 6, `modifier "re" must be the first modifier`},
		{"cidr not first", head + "  sel:\n    A|all|cidr: [10.0.0.0/8, 11.0.0.0/8]\n  condition: sel\n", 6, `modifier "cidr" must be the first`},
		{"exists not first", head + "  sel:\n    A|cased|exists: true\n  condition: sel\n", 6, `modifier "exists" must be the first`},
		{"exists not bool", head + "  sel:\n    A|exists: yes please\n  condition: sel\n", 6, "'exists' needs a single boolean"},
		{"base64offset without contains", head + "  sel:\n    A|base64offset: x\n  condition: sel\n", 6, "'base64offset' must be followed by 'contains'"},
		{"windash with all", head + "  sel:\n    A|windash|contains|all: [' -a', ' -b']\n  condition: sel\n", 6, "'windash' cannot be combined with 'all'"},
		{"all on a single value", head + "  sel:\n    A|contains|all: x\n  condition: sel\n", 6, "'all' needs a list of at least two values"},
		{"all on a one-element list", head + "  sel:\n    A|contains|all: [x]\n  condition: sel\n", 6, "'all' needs a list of at least two values"},
		{"flag without re", head + "  sel:\n    A|i: x\n  condition: sel\n", 6, `flag "i" needs the 're' modifier`},
		{"contains and endswith", head + "  sel:\n    A|contains|endswith: x\n  condition: sel\n", 6, "contains and endswith cannot be combined"},
		{"re with windash", head + "  sel:\n    A|re|windash: x\n  condition: sel\n", 6, `"windash" cannot be combined with "re"`},
		{"gt with contains", head + "  sel:\n    A|gt|contains: 5\n  condition: sel\n", 6, `cannot be combined with "gt"`},
		{"keyword startswith", head + "  kw:\n    '|startswith': x\n  condition: kw\n", 6, `"startswith" cannot be used on keywords`},
		{"undefined identifier", head + "  sel:\n    A: 1\n  condition: sel and other\n", 7, `undefined search identifier "other"`},
		{"undefined literal 1 of", head + "  sel:\n    A: 1\n  condition: 1 of other\n", 7, `undefined search identifier "other"`},
		{"uppercase AND", head + "  sel:\n    A: 1\n  sel2:\n    B: 1\n  condition: sel AND sel2\n", 9, `operator "AND" must be lowercase`},
		{"uppercase NOT", head + "  sel:\n    A: 1\n  condition: NOT sel\n", 7, `operator "NOT" must be lowercase`},
		{"condition syntax", head + "  sel:\n    A: 1\n  condition: sel and\n", 7, "at end of condition"},
		{"condition paren", head + "  sel:\n    A: 1\n  condition: (sel\n", 7, "expected ')'"},
		{"condition stray paren", head + "  sel:\n    A: 1\n  condition: sel)\n", 7, "unbalanced ')' at position 4"},
		{"condition two quantifier", head + "  sel:\n    A: 1\n  condition: 2 of sel*\n", 7, `unsupported quantifier "2"`},
		{"wildcard without quantifier", head + "  sel:\n    A: 1\n  condition: sel*\n", 7, "needs a quantifier"},
		{"everything dropped", head + "  sel:\n    A: 1\n  condition: 1 of filter_*\n", 7, "reduces to nothing"},
		{"null in list", head + "  sel:\n    A:\n      - x\n      - null\n  condition: sel\n", 6, "null inside a list"},
		{"null in keyword list", head + "  kw:\n    - x\n    - null\n  condition: kw\n", 6, "null inside a list"},
		{"null with modifier", head + "  sel:\n    A|contains: null\n  condition: sel\n", 6, `null value with modifier "contains"`},
		{"missing title", "logsource: {product: windows}\ndetection:\n  sel:\n    A: 1\n  condition: sel\n", 1, "missing 'title'"},
		{"missing logsource", "title: t\ndetection:\n  sel:\n    A: 1\n  condition: sel\n", 1, "missing 'logsource'"},
		{"missing detection", "title: t\nlogsource: {product: windows}\n", 1, "no 'detection', 'correlation' or 'filter'"},
		{"missing condition", head + "  sel:\n    A: 1\n", 4, "missing 'condition'"},
		{"condition outside detection", "title: t\nlogsource: {product: windows}\ncondition: sel\n", 3, "'condition' must be inside 'detection'"},
		{"duplicate key", head + "  sel:\n    A: 1\n    A: 2\n  condition: sel\n", 7, `duplicate key "A" (first at line 6)`},
		{"duplicate identifier", head + "  sel:\n    A: 1\n  sel:\n    B: 2\n  condition: sel\n", 7, `duplicate key "sel"`},
		{"nested mapping", head + "  sel:\n    A:\n      B: 1\n  condition: sel\n", 6, "value is a mapping"},
		{"empty identifier", head + "  sel:\n  condition: sel\n", 5, `"sel" has no value`},
		{"yaml syntax", "title: t\nlogsource: {product: windows\ndetection:\n", 2, "YAML: did not find expected ',' or '}'"},
		{"yaml indentation", "title: t\n logsource: x\n", 2, "YAML: mapping values are not allowed"},
		{"not a mapping", "- a\n- b\n", 1, "not a mapping"},
		{"modifier on identifier", head + "  sel|endswith:\n    A: 1\n  condition: 1 of sel*\n", 5, `invalid search identifier "sel|endswith"`},
		{"correlation without type", "title: c\ncorrelation:\n  rules: [a]\n  timespan: 5m\n", 2, "missing 'type'"},
		{"correlation unknown type", "title: c\ncorrelation:\n  type: count\n  rules: [a]\n  timespan: 5m\n", 3, `unknown type "count"`},
		{"correlation timespan outside", "title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\ntimespan: 60m\n", 2, "a top-level 'timespan' was found at line 5: it belongs inside 'correlation:'"},
		{"correlation bad timespan", "title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5 minutes\n", 5, "want an integer followed by s, m, h, d, w, M or y"},
		{"correlation without condition", "title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n", 2, "needs a condition"},
		{"correlation value_count without field", "title: c\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 5m\n  condition:\n    gte: 3\n", 6, "needs a condition field"},
		{"correlation unknown condition key", "title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition:\n    greater: 3\n", 7, `unknown condition key "greater"`},
		{"correlation string condition", "title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  condition: a and b\n", 6, "boolean expressions over rule names are not supported"},
		{"correlation unknown key", "title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  window: 3\n", 6, `unknown key "window"`},
		{"correlation generate not bool", "title: c\ngenerate: maybe\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n", 2, "'generate' must be true or false"},
		{"filter without rules", "title: f\nlogsource: {product: windows}\nfilter:\n  sel:\n    A: 1\n  condition: sel\n", 3, "filter: missing 'rules'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := Parse("rule.yml", []byte(tc.doc))
			var refused []Error
			for _, e := range errs {
				if !e.Warning {
					refused = append(refused, e)
				}
			}
			if len(refused) != 1 {
				t.Fatalf("want one refusal, got %v", errs)
			}
			e := refused[0]
			if e.Line != tc.line || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", e.Error(), e.Line, tc.line, tc.msg)
			}
			if !strings.HasPrefix(e.Error(), "rule.yml:") {
				t.Errorf("Error() = %q, want file:line: prefix", e.Error())
			}
			if n := len(f.Rules) + len(f.Correlations) + len(f.Filters); n != 0 && tc.name != "action repeat" {
				t.Errorf("refused document still loaded (%d documents)", n)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := Error{File: "a.yml", Line: 3, Message: "bad"}
	if e.Error() != "a.yml:3: bad" {
		t.Errorf("got %q", e.Error())
	}
	e.Column = 7
	if e.Error() != "a.yml:3:7: bad" {
		t.Errorf("got %q", e.Error())
	}
	e.Warning = true
	if e.Error() != "a.yml:3:7: warning: bad" {
		t.Errorf("got %q", e.Error())
	}
}

// TestSeveralBrokenDocuments: each broken document is reported; the good ones load.
func TestSeveralBrokenDocuments(t *testing.T) {
	doc := head + "  sel:\n    A: 1\n  condition: sel\n" + // good, lines 1-7
		"---\n" + head + "  sel:\n    A|bogus: 1\n  condition: sel\n" + // bad modifier, line 14
		"---\ntitle: [unclosed\n" + // YAML error at line 17, found at the end of the document (18)
		"---\n" + head + "  sel:\n    B: 1\n  condition: sel\n" + // good
		"---\n" + head + "  sel:\n    B: 1\n  condition: nope\n" // undefined, line 32
	f, errs := Parse("multi.yml", []byte(doc))
	if len(f.Rules) != 2 {
		t.Errorf("loaded %d rules, want 2", len(f.Rules))
	}
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	if len(errs) != 3 || lines[0] != 14 || lines[1] != 18 || lines[2] != 33 {
		t.Errorf("problems %v (lines %v), want 3 at lines 14, 18, 33", errs, lines)
	}
	if f.Rules[1].Line != 19 {
		t.Errorf("second good rule at line %d, want 19", f.Rules[1].Line)
	}
}

// TestLenientMetadata: unknown keys, dates as timestamps or YYYY/MM/DD, scalar references.
func TestLenientMetadata(t *testing.T) {
	doc := "title: t\nid: not-a-uuid\ndate: 2023/01/02\nmodified: 2024-05-06\nreferences: https://x\ncustom_key: {a: 1}\ntags: [attack.t1219]\nlevel: high\nauthor: A, B\n" +
		"logsource: {product: Windows, category: process_creation}\ndetection:\n  sel:\n    A: 1\n  condition: sel\n"
	f, errs := Parse("m.yml", []byte(doc))
	if len(errs) != 0 || len(f.Rules) != 1 {
		t.Fatalf("errs %v", errs)
	}
	r := f.Rules[0]
	if r.Date != "2023/01/02" || r.Modified != "2024-05-06" || len(r.References) != 1 || r.Author != "A, B" || r.Logsource.Product != "windows" {
		t.Errorf("metadata %+v", r.Meta)
	}
	if _, ok := r.Custom["custom_key"]; !ok {
		t.Error("custom key not kept")
	}
}

func TestWarnings(t *testing.T) {
	doc := head + "  sel:\n    A: 1\n  condition: sel and not 1 of filter_optional_*\n"
	f, errs := Parse("w.yml", []byte(doc))
	if len(f.Rules) != 1 || len(errs) != 1 || !errs[0].Warning || !strings.Contains(errs[0].Message, `"filter_optional_*" matches no search identifier: the term is dropped`) {
		t.Fatalf("got %v", errs)
	}
	if got := f.Rules[0].Detection.Condition.String(); got != "sel" {
		t.Errorf("condition %q, want sel", got)
	}
}

func TestScalars(t *testing.T) {
	doc := head + "  sel:\n    A: 0x17\n    B: '0x17'\n    C: 1e3\n    D: yes\n    E: true\n    F: ~\n    G: 1.50\n  condition: sel\n"
	f, errs := Parse("s.yml", []byte(doc))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := map[string]Value{
		"A": {Text: "0x17", Kind: Int}, "B": {Text: "0x17", Kind: String, Quoted: true},
		"C": {Text: "1e3", Kind: Float}, "D": {Text: "yes", Kind: String}, "E": {Text: "true", Kind: Bool},
		"F": {Text: "~", Kind: Null}, "G": {Text: "1.50", Kind: Float},
	}
	for _, it := range f.Rules[0].Detection.Searches["sel"].Any[0] {
		v := it.Values[0]
		w := want[it.Field]
		if v.Text != w.Text || v.Kind != w.Kind || v.Quoted != w.Quoted {
			t.Errorf("%s: got %q %v quoted=%v, want %q %v %v", it.Field, v.Text, v.Kind, v.Quoted, w.Text, w.Kind, w.Quoted)
		}
	}
}

func TestTimespan(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "5m": 5 * time.Minute, "2h": 2 * time.Hour, "1d": 24 * time.Hour,
		"1w": 7 * 24 * time.Hour, "1M": time.Duration(30.44 * 24 * float64(time.Hour)),
		"1y": time.Duration(365.25 * 24 * float64(time.Hour)),
	} {
		got, err := ParseTimespan(s)
		if err != nil || got != want {
			t.Errorf("%s: got %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "5", "m", "-5m", "0m", "5min", "1.5h", "999999999y"} {
		if _, err := ParseTimespan(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestCorrelationParse(t *testing.T) {
	doc := "title: c\nid: cid\ngenerate: true\ncorrelation:\n  type: value_count\n  rules: [a, b]\n  group-by: [User]\n  timespan: 1h\n" +
		"  aliases:\n    ip:\n      a: SourceIp\n      b: DestinationIp\n  condition:\n    field: [Image, User]\n    gt: 10\n    lte: 20\n"
	f, errs := Parse("c.yml", []byte(doc))
	if len(errs) != 0 || len(f.Correlations) != 1 {
		t.Fatal(errs)
	}
	c := f.Correlations[0]
	if c.Type != ValueCount || len(c.Rules) != 2 || c.Timespan != time.Hour || !c.Generate || len(c.Ops) != 2 || len(c.Fields) != 2 || c.Aliases["ip"]["b"] != "DestinationIp" {
		t.Errorf("%+v", c)
	}
	// group-by absent: one global group.
	f, errs = Parse("c.yml", []byte("title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n"))
	if len(errs) != 0 || len(f.Correlations) != 1 || f.Correlations[0].GroupBy != nil || f.Correlations[0].Generate {
		t.Errorf("%v %+v", errs, f.Correlations)
	}
}

// A condition refused for its depth (or any other reason) is quoted cut, never whole: a hostile
// 200 KB condition must not come back in the error.
func TestLongConditionClipped(t *testing.T) {
	deep := strings.Repeat("(", 50000) + "sel" + strings.Repeat(")", 50000)
	long := "sel and " + strings.Repeat("x", 100000)
	for name, cond := range map[string]string{"deep": deep, "long identifier": long, "deep not": strings.Repeat("not ", 300) + "sel"} {
		_, errs := Parse("t.yml", []byte(head+"  sel:\n    A: 1\n  condition: '"+cond+"'\n"))
		if len(errs) != 1 {
			t.Fatalf("%s: errors %v", name, errs)
		}
		msg := errs[0].Error()
		if len(msg) > 400 || !strings.Contains(msg, "bytes)") {
			t.Errorf("%s: message of %d bytes: %.300s", name, len(msg), msg)
		}
	}
	if got := clip("héllo" + strings.Repeat("é", 100)); !strings.HasSuffix(got, "… (206 bytes)") || !utf8ValidPrefix(got) {
		t.Errorf("clip = %q", got)
	}
}

func utf8ValidPrefix(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
