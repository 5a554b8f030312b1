package policies

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const expandRule = `title: Admin logon
id: 22222222-0000-4000-8000-000000000001
logsource: {product: windows, service: security}
detection:
  sel:
    TargetUserName|expand: '%Administrators%'
  condition: sel
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	rules := write("rules/a.yml", baseRules)
	expand := write("expand/x.yml", expandRule)
	ph := write("ph.yml", "Administrators: [admin, root]\nJumpServers: jump-01\n")

	t.Run("empty set is an error unless allowed", func(t *testing.T) {
		_, _, err := Load(LoadSpec{Paths: []string{empty}})
		if !errors.Is(err, ErrNoRules) || !strings.Contains(err.Error(), empty) {
			t.Errorf("error %v, want ErrNoRules naming %s", err, empty)
		}
		rs, _, err := Load(LoadSpec{Paths: []string{empty}, AllowEmpty: true})
		if err != nil || rs.Len() != 0 {
			t.Errorf("AllowEmpty: %v", err)
		}
		// Nothing asked (a scan with --no-builtin and no --rules): an empty set, no error.
		if rs, _, err := Load(LoadSpec{}); err != nil || rs.Len() != 0 {
			t.Errorf("nothing asked: %v", err)
		}
	})
	t.Run("paths and builtin merge", func(t *testing.T) {
		rs, problems, err := Load(LoadSpec{Paths: []string{rules}, Builtin: true})
		if err != nil || len(problems) != 0 {
			t.Fatal(err, problems)
		}
		builtin, _, _ := LoadFS(BuiltinFS(), LoadOptions{})
		if rs.Len() != 3+builtin.Len() {
			t.Errorf("%d rules, want 3 + %d", rs.Len(), builtin.Len())
		}
		mine := 0
		for _, ri := range rs.Rules() {
			if !ri.Builtin {
				mine++
				if ri.File != rules {
					t.Errorf("%s (%s) is not marked built-in", ri.Title, ri.File)
				}
			}
		}
		if mine != 3 {
			t.Errorf("%d rules not built-in, want 3", mine)
		}
	})
	t.Run("placeholders file", func(t *testing.T) {
		_, problems, err := Load(LoadSpec{Paths: []string{expand}})
		if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "unresolved placeholder %Administrators%") {
			t.Errorf("without values: %v %v", err, problems)
		}
		rs, problems, err := Load(LoadSpec{Paths: []string{expand}, PlaceholdersFile: ph})
		if err != nil || len(problems) != 0 || rs.Len() != 1 {
			t.Errorf("with values: %v %v", err, problems)
		}
		if _, _, err := Load(LoadSpec{Paths: []string{expand}, PlaceholdersFile: filepath.Join(dir, "nope.yml")}); err == nil {
			t.Error("missing placeholders file: no error")
		}
	})
	t.Run("problems sorted, each once", func(t *testing.T) {
		write("p/b.yml", "title: x\n")
		write("p/a.yml", "title: y\nlogsource: {}\n")
		_, problems, err := Load(LoadSpec{Paths: []string{filepath.Join(dir, "p"), filepath.Join(dir, "p")}, AllowEmpty: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 2 || !strings.HasSuffix(problems[0].File, "a.yml") || !strings.HasSuffix(problems[1].File, "b.yml") {
			t.Errorf("problems %v", problems)
		}
		if e, w := CountProblems(append(problems, Problem{Warning: true})); e != 2 || w != 1 {
			t.Errorf("CountProblems = %d, %d", e, w)
		}
	})
}

func TestParsePlaceholders(t *testing.T) {
	got, err := ParsePlaceholders("ph.yml", []byte("A: [x, 2]\nB: one\n"))
	if err != nil || strings.Join(got["A"], ",") != "x,2" || strings.Join(got["B"], ",") != "one" {
		t.Errorf("got %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"A:\n":             "ph.yml:1: \"A\": want a value",
		"A: []\n":          "ph.yml:1: \"A\" has no values",
		"A: {b: c}\n":      "ph.yml:1: \"A\": want a value or a list",
		"A: [x, [y]]\n":    "ph.yml:1: \"A\": each value must be",
		"- x\n":            "ph.yml:1: want a mapping",
		"A: [x]\nA: [y]\n": "ph.yml:2: \"A\" is given twice",
		"A: [x\n":          "placeholders ph.yml:",
	} {
		if _, err := ParsePlaceholders("ph.yml", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestLevelRank(t *testing.T) {
	prev := 0
	for _, l := range Levels() {
		if r := LevelRank(l); r != prev+1 {
			t.Errorf("LevelRank(%q) = %d, want %d", l, r, prev+1)
		}
		prev++
	}
	if prev != 5 || LevelRank("") != 0 || LevelRank("severe") != 0 || LevelRank("High") != 0 {
		t.Error("levels: five, and nothing else ranks")
	}
	Levels()[0] = "x"
	if Levels()[0] != "informational" {
		t.Error("Levels must return a copy")
	}
}
