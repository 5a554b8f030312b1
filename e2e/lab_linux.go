package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Lab is a bridge on this machine with network namespaces plugged into it, each a machine of
// its own (a "laptop"): the bridge is their shared default gateway, with one MAC address, and
// the host side (the bridge's address) is where the server listens. Everything is removed when
// the test ends.
type Lab struct {
	Bridge    string
	GatewayIP string
	MAC       string
	prefix    string // "10.X.Y"
	tag       string
	n         int
}

// NewLab creates the bridge on a free 10.X.Y.0/24.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	NeedRoot(t, "network namespaces and a bridge")
	Need(t, "ip")
	var raw [3]byte
	_, _ = rand.Read(raw[:])
	l := &Lab{tag: hex.EncodeToString(raw[:]), MAC: fmt.Sprintf("02:e2:e2:%02x:%02x:%02x", raw[0], raw[1], raw[2])}
	l.Bridge = "vbr" + l.tag
	routes, _ := exec.Command("ip", "-4", "route", "show", "table", "all").CombinedOutput()
	addrs, _ := exec.Command("ip", "-4", "addr").CombinedOutput()
	for {
		x, _ := rand.Int(rand.Reader, big.NewInt(50))
		y, _ := rand.Int(rand.Reader, big.NewInt(250))
		l.prefix = fmt.Sprintf("10.%d.%d", 200+x.Int64(), 1+y.Int64())
		if !strings.Contains(string(routes), l.prefix+".") && !strings.Contains(string(addrs), l.prefix+".") {
			break
		}
	}
	l.GatewayIP = l.prefix + ".1"
	IP(t, "link", "add", l.Bridge, "address", l.MAC, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", l.Bridge).Run() })
	IP(t, "addr", "add", l.GatewayIP+"/24", "dev", l.Bridge)
	IP(t, "link", "set", l.Bridge, "up")
	return l
}

// Addr is the address of host number n (2-254) on the lab's network.
func (l *Lab) Addr(n int) string { return l.prefix + "." + strconv.Itoa(n) }

// Netns is a network namespace plugged into a lab.
type Netns struct {
	Name string
	IP   string
}

// Netns creates a namespace with address Addr(host), its veth's other end on the bridge, and
// a default route through the bridge. Files in etc (name -> content) are put in
// /etc/netns/NAME, which `ip netns exec` puts in place of /etc/NAME (resolv.conf...).
func (l *Lab) Netns(t testing.TB, name string, host int, etc map[string]string) *Netns {
	t.Helper()
	l.n++
	ns := &Netns{Name: "vgl-" + l.tag + "-" + name, IP: l.Addr(host)}
	hostEnd, nsEnd := fmt.Sprintf("vh%s%d", l.tag, l.n), fmt.Sprintf("vn%s%d", l.tag, l.n)
	IP(t, "netns", "add", ns.Name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.Name).Run() })
	IP(t, "link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd)
	IP(t, "link", "set", nsEnd, "netns", ns.Name)
	IP(t, "link", "set", hostEnd, "master", l.Bridge)
	IP(t, "link", "set", hostEnd, "up")
	IP(t, "-n", ns.Name, "addr", "add", ns.IP+"/24", "dev", nsEnd)
	IP(t, "-n", ns.Name, "link", "set", nsEnd, "up")
	IP(t, "-n", ns.Name, "link", "set", "lo", "up")
	IP(t, "-n", ns.Name, "route", "add", "default", "via", l.GatewayIP)
	if len(etc) > 0 {
		dir := "/etc/netns/" + ns.Name
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		for f, content := range etc {
			if err := os.WriteFile(dir+"/"+f, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ns
}

// Command is name with args run inside the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Reach opens a TCP connection from the namespace to addr (host:port), as a laptop's first
// traffic does, so its gateway is in its neighbour table.
func (n *Netns) Reach(t testing.TB, addr string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := n.Command("bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s cannot reach %s: %v %s", n.Name, addr, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// IP runs the ip command, failing the test on error.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
