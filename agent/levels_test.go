package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalRuleNeedsALevel: a local rule that would make findings without one of Sigma's five
// levels stops the agent at start, naming the file: the server would refuse every finding of it.
func TestLocalRuleNeedsALevel(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "nolevel.yml")
	if err := os.WriteFile(rules, []byte(strings.Replace(localRule, "level: high\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ServerURL: "http://127.0.0.1:1", EnrollSecret: "vge_x", StateDir: t.TempDir(), Rules: []string{rules},
		Sources: newChanSource(), Hostname: "laptop-42", DisableLimits: true}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newAgent(cfg)
	if err == nil {
		a.q.Close()
		t.Fatal("a local rule without a level accepted")
	}
	if !strings.Contains(err.Error(), rules+":") || !strings.Contains(err.Error(), "has no level") {
		t.Fatalf("error %q: want the file and the missing level", err)
	}
}
