package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"howett.net/plist"
)

func testSpec(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A path with a space and a % checks the quoting.
	return AgentSpec("vigil-test", bin, filepath.Join(dir, "conf dir", "agent 100%.yml"), filepath.Join(dir, "state"), filepath.Join(dir, "log", "vigil.log"))
}

// TestSystemdVerify runs systemd-analyze verify on the agent's and the server's units: it must
// print nothing (it warns about unknown keys and bad values, with exit status 0).
func TestSystemdVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") == "1" {
			t.Fatal("systemd-analyze not found (Debian package systemd); .ci/run installs it")
		}
		t.Skip("systemd-analyze not found (Debian package systemd)")
	}
	agent := testSpec(t)
	server := ServerSpec("vigil-test-server", agent.Binary, "/etc/vigil/server.yml", "/var/lib/vigil-server", "/var/log/vigil-server.log")
	for _, s := range []Spec{agent, server} {
		unit := filepath.Join(t.TempDir(), s.Name+".service")
		if err := os.WriteFile(unit, []byte(Systemd(s)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sa, "verify", unit)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s\nunit:\n%s", s.Name, err, out, Systemd(s))
		}
	}
}

func TestSystemdHardening(t *testing.T) {
	s := testSpec(t)
	unit := Systemd(s)
	for _, want := range []string{
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only", "Restart=on-failure",
		"RestartForceExitStatus=75", "UMask=0077",
		"ReadWritePaths=" + s.Writable[0],
		"CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_NET_ADMIN",
		`ExecStart=` + s.Binary + ` agent run --config "` + strings.ReplaceAll(s.Args[3], "%", "%%") + `"`,
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	// Every capability kept is explained.
	for _, c := range AgentCapabilities {
		if !strings.Contains(unit, "#   "+c.Name+": ") {
			t.Errorf("capability %s has no reason in the unit", c.Name)
		}
	}
	srv := Systemd(ServerSpec("s", "/usr/bin/vigil", "/etc/vigil/server.yml", "/var/lib/vigil-server", "/var/log/s.log"))
	if !strings.Contains(srv, "PrivateTmp=yes") || !strings.Contains(srv, "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n") {
		t.Errorf("server unit:\n%s", srv)
	}
}

func TestLaunchdPlist(t *testing.T) {
	s := testSpec(t)
	s.Args = append(s.Args, `<&"odd">`)
	var got struct {
		Label             string
		ProgramArguments  []string
		RunAtLoad         bool
		KeepAlive         struct{ SuccessfulExit bool }
		ThrottleInterval  int
		Umask             int
		StandardErrorPath string
	}
	format, err := plist.Unmarshal([]byte(Launchd(s)), &got)
	if err != nil {
		t.Fatalf("plist does not parse: %v\n%s", err, Launchd(s))
	}
	if format != plist.XMLFormat {
		t.Errorf("format %d, want XML", format)
	}
	want := append([]string{s.Binary}, s.Args...)
	if got.Label != s.Name || strings.Join(got.ProgramArguments, "\x00") != strings.Join(want, "\x00") ||
		!got.RunAtLoad || got.KeepAlive.SuccessfulExit || got.ThrottleInterval != RestartDelaySeconds ||
		got.Umask != 0o77 || got.StandardErrorPath != s.LogFile {
		t.Errorf("plist decoded to %+v", got)
	}
}

func TestInitScriptsSyntax(t *testing.T) {
	s := testSpec(t)
	s.Args = append(s.Args, "it's")
	for name, text := range map[string]string{"sysv": SysV(s), "openrc": OpenRC(s)} {
		if strings.Contains(text, "{{") {
			t.Errorf("%s script holds a template action, which kardianos would expand", name)
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s script: sh -n: %v\n%s", name, err, out)
		}
	}
	for _, text := range []string{Systemd(s), Launchd(s)} {
		if strings.Contains(text, "{{") {
			t.Error("definition holds a template action, which kardianos would expand")
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := testSpec(t)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(s *Spec){
		"empty name":        func(s *Spec) { s.Name = "" },
		"name with slash":   func(s *Spec) { s.Name = "a/b" },
		"relative binary":   func(s *Spec) { s.Binary = "vigil" },
		"relative writable": func(s *Spec) { s.Writable = []string{"state"} },
		"newline in arg":    func(s *Spec) { s.Args = []string{"a\nb"} },
	} {
		s := good
		f(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	w := good
	w.Binary, w.Writable = `C:\Program Files\Vigil\vigil.exe`, []string{`C:\ProgramData\Vigil\state`}
	if err := w.Validate(); err != nil {
		t.Errorf("windows paths: %v", err)
	}
}
