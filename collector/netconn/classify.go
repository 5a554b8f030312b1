package netconn

import (
	"net/netip"
	"sort"
	"syscall"

	gnet "github.com/shirou/gopsutil/v3/net"

	"github.com/vigilhq/vigil/collector/process"
)

// Socket is one socket as listed by the OS.
type Socket struct {
	Protocol   string // "tcp" or "udp"
	LocalIP    string
	LocalPort  int
	RemoteIP   string // "" when not connected
	RemotePort int
	State      string // TCP state as gopsutil names it (LISTEN, ESTABLISHED...); "" for UDP
	PID        int    // 0 when the OS does not tell (TIME_WAIT, another user's socket)
}

// fromGopsutil converts gopsutil's connection list, dropping what is not TCP or UDP.
func fromGopsutil(stats []gnet.ConnectionStat) []Socket {
	out := make([]Socket, 0, len(stats))
	for _, c := range stats {
		s := Socket{
			LocalIP: normIP(c.Laddr.IP), LocalPort: int(c.Laddr.Port),
			RemoteIP: normIP(c.Raddr.IP), RemotePort: int(c.Raddr.Port),
			PID: int(c.Pid),
		}
		switch c.Type {
		case syscall.SOCK_STREAM:
			s.Protocol, s.State = "tcp", c.Status
		case syscall.SOCK_DGRAM:
			s.Protocol = "udp"
		default:
			continue
		}
		if s.RemotePort == 0 && isUnspecified(s.RemoteIP) {
			s.RemoteIP = ""
		}
		out = append(out, s)
	}
	return out
}

// normIP canonicalises an address: IPv4-mapped IPv6 becomes IPv4, zones and case are
// normalised. Unparseable text is kept as the OS gave it.
func normIP(s string) string {
	if s == "" {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().String()
}

func isUnspecified(ip string) bool {
	if ip == "" {
		return true
	}
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsUnspecified()
}

func isLoopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsLoopback()
}

// connKey identifies a socket across polls: protocol and both ends (the state is left out so a
// connection moving from SYN_SENT to ESTABLISHED is not new).
type connKey struct {
	proto                 string
	listen                bool
	localIP, remoteIP     string
	localPort, remotePort int
}

// conn is a classified socket.
type conn struct {
	Socket
	key       connKey
	listening bool
	initiated bool
}

// classify decides for each socket whether it is a listener, an inbound or an outbound
// connection. A connection is inbound when its local port is one this host listens on (a TCP
// LISTEN socket, or an unconnected UDP socket) on its local address or on a wildcard address.
// portKey is a listening address: protocol, local address ("" for a wildcard bind) and port.
type portKey struct {
	proto string
	ip    string
	port  int
}

// listenerKey is the portKey of a TCP listener bound to ip:port.
func listenerKey(ip string, port int) portKey {
	if isUnspecified(ip) {
		ip = ""
	}
	return portKey{"tcp", ip, port}
}

// ipOr returns the key's address, or wildcard for a wildcard bind.
func (k portKey) ipOr(wildcard string) string {
	if k.ip == "" {
		return wildcard
	}
	return k.ip
}

// protocolOf returns the remote-desktop protocol c is about (see listenerOf), or "".
func (tr *tracker) protocolOf(c *conn) string {
	if k, ok := listenerOf(c, tr.rd); ok {
		return tr.rd[k]
	}
	return ""
}

// listenerOf returns the key in m of the TCP listener c is about: a listener's own, an inbound
// connection's listener, or for a connection this host opened to one of its own listeners
// (over loopback, as a tunnel does, or to an address one of m's listeners is bound to), that
// listener.
func listenerOf[V any](c *conn, m map[portKey]V) (portKey, bool) {
	if c.Protocol != "tcp" || len(m) == 0 {
		return portKey{}, false
	}
	ip, port := c.LocalIP, c.LocalPort
	if c.initiated {
		ip, port = c.RemoteIP, c.RemotePort
	}
	if k := (portKey{"tcp", ip, port}); has(m, k) {
		return k, true
	}
	if c.initiated && !isLoopback(ip) && !hasIP(m, ip) {
		return portKey{}, false
	}
	k := portKey{"tcp", "", port}
	return k, has(m, k)
}

func has[V any](m map[portKey]V, k portKey) bool {
	_, ok := m[k]
	return ok
}

// hasIP reports whether ip is the address of one of m's listeners (so an address of this host).
func hasIP[V any](m map[portKey]V, ip string) bool {
	for k := range m {
		if k.ip == ip {
			return true
		}
	}
	return false
}

func classify(socks []Socket, ignoreLoopback bool) []conn {
	listening := make(map[portKey]bool)
	isListener := func(s *Socket) bool {
		if s.Protocol == "tcp" {
			return s.State == "LISTEN"
		}
		return s.RemoteIP == "" && s.LocalPort != 0
	}
	for i := range socks {
		s := &socks[i]
		if isListener(s) {
			ip := s.LocalIP
			if isUnspecified(ip) {
				ip = ""
			}
			listening[portKey{s.Protocol, ip, s.LocalPort}] = true
		}
	}
	out := make([]conn, 0, len(socks))
	for i := range socks {
		s := socks[i]
		c := conn{Socket: s}
		switch {
		case isListener(&s):
			if ignoreLoopback && isLoopback(s.LocalIP) {
				continue
			}
			c.listening = true
		case s.RemoteIP == "":
			continue // bound or closed, neither listening nor connected
		default:
			if ignoreLoopback && isLoopback(s.LocalIP) && isLoopback(s.RemoteIP) {
				continue
			}
			inbound := listening[portKey{s.Protocol, s.LocalIP, s.LocalPort}] || listening[portKey{s.Protocol, "", s.LocalPort}]
			c.initiated = !inbound
		}
		c.key = connKey{proto: s.Protocol, listen: c.listening, localIP: s.LocalIP, localPort: s.LocalPort, remoteIP: s.RemoteIP, remotePort: s.RemotePort}
		out = append(out, c)
	}
	// Listeners first, so a snapshot reads as "what accepts" then "what talks".
	sort.SliceStable(out, func(i, j int) bool { return out[i].listening && !out[j].listening })
	return out
}

// fields renders the event fields in Sysmon's convention.
func (c *conn) fields(owner *process.Owner) map[string]any {
	f := make(map[string]any, 11)
	f["Protocol"] = c.Protocol
	f["Initiated"] = c.initiated
	if c.State != "" {
		f["State"] = c.State
	}
	switch {
	case c.listening:
		f["DestinationIp"], f["DestinationPort"] = c.LocalIP, c.LocalPort
	case c.initiated:
		f["SourceIp"], f["SourcePort"] = c.LocalIP, c.LocalPort
		f["DestinationIp"], f["DestinationPort"] = c.RemoteIP, c.RemotePort
	default:
		f["SourceIp"], f["SourcePort"] = c.RemoteIP, c.RemotePort
		f["DestinationIp"], f["DestinationPort"] = c.LocalIP, c.LocalPort
	}
	if c.PID > 0 {
		f["ProcessId"] = c.PID
	}
	if owner != nil {
		if owner.Image != "" {
			f["Image"] = owner.Image
		}
		if owner.User != "" {
			f["User"] = owner.User
		}
	}
	return f
}
