package sigma

import (
	"strings"
	"testing"
)

// FuzzParse: arbitrary bytes never panic or hang the parser, and every problem has a position.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + "  sel:\n    A|contains|all: [a, b]\n  condition: sel and not 1 of filter_*\n"))
	f.Add([]byte("title: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  aliases: {x: {a: f}}\n"))
	f.Add([]byte("title: f\nlogsource: {product: windows}\nfilter:\n  rules: [a]\n  sel: {A: 1}\n  condition: sel\n"))
	f.Add([]byte("---\n---\n...\naction: global\n"))
	f.Add([]byte(head + "  sel:\n    - 'kw'\n    - A|re: '(?i)x'\n  condition: " + strings.Repeat("(", 300) + "sel" + strings.Repeat(")", 300) + "\n"))
	f.Add([]byte("a: &x [*x, *x]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, errs := Parse("fuzz.yml", data)
		if file == nil {
			t.Fatal("nil file")
		}
		for _, e := range errs {
			if e.File != "fuzz.yml" || e.Message == "" {
				t.Fatalf("bad problem %#v", e)
			}
		}
		for _, r := range file.Rules {
			if r.Detection.Condition == nil || r.Title == "" {
				t.Fatalf("rule loaded without condition or title: %+v", r)
			}
			_ = r.Detection.Condition.String()
		}
	})
}
