package ruledoc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/policies"
)

// docs/rules.md must be what `vigil policy docs --builtin` writes for the pack as it is.
func TestRulesDocUpToDate(t *testing.T) {
	rs, problems, err := policies.LoadFS(policies.BuiltinFS(), policies.LoadOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("pack: %v %v", err, problems)
	}
	var b bytes.Buffer
	if err := Write(&b, rs); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "rules.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), committed) {
		t.Fatal("docs/rules.md is stale: run `go run ./cmd/vigil policy docs --builtin -o docs/rules.md`")
	}
	for _, ri := range rs.Rules() {
		if !strings.Contains(b.String(), "`"+ri.ID+"`") {
			t.Errorf("rule %s (%s) is missing from the doc", ri.ID, ri.Title)
		}
	}
}

func TestWriteOrdersByLevel(t *testing.T) {
	rs, problems := policies.ParseBytes("fam/r.yml", []byte(`title: Low One
id: 1
level: low
falsepositives: [Admins]
logsource: {product: linux, category: process_creation}
detection: {sel: {Image: a}, condition: sel}
---
title: Critical One | Pipe
id: 2
level: critical
logsource: {category: usb_device}
detection: {sel: {VendorId: x}, condition: sel}
`), policies.LoadOptions{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var b bytes.Buffer
	if err := Write(&b, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Index(out, "Critical One") > strings.Index(out, "Low One") {
		t.Error("critical must come before low")
	}
	for _, want := range []string{"## fam", `Critical One \| Pipe`, "linux / process_creation", "False positives:\n- Admins", "2 rules and correlations raise findings: 1 critical, 1 low."} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
