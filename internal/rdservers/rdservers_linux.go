package rdservers

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// packages names the Debian package of each tool.
var packages = map[string]string{
	"Xtigervnc":           "tigervnc-standalone-server",
	"X0tigervnc":          "tigervnc-scraping-server",
	"x11vnc":              "x11vnc",
	"Xvfb":                "xvfb",
	"xrdp":                "xrdp",
	"websockify":          "websockify",
	"socat":               "socat",
	"sshd":                "openssh-server",
	"ssh":                 "openssh-client",
	"ssh-keygen":          "openssh-client",
	"freerdp-shadow-cli":  "freerdp2-shadow-x11",
	"tmate":               "tmate",
	"dnsmasq":             "dnsmasq-base",
	"7z":                  "p7zip-full",
	"rclone":              "rclone",
	"mkfs.vfat":           "dosfstools",
	"mkntfs":              "ntfs-3g",
	"ntfs-3g":             "ntfs-3g",
	"x0vncserver":         "tigervnc-scraping-server",
	"freerdp-shadow-cli3": "freerdp3-shadow-x11",
	"ip":                  "iproute2",
	"unshare":             "util-linux",
	"losetup":             "mount",
	"zip":                 "zip",
	"git":                 "git",
	"npm":                 "npm",
}

// Need returns the path of tool, skipping the test when it is not installed.
func Need(t testing.TB, tool string) string {
	t.Helper()
	p, err := Lookup(tool)
	if err != nil {
		t.Skip(err)
	}
	return p
}

// Lookup returns the path of tool (searched in PATH, then /usr/sbin and /sbin), or an error
// naming the Debian package that provides it.
func Lookup(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, serr := os.Stat(filepath.Join(dir, tool)); serr == nil {
			return filepath.Join(dir, tool), nil
		}
	}
	pkg := packages[tool]
	if pkg == "" {
		pkg = "unknown"
	}
	return "", fmt.Errorf("%s not installed (Debian package %s; .ci/run installs it)", tool, pkg)
}

// CopyExe copies an executable to dst (mode 0755, its folder made), the way an attacker makes a
// renamed copy of a tool, and returns dst.
func CopyExe(t testing.TB, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// FreePort returns a TCP port free on loopback now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proc is a started process.
type Proc struct {
	Cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// Output returns what the process wrote so far (standard output and error).
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the process group and waits up to timeout for the process to end,
// then kills the group. It reports whether the process ended on SIGTERM.
func (p *Proc) Stop(timeout time.Duration) bool {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return false
	}
}

// Start starts path with args in its own process group, stopped (the whole group) when the test
// ends.
func Start(t testing.TB, path string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, exec.Command(path, args...))
}

// StartCmd starts cmd (its environment and folder set by the caller) like Start.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	return p
}

// WaitListen waits (up to 30 s) until addr accepts TCP connections.
func WaitListen(t testing.TB, p *Proc, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			// Close with a reset: a plain close would leave a TIME_WAIT socket behind.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
			return
		}
		if p != nil && p.Exited() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.Output()
	}
	t.Fatalf("nothing listens on %s after 30 s\n%s", addr, out)
}

// Xtigervnc starts TigerVNC's X server, serving RFB without authentication on port (on
// loopback only when localhost is set), and returns it with its display number once it is ready:
// it picks a free display itself and writes its number to -displayfd when initialised (its RFB
// port accepts connections earlier, while it may not greet them for seconds on a loaded
// machine). exe overrides the executable (a renamed copy).
func Xtigervnc(t testing.TB, exe string, port int, localhost bool) (*Proc, int) {
	t.Helper()
	if exe == "" {
		exe = Need(t, "Xtigervnc")
	}
	args := []string{"-rfbport", strconv.Itoa(port), "-SecurityTypes", "None", "-nolisten", "tcp", "-geometry", "640x480"}
	if localhost {
		args = append(args, "-localhost")
	}
	p, d := startX(t, exe, args...)
	WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
	return p, d
}

// Xvfb starts a virtual X display for x11vnc and returns its number once the server accepts
// connections (see startX). It runs with -noreset: an X server otherwise resets when its last
// client leaves, refusing connections meanwhile, and the FreeRDP shadow server opens the
// display, closes it and opens it again (it failed with "failed to open display" when the
// second open came during the reset, on a loaded machine).
func Xvfb(t testing.TB) int {
	t.Helper()
	_, d := startX(t, Need(t, "Xvfb"), "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset")
	return d
}

// startX starts an X server (Xvfb, Xtigervnc) with -displayfd and returns it with its display
// number once it is ready: the server picks a free display itself and writes its number to
// -displayfd when it accepts clients (its socket file appears earlier, and a client started
// then fails to open the display).
func startX(t testing.TB, exe string, args ...string) (*Proc, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	defer r.Close()
	cmd := exec.Command(exe, append([]string{"-displayfd", "3"}, args...)...)
	cmd.ExtraFiles = []*os.File{w}
	p := StartCmd(t, cmd)
	w.Close()
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- result{line, err}
	}()
	select {
	case res := <-got:
		d, err := strconv.Atoi(strings.TrimSpace(res.line))
		if err != nil {
			t.Fatalf("%s did not start (display %q: %v, %v)\n%s", exe, res.line, err, res.err, p.Output())
		}
		return p, d
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start within 30 s\n%s", exe, p.Output())
		return nil, 0
	}
}

// Websockify starts websockify listening on listen, forwarding to target.
func Websockify(t testing.TB, listen, target string) *Proc {
	t.Helper()
	p := Start(t, Need(t, "websockify"), listen, target)
	WaitListen(t, p, listen)
	return p
}

// Xrdp starts xrdp in the foreground on port (all interfaces), with its stock configuration.
func Xrdp(t testing.TB, exe string, port int) *Proc {
	t.Helper()
	if exe == "" {
		exe = Need(t, "xrdp")
	}
	if _, err := os.Stat("/etc/xrdp/xrdp.ini"); err != nil {
		t.Skipf("xrdp's configuration is missing: %v", err)
	}
	p := Start(t, exe, "--nodaemon", "--port", strconv.Itoa(port))
	WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
	return p
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
