package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyImportLolrmm runs `vigil policy import-lolrmm` on a small catalog and lints the
// output with `vigil policy lint --strict`.
func TestPolicyImportLolrmm(t *testing.T) {
	cat := t.TempDir()
	os.WriteFile(filepath.Join(cat, "anydesk.yaml"), []byte(`Name: AnyDesk
Category: RMM
Author: Ali Alwashali, Nasreddine Bencherchali
Created: '2023-09-29'
Details:
    PEMetadata:
        - Filename: anydesk.exe
          OriginalFileName: AnyDesk.exe
    InstallationPaths:
        - C:\Program Files (x86)\AnyDesk\*
        - setup.exe
Artifacts:
    Network:
        - Description: relays
          Domains: ['relay-[a-f0-9]{8}.net.anydesk.com:443', user_managed]
          Ports: [443]
`), 0o644)
	out := filepath.Join(t.TempDir(), "rules")
	run := func(args ...string) (string, string, error) {
		var so, se bytes.Buffer
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&so)
		root.SetErr(&se)
		err := root.Execute()
		return so.String(), se.String(), err
	}
	_, stderr, err := run("policy", "import-lolrmm", cat, "-o", out)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	for _, want := range []string{"1 catalog files, 1 tools, 1 with rules; 2 rules in 1 files", `"setup.exe": generic name`,
		`"user_managed": placeholder`, `"443": common port`, "wrote 1 files to " + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	if _, stderr, err := run("policy", "lint", "--strict", out); err != nil {
		t.Fatalf("lint of the import: %v\n%s", err, stderr)
	}
	if _, _, err := run("policy", "import-lolrmm", filepath.Join(cat, "missing")); err == nil {
		t.Error("a missing catalog folder is not an error")
	}
}
