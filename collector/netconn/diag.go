package netconn

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The kernel's sock_diag netlink interface for inet sockets (linux/netlink.h, linux/sock_diag.h,
// linux/inet_diag.h). The wire format is parsed here, on every OS, so it can be tested and fuzzed
// anywhere; only Linux sends the requests (diag_linux.go).
const (
	nlmsgHdrLen     = 16
	nlmsgError      = 2
	nlmsgDone       = 3
	nlmFRequest     = 0x1
	nlmFDump        = 0x300
	sockDiagByFam   = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagReqLen  = 56 // struct inet_diag_req_v2
	inetDiagMsgLen  = 72 // struct inet_diag_msg
	tcpListenState  = 10 // TCP_LISTEN
	ipprotoTCP      = 6
	diagFamilyINET  = 2  // AF_INET
	diagFamilyINET6 = 10 // AF_INET6
)

// diagError is the kernel's refusal of a sock_diag request: an errno (ENOENT when the address
// family is not there, such as IPv6 disabled).
type diagError int32

func (e diagError) Error() string { return fmt.Sprintf("sock_diag: kernel error %d", int32(e)) }

// diagRequest builds the request that dumps the TCP sockets of one address family in the states
// of the states bit mask (1 << TCP_LISTEN for the listeners), in the host's byte order.
func diagRequest(family uint8, states uint32, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFam)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0], r[1] = family, ipprotoTCP
	ne.PutUint32(r[4:], states)
	return b
}

// parseDiag appends the sockets of one netlink datagram of a sock_diag dump to dst (as TCP
// sockets, with their inode), and reports whether the dump is over. A truncated or malformed
// message is an error naming its offset; the kernel's error answer is returned as an error.
func parseDiag(b []byte, dst []procSocket) ([]procSocket, bool, error) {
	ne := binary.NativeEndian
	for off := 0; off < len(b); {
		if len(b)-off < nlmsgHdrLen {
			return dst, false, fmt.Errorf("sock_diag message at offset %d: %d bytes, shorter than its header", off, len(b)-off)
		}
		n := int(ne.Uint32(b[off:]))
		typ := ne.Uint16(b[off+4:])
		if n < nlmsgHdrLen || n > len(b)-off {
			return dst, false, fmt.Errorf("sock_diag message at offset %d: length %d, %d bytes left", off, n, len(b)-off)
		}
		payload := b[off+nlmsgHdrLen : off+n]
		switch typ {
		case nlmsgDone:
			return dst, true, nil
		case nlmsgError:
			if len(payload) < 4 {
				return dst, false, fmt.Errorf("sock_diag error message at offset %d: %d bytes", off, len(payload))
			}
			if errno := int32(ne.Uint32(payload)); errno != 0 {
				return dst, false, diagError(-errno)
			}
		case sockDiagByFam:
			s, err := parseDiagMsg(payload)
			if err != nil {
				return dst, false, fmt.Errorf("sock_diag message at offset %d: %w", off, err)
			}
			dst = append(dst, s)
		}
		off += (n + 3) &^ 3 // messages are 4-byte aligned
	}
	return dst, false, nil
}

// parseDiagMsg parses one struct inet_diag_msg (ports and addresses in network byte order).
func parseDiagMsg(m []byte) (procSocket, error) {
	if len(m) < inetDiagMsgLen {
		return procSocket{}, fmt.Errorf("inet_diag_msg of %d bytes, want %d", len(m), inetDiagMsgLen)
	}
	var ip netip.Addr
	switch m[0] {
	case diagFamilyINET:
		ip = netip.AddrFrom4([4]byte(m[8:12]))
	case diagFamilyINET6:
		ip = netip.AddrFrom16([16]byte(m[8:24]))
	default:
		return procSocket{}, fmt.Errorf("address family %d", m[0])
	}
	s := procSocket{
		Socket: Socket{Protocol: "tcp", LocalIP: normIP(ip.String()), LocalPort: int(binary.BigEndian.Uint16(m[4:]))},
		Inode:  uint64(binary.NativeEndian.Uint32(m[68:])),
	}
	if int(m[1]) < len(tcpStates) {
		s.State = tcpStates[m[1]]
	}
	if dport := binary.BigEndian.Uint16(m[6:]); dport != 0 {
		var rip netip.Addr
		if m[0] == diagFamilyINET {
			rip = netip.AddrFrom4([4]byte(m[24:28]))
		} else {
			rip = netip.AddrFrom16([16]byte(m[24:40]))
		}
		s.RemoteIP, s.RemotePort = normIP(rip.String()), int(dport)
	}
	return s, nil
}
