package host

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
)

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
