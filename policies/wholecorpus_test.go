package policies

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
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
	return paths, LoadOptions{Placeholders: corpusPlaceholderValues(tb, paths)}
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
// sigmahq-full plus LOLRMM (load-s, the best of the iterations), and what `policy eval` costs
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
	var bestLoad, bestFull, bestOne time.Duration
	var rules, findings int
	keepMin := func(best *time.Duration, d time.Duration) {
		if *best == 0 || d < *best {
			*best = d
		}
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		full, _, err := LoadPaths(paths, opts)
		if err != nil {
			b.Fatal(err)
		}
		keepMin(&bestLoad, time.Since(start))
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
	b.ReportMetric(float64(bestFull.Nanoseconds())/n, "full-ns/event")
	b.ReportMetric(float64(bestOne.Nanoseconds())/n, "one-ns/event")
	b.ReportMetric(float64(bestFull)/float64(bestOne), "ratio")
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(findings)/n, "findings/event")
}
