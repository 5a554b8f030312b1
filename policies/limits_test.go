package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
)

// adversarial builds rule files of about size bytes shaped to cost the most per byte.
var adversarial = map[string]func(size int) string{
	// The most YAML nodes per byte, in one rule (refused past MaxValuesPerRule after parsing).
	"keyword list": func(size int) string {
		return "title: t\nlogsource: {category: process_creation}\ndetection:\n  kw:\n" +
			strings.Repeat("    - a\n", size/8) + "  condition: kw\n"
	},
	// The most YAML nodes per byte, in flow style.
	"flow list": func(size int) string {
		return "title: t\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    A: [" +
			strings.Repeat("a,", size/2) + "a]\n  condition: sel\n"
	},
	// Rules just under the per-rule limit, with distinct literals: the prefilter's worst case.
	"distinct literals": func(size int) string {
		var b strings.Builder
		for d := 0; b.Len() < size; d++ {
			fmt.Fprintf(&b, "---\ntitle: t%d\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    CommandLine|contains:\n", d)
			for i := 0; i < 9000 && b.Len() < size; i++ {
				fmt.Fprintf(&b, "      - x%07d%07dyz\n", d, i)
			}
			b.WriteString("  condition: sel\n")
		}
		return b.String()
	},
	// Regular expressions until the regexp budget.
	"regexps": func(size int) string {
		var b strings.Builder
		for d := 0; b.Len() < size; d++ {
			fmt.Fprintf(&b, "---\ntitle: r%d\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    Image|re:\n", d)
			for i := 0; i < 100 && b.Len() < size; i++ {
				fmt.Fprintf(&b, "      - 'e%d_%d(a|b|c)[a-z]{2,9}\\s+x?$'\n", d, i)
			}
			b.WriteString("  condition: sel\n")
		}
		return b.String()
	},
	// An anchor referenced again and again (each reference counts as its values).
	"anchor references": func(size int) string {
		var b strings.Builder
		b.WriteString("title: t\nlogsource: {category: process_creation}\ndetection:\n  base: &v\n    A: [")
		b.WriteString(strings.Repeat("abc,", 5000) + "abc]\n")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "  s%d: *v\n", i)
		}
		b.WriteString("  condition: 1 of s*\n")
		return b.String()
	},
	// base64offset expands each value into three literals.
	"base64offset": func(size int) string {
		var b strings.Builder
		for d := 0; b.Len() < size; d++ {
			fmt.Fprintf(&b, "---\ntitle: b%d\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    CommandLine|base64offset|contains:\n", d)
			for i := 0; i < 3000 && b.Len() < size; i++ {
				fmt.Fprintf(&b, "      - %s%07d%07d\n", strings.Repeat("q", 40), d, i)
			}
			b.WriteString("  condition: sel\n")
		}
		return b.String()
	},
	// Many search identifiers for one `1 of` condition.
	"identifiers": func(size int) string {
		var b strings.Builder
		b.WriteString("title: t\nlogsource: {category: process_creation}\ndetection:\n")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "  s%d: {A: v%d}\n", i, i)
		}
		b.WriteString("  condition: 1 of s*\n")
		return b.String()
	},
	// Deep YAML nesting.
	"nesting": func(size int) string {
		n := size / 2
		return "title: t\nlogsource: {category: process_creation}\ndetection:\n  sel: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n  condition: sel\n"
	},
}

// loadCost is what loading data, building an engine and matching one event of each common
// logsource (so the prefilter's buckets are built) allocates in total.
func loadCost(data string) (alloc uint64, loaded int, problems []Problem) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rs, problems := ParseBytes("adversarial.yml", []byte(data), LoadOptions{})
	if eng, err := NewEngine(rs, EngineOptions{}); err == nil {
		for _, cat := range []string{"process_creation", "network_connection", "file_event"} {
			eng.Process(&event.Event{ID: "e", Category: cat, Product: "windows", Fields: map[string]any{"CommandLine": "x0000001y", "Image": "e1_1abcc"}}, nil)
		}
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, rs.Len(), problems
}

// TestLoadMemoryBound: loading any of the costliest shapes of rule file, at the file-size cap,
// allocates less than MemoryBound in total (total allocation bounds the peak heap).
func TestLoadMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("loads several rule files at the size cap")
	}
	size := DefaultLimits().MaxFileBytes - 4096
	for name, gen := range adversarial {
		data := gen(size)
		if len(data) > DefaultLimits().MaxFileBytes {
			data = data[:DefaultLimits().MaxFileBytes]
		}
		alloc, loaded, problems := loadCost(data)
		first := ""
		if len(problems) > 0 {
			first = problems[0].Error()
			if len(first) > 160 {
				first = first[:160]
			}
		}
		t.Logf("%-18s %4.1f MiB file: %5d MiB allocated, %d rules loaded, %d problems %s", name, float64(len(data))/(1<<20), alloc>>20, loaded, len(problems), first)
		if alloc > MemoryBound {
			t.Errorf("%s: %d MiB allocated, over the %d MiB bound", name, alloc>>20, MemoryBound>>20)
		}
	}
}

// FuzzLoadMemoryBound: whatever the bytes, loading them allocates in proportion to their size
// (at most 512 bytes per byte plus 32 MiB), so no small file can blow up: not through anchors,
// placeholders, encodings nor the prefilter.
func FuzzLoadMemoryBound(f *testing.F) {
	for _, gen := range adversarial {
		f.Add([]byte(gen(2000)))
	}
	f.Add([]byte("title: t\nlogsource: {product: windows}\ndetection:\n  a: &x {A|base64offset|contains: [aaaa, bbbb]}\n  b: [*x, *x, *x]\n  condition: a and b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > DefaultLimits().MaxFileBytes {
			return
		}
		alloc, _, _ := loadCost(string(data))
		if bound := 512*uint64(len(data)) + 32<<20; alloc > bound {
			t.Fatalf("%d bytes allocated %d MiB, over %d MiB", len(data), alloc>>20, bound>>20)
		}
	})
}

// TestComplexityBudget: each limit refuses the rule that crosses it, naming file and line, and
// what was refused charges nothing (a later small rule still loads).
func TestComplexityBudget(t *testing.T) {
	rule := func(title, det string) string {
		return "---\ntitle: " + title + "\nlogsource: {category: process_creation}\ndetection:\n" + det + "  condition: sel\n"
	}
	list := func(key string, n int, val func(i int) string) string {
		var b strings.Builder
		b.WriteString("  sel:\n    " + key + ":\n")
		for i := 0; i < n; i++ {
			b.WriteString("      - '" + val(i) + "'\n")
		}
		return b.String()
	}
	plain := func(i int) string { return fmt.Sprintf("v%06d", i) }
	small := rule("small", "  sel: {Image: x}\n")
	cases := []struct {
		name   string
		limits Limits
		ph     map[string][]string
		file   string
		line   int
		msg    string
	}{
		{"values per rule", Limits{}, nil, rule("big", list("A", 10001, plain)) + small, 10007,
			"more than 10000 values in one rule"},
		{"anchor references", Limits{}, nil, rule("anchors", "  base: &v {A: ["+strings.TrimSuffix(strings.Repeat("x,", 3000), ",")+"]}\n  sel: [*v, *v, *v, *v]\n") + small, 5,
			"more than 10000 values in one rule"},
		{"values of a file", Limits{MaxValues: 100}, nil, rule("a", list("A", 60, plain)) + rule("b", list("B", 60, plain)) + small, 114,
			"more than 100 values in one file"},
		{"placeholder expansion", Limits{MaxValuesPerRule: 1000}, map[string][]string{"p": strings.Split(strings.Repeat("a,", 599)+"a", ",")},
			rule("expand", "  sel:\n    A|expand: ['%p%x', '%p%y']\n") + small, 6, "more than 1000 comparisons in one rule"},
		{"regexp per rule", Limits{MaxRegexpPerRule: 100}, nil, rule("re", list("A|re", 20, func(i int) string { return fmt.Sprintf("a%d[bc]{1,3}d", i) })) + small, 0,
			"the rule's regular expressions compile to more than 100 instructions"},
		{"regexp of a load", Limits{MaxRegexp: 60}, nil, rule("re1", list("A|re", 5, func(i int) string { return fmt.Sprintf("a%d[bc]{1,3}d", i) })) +
			rule("re2", list("A|re", 5, func(i int) string { return fmt.Sprintf("a%d[bc]{1,3}d", i) })) + small, 0,
			"compile to more than 60 instructions"},
		{"prefilter bytes", Limits{MaxPrefilterBytes: 1000}, nil, rule("lits", list("A|contains", 100, func(i int) string { return fmt.Sprintf("literal-%06d", i) })) + small, 0,
			"the prefilter literals of the rules loaded together exceed 1000 bytes"},
		{"file size", Limits{MaxFileBytes: 100}, nil, small + small, 1, "larger than the 100-byte limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, problems := ParseBytes("budget.yml", []byte(tc.file), LoadOptions{Limits: tc.limits, Placeholders: tc.ph})
			if len(problems) == 0 {
				t.Fatalf("no problem; %d rules loaded", rs.Len())
			}
			p := problems[0]
			if p.File != "budget.yml" || p.Warning || !strings.Contains(p.Message, tc.msg) || tc.line > 0 && p.Line != tc.line || p.Line == 0 {
				t.Errorf("problem %v, want line %d: %q", p, tc.line, tc.msg)
			}
			if tc.name != "file size" {
				small := 0
				for _, ri := range rs.Rules() {
					if ri.Title == "small" {
						small++
					}
				}
				if small != 1 {
					t.Errorf("the small rule after the refused one must load: %v", problems)
				}
			}
		})
	}
}

// TestFileSizeLimitOnDisk: a rule file over MaxFileBytes is refused whole, read no further than
// one byte past the limit, and the problem does not report that byte count as the file's size.
func TestFileSizeLimitOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yml")
	rule := "title: t\nlogsource: {category: process_creation}\ndetection:\n  sel: {Image: x}\n  condition: sel\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(rule+"---\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, problems, err := LoadPaths([]string{path}, LoadOptions{Limits: Limits{MaxFileBytes: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 0 || len(problems) != 1 || problems[0].Line != 1 || !strings.Contains(problems[0].Message, "larger than the 100-byte limit") ||
		strings.Contains(problems[0].Message, "101") {
		t.Errorf("%d rules loaded, problems %v; want the file refused for its size, without a made-up size", rs.Len(), problems)
	}
}
