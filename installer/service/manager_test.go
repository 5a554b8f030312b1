package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireSystemTests skips tests that install real services on this machine unless asked to
// (VIGIL_TEST_SERVICES=1, as .ci/run sets it) and run as root.
func requireSystemTests(t *testing.T) {
	t.Helper()
	if os.Getenv("VIGIL_TEST_SERVICES") != "1" {
		t.Skip("installs a real service on this machine: set VIGIL_TEST_SERVICES=1 (and run as root) to run it")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a service needs root")
	}
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServiceLifecycle installs a real service (a shell script that records its pid and
// sleeps) through the system's manager, and checks start, status, restart after a crash, stop,
// idempotent install, and uninstall with purge leaving nothing behind.
func TestServiceLifecycle(t *testing.T) {
	requireSystemTests(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	name := fmt.Sprintf("vigil-svctest-%d", os.Getpid())
	src := filepath.Join(dir, "src.sh")
	pidFile := filepath.Join(dir, "state", "pid")
	script := "#!/bin/sh\necho $$ > " + shQuote(pidFile) + "\nexec sleep 600\n"
	if err := os.WriteFile(src, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Name: name, DisplayName: "Vigil service test", Description: "test",
		Binary: filepath.Join(dir, "bin", "svc"), Writable: []string{filepath.Join(dir, "state")},
		LogFile: filepath.Join(dir, "log", name+".log"),
	}
	config := filepath.Join(dir, "etc", "svc.yml")
	plan := Plan{Spec: spec, Source: src, Config: config, Settings: []Setting{{Key: "server", Value: "http://127.0.0.1:1"}}, Start: true}
	t.Cleanup(func() { _ = Uninstall(context.Background(), spec, config, true) })

	m, err := Install(ctx, plan)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	t.Logf("platform %s", m.Platform())
	if st, err := m.Status(); err != nil || st != Running {
		t.Fatalf("status after install: %v %v", st, err)
	}
	readPid := func() int {
		b, _ := os.ReadFile(pidFile)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	waitFor(t, "the service to write its pid", func() bool { return readPid() > 0 })
	if fi, err := os.Stat(config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v", fi, err)
	}

	// A crash is followed by a restart.
	first := readPid()
	if err := syscallKill(first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restart after the crash", func() bool { p := readPid(); return p > 0 && p != first })

	// Installing again is harmless: still one running service.
	if _, err := Install(ctx, plan); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if st, _ := m.Status(); st != Running {
		t.Fatalf("status after second install: %v", st)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(); st != Stopped {
		t.Fatalf("status after stop: %v", st)
	}
	if syscallAlive(readPid()) {
		t.Fatal("the service's process outlived stop")
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := Uninstall(ctx, spec, config, true); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if st, _ := m.Status(); st != NotInstalled {
		t.Fatalf("status after uninstall: %v", st)
	}
	left := leftovers(name)
	for _, p := range []string{spec.Binary, config, spec.Writable[0], spec.LogFile, filepath.Dir(config), filepath.Dir(spec.Binary), filepath.Dir(spec.LogFile)} {
		if exists(p) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	// Uninstalling what is not installed is not an error.
	if err := Uninstall(ctx, spec, config, true); err != nil {
		t.Fatalf("second uninstall: %v", err)
	}
}

// leftovers lists what any service manager of this package could have left for name.
func leftovers(name string) []string {
	var out []string
	for _, pattern := range []string{
		"/etc/init.d/" + name, "/etc/rc[0-6S].d/*" + name, "/var/run/" + name + ".pid",
		"/etc/systemd/system/" + name + ".service", "/etc/systemd/system/*/" + name + ".service",
		"/Library/LaunchDaemons/" + name + ".plist",
	} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}
