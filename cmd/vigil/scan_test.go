package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
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

// A scan that could not look never passes for clean: a saved dump that is not the tool's
// output, an empty one, or a root that is not there is an error naming it.
func TestScanCouldNotLook(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passwd := write("passwd", []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"))
	noise := make([]byte, 4096)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(noise)
	random := write("random", noise)
	empty := write("empty", nil)
	missing := filepath.Join(dir, "nope")
	for _, c := range []struct {
		only, flag, value string
	}{
		{"usb", "--windows-devices-file", passwd},
		{"usb", "--windows-devices-file", random},
		{"usb", "--windows-devices-file", empty},
		{"usb", "--ioreg-file", passwd},
		{"usb", "--ioreg-file", empty},
		{"display", "--ioreg-display-file", passwd},
		{"display", "--ioreg-display-file", empty},
		{"display", "--display-registry-file", passwd},
		{"host", "--host-registry-file", random},
		{"host", "--etc-root", missing},
		{"host", "--etc-root", passwd},
		{"host", "--proc-root", missing},
		{"host", "--sysfs-root", missing},
		{"media", "--dev-root", missing},
		{"media", "--sysfs-root", missing},
		{"media", "--proc-root", missing},
		{"usb", "--sysfs-root", missing},
		{"display", "--sysfs-root", missing},
		{"process", "--proc-root", missing},
		{"netconn", "--proc-root", missing},
	} {
		out, errOut, code := runVigil(t, "", "scan", "--json", "--only", c.only, c.flag, c.value, "--log-level", "off")
		if code != 2 || !strings.Contains(errOut, "1 source(s) failed") || !strings.Contains(out, `"kind":"error"`) {
			t.Errorf("%s %s %s: exit %d, stderr %q", c.only, c.flag, filepath.Base(c.value), code, errOut)
			continue
		}
		if c.only != "process" && c.only != "netconn" && !strings.Contains(errOut, c.value) {
			t.Errorf("%s %s: the error does not name %s: %q", c.only, c.flag, c.value, errOut)
		}
	}
	// The file watcher's folders too (it runs with --watch only).
	_, errOut, code := runVigil(t, "", "scan", "--only", "files", "--files-root", missing, "--watch", "1s", "--log-level", "off")
	if code != 2 || !strings.Contains(errOut, missing) {
		t.Errorf("--files-root missing: exit %d, stderr %q", code, errOut)
	}
}

func TestScanWatchMustBePositive(t *testing.T) {
	for _, d := range []string{"-5s", "0", "0s"} {
		_, errOut, code := runVigil(t, "", "scan", "--only", "usb", "--watch", d, "--log-level", "off")
		if code != 2 || !strings.Contains(errOut, "positive") {
			t.Errorf("--watch %s: exit %d, stderr %q", d, code, errOut)
		}
	}
}
