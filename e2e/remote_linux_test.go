package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// rdCase is a remote-access server from a Debian package, started from its install location
// and again as a renamed copy in /tmp, each time with the finding that must name it.
type rdCase struct {
	name string
	// tool is the executable started (and copied); renamed the copy's name.
	tool, renamed string
	// setup prepares what the server needs (an X display), before the clock runs.
	setup func(t *testing.T) string
	// start runs exe as the server on port (loopback) with what setup returned, and returns
	// once it serves.
	start func(t *testing.T, exe string, port int, env string) *rdservers.Proc
	// The rule (and level) that must name the stock server, and the renamed copy: whatever
	// identification survives renaming (a library it maps, the protocol its listener speaks,
	// the name of the host it connects to).
	stockRule, stockLevel     string
	renamedRule, renamedLevel string
}

// TestRemoteAccessServers starts each real remote-desktop server from its Debian package
// (x11vnc on Xvfb, Xtigervnc, x0vncserver's X0tigervnc, xrdp, the FreeRDP shadow server,
// websockify in front of a VNC server, tmate) and then a renamed copy of it in /tmp; an agent
// reports each with the right finding, whose latency (from the start to the server's commit of
// the finding) is logged against the 2 s goal; a latency past five times the goal fails the
// test (past the goal itself with VIGIL_SCENARIO_STRICT_GOALS=1, for a quiet machine). The
// servers listen on loopback; tmate reaches a stand-in for ssh.tmate.io whose name a local DNS
// server gives.
func TestRemoteAccessServers(t *testing.T) {
	t.Parallel()
	NeedRoot(t, "the kernel's process connector, other processes' /proc/<pid>/maps, packet capture for DNS names")
	for _, tool := range []string{"Xvfb", "x11vnc", "Xtigervnc", "X0tigervnc", "xrdp", "freerdp-shadow-cli", "websockify", "tmate", "dnsmasq", "socat", "unshare"} {
		Need(t, tool)
	}
	if _, err := os.Stat("/etc/xrdp/xrdp.ini"); err != nil {
		Unavailable(t, "xrdp's configuration is missing: %v", err)
	}
	srv := StartServer(t, ServerOptions{})
	agent := StartAgent(t, srv, AgentOptions{Name: "remote", Only: []string{"process", "imageload", "netconn"}})
	// Each server on an X display gets a fresh Xvfb (started before the clock runs).
	xvfb := func(t *testing.T) string { return ":" + strconv.Itoa(rdservers.Xvfb(t)) }
	resolv := fakeTmateDNS(t)

	cases := []rdCase{{
		name: "x11vnc on Xvfb", tool: "x11vnc", renamed: "update-helper", setup: xvfb,
		start: func(t *testing.T, exe string, port int, disp string) *rdservers.Proc {
			p := rdservers.Start(t, exe, "-display", disp, "-rfbport", strconv.Itoa(port), "-localhost", "-forever", "-nopw", "-quiet", "-noxdamage")
			rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
			return p
		},
		stockRule: "remote_access_x11vnc_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_rd_library_linux", renamedLevel: "high",
	}, {
		name: "Xtigervnc", tool: "Xtigervnc", renamed: "Xorg",
		start: func(t *testing.T, exe string, port int, _ string) *rdservers.Proc {
			p, _ := rdservers.Xtigervnc(t, exe, port, true)
			return p
		},
		stockRule: "remote_access_tigervnc_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_rd_protocol_listener_loopback", renamedLevel: "medium",
	}, {
		name: "x0vncserver (X0tigervnc) on Xvfb", tool: "X0tigervnc", renamed: "xdg-screensaver-helper", setup: xvfb,
		start: func(t *testing.T, exe string, port int, disp string) *rdservers.Proc {
			p := rdservers.Start(t, exe, "-display", disp, "-rfbport", strconv.Itoa(port), "-interface", "127.0.0.1", "-SecurityTypes", "None")
			rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
			return p
		},
		stockRule: "remote_access_tigervnc_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_rd_protocol_listener_loopback", renamedLevel: "medium",
	}, {
		name: "xrdp", tool: "xrdp", renamed: "sshd-helper",
		start: func(t *testing.T, exe string, port int, _ string) *rdservers.Proc {
			p := rdservers.Start(t, exe, "--nodaemon", "--port", "tcp://127.0.0.1:"+strconv.Itoa(port))
			rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
			return p
		},
		stockRule: "remote_access_xrdp_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_rd_library_linux", renamedLevel: "high",
	}, {
		name: "FreeRDP shadow server on Xvfb", tool: "freerdp-shadow-cli", renamed: "pulse-helper", setup: xvfb,
		start: func(t *testing.T, exe string, port int, disp string) *rdservers.Proc {
			c := exec.Command(exe, "/port:"+strconv.Itoa(port), "/bind-address:127.0.0.1", "-auth")
			c.Env = append(os.Environ(), "DISPLAY="+disp)
			p := rdservers.StartCmd(t, c)
			rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
			return p
		},
		stockRule: "remote_access_freerdp_shadow_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_rd_library_linux", renamedLevel: "high",
	}, {
		name: "websockify (noVNC gateway) in front of Xtigervnc", tool: "websockify", renamed: "gvfsd-proxy",
		setup: func(t *testing.T) string {
			vnc := rdservers.FreePort(t)
			rdservers.Xtigervnc(t, "", vnc, true)
			return "127.0.0.1:" + strconv.Itoa(vnc)
		},
		start: func(t *testing.T, exe string, port int, vnc string) *rdservers.Proc {
			p := rdservers.Start(t, exe, "127.0.0.1:"+strconv.Itoa(port), vnc)
			rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
			return p
		},
		stockRule: "remote_access_websockify_process", stockLevel: "medium",
		renamedRule: "remote_access_rd_protocol_listener_loopback", renamedLevel: "medium",
	}, {
		name: "tmate", tool: "tmate", renamed: "tmux",
		start: func(t *testing.T, exe string, _ int, _ string) *rdservers.Proc {
			home := t.TempDir()
			// tmate resolves ssh.tmate.io through the resolver given to it alone (its own mount
			// namespace), which answers with the stand-in's loopback address.
			c := exec.Command("unshare", "-m", "--", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv, exe, "-F")
			c.Env = append(os.Environ(), "HOME="+home, "TMUX_TMPDIR="+home, "TERM=xterm")
			return rdservers.StartCmd(t, c)
		},
		stockRule: "remote_access_tmate_process_linux", stockLevel: "medium",
		renamedRule: "remote_access_tmate_network", renamedLevel: "medium",
	}}

	copies := filepath.Join(t.TempDir(), ".x")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stock := Need(t, c.tool)
			for _, renamed := range []bool{false, true} {
				exe, rule, level, what := stock, c.stockRule, c.stockLevel, c.name+" ("+stock+")"
				if renamed {
					exe = rdservers.CopyExe(t, stock, filepath.Join(copies, c.renamed))
					rule, level, what = c.renamedRule, c.renamedLevel, c.name+" renamed "+exe
				}
				env := ""
				if c.setup != nil {
					env = c.setup(t)
				}
				port := rdservers.FreePort(t)
				start := time.Now()
				p := c.start(t, exe, port, env)
				serving := time.Now()
				pid, ports := strconv.Itoa(p.Cmd.Process.Pid), strconv.Itoa(port)
				got := agent.Await(t, start, 30*time.Second, rule+" for "+what, Rule(rule, func(ev Event) bool {
					// Its process (the pid, or the port on its command line), or its listener;
					// a script's (websockify's) image is its interpreter.
					mine := ev.Str("ProcessId") == pid || ev.Str("DestinationPort") == ports || strings.Contains(ev.Str("CommandLine"), ports)
					return mine && (ev.Str("Image") == exe || strings.Contains(ev.Str("CommandLine"), exe) || ev.Category == "network_connection")
				}))
				if got.Finding.Level != level {
					t.Errorf("%s: %s at %s, want %s", what, rule, got.Finding.Level, level)
				}
				name := c.name
				if renamed {
					name += ", renamed " + c.renamed
				}
				// The goal counts from the start: the server's own start-up (websockify, a Python
				// program, takes most of a second to listen on a loaded machine) is in it.
				Record(t, "remote access", fmt.Sprintf("%s -> %s", name, rule), got.Latency,
					fmt.Sprintf("%s; serving after %d ms, found %d ms after; %s", level, serving.Sub(start).Milliseconds(),
						got.Latency.Milliseconds()-serving.Sub(start).Milliseconds(), Goal(t, what, got.Latency, 2*time.Second)))
				p.Stop(10 * time.Second)
			}
		})
	}
}

// fakeTmateDNS starts a DNS server on a loopback address that answers tmate.io names with
// another loopback address, where a stand-in of tmate's server accepts and says nothing (so
// the client keeps its connection open). It returns a resolv.conf naming the DNS server.
func fakeTmateDNS(t *testing.T) string {
	t.Helper()
	n := 2 + os.Getpid()%200
	dnsIP, relayIP := fmt.Sprintf("127.0.%d.53", n), fmt.Sprintf("127.0.%d.22", n)
	rdservers.Start(t, Need(t, "dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address="+dnsIP,
		"--bind-interfaces", "--address=/tmate.io/"+relayIP, "--user=root", "--pid-file="+filepath.Join(t.TempDir(), "dnsmasq.pid"), "--log-facility=-")
	relay := rdservers.Start(t, Need(t, "socat"), "TCP-LISTEN:22,bind="+relayIP+",fork,reuseaddr", "SYSTEM:sleep 120")
	rdservers.WaitListen(t, relay, relayIP+":22")
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+dnsIP+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}
