package host

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"howett.net/plist"
)

// Parsers for the output of OS commands (nmcli, iw, ip neigh, macOS route/arp/ipconfig/
// system_profiler/defaults/sw_vers, Windows netsh/arp). Plain functions over bytes so their tests
// run everywhere.

// NormalizeMac returns a MAC as six lowercase two-digit octets separated by colons, accepting
// "-" separators (Windows) and one-digit octets (macOS arp: 0:11:2:33:44:55). Anything else is
// returned lowercased as is.
func NormalizeMac(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(parts) != 6 {
		return s
	}
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 || strings.Trim(p, "0123456789abcdef") != "" {
			return s
		}
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	return strings.Join(parts, ":")
}

// MacPrefix returns the first three octets ("30:52:53") of a normalised MAC, or "".
func MacPrefix(mac string) string {
	if len(mac) == 17 {
		return mac[:8]
	}
	return ""
}

// usableMac reports whether mac identifies a neighbour: not empty, zero, broadcast or multicast.
func usableMac(mac string) bool {
	if len(mac) != 17 || mac == "00:00:00:00:00:00" || mac == "ff:ff:ff:ff:ff:ff" {
		return false
	}
	var first byte
	if _, err := fmt.Sscanf(mac[:2], "%02x", &first); err != nil {
		return false
	}
	return first&1 == 0
}

// lines yields trimmed lines of b.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out
}

// keyValue splits "  Key   : value" at the first " : " or ":" (netsh, ipconfig, route).
func keyValue(line string) (string, string, bool) {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", false
	}
	return strings.TrimSpace(k), strings.TrimSpace(v), true
}

// Wifi is the current wireless association.
type Wifi struct {
	Ssid, Bssid, Interface string
}

// splitTerse splits an nmcli -t line on unescaped colons and unescapes "\:" and "\\".
func splitTerse(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// ParseNmcliWifi parses `nmcli -t -f ACTIVE,SSID,BSSID,DEVICE device wifi list` and returns the
// active network.
func ParseNmcliWifi(b []byte) (Wifi, error) {
	for i, line := range lines(b) {
		if line == "" {
			continue
		}
		f := splitTerse(line)
		if len(f) < 3 {
			return Wifi{}, fmt.Errorf("nmcli line %d: %d fields, want ACTIVE:SSID:BSSID[:DEVICE]", i+1, len(f))
		}
		if f[0] != "yes" && f[0] != "*" {
			continue
		}
		w := Wifi{Ssid: f[1], Bssid: NormalizeMac(f[2])}
		if len(f) > 3 {
			w.Interface = f[3]
		}
		return w, nil
	}
	return Wifi{}, nil
}

var iwConnected = regexp.MustCompile(`^Connected to ([0-9a-fA-F:]{17})(?: \(on (\S+)\))?`)

// ParseIwLink parses `iw dev <if> link`.
func ParseIwLink(b []byte) Wifi {
	var w Wifi
	for _, line := range lines(b) {
		t := strings.TrimSpace(line)
		if m := iwConnected.FindStringSubmatch(t); m != nil {
			w.Bssid, w.Interface = NormalizeMac(m[1]), m[2]
		} else if v, ok := strings.CutPrefix(t, "SSID: "); ok && w.Bssid != "" {
			w.Ssid = v
		}
	}
	return w
}

// ParseProcNetWireless lists the interfaces in /proc/net/wireless.
func ParseProcNetWireless(b []byte) []string {
	var out []string
	for i, line := range lines(b) {
		if i < 2 {
			continue // two header lines
		}
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name != "" {
			out = append(out, name)
		}
	}
	return out
}

// ParseIPNeigh parses `ip neigh show` lines: "fe80::1 dev eth0 lladdr 52:54:00:12:34:56 router REACHABLE".
// Entries without a link-layer address (FAILED, INCOMPLETE) are skipped.
func ParseIPNeigh(b []byte) []Neighbor {
	var out []Neighbor
	for _, line := range lines(b) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n := Neighbor{Ip: f[0]}
		for i := 1; i < len(f); i++ {
			switch f[i] {
			case "dev":
				if i+1 < len(f) {
					n.Interface = f[i+1]
					i++
				}
			case "lladdr":
				if i+1 < len(f) {
					n.Mac = NormalizeMac(f[i+1])
					i++
				}
			}
		}
		n.State = strings.ToLower(f[len(f)-1])
		if n.Mac != "" {
			out = append(out, n)
		}
	}
	return out
}

// ParseRouteGetDefault parses macOS `route -n get default`: gateway and interface.
func ParseRouteGetDefault(b []byte) (gateway, iface string) {
	for _, line := range lines(b) {
		k, v, ok := keyValue(line)
		if !ok {
			continue
		}
		switch k {
		case "gateway":
			gateway = v
		case "interface":
			iface = v
		}
	}
	return gateway, iface
}

var bsdArp = regexp.MustCompile(`^\S+ \(([^)]+)\) at (\S+)(?: on (\S+))?(.*)$`)

// ParseBSDArp parses macOS `arp -an`: "? (192.168.1.1) at 0:11:22:33:44:55 on en0 ifscope [ethernet]".
// Incomplete entries are skipped; "permanent" entries are marked so.
func ParseBSDArp(b []byte) []Neighbor {
	var out []Neighbor
	for _, line := range lines(b) {
		m := bsdArp.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[2] == "(incomplete)" {
			continue
		}
		state := "reachable"
		if strings.Contains(m[4], "permanent") {
			state = "permanent"
		}
		out = append(out, Neighbor{Ip: m[1], Mac: NormalizeMac(m[2]), Interface: m[3], State: state})
	}
	return out
}

// ParseWindowsArp parses Windows `arp -a`: an "Interface: 192.168.1.10 --- 0xb" line, a header, then
// "  192.168.1.1           00-11-22-33-44-55     dynamic" rows. The interface is named by its
// address (arp -a does not print adapter names).
func ParseWindowsArp(b []byte) []Neighbor {
	var out []Neighbor
	iface := ""
	for _, line := range lines(b) {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "Interface:"); ok {
			iface = strings.TrimSpace(strings.SplitN(rest, "---", 2)[0])
			continue
		}
		f := strings.Fields(t)
		if len(f) != 3 || strings.Count(f[1], "-") != 5 {
			continue
		}
		out = append(out, Neighbor{Ip: f[0], Mac: NormalizeMac(f[1]), Interface: iface, State: f[2]})
	}
	return out
}

// ParseIPConfigSummary parses macOS `ipconfig getsummary en0` (SSID and BSSID lines; recent macOS
// prints <redacted> to unprivileged callers, which is returned as empty).
func ParseIPConfigSummary(b []byte) Wifi {
	var w Wifi
	for _, line := range lines(b) {
		k, v, ok := keyValue(line)
		if !ok || v == "<redacted>" {
			continue
		}
		switch k {
		case "SSID":
			w.Ssid = v
		case "BSSID":
			w.Bssid = NormalizeMac(v)
		case "InterfaceType":
		}
	}
	return w
}

// ParseHardwarePorts parses macOS `networksetup -listallhardwareports` and returns the Wi-Fi
// device ("en0" on most laptops, "en1" where en0 is built-in Ethernet).
func ParseHardwarePorts(b []byte) string {
	wifi := false
	for _, line := range lines(b) {
		k, v, ok := keyValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Hardware Port":
			wifi = v == "Wi-Fi" || v == "AirPort"
		case "Device":
			if wifi && v != "" {
				return v
			}
		}
	}
	return ""
}

// ParseSystemProfilerAirport parses `system_profiler SPAirPortDataType` text: the network named
// under "Current Network Information:" of the first connected interface.
func ParseSystemProfilerAirport(b []byte) Wifi {
	var w Wifi
	ls := lines(b)
	iface := ""
	for i, line := range ls {
		t := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.HasSuffix(t, ":") && (strings.HasPrefix(t, "en") || strings.HasPrefix(t, "awdl")) && !strings.Contains(t, " ") {
			iface = strings.TrimSuffix(t, ":")
		}
		if t != "Current Network Information:" || i+1 >= len(ls) {
			continue
		}
		next := ls[i+1]
		if len(next)-len(strings.TrimLeft(next, " ")) <= indent {
			continue
		}
		w.Ssid = strings.TrimSuffix(strings.TrimSpace(next), ":")
		w.Interface = iface
		for _, l := range ls[i+2:] {
			k, v, ok := keyValue(l)
			if ok && k == "BSSID" {
				w.Bssid = NormalizeMac(v)
			}
			if len(l)-len(strings.TrimLeft(l, " ")) <= indent+2 {
				break
			}
		}
		return w
	}
	return w
}

// ParseNetshWlan parses `netsh wlan show interfaces` (English output): the first connected
// interface's SSID and BSSID ("AP BSSID" on Windows 11 24H2).
func ParseNetshWlan(b []byte) Wifi {
	var w, cur Wifi
	state := ""
	flush := func() {
		if w.Ssid == "" && cur.Ssid != "" && (state == "" || strings.EqualFold(state, "connected")) {
			w = cur
		}
		cur, state = Wifi{}, ""
	}
	for _, line := range lines(b) {
		k, v, ok := keyValue(line)
		if !ok {
			continue
		}
		switch k {
		case "Name":
			flush()
			cur.Interface = v
		case "State":
			state = v
		case "SSID":
			cur.Ssid = v
		case "BSSID", "AP BSSID":
			cur.Bssid = NormalizeMac(v)
		}
	}
	flush()
	return w
}

// ParseSwVers parses macOS `sw_vers` into "macOS 15.1 (24B83)".
func ParseSwVers(b []byte) string {
	var name, ver, build string
	for _, line := range lines(b) {
		k, v, ok := keyValue(line)
		if !ok {
			continue
		}
		switch k {
		case "ProductName":
			name = v
		case "ProductVersion":
			ver = v
		case "BuildVersion":
			build = v
		}
	}
	s := strings.TrimSpace(name + " " + ver)
	if build != "" {
		s += " (" + build + ")"
	}
	return s
}

// ParseHIToolbox reads macOS input sources from com.apple.HIToolbox (the plist file, binary or
// XML, or `defaults read com.apple.HIToolbox` output, which is OpenStep text):
// AppleEnabledInputSources entries with "KeyboardLayout Name" are layouts, those with "Input
// Mode" or a "Bundle ID" of kind "Keyboard Input Method"/"Input Mode" are input methods.
func ParseHIToolbox(b []byte) (InputConfig, error) {
	var doc struct {
		Enabled []map[string]any `plist:"AppleEnabledInputSources"`
	}
	if _, err := plist.Unmarshal(b, &doc); err != nil {
		return InputConfig{}, fmt.Errorf("com.apple.HIToolbox: %w", err)
	}
	var ic InputConfig
	for _, src := range doc.Enabled {
		str := func(k string) string { s, _ := src[k].(string); return s }
		switch {
		case str("KeyboardLayout Name") != "":
			ic.Layouts = append(ic.Layouts, str("KeyboardLayout Name"))
		case str("Input Mode") != "":
			ic.InputMethods = append(ic.InputMethods, str("Input Mode"))
		case str("Bundle ID") != "" && (str("InputSourceKind") == "Keyboard Input Method" || str("InputSourceKind") == "Input Mode"):
			ic.InputMethods = append(ic.InputMethods, str("Bundle ID"))
		}
	}
	return ic, nil
}

// ParseGlobalPreferences returns AppleLocale from .GlobalPreferences.plist or `defaults read -g`.
func ParseGlobalPreferences(b []byte) (string, error) {
	var doc struct {
		Locale string `plist:"AppleLocale"`
	}
	if _, err := plist.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("global preferences: %w", err)
	}
	return doc.Locale, nil
}

// vpnNames are adapter names (or descriptions) of VPN clients; vpnPrefixes are kernel interface
// name prefixes of tunnels.
var (
	vpnPrefixes = []string{"tun", "tap", "wg", "utun", "ppp", "ipsec", "gpd", "zt", "tailscale", "nordlynx", "proton", "cscotun"}
	vpnNames    = []string{"astrill", "nordlynx", "nordvpn", "protonvpn", "proton vpn", "mullvad", "expressvpn",
		"openvpn", "wireguard", "tap-windows", "tap-protonvpn", "wintun", "surfshark", "pia ", "private internet access",
		"cyberghost", "windscribe", "hotspot shield", "ipvanish", "tunnelbear", "vyprvpn", "globalprotect",
		"anyconnect", "cisco", "fortinet", "forticlient", "pulse secure", "zscaler", "tailscale", "zerotier", "hamachi",
		"softether", "strongswan", "l2tp", "pptp", "sstp", "ikev2"}
)

// IsVPN reports whether an interface name (or adapter description) looks like a VPN tunnel.
func IsVPN(name, description string) bool {
	l := strings.ToLower(name)
	for _, p := range vpnPrefixes {
		if strings.HasPrefix(l, p) {
			rest := l[len(p):]
			if rest == "" || (rest[0] >= '0' && rest[0] <= '9') || p == "tailscale" || p == "nordlynx" || p == "proton" || p == "wg" {
				return true
			}
		}
	}
	d := strings.ToLower(name + " " + description)
	for _, n := range vpnNames {
		if strings.Contains(d, n) {
			return true
		}
	}
	return false
}
