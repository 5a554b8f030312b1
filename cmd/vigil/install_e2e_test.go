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
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/agent"
	"github.com/vigilhq/vigil/installer/packaging"
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

// vigilBuild builds the full cmd/vigil with version linked in (once per version per test
// binary): the server, the release tools.
func vigilBuild(t *testing.T, version string) string { return vigilBuildTags(t, version, "") }

// agentBuild builds the agent-only cmd/vigil (-tags agentonly), what laptops run.
func agentBuild(t *testing.T, version string) string {
	return vigilBuildTags(t, version, packaging.Agent.Tags())
}

func vigilBuildTags(t *testing.T, version, tags string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	key := version + "/" + tags
	if p, ok := built[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "vigil-install-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vigil")
	cmd := exec.Command("go", "build", "-tags", tags, "-ldflags", "-X github.com/vigilhq/vigil/internal/version.Version="+version, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vigil %s (tags %q): %v\n%s", version, tags, err, out)
	}
	built[key] = bin
	afterTests = append(afterTests, func() { os.RemoveAll(dir) })
	return bin
}

// instServer is a `vigil server` process on loopback.
type instServer struct {
	url, secret, token string
	cmd                *exec.Cmd
	log                *bytes.Buffer
}

func instFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func instStartServer(t *testing.T, bin, data string, extra ...string) *instServer {
	t.Helper()
	s := &instServer{secret: "vge_install-e2e-secret-0123456789", token: "vgt_install-e2e-admin-0123456789", log: &bytes.Buffer{}}
	port := instFreePort(t)
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
	instWaitHealthy(t, "the server to answer", s.url)
	return s
}

// instWaitHealthy waits until the server at url answers /healthz.
func instWaitHealthy(t *testing.T, what, url string) {
	t.Helper()
	instWait(t, what, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func (s *instServer) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Wait()
	}
}

// api calls the admin API.
func (s *instServer) api(t *testing.T, method, path string, body any, out any) int {
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

type instHost struct {
	ID           string `json:"id"`
	AgentVersion string `json:"agent_version"`
}

func (s *instServer) hosts(t *testing.T) []instHost {
	var list struct {
		Hosts []instHost `json:"hosts"`
		Items []instHost `json:"items"`
	}
	if code := s.api(t, "GET", "/api/v1/hosts", nil, &list); code != 200 {
		t.Fatalf("GET /api/v1/hosts: %d", code)
	}
	return append(list.Hosts, list.Items...)
}

func instWait(t *testing.T, what string, cond func() bool) {
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
	bin := agentBuild(t, "1.0.0") // what laptops run; the server is the full build
	srv := instStartServer(t, vigilBuild(t, "1.0.0"), filepath.Join(t.TempDir(), "server"))
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
	if code != 0 || !strings.Contains(out, ": running") || !strings.Contains(out, "enrolled: yes, agent id "+hosts[0].ID) ||
		!strings.Contains(out, ", agent-only)") {
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

// agentStatus reads the installation's status file (empty when there is none yet).
func (in *installation) agentStatus() *agent.Status {
	st, err := agent.ReadStatus(in.state)
	if err != nil {
		return &agent.Status{}
	}
	return st
}

// copyTree replaces dst with a copy of src.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	for _, sub := range []string{"metadata", "targets"} {
		if err := os.RemoveAll(filepath.Join(dst, sub)); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAgentUpgradeE2E: an agent installed as a service on version 1.0.0 refuses an upgrade
// signed by another key and one the server offers alone, staying on 1.0.0; offered 1.0.1
// signed by its release key, it comes up on 1.0.1 with the same enrollment and its queue.
func TestAgentUpgradeE2E(t *testing.T) {
	requireServiceTests(t)
	// The release tools and the server are the full build; the agent, before and after, the
	// agent-only one, as released.
	tools, oldBin, newBin := vigilBuild(t, "1.0.0"), agentBuild(t, "1.0.0"), agentBuild(t, "1.0.1")
	dir := t.TempDir()
	repo, key := filepath.Join(dir, "release-repo"), filepath.Join(dir, "release.key")
	evilRepo, evilKey := filepath.Join(dir, "evil-repo"), filepath.Join(dir, "evil.key")
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, step := range [][]string{
		{"release", "init", "--repo", repo, "--key", key},
		{"release", "publish", "--repo", repo, "--key", key, "--version", "1.0.1", "--binary", platform + "=" + newBin},
		{"release", "init", "--repo", evilRepo, "--key", evilKey},
		{"release", "publish", "--repo", evilRepo, "--key", evilKey, "--version", "1.0.5", "--binary", platform + "=" + newBin},
	} {
		if out, code := run(t, tools, step...); code != 0 {
			t.Fatalf("vigil %v: exit %d\n%s", step, code, out)
		}
	}
	served := filepath.Join(dir, "updates")
	if err := os.MkdirAll(served, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, evilRepo, served) // the server serves a repository signed by another key
	srv := instStartServer(t, tools, filepath.Join(dir, "server"), "--updates-dir", served)
	in := newInstallation(t, "upg")
	t.Cleanup(func() { run(t, oldBin, in.args("uninstall", "--purge")...) })
	out, code := run(t, oldBin, in.args("install", "--server", srv.url, "--enroll-secret", srv.secret,
		"--release-root", filepath.Join(repo, "metadata", "root.json"))...)
	if code != 0 || !strings.Contains(out, "enrolled: yes") {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	hosts := srv.hosts(t)
	if len(hosts) != 1 {
		t.Fatalf("hosts: %+v", hosts)
	}
	token, err := os.ReadFile(filepath.Join(in.state, "token"))
	if err != nil {
		t.Fatal(err)
	}
	pid := in.agentStatus().PID
	offer := func(version string) {
		if code := srv.api(t, "PUT", "/api/v1/upgrade", map[string]any{"version": version, "percent": 100}, nil); code != 200 {
			t.Fatalf("PUT /api/v1/upgrade %s: %d", version, code)
		}
	}
	refusedWith := func(what, reason string) {
		t.Helper()
		instWait(t, what+" to be refused", func() bool {
			return strings.Contains(in.agentStatus().Health.Upgrade, reason)
		})
		st := in.agentStatus()
		if !strings.Contains(st.Version, "vigil 1.0.0 ") || st.PID != pid {
			t.Fatalf("after %s: agent %q pid %d (was %d)", what, st.Version, st.PID, pid)
		}
		t.Logf("%s: %s", what, st.Health.Upgrade)
	}

	// Signed by another key: refused.
	offer("1.0.5")
	refusedWith("an upgrade signed by another key", "does not verify against the release root")
	// The right repository, but a version the release key never signed: offered by the server
	// alone, refused.
	copyTree(t, repo, served)
	offer("1.0.2")
	refusedWith("an upgrade offered by the server alone", "the release key has not signed vigil/1.0.2/")
	if h := srv.hosts(t); !strings.Contains(h[0].AgentVersion, "1.0.0") {
		t.Fatalf("host reports %q", h[0].AgentVersion)
	}

	// Signed by the release key: the agent moves to 1.0.1.
	offer("1.0.1")
	instWait(t, "the agent to come up on 1.0.1 and commit it", func() bool {
		st := in.agentStatus()
		return strings.Contains(st.Version, "vigil 1.0.1 ") && strings.Contains(st.Health.Upgrade, "upgraded from the installed binary to 1.0.1")
	})
	instWait(t, "the server to see 1.0.1", func() bool {
		h := srv.hosts(t)
		return len(h) == 1 && strings.Contains(h[0].AgentVersion, "1.0.1")
	})
	// Same enrollment (no new host, the same token) and the same queue, nothing dropped.
	if h := srv.hosts(t); len(h) != 1 || h[0].ID != hosts[0].ID {
		t.Fatalf("hosts after the upgrade: %+v (was %+v)", h, hosts)
	}
	if tok, _ := os.ReadFile(filepath.Join(in.state, "token")); !bytes.Equal(tok, token) {
		t.Fatal("the token changed: the agent enrolled again")
	}
	st := in.agentStatus()
	if st.AgentID != hosts[0].ID || st.Health.QueueDropped != 0 {
		t.Fatalf("status after the upgrade: %+v", st)
	}
	instWait(t, "the queue to drain on 1.0.1", func() bool { return in.agentStatus().Health.QueueItems == 0 })
	out, code = run(t, oldBin, in.args("status")...)
	t.Logf("status after the upgrade:\n%s", out)
	if code != 0 || !strings.Contains(out, "version: vigil 1.0.1 ") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if out, code := run(t, oldBin, in.args("uninstall", "--purge")...); code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if left := in.leftovers(); len(left) > 0 {
		t.Fatalf("uninstall --purge left: %v", left)
	}
}

// debLeftovers lists what of the packages' services, binaries and processes is on the system.
func debLeftovers() []string {
	var left []string
	for _, pattern := range []string{"/usr/bin/vigil", "/usr/share/vigil", "/etc/init.d/vigil", "/etc/init.d/vigil-server",
		"/etc/rc[0-6S].d/*vigil*", "/var/run/vigil.pid", "/var/run/vigil-server.pid", "/etc/systemd/system/vigil.service",
		"/etc/systemd/system/vigil-server.service"} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	for _, config := range []string{"/etc/vigil/agent.yml", "/etc/vigil/server.yml"} {
		if p, _ := exec.Command("pgrep", "-f", config).Output(); len(bytes.TrimSpace(p)) > 0 {
			left = append(left, "process "+strings.TrimSpace(string(p))+" of "+config)
		}
	}
	return left
}

// TestDebPackageE2E: the vigil-agent .deb (the agent-only build) installs with dpkg, its postinst
// registers and starts the agent's service (configured from VIGIL_* variables) and the agent
// enrolls with a local server. The vigil-server .deb then takes its place: its postinst starts
// the server's service and restarts the agent on the full build, still enrolled. dpkg -r
// removes both services cleanly, keeping configuration and state; dpkg -P leaves nothing.
func TestDebPackageE2E(t *testing.T) {
	requireServiceTests(t)
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg not found: not a Debian system")
	}
	for _, pkg := range []string{"vigil", packaging.Agent.Name(), packaging.Server.Name()} {
		if err := exec.Command("dpkg", "-s", pkg).Run(); err == nil {
			t.Skipf("the package %s is installed on this machine already; not touching it", pkg)
		}
	}
	for _, p := range []string{"/etc/init.d/vigil", "/etc/init.d/vigil-server", "/etc/vigil", "/var/lib/vigil", "/var/lib/vigil-server"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists: Vigil is installed here already; not touching it", p)
		}
	}
	full := vigilBuild(t, "1.0.0")
	srv := instStartServer(t, full, filepath.Join(t.TempDir(), "server"))
	debs := map[packaging.Kind]string{}
	for kind, bin := range map[packaging.Kind]string{packaging.Agent: agentBuild(t, "1.0.0"), packaging.Server: full} {
		deb, err := packaging.Linux("deb", packaging.Build{Kind: kind, Version: "1.0.0", OS: "linux", Arch: runtime.GOARCH, Binary: bin, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		debs[kind] = deb
	}
	t.Cleanup(func() { _ = exec.Command("dpkg", "-P", packaging.Server.Name(), packaging.Agent.Name()).Run() })
	dpkg := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		t.Logf("dpkg %v:\n%s", args, out)
		if err != nil {
			t.Fatalf("dpkg %v: %v", args, err)
		}
	}
	agentStatus := func(what string, want ...string) string {
		t.Helper()
		out, code := run(t, "/usr/bin/vigil", "agent", "status")
		t.Logf("vigil agent status (%s):\n%s", what, out)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: status (exit %d) lacks %q", what, code, w)
			}
		}
		if code != 0 {
			t.Fatalf("%s: status: exit %d", what, code)
		}
		return out
	}

	// vigil-agent: the agent-only build, registered, started, enrolled.
	dpkg([]string{"VIGIL_SERVER=" + srv.url, "VIGIL_ENROLL_SECRET=" + srv.secret, "VIGIL_ONLY=host"}, "-i", debs[packaging.Agent])
	if _, err := os.Stat("/etc/init.d/vigil"); err != nil {
		if _, err2 := os.Stat("/etc/systemd/system/vigil.service"); err2 != nil {
			t.Fatalf("no service registered: %v", err)
		}
	}
	agentStatus("vigil-agent installed", ": running", "enrolled: yes", "binary: /usr/bin/vigil", ", agent-only)")
	hosts := srv.hosts(t)
	if len(hosts) != 1 {
		t.Fatalf("server hosts: %+v", hosts)
	}
	if cfg, err := os.ReadFile("/etc/vigil/agent.yml"); err != nil || !strings.Contains(string(cfg), "server: "+srv.url) {
		t.Fatalf("/etc/vigil/agent.yml: %v\n%s", err, cfg)
	}
	if out, code := run(t, "/usr/bin/vigil", "server", "--help"); code == 0 {
		t.Fatalf("the agent-only build runs `vigil server`:\n%s", out)
	}

	// vigil-server takes vigil-agent's place: the server's service runs, the agent runs on.
	port := instFreePort(t)
	dpkg([]string{"VIGIL_LISTEN=" + fmt.Sprintf("127.0.0.1:%d", port), "VIGIL_INSECURE_HTTP=true"}, "-i", debs[packaging.Server])
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", packaging.Agent.Name()).CombinedOutput(); err == nil && strings.Contains(string(out), " installed") {
		t.Fatalf("vigil-agent still installed beside vigil-server: %s", out)
	}
	instWaitHealthy(t, "the packaged server to answer", fmt.Sprintf("http://127.0.0.1:%d", port))
	if out, code := run(t, "/usr/bin/vigil", "server", "status"); code != 0 || !strings.Contains(out, "vigil-server") || !strings.Contains(out, ": running") {
		t.Fatalf("vigil server status: exit %d\n%s", code, out)
	}
	instWait(t, "the agent to run on the full build", func() bool {
		out, code := run(t, "/usr/bin/vigil", "agent", "status")
		return code == 0 && strings.Contains(out, "version: vigil 1.0.0 ") && !strings.Contains(out, "agent-only")
	})
	agentStatus("vigil-server installed", ": running", "enrolled: yes, agent id "+hosts[0].ID)
	if h := srv.hosts(t); len(h) != 1 || h[0].ID != hosts[0].ID {
		t.Fatalf("server hosts after the switch: %+v (was %+v)", h, hosts)
	}

	// Removal stops and unregisters both services and keeps configuration and state, as
	// Debian does; purge removes them.
	dpkg(nil, "-r", packaging.Server.Name())
	if left := debLeftovers(); len(left) > 0 {
		t.Fatalf("dpkg -r left: %v", left)
	}
	for _, p := range []string{"/etc/vigil/agent.yml", "/etc/vigil/server.yml", "/var/lib/vigil/token", "/var/lib/vigil-server"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("dpkg -r removed %s: %v", p, err)
		}
	}
	dpkg(nil, "-P", packaging.Server.Name(), packaging.Agent.Name())
	for _, p := range []string{"/etc/vigil", "/var/lib/vigil", "/var/lib/vigil-server", "/var/log/vigil.log", "/var/log/vigil-server.log"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("dpkg -P left %s", p)
		}
	}
}

// TestServerServiceE2E: `vigil server install` gives a running server that answers; status,
// uninstall --purge leaving nothing behind.
func TestServerServiceE2E(t *testing.T) {
	requireServiceTests(t)
	bin := vigilBuild(t, "1.0.0")
	dir := t.TempDir()
	name := fmt.Sprintf("vigil-e2e-server-%d", os.Getpid())
	port := instFreePort(t)
	common := []string{"--name", name, "--config", filepath.Join(dir, "etc", "server.yml")}
	t.Cleanup(func() { run(t, bin, append([]string{"server", "uninstall", "--purge"}, common...)...) })
	out, code := run(t, bin, append(append([]string{"server", "install"}, common...), "--binary", filepath.Join(dir, "bin", "vigil"),
		"--log-file", filepath.Join(dir, "log", "server.log"), "--data", filepath.Join(dir, "data"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--insecure-http")...)
	if code != 0 || !strings.Contains(out, "started") {
		t.Fatalf("server install: exit %d\n%s", code, out)
	}
	instWaitHealthy(t, "the installed server to answer", fmt.Sprintf("http://127.0.0.1:%d", port))
	if out, code := run(t, bin, append([]string{"server", "status"}, common...)...); code != 0 || !strings.Contains(out, ": running") {
		t.Fatalf("server status: exit %d\n%s", code, out)
	}
	if out, code := run(t, bin, append([]string{"server", "uninstall", "--purge"}, common...)...); code != 0 {
		t.Fatalf("server uninstall: exit %d\n%s", code, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, pattern := range []string{"/etc/init.d/" + name, "/etc/rc[0-6S].d/*" + name, "/var/run/" + name + ".pid"} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	if len(left) > 0 {
		t.Fatalf("server uninstall --purge left: %v", left)
	}
}

// TestAgentBesideServerE2E: on a computer where `vigil server install` put the full build, the
// agent installed from the agent-only build into the same place keeps the full one (the server
// runs it, and it holds the agent) and enrolls with that server; uninstalling the agent leaves
// the binary to the server, whose own uninstall then removes it, leaving nothing behind.
func TestAgentBesideServerE2E(t *testing.T) {
	requireServiceTests(t)
	full, agentOnly := vigilBuild(t, "1.0.0"), agentBuild(t, "1.0.0")
	dir := t.TempDir()
	shared := filepath.Join(dir, "bin", "vigil")
	port := instFreePort(t)
	secret := "vge_beside-e2e-secret-0123456789"
	server := []string{"--name", fmt.Sprintf("vigil-e2e-bsrv-%d", os.Getpid()), "--config", filepath.Join(dir, "etc", "server.yml")}
	in := newInstallation(t, "bagt")
	in.config, in.binary = filepath.Join(dir, "etc", "agent.yml"), shared
	t.Cleanup(func() {
		run(t, full, in.args("uninstall", "--purge")...)
		run(t, full, append([]string{"server", "uninstall", "--purge"}, server...)...)
	})

	out, code := run(t, full, append(append([]string{"server", "install"}, server...), "--binary", shared,
		"--log-file", filepath.Join(dir, "log", "server.log"), "--data", filepath.Join(dir, "server-data"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--insecure-http", "--enroll-secret", secret, "--checkin-interval", "5s")...)
	if code != 0 || !strings.Contains(out, "started") {
		t.Fatalf("server install: exit %d\n%s", code, out)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	instWaitHealthy(t, "the installed server to answer", url)
	if !fullBuild(shared) {
		t.Fatalf("%s is not the full build after server install", shared)
	}

	out, code = run(t, agentOnly, in.args("install", "--server", url, "--enroll-secret", secret)...)
	t.Logf("agent install (agent-only build):\n%s", out)
	if code != 0 || !strings.Contains(out, "kept "+shared+": the full build") || !strings.Contains(out, "enrolled: yes") {
		t.Fatalf("agent install: exit %d\n%s", code, out)
	}
	if !fullBuild(shared) {
		t.Fatalf("the agent-only build replaced the server's full one at %s", shared)
	}
	if out, code := run(t, shared, in.args("status")...); code != 0 || strings.Contains(out, "agent-only") || !strings.Contains(out, "enrolled: yes") {
		t.Fatalf("agent status: exit %d\n%s", code, out)
	}

	if out, code := run(t, shared, in.args("uninstall", "--purge")...); code != 0 {
		t.Fatalf("agent uninstall: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("agent uninstall removed the server's binary: %v", err)
	}
	if out, code := run(t, shared, append([]string{"server", "status"}, server...)...); code != 0 || !strings.Contains(out, ": running") {
		t.Fatalf("server status after the agent's uninstall: exit %d\n%s", code, out)
	}
	if out, code := run(t, full, append([]string{"server", "uninstall", "--purge"}, server...)...); code != 0 {
		t.Fatalf("server uninstall: exit %d\n%s", code, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	left = append(left, in.leftovers()...)
	for _, pattern := range []string{"/etc/init.d/" + server[1], "/etc/rc[0-6S].d/*" + server[1], "/var/run/" + server[1] + ".pid"} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	if len(left) > 0 {
		t.Fatalf("uninstalls left: %v", left)
	}
}
