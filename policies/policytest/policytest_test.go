package policytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/policies"
)

const rulesYAML = `
title: Netcat Listener
id: 11111111-1111-4111-8111-111111111111
name: nc_listen
level: medium
logsource: {category: process_creation, product: linux}
detection:
  sel: {Image|endswith: /nc, CommandLine|contains: ' -l'}
  condition: sel
---
title: Archive Written
id: 22222222-2222-4222-8222-222222222222
name: archive_written
logsource: {category: file_event}
detection:
  sel: {ArchiveType: [zip, 7z]}
  condition: sel
---
title: Many Archives
id: 33333333-3333-4333-8333-333333333333
level: high
correlation:
  type: event_count
  rules: [archive_written]
  group-by: [host]
  timespan: 5m
  condition: {gte: 3}
`

func ruleset(t *testing.T) *policies.Ruleset {
	t.Helper()
	rs, problems := policies.ParseBytes("rules.yml", []byte(rulesYAML), policies.LoadOptions{})
	for _, p := range problems {
		t.Fatalf("rule problem: %v", p)
	}
	return rs
}

func mustParse(t *testing.T, text string) *Suite {
	t.Helper()
	s, err := Parse("cases.test.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunOutcomes(t *testing.T) {
	s := mustParse(t, `
cases:
  - name: listener fires
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 4444}}
    expect: [{rule: nc_listen, level: medium}]
  - name: wrong level fails
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 4444}}
    expect: [{rule: Netcat Listener, level: high}]
  - name: unexpected finding fails
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 1}}
    expect: []
  - name: partial allows others
    partial: true
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 1}}
    expect: []
  - name: not catches a firing rule
    partial: true
    not: [nc_listen]
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 1}}
    expect: []
  - name: three archives within the window
    events:
      - category: file_event
        fields: {TargetFilename: '/tmp/p{{i}}.7z', ArchiveType: 7z}
        repeat: 3
        every: 1m
    expect: [{rule: 33333333-3333-4333-8333-333333333333, group: {host: test-host}}]
  - name: spread over ten minutes they do not correlate
    events:
      - {category: file_event, fields: {ArchiveType: zip}}
      - {category: file_event, time: +4m, fields: {ArchiveType: zip}}
      - {category: file_event, time: '@9m', fields: {ArchiveType: zip}}
    expect: []
  - name: wrong count fails
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/nc, CommandLine: nc -l 1}}
    expect: [{rule: nc_listen, count: 2}]
  - name: unknown rule fails
    events:
      - {category: process_creation, product: linux, fields: {Image: /bin/true}}
    expect: [{rule: no_such_rule}]
`)
	want := map[string]string{
		"listener fires":                                "",
		"wrong level fails":                             "level medium, want high",
		"unexpected finding fails":                      `unexpected finding: 11111111-1111-4111-8111-111111111111 "Netcat Listener" (1)`,
		"partial allows others":                         "",
		"not catches a firing rule":                     `rule "nc_listen" must not fire`,
		"three archives within the window":              "",
		"spread over ten minutes they do not correlate": "",
		"wrong count fails":                             "want 2 finding(s), got 1",
		"unknown rule fails":                            `no loaded rule has the id, name or title "no_such_rule"`,
	}
	for _, r := range Run(s, ruleset(t)) {
		w, ok := want[r.Case]
		if !ok {
			t.Fatalf("unexpected case %q", r.Case)
		}
		got := strings.Join(r.Failures, "; ")
		if (w == "") != r.Passed() || (w != "" && !strings.Contains(got, w)) {
			t.Errorf("%s: failures %q, want %q", r.Case, got, w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	// Problems with the file as a whole.
	for in, want := range map[string]string{
		"cases: []":                "cases.test.yml:1: no test cases",
		"cases: {a: 1}":            "cases.test.yml:1: `cases` must be a list",
		"cases: [":                 "cases.test.yml:1: did not find expected node content",
		"case: []":                 `cases.test.yml:1: test file: unknown key "case" (the keys are rules, cases)`,
		"- a":                      "cases.test.yml:1: test file: want a mapping",
		"rules: {a: b}\ncases: []": "cases.test.yml:1: test file: want a list of strings, got a mapping",
		"":                         "cases.test.yml:1: empty test file",
	} {
		_, err := Parse("cases.test.yml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
	// Problems with one case: it is Broken, with the file's line, and the others load.
	for in, want := range map[string]string{
		"  - events: []\n": "cases.test.yml:2: test case has no `name`",
		"  - name: x\n    events: []\n    expect: []\n":                               "cases.test.yml:3: case \"x\": `events` must be a non-empty list",
		"  - name: x\n    events: [{fields: {}}]\n    expect: []\n":                   "cases.test.yml:3: case \"x\": event has no category",
		"  - name: x\n    events: [{category: a}]\n":                                  "cases.test.yml:2: case \"x\": `expect` is missing",
		"  - name: x\n    events: [{category: a, tme: 1}]\n    expect: []\n":          `cases.test.yml:3: event: unknown key "tme" (the keys are id, host, time, category, product, service, fields, repeat, every) (case "x")`,
		"  - name: x\n    events: [{category: a, time: yesterday}]\n    expect: []\n": `cases.test.yml:3: case "x": time "yesterday"`,
		"  - name: x\n    events: [{category: a, every: often}]\n    expect: []\n":    `cases.test.yml:3: case "x": every: bad duration "often"`,
		"  - name: x\n    events: [{category: a}]\n    expect: [{count: 1}]\n":        "cases.test.yml:4: case \"x\": expectation has no `rule`",
		"  - name: x\n    events: [{category: a, repeat: 1000000}]\n    expect: []\n": "cases.test.yml:3: case \"x\": repeat must be between",
		"  - name: x\n    events: [{category: a, repeat: lots}]\n    expect: []\n":    `cases.test.yml:3: event: want a whole number, got a string (lots) (case "x")`,
		"  - name: x\n    events: [{category: a}]\n    expct: []\n":                   `cases.test.yml:4: test case: unknown key "expct" (the keys are name, start, events, expect, not, partial)`,
		"  - name: x\n    events: {category: a}\n    expect: []\n":                    "cases.test.yml:3: case \"x\": `events` must be a non-empty list",
		"  - name: x\n    not: {a: b}\n    events: [{category: a}]\n    expect: []\n": "cases.test.yml:3: test case: want a list of strings, got a mapping",
		"  - just a string\n": `cases.test.yml:2: test case: want a mapping of keys to values, got "just a string"`,
	} {
		// The broken case comes first (line 2 on), the good one after it.
		text := "cases:\n" + in + "  - name: good\n    events: [{category: a}]\n    expect: []\n"
		s, err := Parse("cases.test.yml", []byte(text))
		if err != nil {
			t.Errorf("%q: whole file refused: %v", in, err)
			continue
		}
		if len(s.Broken) != 1 || s.Broken[0].Err != want && !strings.HasPrefix(s.Broken[0].Err, want) {
			t.Errorf("%q: broken %+v, want %q", in, s.Broken, want)
		}
		if len(s.Cases) != 1 || s.Cases[0].Name != "good" {
			t.Errorf("%q: the good case must still load: %+v", in, s.Cases)
		}
		for _, goism := range []string{"policytest.", "rawCase", "rawEvent", "!!", "[]string", "map["} {
			if len(s.Broken) == 1 && strings.Contains(s.Broken[0].Err, goism) {
				t.Errorf("%q: %q speaks Go (%s)", in, s.Broken[0].Err, goism)
			}
		}
	}
}

func TestBuildEventsTimes(t *testing.T) {
	s := mustParse(t, `
cases:
  - name: clock
    start: 2026-03-01T10:00:00Z
    events:
      - {category: a, fields: {n: 'x{{i}}'}, repeat: 2, every: 30s}
      - {category: a, time: +1h}
      - {category: a, time: '@1d'}
      - {category: a, time: '2026-03-05T00:00:00Z', id: fixed}
    expect: []
`)
	evs, err := s.Cases[0].BuildEvents()
	if err != nil {
		t.Fatal(err)
	}
	times := []string{"2026-03-01T10:00:00Z", "2026-03-01T10:00:30Z", "2026-03-01T11:00:30Z", "2026-03-02T10:00:00Z", "2026-03-05T00:00:00Z"}
	for i, ev := range evs {
		if got := ev.Time.Format("2006-01-02T15:04:05Z07:00"); got != times[i] {
			t.Errorf("event %d at %s, want %s", i, got, times[i])
		}
	}
	if evs[1].Fields["n"] != "x1" || evs[0].Fields["n"] != "x0" || evs[4].ID != "fixed" || evs[0].Host != "test-host" {
		t.Errorf("templating, ids or host wrong: %+v %+v %+v", evs[0], evs[1], evs[4])
	}
}

func TestCoveredSilentRules(t *testing.T) {
	s := mustParse(t, `
cases:
  - name: three archives
    events:
      - {category: file_event, fields: {ArchiveType: zip}, repeat: 3}
    expect: [{rule: Many Archives}]
`)
	cov := Covered(ruleset(t), []*Suite{s})
	if !cov["33333333-3333-4333-8333-333333333333"] || !cov["22222222-2222-4222-8222-222222222222"] {
		t.Errorf("the correlation and its silent base rule must be covered: %v", cov)
	}
	if cov["11111111-1111-4111-8111-111111111111"] {
		t.Error("nc_listen has no case")
	}
}

// The built-in pack: every case passes and every rule has a positive case, as
// `vigil policy test --strict policies/rules` requires.
func TestBuiltinPack(t *testing.T) {
	root := filepath.Join("..", "rules")
	rs, problems, err := policies.LoadPaths([]string{root}, policies.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("pack problem (errors and warnings alike): %v", p)
	}
	var suites []*Suite
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !IsTestFile(d.Name()) {
			return err
		}
		s, err := LoadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		suites = append(suites, s)
		for _, b := range s.Broken {
			t.Error(b.Err)
		}
		set := rs
		if len(s.Rules) > 0 {
			var probs []policies.Problem
			if set, probs, err = policies.LoadPaths(s.SuiteRules(), policies.LoadOptions{}); err != nil {
				return err
			}
			for _, pr := range probs {
				t.Errorf("%s: rules of the suite: %v", p, pr)
			}
		}
		for _, r := range Run(s, set) {
			if !r.Passed() {
				t.Errorf("FAIL %s:%d %s\n    %s", r.File, r.Line, r.Case, strings.Join(r.Failures, "\n    "))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, s := range suites {
		cases += len(s.Cases)
	}
	for id, ok := range Covered(rs, suites) {
		if !ok {
			t.Errorf("rule %s has no positive case", id)
		}
	}
	if len(rs.Rules()) < 150 || cases < 400 {
		t.Errorf("the pack shrank: %d rules, %d cases", len(rs.Rules()), cases)
	}
	t.Logf("built-in pack: %d rules and correlations, %d cases", len(rs.Rules()), cases)
	// The README states both counts.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d rules and correlations", len(rs.Rules()))
	if m := regexp.MustCompile(`[0-9,]+ rules and correlations`).FindString(string(readme)); m != want {
		t.Errorf("README.md says %q; the pack has %s", m, want)
	}
	want = fmt.Sprintf("%d test cases", cases)
	if m := regexp.MustCompile(`[0-9,]+ test cases`).FindString(string(readme)); m != want {
		t.Errorf("README.md says %q; the pack has %s", m, want)
	}
}

// The test-case example in docs/policy-tools.md runs, and passes, against the built-in pack.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "policy-tools.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "```yaml\n# my.test.yml")
	if start < 0 {
		t.Fatal("the example is gone from docs/policy-tools.md")
	}
	start += len("```yaml\n")
	end := strings.Index(text[start:], "```")
	s, err := Parse("docs/policy-tools.md", []byte(text[start:start+end]))
	if err != nil || len(s.Broken) > 0 {
		t.Fatal(err, s.Broken)
	}
	rs, problems, err := policies.LoadFS(policies.BuiltinFS(), policies.LoadOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	for _, r := range Run(s, rs) {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Case, r.Failures)
		}
	}
}
