package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigilhq/vigil/internal/event"
)

// gatherLinux reads a Linux host's inventory from EtcRoot, ProcRoot, SysRoot, RunRoot and the
// home folders; commands (nmcli, iw) only add Wi-Fi details. Interface addresses come from the
// kernel through Go's net package on the live system, and from ProcRoot's if_inet6, fib_trie and
// route files on fixture trees.
func (s *Source) gatherLinux(ctx context.Context) (*Inventory, error) {
	c := s.cfg
	inv := &Inventory{Product: event.Linux, OsFamily: event.Linux, liveZone: s.live()}
	if b, err := readFile(filepath.Join(c.ProcRoot, "sys", "kernel", "hostname")); err == nil {
		inv.Hostname = strings.TrimSpace(string(b))
	} else if b, err := readFile(filepath.Join(c.EtcRoot, "hostname")); err == nil {
		inv.Hostname = strings.TrimSpace(string(b))
	} else if s.live() {
		inv.Hostname, _ = os.Hostname()
	}
	inv.OsVersion = OSVersion(c.RootDir, c.EtcRoot)
	if b, err := readFile(filepath.Join(c.ProcRoot, "sys", "kernel", "osrelease")); err == nil {
		if k := strings.TrimSpace(string(b)); k != "" {
			inv.OsVersion = strings.TrimSpace(inv.OsVersion + " (kernel " + k + ")")
		}
	}
	inv.Timezone = TimezoneFromEtc(c.EtcRoot)
	inv.Locale = LocaleFromEtc(c.EtcRoot)
	if inv.Locale == "" && s.live() {
		inv.Locale = os.Getenv("LANG")
	}
	inv.KeyboardLayouts = KeyboardLayoutsFromEtc(c.EtcRoot)
	ic := InputConfigFromHomes(c.EtcRoot, append(s.homes(), c.RootHome))
	inv.KeyboardLayouts = append(inv.KeyboardLayouts, ic.Layouts...)
	inv.InputMethods = ic.InputMethods

	inv.Interfaces = InterfacesFromSysfs(c.SysRoot)
	routes := []Route(nil)
	if b, err := readFile(filepath.Join(c.ProcRoot, "net", "route")); err == nil {
		routes, err = ParseProcNetRoute(b)
		if err != nil {
			s.log.Debug("route table", "error", err)
		}
		inv.DefaultGatewayIp, inv.gatewayIface = DefaultGateway(routes)
	}
	if s.live() {
		fillAddrsLive(inv)
	} else {
		v6 := map[string][]string{}
		if b, err := readFile(filepath.Join(c.ProcRoot, "net", "if_inet6")); err == nil {
			v6 = ParseIfInet6(b)
		}
		var v4 map[string][]string
		if b, err := readFile(filepath.Join(c.ProcRoot, "net", "fib_trie")); err == nil {
			v4 = assignIPv4(LocalIPv4FromFibTrie(b), routes)
		}
		for i := range inv.Interfaces {
			n := inv.Interfaces[i].Name
			inv.Interfaces[i].Addresses = append(append([]string{}, v4[n]...), v6[n]...)
		}
	}
	inv.Virtualization = VirtualizationFromFiles(c.RootDir, c.ProcRoot, c.SysRoot)
	for _, utmp := range []string{filepath.Join(c.RunRoot, "utmp"), filepath.Join(c.RootDir, "var", "run", "utmp")} {
		b, err := readFile(utmp)
		if err != nil {
			continue
		}
		ss, err := ParseUtmp(b)
		if err != nil {
			s.log.Debug("utmp", "file", utmp, "error", err)
		}
		inv.LoggedInUsers, inv.RemoteSessions = sessionLists(ss)
		break
	}
	w := s.linuxWifi(ctx)
	inv.WifiSsid, inv.WifiBssid = w.Ssid, w.Bssid
	return inv, nil
}

// linuxWifi asks NetworkManager (nmcli), else iw for each interface in ProcRoot/net/wireless.
func (s *Source) linuxWifi(ctx context.Context) Wifi {
	if out, err := s.run(ctx, "nmcli", "-t", "-f", "ACTIVE,SSID,BSSID,DEVICE", "device", "wifi", "list", "--rescan", "no"); err == nil {
		if w, err := ParseNmcliWifi(out); err == nil && w.Ssid != "" {
			return w
		}
	}
	b, err := readFile(filepath.Join(s.cfg.ProcRoot, "net", "wireless"))
	if err != nil {
		return Wifi{}
	}
	for _, ifc := range ParseProcNetWireless(b) {
		if out, err := s.run(ctx, "iw", "dev", ifc, "link"); err == nil {
			if w := ParseIwLink(out); w.Bssid != "" {
				return w
			}
		}
	}
	return Wifi{}
}

// neighborsLinux reads ProcRoot/net/arp and, on the live system, `ip -6 neigh show`.
func (s *Source) neighborsLinux(ctx context.Context) ([]Neighbor, error) {
	b, err := readFile(filepath.Join(s.cfg.ProcRoot, "net", "arp"))
	if err != nil {
		return nil, err
	}
	out, err := ParseProcNetArp(b)
	if s.live() || s.cfg.Command != nil {
		if v6, err := s.run(ctx, "ip", "-6", "neigh", "show"); err == nil {
			out = append(out, ParseIPNeigh(v6)...)
		}
	}
	return out, err
}
