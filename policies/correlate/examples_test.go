package correlate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/internal/shareddata"
)

// The correlation examples of the Sigma specification and of SigmaHQ pull requests, converted
// to Specs by a small test-only reader (the real conversion is the facade's). Every example the
// engine can express must be accepted by New; the malformed ones must be refused with the reason.

type exampleSet struct {
	specs []Spec
	names []string       // correlation names/titles by spec index
	bases map[string]int // base rule name or id -> index
}

func loadExample(t *testing.T, path string) (exampleSet, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	set := exampleSet{bases: map[string]int{}}
	corrs := map[string]int{}
	for _, d := range docs {
		if _, ok := d["correlation"]; !ok {
			continue
		}
		for _, k := range []string{"name", "id"} {
			if s, ok := d[k].(string); ok {
				corrs[s] = len(set.names)
			}
		}
		set.names = append(set.names, fmt.Sprint(d["title"]))
	}
	baseOf := func(name string) int {
		if i, ok := set.bases[name]; ok {
			return i
		}
		set.bases[name] = len(set.bases)
		return set.bases[name]
	}
	for _, d := range docs {
		c, ok := d["correlation"].(map[string]any)
		if !ok {
			continue
		}
		var sp Spec
		sp.Type, _ = c["type"].(string)
		ruleNames := []string{}
		for _, r := range asList(c["rules"]) {
			name := fmt.Sprint(r)
			ruleNames = append(ruleNames, name)
			if i, ok := corrs[name]; ok {
				sp.Rules = append(sp.Rules, CorrRef(i))
			} else {
				sp.Rules = append(sp.Rules, BaseRef(baseOf(name)))
			}
		}
		for _, g := range asList(c["group-by"]) {
			sp.GroupBy = append(sp.GroupBy, fmt.Sprint(g))
		}
		if ts, ok := c["timespan"].(string); ok {
			if sp.Timespan, err = parseTimespan(ts); err != nil {
				return set, err
			}
		}
		if al, ok := c["aliases"].(map[string]any); ok {
			sp.AliasFields = map[string][]string{}
			for alias, m := range al {
				fields := make([]string, len(ruleNames))
				for rule, field := range m.(map[string]any) {
					for pos, n := range ruleNames {
						if n == rule {
							fields[pos] = fmt.Sprint(field)
						}
					}
				}
				sp.AliasFields[alias] = fields
			}
		}
		if cond, ok := c["condition"].(map[string]any); ok {
			for k, v := range cond {
				if k == "field" {
					for _, f := range asList(v) {
						sp.Condition.Fields = append(sp.Condition.Fields, fmt.Sprint(f))
					}
					continue
				}
				f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
				if err != nil {
					return set, fmt.Errorf("condition %s: %v", k, err)
				}
				sp.Condition.Ops = append(sp.Condition.Ops, Op{Kind: k, Value: f})
			}
		}
		set.specs = append(set.specs, sp)
	}
	return set, nil
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	}
	return []any{v}
}

func parseTimespan(s string) (time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	if len(s) < 2 {
		return 0, fmt.Errorf("timespan %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	u, ok := units[s[len(s)-1]]
	if err != nil || !ok {
		return 0, fmt.Errorf("timespan %q", s)
	}
	return time.Duration(n) * u, nil
}

func TestSpecificationExamples(t *testing.T) {
	dir := shareddata.Dir(t, "sigmahq", "correlation-examples")
	refused := map[string]string{
		// A fragment showing only the rules list: no type.
		"sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block01.yml": `unknown correlation type ""`,
		// timespan is written outside the correlation block: none inside.
		"sigmahq-pull-requests/pr-5415/rules/windows/process_creation/proc_creation_discovery_ransomware.yml": "timespan 0s: must be positive",
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yml") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		set, err := loadExample(t, path)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if len(set.specs) == 0 {
			return nil // base rules only
		}
		n++
		_, err = New(set.specs, Options{})
		want, bad := refused[rel]
		switch {
		case bad && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want one containing %q", rel, err, want)
		case !bad && err != nil:
			t.Errorf("%s: refused: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d files with correlations found under %s", n, dir)
	}
}

// Real example files driven with synthetic events.
func TestSpecificationExamplesRun(t *testing.T) {
	dir := shareddata.Dir(t, "sigmahq", "correlation-examples")
	load := func(rel string) exampleSet {
		set, err := loadExample(t, filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	t.Run("block12 failed logins then success", func(t *testing.T) {
		set := load("sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block12.yml")
		failed, success := set.bases["failed_login"], set.bases["successful_login"]
		var steps []step
		for i := range 10 {
			steps = append(steps, obs(failed, time.Duration(i)*30*sec, fmt.Sprint("f", i), "User", "bob", "EventID", 4625))
		}
		steps = append(steps, obs(success, 6*mn, "ok", "User", "bob", "EventID", 4624))
		got, _ := run(t, set.specs, Options{}, steps...)
		if len(got) != 2 || !strings.HasPrefix(got[1], "0@6m0s n=2 g=User:bob ids=f0,") || !strings.HasSuffix(got[1], ",f9,ok") {
			t.Errorf("firings %q", got)
		}
	})
	t.Run("pr-6085 brute force per account and source", func(t *testing.T) {
		set := load("sigmahq-pull-requests/pr-6085/rules/windows/builtin/security/correlation_win_security_failed_logon_bruteforce_single_account.yml")
		b := set.bases["failed_logon_attempts_4625"]
		logon := func(d time.Duration, id, ip string) step {
			return obs(b, d, id, "TargetUserName", "admin", "TargetDomainName", "CORP", "IpAddress", ip)
		}
		got, _ := run(t, set.specs, Options{},
			logon(0, "a", "198.51.100.7"), logon(mn, "b", "198.51.100.7"), logon(2*mn, "c", "198.51.100.8"),
			logon(3*mn, "d", "198.51.100.7"), logon(4*mn, "e", "198.51.100.7"), logon(5*mn+30*sec, "f", "198.51.100.7"),
			logon(6*mn, "g", "198.51.100.7"))
		// gte 5 within 5m from one IP: a..g minus c; a leaves the window at 5m.
		checkFirings(t, got, []string{"0@6m0s n=5 g=IpAddress:198.51.100.7,TargetDomainName:CORP,TargetUserName:admin ids=b,d,e,f,g"})
	})
	t.Run("pr-6168 sandbox start then exec", func(t *testing.T) {
		set := load("sigmahq-pull-requests/pr-6168/rules/windows/process_creation/proc_creation_win_wsb_start_exec_chain_correlation.yml")
		got, _ := run(t, set.specs, Options{},
			obs(set.bases["wsb_followup_event"], 0, "exec0", "User", "eve"),
			obs(set.bases["wsb_start_event"], mn, "start", "User", "eve"),
			obs(set.bases["wsb_followup_event"], 12*mn, "exec", "User", "eve"))
		// temporal (unordered): exec0 and start are within 10m.
		checkFirings(t, got, []string{"0@1m0s n=2 g=User:eve ids=exec0,start"})
	})
	t.Run("value_percentile schema example", func(t *testing.T) {
		set := load("sigma-specification/tests/schema/correlation/value_percentile.yml")
		var steps []step
		for i := range 100 {
			steps = append(steps, obs(0, time.Duration(i)*mn, fmt.Sprint("e", i), "ComputerName", "pc", "Image", `C:\Windows\explorer.exe`))
		}
		steps = append(steps, obs(0, 2*hr, "rare", "ComputerName", "pc", "Image", `C:\Users\x\AppData\tool.exe`))
		got, _ := run(t, set.specs, Options{}, steps...)
		checkFirings(t, got, []string{`0@2h0m0s n=101 v=0.9901 g=ComputerName:pc ids=rare`})
	})
}
