package main

// Evasions run for real under `vigil scan --watch`: a remote-desktop server renamed, hard-linked,
// run through the dynamic loader, from a memfd, deleted after start, copied under a system name,
// on another port, behind ssh -R and websockify; a renamed rclone. Each must be caught at its
// level; the latency from the evasion's start to the finding is measured and logged (never
// asserted: this machine is shared and noisy).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// liveScan is a `vigil scan --watch --json --events` running in-process.
type liveScan struct {
	out, errOut e2eBuffer
	cancel      context.CancelFunc
	done        chan error

	mu       sync.Mutex
	parsed   int                  // bytes of out parsed so far
	scan     *e2eScan             // what was parsed
	firstSaw map[string]time.Time // finding id -> when it was first seen in the output
}

// startWatch starts the scan and waits until its process snapshot is out (this test process
// in it), so what the test starts next is seen live.
func startWatch(t *testing.T, watch time.Duration, args ...string) *liveScan {
	t.Helper()
	ls := &liveScan{done: make(chan error, 1), scan: &e2eScan{byID: map[string]*e2eLine{}}, firstSaw: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	ls.cancel = cancel
	go func() {
		ls.done <- e2eRun(ctx, &ls.out, &ls.errOut, append([]string{"scan", "--watch", watch.String(), "--json", "--events"}, args...)...)
	}()
	t.Cleanup(func() {
		ls.cancel()
		select {
		case <-ls.done:
		case <-time.After(30 * time.Second):
			t.Error("vigil scan did not stop")
		}
		if s := strings.TrimSpace(ls.errOut.String()); s != "" {
			t.Logf("vigil scan standard error:\n%s", s)
		}
	})
	self := os.Getpid()
	ls.wait(t, "this test process in the snapshot", func(l *e2eLine) bool {
		return l.Kind == "event" && l.Category == "process_creation" && l.Fields["ProcessId"] == float64(self)
	})
	return ls
}

// update parses what the scan wrote since the last call.
func (ls *liveScan) update(t *testing.T) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	data := ls.out.Bytes()
	now := time.Now()
	for {
		rest := data[ls.parsed:]
		i := strings.IndexByte(string(rest), '\n')
		if i < 0 {
			return
		}
		line := rest[:i]
		ls.parsed += i + 1
		var l e2eLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("output line is not JSON (%v): %s", err, line)
		}
		switch l.Kind {
		case "event":
			ls.scan.events = append(ls.scan.events, &l)
			ls.scan.byID[l.ID] = &l
		case "finding":
			ls.scan.findings = append(ls.scan.findings, &l)
			ls.firstSaw[l.ID] = now
		}
	}
}

// wait waits (30 s at most) for an output line that matches.
func (ls *liveScan) wait(t *testing.T, what string, match func(*e2eLine) bool) *e2eLine {
	t.Helper()
	l := ls.waitFor(t, what, match)
	if l == nil {
		t.Fatalf("no %s within 30 s", what)
	}
	return l
}

// waitFor is wait returning nil when no line matched within 30 s.
func (ls *liveScan) waitFor(t *testing.T, what string, match func(*e2eLine) bool) *e2eLine {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ls.update(t)
		ls.mu.Lock()
		lines := append(append([]*e2eLine(nil), ls.scan.events...), ls.scan.findings...)
		ls.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		select {
		case err := <-ls.done:
			ls.done <- err
			t.Fatalf("vigil scan ended before %s: %v\n%s", what, err, ls.errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// caught waits for a finding of rule whose evidence matches, checks its level, and returns the
// latency from start to the finding's appearance in the output.
func (ls *liveScan) caught(t *testing.T, start time.Time, rule, level string, evidence func(map[string]any) bool) time.Duration {
	t.Helper()
	f := ls.waitFor(t, "finding "+rule, func(l *e2eLine) bool {
		return l.Kind == "finding" && l.RuleName == rule && ls.evidenceMatches(l, evidence)
	})
	if f == nil {
		ls.nearMisses(t, rule)
		t.Fatalf("no finding %s within 30 s", rule)
	}
	if f.Level != level {
		t.Errorf("%s fired at %s, want %s", rule, f.Level, level)
	}
	ls.mu.Lock()
	lat := ls.firstSaw[f.ID].Sub(start)
	ls.mu.Unlock()
	return lat
}

// nearMisses logs, for a finding that did not come, the findings of the same rule (whose
// evidence did not match) and the network events of the listeners opened since the scan began.
func (ls *liveScan) nearMisses(t *testing.T, rule string) {
	t.Helper()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, f := range ls.scan.findings {
		for _, id := range f.EventIDs {
			if ev := ls.scan.byID[id]; ev != nil && f.RuleName == rule {
				t.Logf("a %s finding whose evidence did not match: %v", rule, ev.Fields)
			}
		}
	}
	for _, ev := range ls.scan.events {
		if ev.Fields["State"] == "LISTEN" && ev.Fields["Snapshot"] != true {
			t.Logf("listener event: %v", ev.Fields)
		}
	}
}

func (ls *liveScan) evidenceMatches(f *e2eLine, match func(map[string]any) bool) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, id := range f.EventIDs {
		if ev := ls.scan.byID[id]; ev != nil && match(ev.Fields) {
			return true
		}
	}
	return false
}

// latencies collects the measured latencies for the summary log.
type latencies struct {
	mu   sync.Mutex
	rows []string
}

func (l *latencies) add(t *testing.T, evasion, rule, level string, d time.Duration) {
	t.Logf("%s: caught by %s (%s) %d ms after it started", evasion, rule, level, d.Milliseconds())
	l.mu.Lock()
	l.rows = append(l.rows, fmt.Sprintf("%-45s %-48s %-6s %6d ms", evasion, rule, level, d.Milliseconds()))
	l.mu.Unlock()
}

func (l *latencies) log(t *testing.T) {
	sort.Strings(l.rows)
	t.Logf("measured latencies (evasion start to finding), load %s:\n%s", loadAvg(), strings.Join(l.rows, "\n"))
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func imageIs(p string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["Image"] == p }
}

func pidIs(pid int) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["ProcessId"] == float64(pid) }
}

// TestScanCatchesRenamedRemoteDesktop runs the renaming evasions against one `vigil scan --watch`.
func TestScanCatchesRenamedRemoteDesktop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test runs real remote-desktop servers under vigil scan --watch")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the process connector, /proc/<pid>/maps of other users, packet capture")
	}
	x11vnc := rdservers.Need(t, "x11vnc")
	display := rdservers.Xvfb(t)
	dir := filepath.Join(t.TempDir(), ".x")
	ls := startWatch(t, 10*time.Minute, "--only", "process,imageload,netconn")
	var lat latencies
	defer lat.log(t)

	vncArgs := func(port int) []string {
		return []string{"-display", ":" + strconv.Itoa(display), "-rfbport", strconv.Itoa(port), "-localhost", "-forever", "-nopw", "-quiet", "-noxdamage"}
	}
	run := func(t *testing.T, exe string, args ...string) *rdservers.Proc {
		return rdservers.Start(t, exe, args...)
	}

	t.Run("renamed copy", func(t *testing.T) {
		p := rdservers.CopyExe(t, x11vnc, filepath.Join(dir, "update-helper"))
		start := time.Now()
		run(t, p, vncArgs(rdservers.FreePort(t))...)
		lat.add(t, "x11vnc renamed copy", "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", imageIs(p)))
	})
	t.Run("hard link", func(t *testing.T) {
		p := filepath.Join(dir, "dbus-session-helper")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(x11vnc, p); err != nil {
			t.Skipf("cannot hard-link %s here: %v", x11vnc, err)
		}
		start := time.Now()
		run(t, p, vncArgs(rdservers.FreePort(t))...)
		lat.add(t, "x11vnc hard link", "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", imageIs(p)))
	})
	t.Run("dynamic loader", func(t *testing.T) {
		loader := "/lib64/ld-linux-x86-64.so.2"
		if _, err := os.Stat(loader); err != nil {
			t.Skipf("no %s: %v", loader, err)
		}
		start := time.Now()
		p := run(t, loader, append([]string{x11vnc}, vncArgs(rdservers.FreePort(t))...)...)
		lat.add(t, "x11vnc through the dynamic loader", "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", pidIs(p.Cmd.Process.Pid)))
		lat.add(t, "x11vnc through the dynamic loader", "remote_access_loader_run_linux", "low",
			ls.caught(t, start, "remote_access_loader_run_linux", "low", pidIs(p.Cmd.Process.Pid)))
	})
	t.Run("memfd", func(t *testing.T) {
		fd, err := unix.MemfdCreate("kworker", 0)
		if err != nil {
			t.Skipf("memfd_create: %v", err)
		}
		f := os.NewFile(uintptr(fd), "memfd")
		defer f.Close()
		data, err := os.ReadFile(x11vnc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		p := run(t, fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), vncArgs(rdservers.FreePort(t))...)
		lat.add(t, "x11vnc from a memfd", "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", pidIs(p.Cmd.Process.Pid)))
	})
	t.Run("deleted binary", func(t *testing.T) {
		p := rdservers.CopyExe(t, x11vnc, filepath.Join(dir, "gone"))
		start := time.Now()
		run(t, p, vncArgs(rdservers.FreePort(t))...)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		lat.add(t, "x11vnc deleted after start", "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", imageIs(p)))
	})
	t.Run("Xtigervnc copied as Xorg", func(t *testing.T) {
		p := rdservers.CopyExe(t, rdservers.Need(t, "Xtigervnc"), filepath.Join(t.TempDir(), "Xorg"))
		port := rdservers.FreePort(t)
		start := time.Now()
		rdservers.Xtigervnc(t, p, port, false)
		lat.add(t, "Xtigervnc copied as Xorg, on the network", "remote_access_rd_protocol_listener", "high",
			ls.caught(t, start, "remote_access_rd_protocol_listener", "high", func(f map[string]any) bool {
				return f["Image"] == p && f["DestinationPort"] == float64(port) && f["RemoteDesktopProtocol"] == "rfb"
			}))
	})
	t.Run("xrdp renamed on 3390", func(t *testing.T) {
		p := rdservers.CopyExe(t, rdservers.Need(t, "xrdp"), filepath.Join(dir, "sshd-helper"))
		port := 3390
		if ln, err := net.Listen("tcp", ":3390"); err != nil {
			port = rdservers.FreePort(t)
		} else {
			ln.Close()
		}
		start := time.Now()
		rdservers.Xrdp(t, p, port)
		lat.add(t, fmt.Sprintf("xrdp renamed, port %d", port), "remote_access_rd_protocol_listener", "high",
			ls.caught(t, start, "remote_access_rd_protocol_listener", "high", func(f map[string]any) bool {
				return f["Image"] == p && f["DestinationPort"] == float64(port) && f["RemoteDesktopProtocol"] == "rdp"
			}))
		lat.add(t, fmt.Sprintf("xrdp renamed, port %d", port), "remote_access_rd_library_linux", "high",
			ls.caught(t, start, "remote_access_rd_library_linux", "high", imageIs(p)))
	})
	t.Run("websockify in front of a loopback VNC server", func(t *testing.T) {
		vncPort := rdservers.FreePort(t)
		rdservers.Xtigervnc(t, "", vncPort, true)
		wsPort := rdservers.FreePort(t)
		start := time.Now()
		rdservers.Websockify(t, "0.0.0.0:"+strconv.Itoa(wsPort), "127.0.0.1:"+strconv.Itoa(vncPort))
		lat.add(t, "websockify gateway on the network", "remote_access_rd_protocol_listener", "high",
			ls.caught(t, start, "remote_access_rd_protocol_listener", "high", func(f map[string]any) bool {
				return f["DestinationPort"] == float64(wsPort) && f["RemoteDesktopProtocol"] == "websocket-rfb"
			}))
	})
	t.Run("loopback VNC behind ssh -R", func(t *testing.T) {
		sshd := rdservers.StartSSHD(t)
		vncPort := rdservers.FreePort(t)
		p := rdservers.CopyExe(t, x11vnc, filepath.Join(dir, "colord-helper"))
		start := time.Now()
		run(t, p, vncArgs(vncPort)...)
		lat.add(t, "x11vnc renamed, loopback only, idle", "remote_access_rd_protocol_listener_loopback", "medium",
			ls.caught(t, start, "remote_access_rd_protocol_listener_loopback", "medium", func(f map[string]any) bool {
				return f["DestinationPort"] == float64(vncPort) && f["RemoteDesktopProtocol"] == "rfb"
			}))
		relay := rdservers.FreePort(t)
		start = time.Now()
		sshd.Reverse(t, relay, vncPort)
		lat.add(t, "ssh -R to the loopback VNC server", "remote_access_rd_reverse_tunnel_beside_listener", "high",
			ls.caught(t, start, "remote_access_rd_reverse_tunnel_beside_listener", "high", func(map[string]any) bool { return true }))
		// A session through the tunnel: the relay end (sshd's forwarded port) carries it to ssh,
		// which connects to the VNC server over loopback. The first one is Reverse's own check
		// that the relay listens (a connection to it), so the latency counts from the ssh -R
		// start; this RFB session makes sure the tunnel reaches the server.
		c := dialRFB(t, "127.0.0.1:"+strconv.Itoa(relay))
		defer c.Close()
		lat.add(t, "ssh -R, first session through it", "remote_access_rd_tunnel_relay", "high",
			ls.caught(t, start, "remote_access_rd_tunnel_relay", "high", func(f map[string]any) bool {
				return strings.HasSuffix(fmt.Sprint(f["Image"]), "/ssh") && f["DestinationPort"] == float64(vncPort)
			}))
		lat.add(t, "ssh -R, first session through it", "remote_access_rd_tunnel_to_listener", "high",
			ls.caught(t, start, "remote_access_rd_tunnel_to_listener", "high", func(map[string]any) bool { return true }))
	})
	t.Run("rclone renamed", func(t *testing.T) {
		p := rdservers.CopyExe(t, rdservers.Need(t, "rclone"), filepath.Join(dir, "gvfsd-helper"))
		src := filepath.Join(t.TempDir(), "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "db.sql"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cmd := exec.Command(p, "copy", src, ":local:"+filepath.Join(t.TempDir(), "dst"), "--config", "/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("renamed rclone: %v\n%s", err, out)
		}
		lat.add(t, "rclone renamed, copying", "staging_rclone_renamed", "high",
			ls.caught(t, start, "staging_rclone_renamed", "high", imageIs(p)))
	})
}

// dialRFB connects to addr and reads the RFB greeting the VNC server sends.
func dialRFB(t *testing.T, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 12)
			if _, err := io.ReadFull(c, buf); err == nil && strings.HasPrefix(string(buf), "RFB ") {
				_ = c.SetReadDeadline(time.Time{})
				return c
			}
			c.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no RFB greeting through %s within 30 s", addr)
	return nil
}
