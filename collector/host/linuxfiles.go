package host

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Parsers for Linux's /etc, /proc, /sys and home-folder files. They take the file's bytes (or a
// root) so fixture trees work on every OS.

// maxFile caps what is read of one configuration file.
const maxFile = 1 << 20

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// ParseKeyValues reads shell-style KEY=value lines (os-release, /etc/default/keyboard,
// locale.conf, vconsole.conf), unquoting values and skipping comments.
func ParseKeyValues(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), maxFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// splitList splits "us,kr" or "us kr" into its non-empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// TimezoneFromEtc returns the IANA zone from etc/timezone, or from the etc/localtime symlink's
// target (".../zoneinfo/Asia/Seoul"), as Linux and macOS keep it.
func TimezoneFromEtc(etc string) string {
	if b, err := readFile(filepath.Join(etc, "timezone")); err == nil {
		if tz := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]); tz != "" {
			return tz
		}
	}
	if target, err := os.Readlink(filepath.Join(etc, "localtime")); err == nil {
		return zoneFromPath(target)
	}
	return ""
}

func zoneFromPath(target string) string {
	target = filepath.ToSlash(target)
	if i := strings.Index(target, "zoneinfo/"); i >= 0 {
		z := target[i+len("zoneinfo/"):]
		for _, p := range []string{"posix/", "right/"} {
			z = strings.TrimPrefix(z, p)
		}
		return z
	}
	return ""
}

// xorgLayout matches Option "XkbLayout" "us,kr" in xorg.conf.d files written by localectl.
var xorgLayout = regexp.MustCompile(`(?i)Option\s+"XkbLayout"\s+"([^"]*)"`)

// KeyboardLayoutsFromEtc reads etc/default/keyboard (XKBLAYOUT), etc/X11/xorg.conf.d/*.conf
// (XkbLayout, written by localectl) and etc/vconsole.conf (KEYMAP).
func KeyboardLayoutsFromEtc(etc string) []string {
	var out []string
	if b, err := readFile(filepath.Join(etc, "default", "keyboard")); err == nil {
		out = append(out, splitList(ParseKeyValues(b)["XKBLAYOUT"])...)
	}
	confs, _ := filepath.Glob(filepath.Join(etc, "X11", "xorg.conf.d", "*.conf"))
	for _, c := range confs {
		if b, err := readFile(c); err == nil {
			for _, m := range xorgLayout.FindAllSubmatch(b, -1) {
				out = append(out, splitList(string(m[1]))...)
			}
		}
	}
	if b, err := readFile(filepath.Join(etc, "vconsole.conf")); err == nil {
		if km := ParseKeyValues(b)["KEYMAP"]; km != "" {
			out = append(out, km)
		}
	}
	return out
}

// LocaleFromEtc reads LANG from etc/default/locale or etc/locale.conf.
func LocaleFromEtc(etc string) string {
	for _, f := range []string{"locale.conf", filepath.Join("default", "locale")} {
		if b, err := readFile(filepath.Join(etc, f)); err == nil {
			kv := ParseKeyValues(b)
			for _, k := range []string{"LANG", "LC_ALL"} {
				if kv[k] != "" {
					return kv[k]
				}
			}
		}
	}
	return ""
}

// OSVersion returns os-release's PRETTY_NAME (or NAME VERSION_ID) from etc/os-release or,
// when that is missing, from root/usr/lib/os-release (its usual target). The fallback is read
// only when etc is root's own etc folder: with an etc root of its own, nothing is read outside
// it (the live /usr/lib/os-release would describe another system).
func OSVersion(root, etc string) string {
	files := []string{filepath.Join(etc, "os-release")}
	if filepath.Clean(etc) == filepath.Join(root, "etc") {
		files = append(files, filepath.Join(root, "usr", "lib", "os-release"))
	}
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		kv := ParseKeyValues(b)
		if kv["PRETTY_NAME"] != "" {
			return kv["PRETTY_NAME"]
		}
		return strings.TrimSpace(kv["NAME"] + " " + kv["VERSION_ID"])
	}
	return ""
}

// Input methods from the frameworks' per-user files.
var (
	// GNOME input sources in dconf keyfiles (etc/dconf/db/*.d/*): sources=[('xkb','us'),('ibus','hangul')]
	dconfSource = regexp.MustCompile(`\(\s*'(xkb|ibus)'\s*,\s*'([^']+)'\s*\)`)
	// The same in the binary dconf user database: GVariant (ss) tuples are NUL-terminated strings.
	dconfBinary = regexp.MustCompile(`(xkb|ibus)\x00([A-Za-z0-9_:+.\-/]{1,64})\x00`)
	// ibus preload-engines in keyfiles: preload-engines=['hangul', 'anthy']
	ibusPreload = regexp.MustCompile(`preload-engines\s*=\s*\[([^\]]*)\]`)
)

// InputConfig is what a user's input-method configuration enables.
type InputConfig struct {
	Layouts      []string // xkb layouts
	InputMethods []string // ibus engines, fcitx input methods
}

// ParseFcitx5Profile reads ~/.config/fcitx5/profile: [Groups/N/Items/M] sections with Name=.
// "keyboard-us" items are layouts; the rest (hangul, mozc, pinyin...) input methods.
func ParseFcitx5Profile(b []byte) InputConfig {
	var ic InputConfig
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line
			continue
		}
		if !strings.Contains(section, "/Items/") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Name" {
			ic.add(strings.TrimSpace(v))
		}
	}
	return ic
}

// ParseFcitx4Profile reads ~/.config/fcitx/profile: EnabledIMList=fcitx-keyboard-us:True,hangul:True,mozc:False
func ParseFcitx4Profile(b []byte) InputConfig {
	var ic InputConfig
	kv := ParseKeyValues(b)
	for _, item := range strings.Split(kv["EnabledIMList"], ",") {
		name, on, _ := strings.Cut(strings.TrimSpace(item), ":")
		if name == "" || !strings.EqualFold(on, "True") {
			continue
		}
		ic.add(strings.TrimPrefix(name, "fcitx-"))
	}
	return ic
}

func (ic *InputConfig) add(name string) {
	switch {
	case name == "":
	case strings.HasPrefix(name, "keyboard-"):
		ic.Layouts = append(ic.Layouts, strings.TrimPrefix(name, "keyboard-"))
	default:
		ic.InputMethods = append(ic.InputMethods, name)
	}
}

// ParseDconf finds GNOME input sources and ibus engines in a dconf keyfile (text) or a binary
// dconf database (~/.config/dconf/user), whose GVariant strings are NUL-terminated.
func ParseDconf(b []byte) InputConfig {
	var ic InputConfig
	take := func(kind, name string) {
		if kind == "xkb" {
			ic.Layouts = append(ic.Layouts, name)
		} else {
			ic.InputMethods = append(ic.InputMethods, name)
		}
	}
	for _, m := range dconfSource.FindAllSubmatch(b, -1) {
		take(string(m[1]), string(m[2]))
	}
	for _, m := range dconfBinary.FindAllSubmatch(b, -1) {
		take(string(m[1]), string(m[2]))
	}
	for _, m := range ibusPreload.FindAllSubmatch(b, -1) {
		for _, e := range strings.Split(string(m[1]), ",") {
			if e = strings.Trim(strings.TrimSpace(e), `'"`); e != "" {
				ic.InputMethods = append(ic.InputMethods, e)
			}
		}
	}
	return ic
}

// InputConfigFromHomes reads each home's fcitx5, fcitx4 and dconf files and the system dconf
// keyfiles under etc/dconf/db. Unreadable files are skipped.
func InputConfigFromHomes(etc string, homes []string) InputConfig {
	var all InputConfig
	merge := func(ic InputConfig) {
		all.Layouts = append(all.Layouts, ic.Layouts...)
		all.InputMethods = append(all.InputMethods, ic.InputMethods...)
	}
	for _, h := range homes {
		if b, err := readFile(filepath.Join(h, ".config", "fcitx5", "profile")); err == nil {
			merge(ParseFcitx5Profile(b))
		}
		if b, err := readFile(filepath.Join(h, ".config", "fcitx", "profile")); err == nil {
			merge(ParseFcitx4Profile(b))
		}
		if b, err := readFile(filepath.Join(h, ".config", "dconf", "user")); err == nil {
			merge(ParseDconf(b))
		}
	}
	keyfiles, _ := filepath.Glob(filepath.Join(etc, "dconf", "db", "*.d", "*"))
	for _, k := range keyfiles {
		if b, err := readFile(k); err == nil {
			merge(ParseDconf(b))
		}
	}
	return all
}

// Route is one IPv4 route from /proc/net/route.
type Route struct {
	Iface   string
	Dest    net.IP
	Gateway net.IP
	Mask    net.IPMask
}

// ParseProcNetRoute parses /proc/net/route (addresses in little-endian hex).
func ParseProcNetRoute(b []byte) ([]Route, error) {
	var out []Route
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return out, fmt.Errorf("route line %d: %d fields, want at least 8", i+1, len(f))
		}
		dst, err1 := hexIPv4(f[1])
		gw, err2 := hexIPv4(f[2])
		mask, err3 := hexIPv4(f[7])
		if err1 != nil || err2 != nil || err3 != nil {
			return out, fmt.Errorf("route line %d: bad address %q/%q/%q", i+1, f[1], f[2], f[7])
		}
		out = append(out, Route{Iface: f[0], Dest: dst, Gateway: gw, Mask: net.IPMask(mask.To4())})
	}
	return out, nil
}

func hexIPv4(s string) (net.IP, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return net.IPv4(b[0], b[1], b[2], b[3]), nil
}

// DefaultGateway returns the gateway and interface of the default route with a gateway.
func DefaultGateway(routes []Route) (ip, iface string) {
	for _, r := range routes {
		ones, _ := r.Mask.Size()
		if r.Dest.Equal(net.IPv4zero) && ones == 0 && !r.Gateway.Equal(net.IPv4zero) {
			return r.Gateway.String(), r.Iface
		}
	}
	return "", ""
}

// ParseProcNetArp parses /proc/net/arp. Flags 0x2 (complete) with 0x4 (permanent) map to the
// states "reachable", "permanent" and "incomplete".
func ParseProcNetArp(b []byte) ([]Neighbor, error) {
	var out []Neighbor
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue
		}
		if len(f) < 6 {
			return out, fmt.Errorf("arp line %d: %d fields, want 6", i+1, len(f))
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil {
			return out, fmt.Errorf("arp line %d: flags %q: %w", i+1, f[2], err)
		}
		state := "incomplete"
		switch {
		case flags&0x4 != 0:
			state = "permanent"
		case flags&0x2 != 0:
			state = "reachable"
		}
		out = append(out, Neighbor{Ip: f[0], Mac: NormalizeMac(f[3]), Interface: f[5], State: state})
	}
	return out, nil
}

// ParseIfInet6 parses /proc/net/if_inet6 into interface -> addresses ("fe80::1/64").
func ParseIfInet6(b []byte) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || len(f[0]) != 32 {
			continue
		}
		raw, err := hex.DecodeString(f[0])
		if err != nil {
			continue
		}
		plen, err := strconv.ParseUint(f[2], 16, 8)
		if err != nil {
			continue
		}
		out[f[5]] = append(out[f[5]], fmt.Sprintf("%s/%d", net.IP(raw).String(), plen))
	}
	return out
}

// LocalIPv4FromFibTrie returns the local ("/32 host LOCAL") addresses of /proc/net/fib_trie.
func LocalIPv4FromFibTrie(b []byte) []net.IP {
	var out []net.IP
	seen := map[string]bool{}
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "|-- ") {
			last = strings.TrimPrefix(t, "|-- ")
			continue
		}
		if strings.HasPrefix(t, "/32 host LOCAL") && last != "" && !seen[last] {
			if ip := net.ParseIP(last); ip != nil {
				seen[last] = true
				out = append(out, ip)
			}
		}
	}
	return out
}

// assignIPv4 maps local addresses to interfaces through the most specific route containing them.
func assignIPv4(locals []net.IP, routes []Route) map[string][]string {
	out := map[string][]string{}
	for _, ip := range locals {
		best, bestLen := "", -1
		for _, r := range routes {
			ones, bits := r.Mask.Size()
			if bits == 0 || ones == 0 {
				continue
			}
			if (&net.IPNet{IP: r.Dest, Mask: r.Mask}).Contains(ip) && ones > bestLen {
				best, bestLen = r.Iface, ones
			}
		}
		if ip.IsLoopback() {
			best, bestLen = "lo", 8
		}
		if best != "" {
			out[best] = append(out[best], fmt.Sprintf("%s/%d", ip, bestLen))
		}
	}
	return out
}

// InterfacesFromSysfs lists sys/class/net: name, MAC, and up (IFF_UP in flags).
func InterfacesFromSysfs(sys string) []Interface {
	dir := filepath.Join(sys, "class", "net")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Interface
	for _, e := range ents {
		name := e.Name()
		it := Interface{Name: name}
		if b, err := readFile(filepath.Join(dir, name, "address")); err == nil {
			it.Mac = NormalizeMac(strings.TrimSpace(string(b)))
		}
		if b, err := readFile(filepath.Join(dir, name, "flags")); err == nil {
			if v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 32); err == nil {
				it.Up = v&1 != 0
			}
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// VirtualizationFromFiles detects containers and hypervisors from Linux files: container markers
// (/.dockerenv, /run/.containerenv, container= in PID 1's environment, cgroup paths), DMI vendor
// and product names, and the cpuinfo hypervisor flag.
func VirtualizationFromFiles(root, proc, sys string) string {
	if _, err := os.Stat(filepath.Join(root, ".dockerenv")); err == nil {
		return "docker"
	}
	if _, err := os.Stat(filepath.Join(root, "run", ".containerenv")); err == nil {
		return "podman"
	}
	if b, err := readFile(filepath.Join(proc, "1", "environ")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return string(v)
			}
		}
	}
	if b, err := readFile(filepath.Join(proc, "1", "cgroup")); err == nil {
		s := string(b)
		for _, c := range []string{"docker", "kubepods", "lxc", "containerd", "libpod"} {
			if strings.Contains(s, c) {
				return c
			}
		}
	}
	var dmi string
	for _, f := range []string{"sys_vendor", "product_name", "board_vendor", "bios_vendor"} {
		if b, err := readFile(filepath.Join(sys, "class", "dmi", "id", f)); err == nil {
			dmi += " " + strings.ToLower(strings.TrimSpace(string(b)))
		}
	}
	for _, h := range []struct{ needle, name string }{
		{"vmware", "vmware"}, {"virtualbox", "virtualbox"}, {"innotek", "virtualbox"}, {"qemu", "qemu"},
		{"kvm", "kvm"}, {"microsoft corporation virtual", "hyper-v"}, {"hyper-v", "hyper-v"}, {"xen", "xen"},
		{"parallels", "parallels"}, {"amazon ec2", "kvm"}, {"google compute engine", "kvm"}, {"bochs", "bochs"},
		{"apple virtualization", "apple-virtualization"}, {"utm", "qemu"},
	} {
		if strings.Contains(dmi, h.needle) {
			return h.name
		}
	}
	if b, err := readFile(filepath.Join(proc, "cpuinfo")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "flags") && strings.Contains(line, " hypervisor") {
				return "vm"
			}
		}
	}
	return "none"
}

// Session is one logged-in session.
type Session struct {
	User, Tty, Host string
}

// ParseUtmp parses glibc's utmp records (384 bytes each on 64-bit and 32-bit Linux alike),
// keeping USER_PROCESS entries.
func ParseUtmp(b []byte) ([]Session, error) {
	const recLen = 384
	if len(b)%recLen != 0 {
		return nil, fmt.Errorf("utmp: %d bytes is not a whole number of %d-byte records", len(b), recLen)
	}
	var out []Session
	for off := 0; off+recLen <= len(b); off += recLen {
		r := b[off : off+recLen]
		if binary.LittleEndian.Uint16(r[0:2]) != 7 { // USER_PROCESS
			continue
		}
		cstr := func(x []byte) string {
			if i := bytes.IndexByte(x, 0); i >= 0 {
				x = x[:i]
			}
			return strings.ToValidUTF8(string(x), "?")
		}
		out = append(out, Session{Tty: cstr(r[8:40]), User: cstr(r[44:76]), Host: cstr(r[76:332])})
	}
	return out, nil
}
