package main

// The DNS-named connection, for real: a DNS server (dnsmasq) and a client in network namespaces
// the test creates, joined by a veth pair; `vigil scan --watch` runs in the client's namespace
// (a copy of this test binary started there), the client resolves an AnyDesk relay name and
// connects, and the LOLRMM network rule fires with the name on the event; then tmate, renamed
// tmux, reaches ssh.tmate.io and the tmate network rule fires.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
	"github.com/vigilhq/vigil/internal/shareddata"
)

// TestScanHelperProcess is not a test: started by TestScanNamesConnectionsFromDNS inside a
// network namespace (VIGIL_E2E_SCAN_ARGS set), it runs vigil with those arguments.
func TestScanHelperProcess(t *testing.T) {
	raw := os.Getenv("VIGIL_E2E_SCAN_ARGS")
	if raw == "" {
		t.Skip("helper process for TestScanNamesConnectionsFromDNS")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(os.Stdout)
	root.SetErr(os.Stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// netns runs ip with args, failing the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestScanNamesConnectionsFromDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds network namespaces and runs vigil scan --watch in one")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and packet capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	dnsmasq := rdservers.Need(t, "dnsmasq")
	socat := rdservers.Need(t, "socat")
	catalog := shareddata.Dir(t, "lolrmm", "yaml")
	rules := t.TempDir()
	var out, errOut e2eBuffer
	if err := e2eRun(context.Background(), &out, &errOut, "policy", "import-lolrmm", catalog, "-o", rules); err != nil {
		t.Fatalf("import-lolrmm: %v\n%s", err, errOut.String())
	}

	// Two namespaces joined by a veth pair: the DNS and relay server in one, the laptop in the
	// other.
	tag := strconv.Itoa(os.Getpid() % 100000)
	srv, cli := "vgl-srv-"+tag, "vgl-cli-"+tag
	vs, vc := "vgs"+tag, "vgc"+tag
	srvIP, cliIP := "10.231.7.1", "10.231.7.2"
	ipCmd(t, "netns", "add", srv)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", srv).Run() })
	ipCmd(t, "netns", "add", cli)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", cli).Run() })
	ipCmd(t, "link", "add", vs, "type", "veth", "peer", "name", vc)
	ipCmd(t, "link", "set", vs, "netns", srv)
	ipCmd(t, "link", "set", vc, "netns", cli)
	for _, c := range [][]string{
		{srv, "addr", "add", srvIP + "/24", "dev", vs}, {srv, "link", "set", vs, "up"}, {srv, "link", "set", "lo", "up"},
		{cli, "addr", "add", cliIP + "/24", "dev", vc}, {cli, "link", "set", vc, "up"}, {cli, "link", "set", "lo", "up"},
	} {
		ipCmd(t, append([]string{"-n", c[0]}, c[1:]...)...)
	}
	// `ip netns exec` puts /etc/netns/<name>/resolv.conf in place of /etc/resolv.conf.
	etc := filepath.Join("/etc/netns", cli)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver "+srvIP+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The DNS server answers AnyDesk's names with the relay's address; the relay echoes.
	relay := "relay-5e1f00d4.net.anydesk.com"
	rdservers.Start(t, "ip", "netns", "exec", srv, dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts",
		"--listen-address="+srvIP, "--bind-interfaces", "--address=/anydesk.com/"+srvIP, "--address=/tmate.io/"+srvIP, "--user=root",
		"--pid-file="+filepath.Join(t.TempDir(), "dnsmasq.pid"), "--log-facility=-")
	rdservers.Start(t, "ip", "netns", "exec", srv, socat, "TCP-LISTEN:443,bind="+srvIP+",fork,reuseaddr", "EXEC:/bin/cat")
	// tmate's server: it accepts and says nothing, so the client waits with its connection open.
	rdservers.Start(t, "ip", "netns", "exec", srv, socat, "TCP-LISTEN:22,bind="+srvIP+",fork,reuseaddr", "SYSTEM:sleep 60")

	// vigil scan --watch in the laptop's namespace.
	args, _ := json.Marshal([]string{"scan", "--watch", "2m", "--json", "--events", "--only", "process,netconn",
		"--rules", filepath.Join(rules, "anydesk.yml")})
	scan := exec.Command("ip", "netns", "exec", cli, os.Args[0], "-test.run=^TestScanHelperProcess$")
	scan.Env = append(os.Environ(), "VIGIL_E2E_SCAN_ARGS="+string(args))
	stdout, err := scan.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var scanErr e2eBuffer
	scan.Stderr = &scanErr
	if err := scan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = scan.Process.Kill()
		_ = scan.Wait()
		if s := strings.TrimSpace(scanErr.String()); s != "" {
			t.Logf("vigil scan (in %s) standard error:\n%s", cli, s)
		}
	})
	lines := make(chan *e2eLine, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l e2eLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- &l
			}
		}
	}()
	events := map[string]*e2eLine{}
	next := func(d time.Duration, what string, match func(*e2eLine) bool) *e2eLine {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("vigil scan ended before %s\n%s", what, scanErr.String())
				}
				if l.Kind == "event" {
					events[l.ID] = l
				}
				if match(l) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %s within %s\n%s", what, d, scanErr.String())
			}
		}
	}
	// Ready once the process snapshot is out (the capture starts before the sources).
	next(60*time.Second, "process snapshot", func(l *e2eLine) bool { return l.Category == "process_creation" })
	time.Sleep(time.Second)

	// The laptop resolves the relay's name and connects (socat resolves through the system
	// resolver, as AnyDesk does), holding the connection open.
	start := time.Now()
	client := exec.Command("ip", "netns", "exec", cli, socat, "-T", "60", "STDIN", "TCP:"+relay+":443")
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	client.Stdout, client.Stderr = io.Discard, io.Discard
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = client.Process.Kill(); _ = client.Wait() })

	var lolrmm, builtin time.Duration
	for lolrmm == 0 || builtin == 0 {
		f := next(60*time.Second, "the AnyDesk network findings", func(l *e2eLine) bool {
			return l.Kind == "finding" && (l.RuleName == "lolrmm_anydesk_network" || l.RuleName == "remote_access_anydesk_network")
		})
		ev := events[f.EventIDs[0]]
		if ev == nil || ev.Fields["DestinationHostname"] != relay || ev.Fields["DestinationIp"] != srvIP || ev.Fields["DestinationPort"] != float64(443) {
			t.Errorf("%s evidence: %v, want DestinationHostname %s, DestinationIp %s, port 443", f.RuleName, ev, relay, srvIP)
			continue
		}
		switch {
		case f.RuleName == "lolrmm_anydesk_network" && f.Level == "medium":
			lolrmm = time.Since(start)
		case f.RuleName == "remote_access_anydesk_network" && f.Level == "high":
			builtin = time.Since(start)
		default:
			t.Errorf("%s at level %s", f.RuleName, f.Level)
		}
	}

	// tmate renamed tmux: no name, no path, but it connects to ssh.tmate.io.
	var tmateLat time.Duration
	if tmate, err := exec.LookPath("tmate"); err != nil {
		t.Log("tmate not installed (Debian package tmate): its case is skipped")
	} else {
		tmux := rdservers.CopyExe(t, tmate, filepath.Join(t.TempDir(), "bin", "tmux"))
		start = time.Now()
		rdservers.Start(t, "ip", "netns", "exec", cli, "env", "HOME="+t.TempDir(), "TMUX_TMPDIR="+t.TempDir(), tmux, "-F")
		f := next(60*time.Second, "the tmate network finding", func(l *e2eLine) bool {
			return l.Kind == "finding" && l.RuleName == "remote_access_tmate_network"
		})
		ev := events[f.EventIDs[0]]
		if ev == nil || ev.Fields["DestinationHostname"] != "ssh.tmate.io" || ev.Fields["Image"] != tmux || f.Level != "medium" {
			t.Errorf("tmate finding %s (%s), evidence %v: want ssh.tmate.io from %s", f.RuleName, f.Level, ev, tmux)
		}
		tmateLat = time.Since(start)
	}
	t.Logf("measured latencies (client start to finding), load %s:\n"+
		"  AnyDesk relay by DNS name  lolrmm_anydesk_network         medium %6d ms\n"+
		"  AnyDesk relay by DNS name  remote_access_anydesk_network  high   %6d ms\n"+
		"  tmate renamed tmux         remote_access_tmate_network    medium %6d ms",
		loadAvg(), lolrmm.Milliseconds(), builtin.Milliseconds(), tmateLat.Milliseconds())
}
