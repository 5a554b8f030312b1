package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/policies"
)

// Findings are listed most severe first, and a level outside Sigma's five is listed too (last),
// never dropped from the report.
func TestScanReportLevelOrder(t *testing.T) {
	r := newScanReport()
	for _, lvl := range []string{"low", "severe", "critical", "", "high"} {
		r.addFinding(&pipeline.Finding{Finding: &policies.Finding{Title: "rule " + lvl, Level: lvl}})
	}
	var b bytes.Buffer
	r.render(&b, "h", 0, nil)
	out := b.String()
	last := -1
	for _, head := range []string{"CRITICAL (1)", "HIGH (1)", "LOW (1)", "- (1)", "SEVERE (1)"} {
		i := strings.Index(out, head)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order:\n%s", head, out)
		}
		last = i
	}
	if r.maxLevel() != policies.LevelRank("critical") {
		t.Errorf("maxLevel %d", r.maxLevel())
	}
}
