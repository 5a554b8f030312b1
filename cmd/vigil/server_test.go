package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServerCommandAndLoadgen starts `vigil server` from a YAML config file and VIGIL_*
// variables, reads its first-start banner, and points `vigil loadgen` at it with the printed
// URL, secret and CA pin.
func TestServerCommandAndLoadgen(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "server.yml")
	if err := os.WriteFile(cfgFile, []byte("listen: 127.0.0.1:0\ndata: "+filepath.Join(dir, "data")+"\ncheckin_interval: 5s\nlog_level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_ENROLL_SECRET", "vge_cli-test-secret")
	t.Setenv("VIGIL_ADMIN_TOKEN", "vgt_cli-test-token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetArgs([]string{"server", "--config", cfgFile})
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); _ = pw.Close() }()
	agentLine := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "vigil agent run ") {
				agentLine <- l
			}
		}
	}()
	var line string
	select {
	case line = <-agentLine:
	case err := <-done:
		t.Fatalf("server ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no agent line within 60 s")
	}
	m := regexp.MustCompile(`^vigil agent run --server (https://127\.0\.0\.1:\d+) --enroll-secret (vge_cli-test-secret) --ca-pin (sha256:[0-9a-f]{64})$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("agent line: %q", line)
	}
	out, errOut, code := runVigil(t, "", "loadgen", "--server", m[1], "--enroll-secret", m[2], "--ca-pin", m[3],
		"--agents", "5", "--duration", "4s", "--batch-every", "500ms", "--events-per-min", "600")
	if code != 0 || !regexp.MustCompile(`^agents=5 batches=[1-9]\d* events=[1-9]\d* errors=0 p50_ms=\d+\.\d p99_ms=\d+\.\d events_per_s=\d+\n$`).MatchString(out) {
		t.Fatalf("loadgen: exit %d, %q, stderr %q", code, out, errOut)
	}
	// A wrong pin is refused.
	_, errOut, code = runVigil(t, "", "loadgen", "--server", m[1], "--enroll-secret", m[2], "--ca-pin", "sha256:"+strings.Repeat("0", 64),
		"--agents", "1", "--duration", "2s")
	if code == 0 || !strings.Contains(errOut, "pin") {
		t.Fatalf("wrong pin: exit %d, %q", code, errOut)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestServerCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"plain http on all addresses": {[]string{"server", "--listen", "0.0.0.0:0", "--data", dir, "--insecure-http"}, "loopback"},
		"unknown config key":          {[]string{"server", "--config", writeFiles(t, map[string]string{"c.yml": "listn: x\n"}) + "/c.yml"}, `unknown key "listn"`},
		"bad retention":               {[]string{"server", "--data", dir, "--retention", "hosts=3"}, "unknown table"},
	} {
		_, errOut, code := runVigil(t, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q, want %q", name, code, errOut, tc.want)
		}
	}
}
