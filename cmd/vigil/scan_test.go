package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A source that cannot read its root makes the scan fail visibly instead of looking clean.
func TestScanFailedSourceIsNotClean(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	out, errOut, code := runVigil(t, "", "scan", "--json", "--only", "usb", "--sysfs-root", missing, "--log-level", "off")
	if code != 2 || !strings.Contains(errOut, "1 source(s) failed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var line map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &line); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if line["kind"] != "error" || line["source"] != "usb" || !strings.Contains(line["error"], "nope") {
		t.Errorf("error line %v", line)
	}
	_, _, code = runVigil(t, "", "scan", "--only", "usb", "--sysfs-root", missing, "--log-level", "off")
	if code != 2 {
		t.Errorf("report mode: exit %d, want 2", code)
	}
}

func TestScanFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"scan", "--events"},
		{"scan", "--fail-on", "severe"},
		{"scan", "--only", "keyboard"},
	} {
		if _, _, code := runVigil(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
