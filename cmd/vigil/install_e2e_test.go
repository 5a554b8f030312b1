package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests install real services and packages on this machine (SysV here, where systemd is
// not PID 1) and run the real binary as separate processes talking over loopback.

func requireServiceTests(t *testing.T) {
	t.Helper()
	if os.Getenv("VIGIL_TEST_SERVICES") != "1" {
		t.Skip("installs real services on this machine: set VIGIL_TEST_SERVICES=1 (and run as root) to run it")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a service needs root")
	}
}

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// vigilBuild builds cmd/vigil with version linked in (once per version per test binary).
func vigilBuild(t *testing.T, version string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if p, ok := built[version]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "vigil-install-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vigil")
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/vigilhq/vigil/internal/version.Version="+version, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vigil %s: %v\n%s", version, err, out)
	}
	built[version] = bin
	return bin
}

// e2eServer is a `vigil server` process on loopback.
type e2eServer struct {
	url, secret, token string
	cmd                *exec.Cmd
	log                *bytes.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startServer(t *testing.T, bin, data string, extra ...string) *e2eServer {
	t.Helper()
	s := &e2eServer{secret: "vge_install-e2e-secret-0123456789", token: "vgt_install-e2e-admin-0123456789", log: &bytes.Buffer{}}
	port := freePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append([]string{"server", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--insecure-http", "--data", data,
		"--checkin-interval", "5s", "--log-level", "warn"}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), "VIGIL_ENROLL_SECRET="+s.secret, "VIGIL_ADMIN_TOKEN="+s.token)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	waitUntil(t, "the server to answer", func() bool {
		resp, err := http.Get(s.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

func (s *e2eServer) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Wait()
	}
}

// api calls the admin API.
func (s *e2eServer) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type e2eHost struct {
	ID           string `json:"id"`
	AgentVersion string `json:"agent_version"`
}

func (s *e2eServer) hosts(t *testing.T) []e2eHost {
	var list struct {
		Hosts []e2eHost `json:"hosts"`
		Items []e2eHost `json:"items"`
	}
	if code := s.api(t, "GET", "/api/v1/hosts", nil, &list); code != 200 {
		t.Fatalf("GET /api/v1/hosts: %d", code)
	}
	return append(list.Hosts, list.Items...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// run runs the binary and returns its output and exit status.
func run(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	return "", -1
}

// installation is one test installation of the agent service, under a temporary folder.
type installation struct {
	name, dir, config, state, binary, log string
}

func newInstallation(t *testing.T, tag string) *installation {
	dir := t.TempDir()
	return &installation{
		name: fmt.Sprintf("vigil-e2e-%s-%d", tag, os.Getpid()), dir: dir,
		config: filepath.Join(dir, "etc", "agent.yml"), state: filepath.Join(dir, "state"),
		binary: filepath.Join(dir, "bin", "vigil"), log: filepath.Join(dir, "log", "agent.log"),
	}
}

func (in *installation) args(verb string, extra ...string) []string {
	a := []string{"agent", verb, "--name", in.name, "--config", in.config}
	if verb == "install" {
		a = append(a, "--state", in.state, "--binary", in.binary, "--log-file", in.log, "--only", "host")
	}
	return append(a, extra...)
}

// leftovers lists what the installation left on the system.
func (in *installation) leftovers() []string {
	var out []string
	for _, pattern := range []string{"/etc/init.d/" + in.name, "/etc/rc[0-6S].d/*" + in.name, "/var/run/" + in.name + ".pid",
		"/etc/systemd/system/" + in.name + ".service", filepath.Join(in.dir, "*")} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	if out2, _ := exec.Command("pgrep", "-f", in.config).Output(); len(bytes.TrimSpace(out2)) > 0 {
		out = append(out, "process "+strings.TrimSpace(string(out2)))
	}
	return out
}

// TestAgentServiceE2E: `vigil agent install` pointing at a local server gives a running,
// enrolled agent; status says so; stop stops it; uninstall --purge leaves nothing behind.
func TestAgentServiceE2E(t *testing.T) {
	requireServiceTests(t)
	bin := vigilBuild(t, "1.0.0")
	srv := startServer(t, bin, filepath.Join(t.TempDir(), "server"))
	in := newInstallation(t, "svc")
	t.Cleanup(func() { run(t, bin, in.args("uninstall", "--purge")...) })

	out, code := run(t, bin, in.args("install", "--server", srv.url, "--enroll-secret", srv.secret)...)
	t.Logf("install:\n%s", out)
	if code != 0 || !strings.Contains(out, "started") || !strings.Contains(out, "enrolled: yes, agent id ") {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	hosts := srv.hosts(t)
	if len(hosts) != 1 || !strings.Contains(hosts[0].AgentVersion, "1.0.0") {
		t.Fatalf("server hosts: %+v", hosts)
	}
	if fi, err := os.Stat(in.config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	out, code = run(t, bin, in.args("status")...)
	t.Logf("status:\n%s", out)
	if code != 0 || !strings.Contains(out, ": running") || !strings.Contains(out, "enrolled: yes, agent id "+hosts[0].ID) {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	// Installing again is harmless: same host, still running.
	if out, code := run(t, bin, in.args("install")...); code != 0 {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}
	if h := srv.hosts(t); len(h) != 1 || h[0].ID != hosts[0].ID {
		t.Fatalf("hosts after a second install: %+v", h)
	}
	out, code = run(t, bin, in.args("stop")...)
	if code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, out)
	}
	if out, code := run(t, bin, in.args("status")...); code != exitServiceStopped || !strings.Contains(out, ": stopped") {
		t.Fatalf("status after stop: exit %d\n%s", code, out)
	}
	if out, _ := exec.Command("pgrep", "-f", in.config).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("agent still running after stop: %s", out)
	}
	out, code = run(t, bin, in.args("uninstall", "--purge")...)
	if code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if left := in.leftovers(); len(left) > 0 {
		t.Fatalf("uninstall --purge left: %v", left)
	}
	if out, code := run(t, bin, in.args("status")...); code != exitServiceNotInstalled {
		t.Fatalf("status after uninstall: exit %d\n%s", code, out)
	}
}
