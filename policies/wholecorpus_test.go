package policies

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/shareddata"
)

// wholeCorpus is every rule folder of sigmahq-full (3,780 files) plus the 632 LOLRMM rules, with
// a value for every placeholder its rules use.
func wholeCorpus(tb testing.TB) ([]string, LoadOptions) {
	tb.Helper()
	full := shareddata.Dir(tb, "sigmahq-full")
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"} {
		paths = append(paths, filepath.Join(full, d))
	}
	paths = append(paths, shareddata.Dir(tb, "lolrmm", "sigma"))
	wholeCorpusValues.Lock()
	defer wholeCorpusValues.Unlock()
	if wholeCorpusValues.m == nil {
		wholeCorpusValues.m = corpusPlaceholderValues(tb, paths)
	}
	return paths, LoadOptions{Placeholders: wholeCorpusValues.m}
}

// wholeCorpusValues keeps the placeholder values found for the whole corpus (finding them
// loads it a few times) for the other tests of the run.
var wholeCorpusValues struct {
	sync.Mutex
	m map[string][]string
}

var unresolvedRE = regexp.MustCompile(`unresolved placeholder %([^%]+)%`)

// corpusPlaceholderValues gives every placeholder the rules under paths use one made-up value.
func corpusPlaceholderValues(tb testing.TB, paths []string) map[string][]string {
	ph := map[string][]string{}
	for {
		_, problems, err := LoadPaths(paths, LoadOptions{Placeholders: ph})
		if err != nil {
			tb.Fatal(err)
		}
		added := false
		for _, p := range problems {
			if m := unresolvedRE.FindStringSubmatch(p.Message); m != nil && ph[m[1]] == nil {
				ph[m[1]] = []string{"placeholder-" + strings.ToLower(m[1])}
				added = true
			}
		}
		if !added {
			return ph
		}
	}
}

// evalCost runs `vigil policy eval`'s pipeline (JSON lines decoded, events evaluated, findings
// encoded) over lines with rs, and returns the CPU time it took and the findings written.
func evalCost(tb testing.TB, rs *Ruleset, lines []byte) (time.Duration, int) {
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	var out countingWriter
	ev := NewEvaluator(eng, &out)
	cpu0 := cpuTime()
	err = event.DecodeLines("events", bytes.NewReader(lines), event.DecodeOptions{}, func(_ int, e *event.Event) error { return ev.Process(e) })
	if err == nil {
		err = ev.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return cpuTime() - cpu0, out.lines
}

type countingWriter struct{ lines int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkWholeCorpus measures the two whole-corpus figures of docs/policies.md: loading all of
// sigmahq-full plus LOLRMM (load-s, the best of the iterations; load-cpu-s, the CPU time it
// took, all cores together: the figure a busy machine distorts least), and what `policy eval` costs
// with that set relative to one rule on the same events (ratio: CPU time per event with the
// whole corpus over CPU time per event with one rule, rule loading left out). Each iteration
// loads the corpus once and then evaluates the events alternately with both sets, six times
// each, keeping the best time of each: on a shared, busy machine the minimum is the figure least
// distorted by other work. Run:
//
//	go test ./policies -run '^$' -bench WholeCorpus -benchtime 3x
func BenchmarkWholeCorpus(b *testing.B) {
	paths, opts := wholeCorpus(b)
	one, _, err := LoadPaths([]string{filepath.Join(shareddata.Dir(b, "sigmahq-full"), "rules", "windows", "process_creation", "proc_creation_win_remote_access_tools_anydesk.yml")}, opts)
	if err != nil || one.Len() != 1 {
		b.Fatalf("one rule: %v (%d loaded)", err, one.Len())
	}
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	const n = 20000
	for _, ev := range streamEvents(n, 1) {
		if err := enc.Encode(ev); err != nil {
			b.Fatal(err)
		}
	}
	var bestLoad, bestLoadCPU, bestFull, bestOne time.Duration
	var rules, findings int
	keepMin := func(best *time.Duration, d time.Duration) {
		if *best == 0 || d < *best {
			*best = d
		}
	}
	for i := 0; i < b.N; i++ {
		start, cpu0 := time.Now(), cpuTime()
		full, _, err := LoadPaths(paths, opts)
		if err != nil {
			b.Fatal(err)
		}
		keepMin(&bestLoad, time.Since(start))
		keepMin(&bestLoadCPU, cpuTime()-cpu0)
		rules = full.Len()
		for r := 0; r < 6; r++ {
			d, f := evalCost(b, full, lines.Bytes())
			keepMin(&bestFull, d)
			findings = f
			d, _ = evalCost(b, one, lines.Bytes())
			keepMin(&bestOne, d)
		}
	}
	b.ReportMetric(bestLoad.Seconds(), "load-s")
	b.ReportMetric(bestLoadCPU.Seconds(), "load-cpu-s")
	b.ReportMetric(float64(bestFull.Nanoseconds())/n, "full-ns/event")
	b.ReportMetric(float64(bestOne.Nanoseconds())/n, "one-ns/event")
	b.ReportMetric(float64(bestFull)/float64(bestOne), "ratio")
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(findings)/n, "findings/event")
}

// TestWholeCorpusLoads pins, per folder of sigmahq-full (every SigmaHQ rule of the commit, 3,780
// files), how many rule files load and why the others are refused; docs/policies.md reports the
// table.
func TestWholeCorpusLoads(t *testing.T) {
	full := shareddata.Dir(t, "sigmahq-full")
	paths, opts := wholeCorpus(t)
	dir := func(name string) string { return filepath.Join(full, name) }
	checkFolderLoads(t, []folderLoads{
		{"rules", dir("rules"), LoadOptions{}, 3140, map[string]string{
			"macos/process_creation/proc_creation_macos_file_and_directory_discovery.yml": `invalid search identifier "select_tree_execution|endswith"`,
		}, 0, ""},
		{"rules-emerging-threats", dir("rules-emerging-threats"), LoadOptions{}, 471, map[string]string{
			"2026/Exploits/CVE-2026-54121/win_security_adcs_certighost_cdc_chase_request.yml":     "unresolved placeholder %known_cdcs%",
			"2026/Exploits/CVE-2026-54121/win_security_adcs_certighost_cert_issued_via_chase.yml": "unresolved placeholder %known_cdcs%",
		}, 0, ""},
		{"rules-emerging-threats with placeholder values", dir("rules-emerging-threats"), opts, 473, nil, 0, ""},
		{"rules-threat-hunting", dir("rules-threat-hunting"), LoadOptions{}, 140, nil, 0, ""},
		{"rules-placeholder", dir("rules-placeholder"), LoadOptions{}, 0, nil, 23, "unresolved placeholder %"},
		{"rules-placeholder with placeholder values", dir("rules-placeholder"), opts, 23, nil, 0, ""},
		{"rules-compliance", dir("rules-compliance"), LoadOptions{}, 3, nil, 0, ""},
	})
	// Together, with LOLRMM: one load, every rule but the broken macOS one, and no warning.
	rs, problems, err := LoadPaths(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	if errs, warns := CountProblems(problems); rs.Len() != 3780-1+632 || errs != 1 || warns != 0 {
		t.Errorf("whole corpus: %d rules, %d errors, %d warnings; want %d, 1 and 0", rs.Len(), errs, warns, 3780-1+632)
	}
}

// TestWholeCorpusPCRE: SigmaHQ rules written for PCRE's '$' (which also matches before a final
// newline) fire on such values, as they do in PCRE-based backends.
func TestWholeCorpusPCRE(t *testing.T) {
	path := filepath.Join(shareddata.Dir(t, "sigmahq-full"), "rules", "windows", "builtin", "security", "win_security_metasploit_authentication.yml")
	rs, problems, err := LoadPaths([]string{path}, LoadOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ws, want := range map[string]int{"ABCDEFGHIJKLMNOP": 1, "ABCDEFGHIJKLMNOP\n": 1, "ABCDEFGHIJKLMNOP\n\n": 0, "ABCDEFGHIJKLMNO": 0} {
		n := 0
		eng.Process(&event.Event{ID: "e", Product: "windows", Service: "security", Fields: map[string]any{
			"EventID": 4625, "LogonType": 3, "AuthenticationPackageName": "NTLM", "WorkstationName": ws}}, func(*Finding) { n++ })
		if n != want {
			t.Errorf("WorkstationName %q: %d findings, want %d", ws, n, want)
		}
	}
}
