package host

import (
	"context"
	"os"
	"path/filepath"

	"github.com/shirou/gopsutil/v3/host"

	"github.com/vigilhq/vigil/internal/event"
)

const defaultHomeRoot = "/Users"

// gather reads a macOS host: sw_vers, the /etc/localtime symlink, each user's HIToolbox and
// global-preferences plists, Go's interface list, `route -n get default`, `ipconfig getsummary`
// (falling back to system_profiler) and gopsutil for virtualization and sessions.
func (s *Source) gather(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{Product: event.MacOS, OsFamily: event.MacOS, liveZone: s.live()}
	inv.Hostname, _ = os.Hostname()
	if out, err := s.run(ctx, "sw_vers"); err == nil {
		inv.OsVersion = ParseSwVers(out)
	}
	inv.Timezone = TimezoneFromEtc(s.cfg.EtcRoot)
	for _, home := range s.homes() {
		prefs := filepath.Join(home, "Library", "Preferences")
		if b, err := readFile(filepath.Join(prefs, "com.apple.HIToolbox.plist")); err == nil {
			if ic, err := ParseHIToolbox(b); err == nil {
				inv.KeyboardLayouts = append(inv.KeyboardLayouts, ic.Layouts...)
				inv.InputMethods = append(inv.InputMethods, ic.InputMethods...)
			} else {
				s.log.Debug("input sources", "home", home, "error", err)
			}
		}
		if inv.Locale == "" {
			if b, err := readFile(filepath.Join(prefs, ".GlobalPreferences.plist")); err == nil {
				inv.Locale, _ = ParseGlobalPreferences(b)
			}
		}
	}
	inv.Interfaces = interfacesFromNet()
	if out, err := s.run(ctx, "route", "-n", "get", "default"); err == nil {
		inv.DefaultGatewayIp, inv.gatewayIface = ParseRouteGetDefault(out)
	}
	w := Wifi{}
	dev := "en0"
	if out, err := s.run(ctx, "networksetup", "-listallhardwareports"); err == nil {
		if d := ParseHardwarePorts(out); d != "" {
			dev = d
		}
	}
	if out, err := s.run(ctx, "ipconfig", "getsummary", dev); err == nil {
		w = ParseIPConfigSummary(out)
	}
	if w.Ssid == "" {
		if out, err := s.run(ctx, "system_profiler", "SPAirPortDataType"); err == nil {
			w = ParseSystemProfilerAirport(out)
		}
	}
	inv.WifiSsid, inv.WifiBssid = w.Ssid, w.Bssid
	if sys, role, err := host.VirtualizationWithContext(ctx); err == nil && role == "guest" && sys != "" {
		inv.Virtualization = sys
	} else {
		inv.Virtualization = "none"
	}
	if us, err := host.UsersWithContext(ctx); err == nil {
		var ss []Session
		for _, u := range us {
			ss = append(ss, Session{User: u.User, Tty: u.Terminal, Host: u.Host})
		}
		inv.LoggedInUsers, inv.RemoteSessions = sessionLists(ss)
	}
	return inv, nil
}

// neighbors runs `arp -an`.
func (s *Source) neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := s.run(ctx, "arp", "-an")
	if err != nil {
		return nil, err
	}
	return ParseBSDArp(out), nil
}
