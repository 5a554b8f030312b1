package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runVigil runs the CLI in-process and returns stdout, stderr and the exit status main would use.
func runVigil(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.Execute()
	code := 0
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		errOut.WriteString(err.Error())
		code = 2
	}
	return out.String(), errOut.String(), code
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const x11vncRule = `title: x11vnc Started
id: 6d1f3e6a-8f5c-4d0e-9b7a-3c2e1f0a9b8c
name: x11vnc_started
author: Test Author
level: high
tags: [attack.t1219]
logsource: {category: process_creation, product: linux}
detection:
  sel: {Image|endswith: /x11vnc}
  condition: sel
`

func TestPolicyLint(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.yml": x11vncRule,
		"bad/typo.yml": `title: Typo
logsource: {category: process_creation}
detection:
  sel:
    Image|endwith: /x
  condition: sel
`,
		"bad/legacy.yml": `title: Legacy
logsource: {category: process_creation}
detection:
  sel: {Image: x}
  condition: sel | count() by User > 5
`,
		"warn/drop.yml": `title: Dropped
logsource: {category: process_creation}
detection:
  sel: {Image: x}
  condition: sel and not 1 of filter_optional_*
`,
		"cases.test.yml": "cases: []\n",
	})
	out, errOut, code := runVigil(t, "", "policy", "lint", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		filepath.Join(dir, "bad", "typo.yml") + ":5:",
		"endwith",
		filepath.Join(dir, "bad", "legacy.yml") + ":5:",
		filepath.Join(dir, "warn", "drop.yml") + ":5:",
		"warning:",
		filepath.Join(dir, "cases.test.yml") + ":1: no test cases",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "3 errors, 1 warnings") {
		t.Errorf("summary: %s", errOut)
	}
	// Warnings alone pass, unless --strict.
	warnOnly := filepath.Join(dir, "warn")
	if _, _, code := runVigil(t, "", "policy", "lint", warnOnly); code != 0 {
		t.Errorf("warnings alone: exit %d, want 0", code)
	}
	if _, _, code := runVigil(t, "", "policy", "lint", "--strict", warnOnly); code != 1 {
		t.Errorf("--strict with a warning: exit %d, want 1", code)
	}
	if _, _, code := runVigil(t, "", "policy", "lint", filepath.Join(dir, "good.yml")); code != 0 {
		t.Errorf("a good rule: exit %d", code)
	}
	if _, _, code := runVigil(t, "", "policy", "lint", filepath.Join(dir, "missing")); code != 2 {
		t.Errorf("a missing path: exit %d, want 2", code)
	}
}

func TestPolicyEval(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.yml": x11vncRule})
	events := `{"id":"e1","host":"laptop-7","time":"2026-11-22T10:00:00Z","category":"process_creation","product":"linux","fields":{"Image":"/usr/bin/x11vnc","CommandLine":"x11vnc -display :0"}}
{"category":"process_creation","product":"linux","fields":{"Image":"/usr/bin/ssh"}}
{"category":"process_creation","product":"linux","fields":{"Image":"/usr/local/bin/x11vnc"}}
`
	out, errOut, code := runVigil(t, events, "policy", "eval", "--rules", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 findings, got:\n%s", out)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &f); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"rule_id": "6d1f3e6a-8f5c-4d0e-9b7a-3c2e1f0a9b8c", "rule_name": "x11vnc_started",
		"title": "x11vnc Started", "level": "high", "author": "Test Author", "host": "laptop-7", "time": "2026-11-22T10:00:00Z"} {
		if f[k] != v {
			t.Errorf("%s = %v, want %v", k, f[k], v)
		}
	}
	if ids, _ := f["event_ids"].([]any); len(ids) != 1 || ids[0] != "e1" {
		t.Errorf("event_ids = %v", f["event_ids"])
	}
	if tags, _ := f["tags"].([]any); len(tags) != 1 || tags[0] != "attack.t1219" {
		t.Errorf("tags = %v", f["tags"])
	}
	var g map[string]any
	_ = json.Unmarshal([]byte(lines[1]), &g)
	if ids, _ := g["event_ids"].([]any); len(ids) != 1 || len(ids[0].(string)) != 26 {
		t.Errorf("an event without id gets a ULID: %v", g["event_ids"])
	}

	// Bad input names the line; a broken rule stops evaluation.
	_, errOut, code = runVigil(t, "{\"category\":\"x\",\"fields\":{}}\n{oops\n", "policy", "eval", "--rules", dir)
	if code != 2 || !strings.Contains(errOut, "stdin:2:") {
		t.Errorf("bad event line: exit %d, %s", code, errOut)
	}
	bad := writeFiles(t, map[string]string{"b.yml": "title: b\nlogsource: {category: x}\ndetection: {condition: nothing}\n"})
	if _, errOut, code := runVigil(t, "", "policy", "eval", "--rules", bad); code != 2 || !strings.Contains(errOut, "b.yml:") {
		t.Errorf("broken rule: exit %d, %s", code, errOut)
	}
	if _, _, code := runVigil(t, "", "policy", "eval"); code != 2 {
		t.Errorf("no rules: exit %d, want 2", code)
	}
	// A folder without rules is an error unless --allow-empty asks for it.
	empty := t.TempDir()
	if _, errOut, code := runVigil(t, "", "policy", "eval", "--rules", empty); code != 2 || !strings.Contains(errOut, "no rules loaded from "+empty) || strings.Count(errOut, "--allow-empty") != 1 {
		t.Errorf("empty rule folder: exit %d, %s (want --allow-empty named once)", code, errOut)
	}
	// The commands without --allow-empty do not suggest it.
	for _, args := range [][]string{{"policy", "docs", empty}, {"scan", "--only", "host", "--no-builtin", "--rules", empty}} {
		if _, errOut, code := runVigil(t, "", args...); code != 2 || !strings.Contains(errOut, "no rules loaded from "+empty) || strings.Contains(errOut, "--allow-empty") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if _, errOut, code := runVigil(t, events, "policy", "eval", "--allow-empty", "--rules", empty); code != 0 {
		t.Errorf("--allow-empty: exit %d, %s", code, errOut)
	}
}

// Event lines the schema does not describe are warnings with file:line, errors under --strict.
func TestPolicyEvalEventWarnings(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.yml": x11vncRule})
	events := `{"categroy":"process_creation","product":"linux","fields":{"Image":"/usr/bin/x11vnc"}}
null
{"category":"process_creation","product":"linux","fields":{"Image":"/bin/sh","Image":"/usr/bin/x11vnc"}}
`
	out, errOut, code := runVigil(t, events, "policy", "eval", "--rules", dir)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("exit %d, %d findings: %s", code, strings.Count(out, "\n"), errOut)
	}
	for _, want := range []string{`stdin:1: warning: unknown key "categroy"`, "stdin:2: warning: null is not an event", `stdin:3: warning: key "fields.Image" is given twice`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = runVigil(t, events, "policy", "eval", "--strict", "--rules", dir)
	if code != 2 || !strings.Contains(errOut, `stdin:1: unknown key "categroy"`) {
		t.Errorf("--strict: exit %d, %s", code, errOut)
	}
	_, errOut, code = runVigil(t, `{"time":"yesterday","fields":{}}`, "policy", "eval", "--rules", dir)
	if code != 2 || !strings.Contains(errOut, `stdin:1: field "time": "yesterday" is not an RFC 3339 time`) {
		t.Errorf("bad time: exit %d, %s", code, errOut)
	}
}

func TestPolicyEvalEvtxJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.yml": `title: Sc Stop
id: 0c0e3c56-6f7e-4e4b-9d1f-8b2d3f6a7c11
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\sc.exe', CommandLine|contains: ' stop '}
  condition: sel
`})
	rec := `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-1","EventRecordID":9},"EventData":{"Image":"C:\\Windows\\System32\\sc.exe","CommandLine":"sc  stop mpssvc"}}}`
	out, errOut, code := runVigil(t, rec, "policy", "eval", "--format", "evtx-json", "--rules", dir)
	if code != 0 || !strings.Contains(out, `"host":"ws-1"`) {
		t.Errorf("exit %d, out %s, err %s", code, out, errOut)
	}
}

func TestPolicyTestCommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml": x11vncRule,
		"r.test.yml": `cases:
  - name: x11vnc fires
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/x11vnc}}
    expect: [{rule: x11vnc_started}]
  - name: vncviewer does not
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/vncviewer}}
    expect: []
`,
	})
	out, _, code := runVigil(t, "", "policy", "test", "--strict", "-v", dir)
	if code != 0 || !strings.Contains(out, "2 passed, 0 failed; 1 of 1 rules have a positive case") || !strings.Contains(out, "PASS ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A wrong expectation fails with the reason and its line.
	failing := writeFiles(t, map[string]string{
		"r.yml": x11vncRule,
		"r.test.yml": `cases:
  - name: expects nothing
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/x11vnc}}
    expect: []
`,
	})
	out, _, code = runVigil(t, "", "policy", "test", failing)
	if code != 1 || !strings.Contains(out, "r.test.yml:2 expects nothing") || !strings.Contains(out, "unexpected finding") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// --strict fails a rule without a positive case.
	uncovered := writeFiles(t, map[string]string{
		"r.yml":      x11vncRule,
		"r.test.yml": "cases:\n  - name: nothing\n    events: [{category: x}]\n    expect: []\n",
	})
	if out, _, code := runVigil(t, "", "policy", "test", "--strict", uncovered); code != 1 || !strings.Contains(out, "no positive case: x11vnc Started") {
		t.Errorf("strict coverage: exit %d:\n%s", code, out)
	}
	if _, _, code := runVigil(t, "", "policy", "test", writeFiles(t, map[string]string{"r.yml": x11vncRule})); code != 2 {
		t.Errorf("no test files: exit %d, want 2", code)
	}
}

// A case that cannot be read fails alone with its file line and no Go type names; the file's
// other cases run. Exit codes: 1 for a failed case, 2 for rules that do not load.
func TestPolicyTestBrokenCase(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml": x11vncRule,
		"r.test.yml": `cases:
  - name: x11vnc fires
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/x11vnc}}
    expect: [{rule: x11vnc_started}]
  - name: typo
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/x11vnc}}
    expct: [{rule: x11vnc_started}]
  - name: vncviewer does not fire
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/vncviewer}}
    expect: []
`,
	})
	out, _, code := runVigil(t, "", "policy", "test", "-v", dir)
	file := filepath.Join(dir, "r.test.yml")
	for _, want := range []string{
		"FAIL " + file + ":6 typo\n    " + file + `:9: test case: unknown key "expct"`,
		"PASS " + file + ":2 x11vnc fires",
		"PASS " + file + ":10 vncviewer does not fire",
		"2 passed, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "policytest.") || strings.Contains(out, "rawCase") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if _, _, code := runVigil(t, "", "policy", "lint", dir); code != 1 {
		t.Errorf("lint of a broken case: exit %d, want 1", code)
	}
	// A rule that does not load: exit 2.
	bad := writeFiles(t, map[string]string{"b.yml": "title: b\nlogsource: {category: x}\ndetection: {condition: nothing}\n",
		"b.test.yml": "cases:\n  - name: n\n    events: [{category: x}]\n    expect: []\n"})
	if out, errOut, code := runVigil(t, "", "policy", "test", bad); code != 2 || !strings.Contains(out, "b.yml:") {
		t.Errorf("broken rule: exit %d, %s %s", code, out, errOut)
	}
}

// With --builtin, coverage is reported for the user's own rules, not the pack's.
func TestPolicyTestBuiltinCoverage(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml": x11vncRule,
		"r.test.yml": `cases:
  - name: x11vnc fires
    partial: true
    events:
      - {category: process_creation, product: linux, fields: {Image: /usr/bin/x11vnc}}
    expect: [{rule: x11vnc_started}]
`,
	})
	out, _, code := runVigil(t, "", "policy", "test", "--builtin", "--strict", dir)
	if code != 0 || strings.Contains(out, "no positive case") || !strings.Contains(out, "1 passed, 0 failed; 1 of 1 rules have a positive case") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runVigil(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "vigil ") {
		t.Errorf("version: %d %q", code, out)
	}
}
