// Package policytest runs rule test cases: YAML files (named *.test.yml or *.test.yaml) that feed
// events to the policy engine and state the findings expected out. It is the test loop behind
// `vigil policy test`; docs/policy-tools.md documents the format.
package policytest

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies"
)

// DefaultStart is when a case's clock starts unless the case sets `start`.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// maxRepeat bounds `repeat` so a typo cannot exhaust memory.
const maxRepeat = 100000

// Suite is one test file.
type Suite struct {
	File  string
	Rules []string // rule files to load, relative to File; empty = the rules under test
	Cases []Case
	// Broken are the cases that could not be read (a key typo, a bad value): each is reported
	// as a failure, and the file's other cases still run.
	Broken []Broken
}

// Broken is a case that could not be read.
type Broken struct {
	Line int    // the case's line in the file
	Case string // its name, when it has one
	Err  string // what is wrong, starting with file:line
}

// Case is one test: events in, findings out.
type Case struct {
	Name    string
	Line    int
	Start   time.Time
	Events  []EventSpec
	Expect  []Expectation
	Not     []string // rules that must not fire
	Partial bool     // findings not listed in Expect are allowed
}

// EventSpec is one event of a case, possibly repeated.
type EventSpec struct {
	Line     int
	ID       string
	Host     string
	Time     string // RFC 3339, or +DURATION after the previous event ("+5m"), or @DURATION after the case start
	Category string
	Product  string
	Service  string
	Fields   map[string]any
	Repeat   int           // emit this many copies (default 1); "{{i}}" in string fields becomes the copy's index
	Every    time.Duration // time between copies
}

// Expectation is one expected finding (or several: Count).
type Expectation struct {
	Line  int
	Rule  string            // id, name or title
	Count int               // how many findings of this rule (default 1)
	Level string            // optional: the finding's level
	Group map[string]string // optional: correlation group values that must appear
}

type rawSuite struct {
	Rules []string  `yaml:"rules"`
	Cases yaml.Node `yaml:"cases"`
}

type rawCase struct {
	Name    string    `yaml:"name"`
	Start   string    `yaml:"start"`
	Events  yaml.Node `yaml:"events"`
	Expect  yaml.Node `yaml:"expect"`
	Not     []string  `yaml:"not"`
	Partial bool      `yaml:"partial"`
}

type rawEvent struct {
	ID       string         `yaml:"id"`
	Host     string         `yaml:"host"`
	Time     string         `yaml:"time"`
	Category string         `yaml:"category"`
	Product  string         `yaml:"product"`
	Service  string         `yaml:"service"`
	Fields   map[string]any `yaml:"fields"`
	Repeat   int            `yaml:"repeat"`
	Every    string         `yaml:"every"`
}

type rawExpect struct {
	Rule  string            `yaml:"rule"`
	Count *int              `yaml:"count"`
	Level string            `yaml:"level"`
	Group map[string]string `yaml:"group"`
}

// IsTestFile reports whether a file name is a test-case file.
func IsTestFile(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".test.yml") || strings.HasSuffix(n, ".test.yaml")
}

// LoadFile reads and validates one test file. Errors name the file and line.
func LoadFile(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a test file's content. A problem with the file as a whole (YAML syntax, no
// `cases` list) is the error; a problem with one case makes it Broken and the others still load.
// Every line number is the file's.
func Parse(name string, data []byte) (*Suite, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErr(err)
		return nil, fmt.Errorf("%s:%d: %s", name, max(line, 1), msg)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s:1: empty test file: want `cases:`", name)
	}
	var rs rawSuite
	if err := strictDecode(doc.Content[0], &rs, "test file"); err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	s := &Suite{File: name, Rules: rs.Rules}
	if rs.Cases.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: `cases` must be a list of test cases", name, max(rs.Cases.Line, 1))
	}
	for _, cn := range rs.Cases.Content {
		c, err := parseCase(cn)
		if err != nil {
			s.Broken = append(s.Broken, Broken{Line: cn.Line, Case: c.Name, Err: fmt.Sprintf("%s:%v", name, err)})
			continue
		}
		s.Cases = append(s.Cases, c)
	}
	if len(s.Cases)+len(s.Broken) == 0 {
		return nil, fmt.Errorf("%s:%d: no test cases", name, rs.Cases.Line)
	}
	return s, nil
}

func parseCase(n *yaml.Node) (Case, error) {
	var rc rawCase
	if n.Kind == yaml.MappingNode {
		if _, v := lookup(n, "name"); v != nil && v.Kind == yaml.ScalarNode {
			rc.Name = v.Value
		}
	}
	if err := strictDecode(n, &rc, "test case"); err != nil {
		return Case{Name: rc.Name}, err
	}
	c := Case{Name: rc.Name, Line: n.Line, Not: rc.Not, Partial: rc.Partial, Start: DefaultStart}
	if c.Name == "" {
		return c, fmt.Errorf("%d: test case has no `name`", n.Line)
	}
	if rc.Start != "" {
		t, err := time.Parse(time.RFC3339Nano, rc.Start)
		if err != nil {
			return c, fmt.Errorf("%d: case %q: start %q is not an RFC 3339 time", n.Line, c.Name, rc.Start)
		}
		c.Start = t
	}
	if rc.Events.Kind != yaml.SequenceNode || len(rc.Events.Content) == 0 {
		return c, fmt.Errorf("%d: case %q: `events` must be a non-empty list", max(rc.Events.Line, n.Line), c.Name)
	}
	for _, en := range rc.Events.Content {
		var re rawEvent
		if err := strictDecode(en, &re, "event"); err != nil {
			return c, fmt.Errorf("%w (case %q)", err, c.Name)
		}
		es := EventSpec{Line: en.Line, ID: re.ID, Host: re.Host, Time: re.Time, Category: re.Category,
			Product: re.Product, Service: re.Service, Fields: re.Fields, Repeat: re.Repeat}
		if es.Category == "" && es.Product == "" && es.Service == "" {
			return c, fmt.Errorf("%d: case %q: event has no category, product or service", en.Line, c.Name)
		}
		if es.Repeat < 0 || es.Repeat > maxRepeat {
			return c, fmt.Errorf("%d: case %q: repeat must be between 1 and %d", en.Line, c.Name, maxRepeat)
		}
		if re.Every != "" {
			d, err := parseDuration(re.Every)
			if err != nil {
				return c, fmt.Errorf("%d: case %q: every: %w", en.Line, c.Name, err)
			}
			es.Every = d
		}
		if _, err := resolveTime(es.Time, c.Start, c.Start); err != nil {
			return c, fmt.Errorf("%d: case %q: %w", en.Line, c.Name, err)
		}
		c.Events = append(c.Events, es)
	}
	switch rc.Expect.Kind {
	case 0:
		return c, fmt.Errorf("%d: case %q: `expect` is missing (write `expect: []` for \"no finding\")", n.Line, c.Name)
	case yaml.SequenceNode:
	default:
		return c, fmt.Errorf("%d: case %q: `expect` must be a list", rc.Expect.Line, c.Name)
	}
	for _, xn := range rc.Expect.Content {
		var rx rawExpect
		if err := strictDecode(xn, &rx, "expectation"); err != nil {
			return c, fmt.Errorf("%w (case %q)", err, c.Name)
		}
		if rx.Rule == "" {
			return c, fmt.Errorf("%d: case %q: expectation has no `rule`", xn.Line, c.Name)
		}
		x := Expectation{Line: xn.Line, Rule: rx.Rule, Count: 1, Level: rx.Level, Group: rx.Group}
		if rx.Count != nil {
			if *rx.Count < 0 {
				return c, fmt.Errorf("%d: case %q: count must not be negative", xn.Line, c.Name)
			}
			x.Count = *rx.Count
		}
		c.Expect = append(c.Expect, x)
	}
	return c, nil
}

// strictDecode decodes mapping n into v (a pointer to a struct with yaml tags), refusing keys v
// does not have: an unknown key in a test file is almost always a typo that would silently
// weaken the test. Errors start with the file line ("12: ...") and name the key in the test
// format's words, never a Go type.
func strictDecode(n *yaml.Node, v any, what string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%d: %s: want a mapping of keys to values, got %s", n.Line, what, nodeKind(n))
	}
	known := yamlKeys(v)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			return fmt.Errorf("%d: %s: unknown key %q (the keys are %s)", k.Line, what, k.Value, strings.Join(known, ", "))
		}
	}
	if err := n.Decode(v); err != nil {
		line, msg := yamlErr(err)
		return fmt.Errorf("%d: %s: %s", cmp.Or(line, n.Line), what, msg)
	}
	return nil
}

// yamlKeys lists the yaml keys of the struct v points to.
func yamlKeys(v any) []string {
	t := reflect.TypeOf(v).Elem()
	keys := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// lookup returns the key and value nodes of k in mapping m.
func lookup(m *yaml.Node, k string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

var (
	yamlTypeRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into (.+)$")
	// yamlWants words the Go types of the raw structs as the test format does.
	yamlWants = map[string]string{
		"int": "a whole number", "*int": "a whole number", "bool": "true or false", "string": "a string",
		"[]string": "a list of strings", "map[string]string": "a mapping of names to strings",
		"map[string]interface {}": "a mapping of field names to values",
	}
	yamlGots = map[string]string{"seq": "a list", "map": "a mapping", "str": "a string", "int": "a number",
		"float": "a number", "bool": "a boolean", "null": "null", "timestamp": "a time"}
)

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlErr words a YAML error without Go type names, and returns the file line it names (0 when
// none) apart from the message.
func yamlErr(err error) (int, string) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return line, msg[len(m[0]):]
		}
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	line := 0
	msgs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		m := yamlTypeRE.FindStringSubmatch(e)
		if m == nil {
			msgs = append(msgs, e)
			continue
		}
		if line == 0 {
			line, _ = strconv.Atoi(m[1])
		}
		got := yamlGots[m[2]]
		if got == "" {
			got = "a " + m[2]
		}
		if m[3] != "" {
			got += fmt.Sprintf(" (%s)", m[3])
		}
		want := yamlWants[m[4]]
		if want == "" {
			want = "another kind of value"
		}
		msgs = append(msgs, fmt.Sprintf("want %s, got %s", want, got))
	}
	return line, strings.Join(msgs, "; ")
}

// parseDuration accepts Go durations plus d (days) and w (weeks).
func parseDuration(s string) (time.Duration, error) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseFloat(s[:n-1], 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		return time.Duration(v * float64(unit)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

func resolveTime(spec string, start, prev time.Time) (time.Time, error) {
	switch {
	case spec == "":
		return prev, nil
	case strings.HasPrefix(spec, "+"):
		d, err := parseDuration(spec[1:])
		return prev.Add(d), err
	case strings.HasPrefix(spec, "@"):
		d, err := parseDuration(spec[1:])
		return start.Add(d), err
	}
	t, err := time.Parse(time.RFC3339Nano, spec)
	if err != nil {
		return t, fmt.Errorf("time %q: want RFC 3339, +DURATION (after the previous event) or @DURATION (after the case start)", spec)
	}
	return t, nil
}

// BuildEvents expands a case's event specs into events, in order.
func (c *Case) BuildEvents() ([]*event.Event, error) {
	var out []*event.Event
	prev := c.Start
	for i, es := range c.Events {
		t, err := resolveTime(es.Time, c.Start, prev)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", es.Line, err)
		}
		n := max(es.Repeat, 1)
		for k := 0; k < n; k++ {
			ev := &event.Event{
				ID: es.ID, Host: es.Host, Time: t.Add(time.Duration(k) * es.Every),
				Category: es.Category, Product: es.Product, Service: es.Service,
				Fields: expandFields(es.Fields, k, es.Repeat > 0),
			}
			if ev.Host == "" {
				ev.Host = "test-host"
			}
			if ev.ID == "" || n > 1 {
				ev.ID = fmt.Sprintf("%se%d.%d", ev.ID, i+1, k+1)
			}
			out = append(out, ev)
			prev = ev.Time
		}
	}
	return out, nil
}

func expandFields(in map[string]any, k int, templated bool) map[string]any {
	out := make(map[string]any, len(in))
	for name, v := range in {
		if s, ok := v.(string); ok && templated {
			v = strings.ReplaceAll(s, "{{i}}", strconv.Itoa(k))
		}
		out[name] = v
	}
	return out
}

// Result is the outcome of one case.
type Result struct {
	File     string
	Case     string
	Line     int
	Failures []string
	Findings []*policies.Finding
}

// Passed reports whether the case met every expectation.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Run runs every case of s against a fresh engine built from rs, so cases do not share
// correlation state.
func Run(s *Suite, rs *policies.Ruleset) []Result {
	index := ruleIndex(rs)
	var results []Result
	for i := range s.Cases {
		c := &s.Cases[i]
		r := Result{File: s.File, Case: c.Name, Line: c.Line}
		r.Findings, r.Failures = runCase(c, rs, index)
		results = append(results, r)
	}
	return results
}

// ruleIndex maps every way a test may name a rule (id, name, title) to the rule's id.
func ruleIndex(rs *policies.Ruleset) map[string][]string {
	idx := map[string][]string{}
	for _, ri := range rs.Rules() {
		for _, k := range []string{ri.ID, ri.Name, ri.Title} {
			if k != "" {
				idx[k] = append(idx[k], ri.ID)
			}
		}
	}
	return idx
}

func runCase(c *Case, rs *policies.Ruleset, index map[string][]string) ([]*policies.Finding, []string) {
	var fails []string
	events, err := c.BuildEvents()
	if err != nil {
		return nil, []string{err.Error()}
	}
	eng, err := policies.NewEngine(rs, policies.EngineOptions{})
	if err != nil {
		return nil, []string{"engine: " + err.Error()}
	}
	var findings []*policies.Finding
	emit := func(f *policies.Finding) { findings = append(findings, f) }
	for _, ev := range events {
		eng.Process(ev, emit)
	}
	eng.Flush(emit)

	byRule := map[string][]*policies.Finding{}
	for _, f := range findings {
		byRule[f.RuleID] = append(byRule[f.RuleID], f)
	}
	resolve := func(ref string, line int) (string, bool) {
		ids := index[ref]
		switch {
		case len(ids) == 0:
			fails = append(fails, fmt.Sprintf("line %d: no loaded rule has the id, name or title %q", line, ref))
			return "", false
		case len(ids) > 1 && !sameAll(ids):
			fails = append(fails, fmt.Sprintf("line %d: %q names several rules (%s); use the id", line, ref, strings.Join(ids, ", ")))
			return "", false
		}
		return ids[0], true
	}
	expected := map[string]bool{}
	for _, x := range c.Expect {
		id, ok := resolve(x.Rule, x.Line)
		if !ok {
			continue
		}
		expected[id] = true
		got := byRule[id]
		if len(got) != x.Count {
			fails = append(fails, fmt.Sprintf("line %d: rule %q: want %d finding(s), got %d", x.Line, x.Rule, x.Count, len(got)))
			continue
		}
		for _, f := range got {
			if x.Level != "" && !strings.EqualFold(f.Level, x.Level) {
				fails = append(fails, fmt.Sprintf("line %d: rule %q: level %s, want %s", x.Line, x.Rule, f.Level, x.Level))
			}
		}
		if len(x.Group) > 0 && !anyGroupMatches(got, x.Group) {
			fails = append(fails, fmt.Sprintf("line %d: rule %q: no finding has group %v (got %s)", x.Line, x.Rule, x.Group, groups(got)))
		}
	}
	for _, ref := range c.Not {
		if id, ok := resolve(ref, c.Line); ok && len(byRule[id]) > 0 {
			fails = append(fails, fmt.Sprintf("rule %q must not fire, fired %d time(s)", ref, len(byRule[id])))
		}
	}
	if !c.Partial {
		var extra []string
		for id, fs := range byRule {
			if !expected[id] {
				extra = append(extra, fmt.Sprintf("%s %q (%d)", id, fs[0].Title, len(fs)))
			}
		}
		sort.Strings(extra)
		for _, e := range extra {
			fails = append(fails, "unexpected finding: "+e)
		}
	}
	return findings, fails
}

func sameAll(ids []string) bool {
	for _, id := range ids[1:] {
		if id != ids[0] {
			return false
		}
	}
	return true
}

func anyGroupMatches(fs []*policies.Finding, want map[string]string) bool {
	for _, f := range fs {
		ok := true
		for k, v := range want {
			if f.Group[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func groups(fs []*policies.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprint(f.Group))
	}
	return strings.Join(parts, ", ")
}

// Covered returns, for every rule of rs, whether some case in suites expects it to fire, so a
// pack can require a positive case for each rule. A silent rule (one that only feeds
// correlations, with no finding of its own) is covered when a covered correlation uses it.
func Covered(rs *policies.Ruleset, suites []*Suite) map[string]bool {
	index := ruleIndex(rs)
	cov := map[string]bool{}
	infos := rs.Rules()
	for _, ri := range infos {
		cov[ri.ID] = false
	}
	for _, s := range suites {
		for _, c := range s.Cases {
			for _, x := range c.Expect {
				if x.Count == 0 {
					continue
				}
				for _, id := range index[x.Rule] {
					cov[id] = true
				}
			}
		}
	}
	silent := map[string]bool{}
	for _, ri := range infos {
		silent[ri.ID] = ri.Silent
	}
	for changed := true; changed; {
		changed = false
		for _, ri := range infos {
			if !cov[ri.ID] {
				continue
			}
			for _, used := range ri.Uses {
				if silent[used] && !cov[used] {
					cov[used] = true
					changed = true
				}
			}
		}
	}
	return cov
}

// SuiteRules resolves a suite's `rules` entries against its own folder.
func (s *Suite) SuiteRules() []string {
	var out []string
	for _, r := range s.Rules {
		if !filepath.IsAbs(r) {
			r = filepath.Join(filepath.Dir(s.File), r)
		}
		out = append(out, r)
	}
	return out
}
