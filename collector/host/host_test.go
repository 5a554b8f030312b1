package host

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// utmpRecord builds one glibc utmp record.
func utmpRecord(typ uint16, tty, user, host string) []byte {
	r := make([]byte, 384)
	binary.LittleEndian.PutUint16(r[0:], typ)
	copy(r[8:40], tty)
	copy(r[44:76], user)
	copy(r[76:332], host)
	return r
}

// fixtureHost builds a Linux host tree: Seoul time zone, a Korean input method (fcitx5 hangul
// and an ibus engine in dconf), a WireGuard interface, a JetKVM in the ARP table, a remote SSH
// session and a QEMU guest.
func fixtureHost(t *testing.T) Config {
	t.Helper()
	root := t.TempDir()
	etc, proc, sys, run, home := filepath.Join(root, "etc"), filepath.Join(root, "proc"), filepath.Join(root, "sys"), filepath.Join(root, "run"), filepath.Join(root, "home")
	write(t, etc, "timezone", "Asia/Seoul\n")
	write(t, etc, "default/keyboard", "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"us,kr\"\nXKBVARIANT=\",kr104\"\n")
	write(t, etc, "default/locale", "LANG=ko_KR.UTF-8\n")
	write(t, etc, "os-release", "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\n")
	write(t, etc, "dconf/db/local.d/00-input", "[org/gnome/desktop/input-sources]\nsources=[('xkb', 'us'), ('ibus', 'hangul')]\n")
	write(t, proc, "sys/kernel/hostname", "laptop-42\n")
	write(t, proc, "sys/kernel/osrelease", "6.12.0-amd64\n")
	write(t, proc, "net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"+
		"eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"+
		"wg0\t0000080A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
	write(t, proc, "net/arp", "IP address       HW type     Flags       HW address            Mask     Device\n"+
		"192.168.1.1      0x1         0x2         a4:2b:b0:11:22:33     *        eth0\n"+
		"192.168.1.77     0x1         0x2         30:52:53:0a:0b:0c     *        eth0\n"+
		"192.168.1.99     0x1         0x0         00:00:00:00:00:00     *        eth0\n")
	write(t, proc, "net/if_inet6", "00000000000000000000000000000001 01 80 10 80       lo\n"+
		"fe800000000000000a0027fffe4e66a1 02 40 20 80     eth0\n")
	write(t, proc, "net/fib_trie", "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"+
		"     +-- 10.8.0.0/24 2 0 2\n        |-- 10.8.0.2\n           /32 host LOCAL\n"+
		"     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n"+
		"     +-- 192.168.1.0/24 2 0 2\n        |-- 192.168.1.23\n           /32 host LOCAL\n"+
		"        |-- 192.168.1.255\n           /32 link BROADCAST\n")
	write(t, proc, "net/wireless", "Inter-| sta-|   Quality        |   Discarded packets\n face | tus | link level noise |  nwid  crypt\n wlan0: 0000   60.  -50.  -256        0      0\n")
	write(t, proc, "1/cgroup", "0::/init.scope\n")
	write(t, proc, "cpuinfo", "processor\t: 0\nflags\t\t: fpu vme hypervisor\n")
	for name, mac := range map[string]string{"eth0": "08:00:27:4e:66:a1", "lo": "00:00:00:00:00:00", "wg0": ""} {
		write(t, sys, "class/net/"+name+"/address", mac+"\n")
		write(t, sys, "class/net/"+name+"/flags", "0x1003\n")
	}
	write(t, sys, "class/dmi/id/sys_vendor", "QEMU\n")
	write(t, home, "alice/.config/fcitx5/profile", "[Groups/0]\nName=Default\nDefault Layout=us\n\n[Groups/0/Items/0]\nName=keyboard-us\nLayout=\n\n[Groups/0/Items/1]\nName=hangul\nLayout=\n\n[GroupOrder]\n0=Default\n")
	utmp := append(utmpRecord(7, "pts/0", "alice", "203.0.113.5"), utmpRecord(7, "tty2", "bob", ":0")...)
	utmp = append(utmp, utmpRecord(8, "pts/1", "gone", "198.51.100.1")...)
	write(t, run, "utmp", string(utmp))
	return Config{RootDir: root, EtcRoot: etc, ProcRoot: proc, SysRoot: sys, RunRoot: run, HomeRoot: home, RootHome: filepath.Join(root, "root"),
		Command: fakeCommands(map[string]string{
			"nmcli -t -f ACTIVE,SSID,BSSID,DEVICE device wifi list --rescan no": "no:Neighbours:11\\:22\\:33\\:44\\:55\\:66:wlan0\nyes:Farm\\:Net 5G:AA\\:BB\\:CC\\:DD\\:EE\\:FF:wlan0\n",
			"ip -6 neigh show": "fe80::1 dev eth0 lladdr a4:2b:b0:11:22:33 router REACHABLE\nfd00::9 dev eth0 FAILED\n",
		})}
}

func fakeCommands(outputs map[string]string) CommandRunner {
	var mu sync.Mutex
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if out, ok := outputs[strings.Join(append([]string{name}, args...), " ")]; ok {
			return []byte(out), nil
		}
		return nil, errors.New("not captured")
	}
}

func TestInventoryFromFixture(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux inventory is gathered on Linux")
	}
	cfg := fixtureHost(t)
	inv, err := New(cfg).Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := inv.Fields()
	want := map[string]any{
		"Hostname": "laptop-42", "OsFamily": "linux", "OsVersion": "Debian GNU/Linux 13 (trixie) (kernel 6.12.0-amd64)",
		"Timezone": "Asia/Seoul", "UtcOffset": "+09:00", "Locale": "ko_KR.UTF-8",
		"KeyboardLayouts":  []string{"us", "kr"},
		"InputMethods":     []string{"hangul"},
		"DefaultGatewayIp": "192.168.1.1", "DefaultGatewayMac": "a4:2b:b0:11:22:33",
		"WifiSsid": "Farm:Net 5G", "WifiBssid": "aa:bb:cc:dd:ee:ff",
		"VpnInterfaces":  []string{"wg0"},
		"Virtualization": "qemu",
		"LoggedInUsers":  []string{"alice", "bob"},
		"RemoteSessions": []string{"alice from 203.0.113.5 (pts/0)"},
		"MacAddresses":   []string{"08:00:27:4e:66:a1"},
		"IpAddresses":    []string{"192.168.1.23", "fe80::a00:27ff:fe4e:66a1", "127.0.0.1", "::1", "10.8.0.2"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(f[k], v) {
			t.Errorf("%s = %#v, want %#v", k, f[k], v)
		}
	}
	ifs := f["Interfaces"].([]any)
	wg := ifs[2].(map[string]any)
	if wg["Name"] != "wg0" || !reflect.DeepEqual(wg["Addresses"], []string{"10.8.0.2/24"}) || wg["Up"] != true {
		t.Errorf("wg0: %v", wg)
	}
	if _, ok := wg["Mac"]; ok {
		t.Errorf("wg0 has no MAC: %v", wg)
	}
}

func TestSnapshotAndRunEmitChanges(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux inventory is gathered on Linux")
	}
	cfg := fixtureHost(t)
	cfg.Interval, cfg.NeighborInterval = 30*time.Millisecond, 30*time.Millisecond
	var mu sync.Mutex
	var evs []*event.Event
	emit := func(e *event.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() }
	count := func(cat, action string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, e := range evs {
			if e.Category == cat && (action == "" || e.Fields["Action"] == action) {
				n++
			}
		}
		return n
	}
	s := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, emit) }()
	deadline := time.Now().Add(5 * time.Second)
	for count(event.Neighbor, "present") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // several polls with nothing changed
	if n := count(event.HostInventory, ""); n != 1 {
		t.Fatalf("%d inventory events without a change", n)
	}
	// A new input method and a new neighbour.
	write(t, cfg.HomeRoot, "bob/.config/fcitx/profile", "[Profile]\nEnabledIMList=fcitx-keyboard-us:True,mozc:True,pinyin:False\n")
	arp, _ := os.ReadFile(filepath.Join(cfg.ProcRoot, "net/arp"))
	write(t, cfg.ProcRoot, "net/arp", string(arp)+"192.168.1.80     0x1         0x2         94:83:c4:01:02:03     *        eth0\n")
	deadline = time.Now().Add(5 * time.Second)
	for (count(event.HostInventory, "") < 2 || count(event.Neighbor, "added") < 1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var last *event.Event
	var neigh []string
	for _, e := range evs {
		if e.Category == event.HostInventory {
			last = e
		}
		if e.Category == event.Neighbor {
			neigh = append(neigh, e.String("Action")+" "+e.String("Ip")+" "+e.String("Mac")+" "+e.String("MacPrefix")+" "+e.String("Interface")+" "+e.String("State"))
		}
	}
	if !reflect.DeepEqual(last.Fields["InputMethods"], []string{"hangul", "mozc"}) {
		t.Errorf("changed inventory: %v", last.Fields["InputMethods"])
	}
	sort.Strings(neigh)
	want := []string{
		"added 192.168.1.80 94:83:c4:01:02:03 94:83:c4 eth0 reachable",
		"present 192.168.1.1 a4:2b:b0:11:22:33 a4:2b:b0 eth0 reachable",
		"present 192.168.1.77 30:52:53:0a:0b:0c 30:52:53 eth0 reachable",
		"present fe80::1 a4:2b:b0:11:22:33 a4:2b:b0 eth0 reachable",
	}
	if !reflect.DeepEqual(neigh, want) {
		t.Errorf("neighbours:\n%s\nwant\n%s", strings.Join(neigh, "\n"), strings.Join(want, "\n"))
	}
}

// TestLiveInventory: the running machine yields a plausible inventory without error.
func TestLiveInventory(t *testing.T) {
	s := New(Config{})
	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := inv.Fields()
	t.Logf("live inventory: %v", f)
	if f["Hostname"] == "" || f["OsFamily"] != event.LocalProduct() || f["UtcOffset"] == nil || f["Interfaces"] == nil {
		t.Fatalf("implausible: %v", f)
	}
	ns, err := s.Neighbors(context.Background())
	t.Logf("live neighbours: %v (err %v)", ns, err)
}

func TestRegistryExportInventory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "host.reg")
	if err := os.WriteFile(p, utf16LE(sampleReg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Config{RegistryExport: p})
	var evs []*event.Event
	if err := s.Snapshot(context.Background(), func(e *event.Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Product != event.Windows {
		t.Fatalf("events %v", evs)
	}
	f := evs[0].Fields
	want := map[string]any{
		"Hostname": "DESKTOP-7Q2K", "OsFamily": "windows", "OsVersion": "Windows 11 Pro 23H2 (22631)",
		"Timezone": "Asia/Seoul", "UtcOffset": "+09:00", "Locale": "ko-KR",
		"KeyboardLayouts": []string{"00000409", "00000412"},
		"InputMethods":    []string{"0412:{A028AE76-01B1-46C2-99C4-ACD9858AE02F}{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(f[k], v) {
			t.Errorf("%s = %#v, want %#v", k, f[k], v)
		}
	}
	if TIPName(f["InputMethods"].([]string)[0]) != "Microsoft Korean IME" {
		t.Error("TIP name")
	}
}

// A registry export that holds none of the keys the inventory reads (another key's export) is
// an error, not an empty inventory.
func TestRegistryExportWithoutHostKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "display.reg")
	reg := "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\DISPLAY]\r\n\r\n"
	if err := os.WriteFile(p, utf16LE(reg), 0o644); err != nil {
		t.Fatal(err)
	}
	err := New(Config{RegistryExport: p}).Snapshot(context.Background(), func(*event.Event) {})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "none of the keys") {
		t.Errorf("Snapshot: %v", err)
	}
}

// A root that is given must exist; nothing is read outside the given roots: with an etc root
// of its own, the OS line does not fall back to the live /usr/lib/os-release.
func TestRootsConfineReading(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux inventory is gathered on Linux")
	}
	missing := filepath.Join(t.TempDir(), "nope")
	for _, cfg := range []Config{{EtcRoot: missing}, {ProcRoot: missing}, {SysRoot: missing}, {RootDir: missing}, {RunRoot: missing}} {
		_, err := New(cfg).Inventory(context.Background())
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("%+v: %v, want an error naming the missing root", cfg, err)
		}
	}

	cfg := fixtureHost(t)
	// An etc root that is not RootDir/etc and has no os-release, next to a usr folder that has
	// one (as /nonexistent is next to the live /usr).
	outside := t.TempDir()
	write(t, outside, "usr/lib/os-release", "NAME=Outside\n")
	etc := filepath.Join(outside, "etc-root")
	write(t, etc, "timezone", "Europe/Paris\n")
	cfg.EtcRoot, cfg.RootDir = etc, "/"
	inv, err := New(cfg).Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.OsVersion != "(kernel 6.12.0-amd64)" {
		t.Errorf("OsVersion %q: read from outside the etc root", inv.OsVersion)
	}

	// RootDir/etc falls back to RootDir/usr/lib/os-release, as os-release(5) says.
	cfg = fixtureHost(t)
	if err := os.Remove(filepath.Join(cfg.EtcRoot, "os-release")); err != nil {
		t.Fatal(err)
	}
	write(t, cfg.RootDir, "usr/lib/os-release", "NAME=Fedora\nVERSION_ID=41\n")
	if inv, err = New(cfg).Inventory(context.Background()); err != nil || inv.OsVersion != "Fedora 41 (kernel 6.12.0-amd64)" {
		t.Errorf("OsVersion %q (%v)", inv.OsVersion, err)
	}
}

// Reading a fixture tree runs no command: nmcli would report this machine's Wi-Fi, not the
// tree's.
func TestFixtureRunsNoCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux inventory is gathered on Linux")
	}
	bin := t.TempDir()
	write(t, bin, "nmcli", "#!/bin/sh\necho 'yes:Live Net:AA\\:BB\\:CC\\:DD\\:EE\\:FF:wlan0'\n")
	if err := os.Chmod(filepath.Join(bin, "nmcli"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg := fixtureHost(t)
	cfg.Command = nil
	inv, err := New(cfg).Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.WifiSsid != "" {
		t.Errorf("WifiSsid %q came from a command run on this machine", inv.WifiSsid)
	}
}
