package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

const baseRules = `title: Failed logon
id: 11111111-0000-4000-8000-000000000001
name: failed_logon
author: Alice Analyst
level: low
tags: [attack.t1110]
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4625
  condition: sel
---
title: Successful logon
id: 11111111-0000-4000-8000-000000000002
name: ok_logon
author: Bob
level: low
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4624
  condition: sel
---
title: AnyDesk started
id: 11111111-0000-4000-8000-000000000003
author: Carol
level: medium
logsource:
  category: process_creation
detection:
  sel:
    Image|endswith: '\AnyDesk.exe'
  condition: sel
`

func mustParse(t *testing.T, files ...string) *Ruleset {
	t.Helper()
	var sets []*Ruleset
	for i, f := range files {
		rs, problems := ParseBytes(fmt.Sprintf("f%d.yml", i), []byte(f), LoadOptions{})
		for _, p := range problems {
			if !p.Warning {
				t.Fatalf("problem: %v", p)
			}
		}
		sets = append(sets, rs)
	}
	rs, problems := Merge(sets...)
	for _, p := range problems {
		if !p.Warning {
			t.Fatalf("merge problem: %v", p)
		}
	}
	return rs
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func logon(i int, eid int, user string) *event.Event {
	return &event.Event{ID: fmt.Sprintf("e%d", i), Time: t0.Add(time.Duration(i) * time.Second), Host: "h1",
		Product: "windows", Service: "security", Fields: map[string]any{"EventID": eid, "TargetUserName": user}}
}

func run(t *testing.T, rs *Ruleset, events ...*event.Event) []*Finding {
	t.Helper()
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*Finding
	emit := func(f *Finding) { out = append(out, f) }
	for _, ev := range events {
		eng.Process(ev, emit)
	}
	eng.Flush(emit)
	return out
}

func titles(fs []*Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Title)
	}
	return strings.Join(s, ",")
}

func TestRuleFinding(t *testing.T) {
	rs := mustParse(t, baseRules)
	fs := run(t, rs, logon(1, 4625, "alice"))
	if len(fs) != 1 {
		t.Fatalf("findings %v", fs)
	}
	f := fs[0]
	if f.RuleID != "11111111-0000-4000-8000-000000000001" || f.RuleName != "failed_logon" || f.Author != "Alice Analyst" ||
		f.Level != "low" || len(f.Tags) != 1 || f.Host != "h1" || !f.Time.Equal(t0.Add(time.Second)) ||
		len(f.EventIDs) != 1 || f.EventIDs[0] != "e1" || len(f.ID) != 26 {
		t.Errorf("finding %+v", f)
	}
	// Logsource: a process_creation rule without product applies to any product's process events.
	fs = run(t, rs, &event.Event{ID: "p", Category: "process_creation", Product: "macos", Fields: map[string]any{"Image": `C:\x\anydesk.exe`}},
		&event.Event{ID: "q", Category: "file_event", Product: "windows", Fields: map[string]any{"Image": `C:\x\anydesk.exe`}})
	if titles(fs) != "AnyDesk started" {
		t.Errorf("findings %q", titles(fs))
	}
}

const bruteForce5 = `title: Brute force
id: 22222222-0000-4000-8000-000000000001
author: Dana
level: high
tags: [attack.credential-access]
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition:
    gte: 3
`

// TestCorrelationSilencesBaseRule: generate false (default) silences the referenced rule.
func TestCorrelationSilencesBaseRule(t *testing.T) {
	rs := mustParse(t, baseRules, bruteForce5)
	var evs []*event.Event
	for i := 0; i < 3; i++ {
		evs = append(evs, logon(i, 4625, "alice"))
	}
	evs = append(evs, logon(3, 4625, "bob"), logon(4, 4624, "alice"))
	fs := run(t, rs, evs...)
	if titles(fs) != "Brute force,Successful logon" {
		t.Fatalf("findings %q", titles(fs))
	}
	f := fs[0]
	if f.Correlation != "event_count" || f.Count != 3 || f.Group["TargetUserName"] != "alice" || f.Author != "Dana" ||
		strings.Join(f.EventIDs, " ") != "e0 e1 e2" || f.RuleID != "22222222-0000-4000-8000-000000000001" || f.Value != nil {
		t.Errorf("correlation finding %+v", f)
	}
	// generate: true keeps the base rule's own findings.
	rs = mustParse(t, baseRules, strings.Replace(bruteForce5, "level: high", "level: high\ngenerate: true", 1))
	fs = run(t, rs, evs...)
	if titles(fs) != "Failed logon,Failed logon,Failed logon,Brute force,Failed logon,Successful logon" {
		t.Errorf("generate true: %q", titles(fs))
	}
}

// TestCorrelationChain: a temporal_ordered correlation over an event_count one (the spec's
// example), referenced by name; the inner correlation is silent (generate false).
func TestCorrelationChain(t *testing.T) {
	outer := `title: Failed logons then success
id: 33333333-0000-4000-8000-000000000001
level: critical
correlation:
  type: temporal_ordered
  rules: [many_failed, ok_logon]
  group-by: [TargetUserName]
  timespan: 10m
`
	inner := strings.Replace(strings.Replace(bruteForce5, "id: 22222222-0000-4000-8000-000000000001", "id: 22222222-0000-4000-8000-000000000001\nname: many_failed", 1), "group-by: [TargetUserName]", "group-by: [TargetUserName]", 1)
	rs := mustParse(t, outer, inner, baseRules)
	evs := []*event.Event{logon(1, 4625, "alice"), logon(2, 4625, "alice"), logon(3, 4625, "alice"), logon(4, 4624, "alice"), logon(5, 4624, "bob")}
	fs := run(t, rs, evs...)
	// ok_logon is referenced by the outer correlation (generate false): silent too.
	if titles(fs) != "Failed logons then success" {
		t.Fatalf("findings %q", titles(fs))
	}
	if fs[0].Correlation != "temporal_ordered" || fs[0].Group["TargetUserName"] != "alice" || len(fs[0].EventIDs) != 4 {
		t.Errorf("chain finding %+v", fs[0])
	}
	// Referenced by id, and with generate on the outer: the inner correlation fires too.
	outer2 := strings.Replace(strings.Replace(outer, "many_failed", "22222222-0000-4000-8000-000000000001", 1), "level: critical", "level: critical\ngenerate: true", 1)
	rs = mustParse(t, outer2, inner, baseRules)
	fs = run(t, rs, evs...)
	if titles(fs) != "Brute force,Successful logon,Failed logons then success,Successful logon" {
		t.Errorf("generate on outer: %q", titles(fs))
	}
}

// TestCorrelationFlush: an lt condition is judged when the window closes (at Flush).
func TestCorrelationFlush(t *testing.T) {
	few := `title: Few logons
correlation:
  type: event_count
  rules: [ok_logon]
  timespan: 1h
  condition:
    lt: 3
`
	rs := mustParse(t, baseRules, few)
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fs []*Finding
	emit := func(f *Finding) { fs = append(fs, f) }
	eng.Process(logon(1, 4624, "a"), emit)
	if len(fs) != 0 {
		t.Fatalf("fired before the window closed: %q", titles(fs))
	}
	eng.Flush(emit)
	if titles(fs) != "Few logons" || fs[0].Count != 1 || fs[0].Group != nil {
		t.Errorf("flush: %q %+v", titles(fs), fs)
	}
	// Advance closes windows without an event.
	fs = nil
	eng.Process(logon(10, 4624, "a"), emit)
	eng.Advance(t0.Add(2*time.Hour), emit)
	if titles(fs) != "Few logons" {
		t.Errorf("advance: %q", titles(fs))
	}
}

func TestCorrelationValueTypes(t *testing.T) {
	sum := `title: Bytes out
correlation:
  type: value_sum
  rules: [upload]
  group-by: [User]
  timespan: 1h
  condition:
    field: Bytes
    gt: 1000
---
title: Upload
name: upload
logsource: {category: network_connection}
detection:
  sel:
    Initiated: true
  condition: sel
`
	rs := mustParse(t, sum)
	var evs []*event.Event
	for i := 0; i < 3; i++ {
		evs = append(evs, &event.Event{ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * time.Minute), Category: "network_connection", Product: "linux",
			Fields: map[string]any{"Initiated": true, "User": "alice", "Bytes": 400}})
	}
	fs := run(t, rs, evs...)
	if len(fs) != 1 || fs[0].Value == nil || *fs[0].Value != 1200 || fs[0].Correlation != "value_sum" {
		t.Errorf("value_sum: %+v", fs)
	}
}

// TestFilters: a filter document removes matches of its listed rules when the event also
// matches the filter's logsource.
func TestFilters(t *testing.T) {
	filter := `title: Admin accounts are fine
logsource:
  product: windows
  service: security
filter:
  rules:
    - failed_logon
    - 11111111-0000-4000-8000-000000000003
  sel:
    TargetUserName|startswith: 'adm_'
  condition: sel
`
	rs := mustParse(t, baseRules, filter)
	fs := run(t, rs, logon(1, 4625, "adm_carol"), logon(2, 4625, "alice"), logon(3, 4624, "adm_carol"),
		&event.Event{ID: "p", Category: "process_creation", Product: "windows", Fields: map[string]any{"Image": `C:\AnyDesk.exe`, "TargetUserName": "adm_x"}})
	// The AnyDesk event is process_creation/windows, outside the filter's logsource.
	if titles(fs) != "Failed logon,Successful logon,AnyDesk started" {
		t.Errorf("findings %q", titles(fs))
	}
	// A filter naming a rule that is not loaded warns.
	_, problems := ParseBytes("f.yml", []byte(strings.Replace(filter, "failed_logon", "nope", 1)), LoadOptions{})
	if len(problems) != 2 || !problems[0].Warning || !strings.Contains(problems[0].Message, `rule "nope" is not loaded`) {
		t.Errorf("problems %v", problems)
	}
}

func TestMergeDuplicates(t *testing.T) {
	a, _ := ParseBytes("a.yml", []byte(baseRules), LoadOptions{})
	b, _ := ParseBytes("b.yml", []byte(baseRules), LoadOptions{})
	rs, problems := Merge(a, b)
	if rs.Len() != 3 || len(problems) != 3 {
		t.Fatalf("merged %d rules, problems %v", rs.Len(), problems)
	}
	if p := problems[0]; p.Warning || p.File != "b.yml" || p.Line != 1 || !strings.Contains(p.Message, `duplicate id "11111111-0000-4000-8000-000000000001" (already used at a.yml:1)`) {
		t.Errorf("problem %v", p)
	}
	// References resolve across merged sets.
	c, problems := ParseBytes("c.yml", []byte(bruteForce5), LoadOptions{})
	if len(problems) != 1 || !problems[0].Warning {
		t.Errorf("unresolved reference: %v", problems)
	}
	rs, problems = Merge(a, c)
	if len(problems) != 0 || len(rs.specs) != 1 {
		t.Errorf("merge: %v, %d active correlations", problems, len(rs.specs))
	}
}

func TestCorrelationCycle(t *testing.T) {
	cyc := `title: A
name: ca
correlation:
  type: event_count
  rules: [cb]
  timespan: 5m
  condition: {gte: 2}
---
title: B
name: cb
correlation:
  type: event_count
  rules: [ca]
  timespan: 5m
  condition: {gte: 2}
`
	rs, problems := ParseBytes("cyc.yml", []byte(cyc), LoadOptions{})
	if len(rs.specs) != 0 || len(problems) == 0 || !strings.Contains(problems[0].Message, "cycle") {
		t.Errorf("cycle: %d specs, %v", len(rs.specs), problems)
	}
	if _, err := NewEngine(rs, EngineOptions{}); err != nil {
		t.Error(err)
	}
}

func TestLoadPathsAndFS(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a.yml"), []byte(baseRules), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "b.yaml"), []byte(bruteForce5), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "a.test.yml"), []byte("cases: []\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "notes.txt"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("title: x\n"), 0o644))
	rs, problems, err := LoadPaths([]string{dir}, LoadOptions{})
	must(err)
	if rs.Len() != 4 || len(problems) != 1 || problems[0].File != filepath.Join(dir, "bad.yml") {
		t.Errorf("loaded %d, problems %v", rs.Len(), problems)
	}
	infos := rs.Rules()
	if infos[3].Kind != "correlation" || infos[3].CorrelationType != "event_count" || infos[0].Kind != "rule" ||
		infos[0].Logsource.Service != "security" || infos[0].Line != 1 || infos[1].Line != 15 {
		t.Errorf("infos %+v", infos)
	}
	if _, _, err := LoadPaths([]string{filepath.Join(dir, "missing")}, LoadOptions{}); err == nil {
		t.Error("missing path: no error")
	}
	fsys := fstest.MapFS{"x/a.yml": {Data: []byte(baseRules)}, "x/a.test.yaml": {Data: []byte("cases: []")}}
	rs, problems, err = LoadFS(fsys, LoadOptions{})
	must(err)
	if rs.Len() != 3 || len(problems) != 0 || rs.Rules()[0].File != "x/a.yml" {
		t.Errorf("LoadFS: %d, %v", rs.Len(), problems)
	}
}

func TestProblemError(t *testing.T) {
	p := Problem{File: "r.yml", Line: 4, Message: "bad"}
	if p.Error() != "r.yml:4: bad" {
		t.Error(p.Error())
	}
	p.Column = 2
	if p.Error() != "r.yml:4:2: bad" {
		t.Error(p.Error())
	}
}

// TestEventWithoutFields: a nil Fields map is an event with no fields.
func TestEventWithoutFields(t *testing.T) {
	rs := mustParse(t, `title: absent
logsource: {product: linux}
detection:
  sel:
    X: null
  condition: sel
`)
	fs := run(t, rs, &event.Event{ID: "a", Product: "linux"}, nil)
	if len(fs) != 1 {
		t.Errorf("findings %v", fs)
	}
}

// TestEnginesShareRuleset: several Engines on one Ruleset in parallel (run with -race) give the
// same findings as one Engine alone.
func TestEnginesShareRuleset(t *testing.T) {
	rs := mustParse(t, baseRules, bruteForce5)
	var evs []*event.Event
	for i := 0; i < 200; i++ {
		evs = append(evs, logon(i, 4624+i%2, fmt.Sprint("u", i%7)))
		evs = append(evs, &event.Event{ID: fmt.Sprint("p", i), Category: "process_creation", Product: []string{"windows", "linux", "macos"}[i%3],
			Fields: map[string]any{"Image": []string{`C:\AnyDesk.exe`, "/bin/sh"}[i%2]}})
	}
	want := titles(run(t, rs, evs...))
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			eng, err := NewEngine(rs, EngineOptions{})
			if err != nil {
				done <- err.Error()
				return
			}
			var out []*Finding
			for _, ev := range evs {
				eng.Process(ev, func(f *Finding) { out = append(out, f) })
			}
			eng.Flush(func(f *Finding) { out = append(out, f) })
			done <- titles(out)
		}()
	}
	for g := 0; g < 4; g++ {
		if got := <-done; got != want {
			t.Errorf("engine %d: %q, want %q", g, got, want)
		}
	}
}

// Matches counts silent rules too: their events are evidence for correlations to come.
func TestEngineMatches(t *testing.T) {
	rs := mustParse(t, baseRules, bruteForce5)
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	eng.Process(logon(0, 4625, "alice"), func(*Finding) { n++ })
	if eng.Matches() != 1 || n != 0 {
		t.Fatalf("silent base rule: %d matches, %d findings", eng.Matches(), n)
	}
	eng.Process(logon(1, 1, "alice"), func(*Finding) { n++ })
	if eng.Matches() != 0 {
		t.Fatalf("unmatched event: %d matches", eng.Matches())
	}
}

func TestWithout(t *testing.T) {
	rs := mustParse(t, baseRules, bruteForce5)
	n := rs.Len()
	// By id: the correlation goes, its base rule speaks for itself again.
	less, problems := rs.Without([]string{"22222222-0000-4000-8000-000000000001"})
	if len(problems) != 0 || less.Len() != n-1 || rs.Len() != n {
		t.Fatalf("without the correlation: %d of %d, problems %v", less.Len(), n, problems)
	}
	if got := titles(run(t, less, logon(0, 4625, "alice"))); got != "Failed logon" {
		t.Fatalf("findings %q", got)
	}
	// By name: the correlation's base rule goes, so the correlation is refused with a problem.
	less, problems = rs.Without([]string{"failed_logon"})
	if len(problems) == 0 {
		t.Fatal("a correlation left without its rule raised no problem")
	}
	if got := titles(run(t, less, logon(0, 4625, "alice"))); got != "" {
		t.Fatalf("findings %q", got)
	}
	if same, _ := rs.Without(nil); same != rs {
		t.Fatal("Without(nil) rebuilt the set")
	}
}
