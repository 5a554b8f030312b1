package netconn

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
)

// procSocket is one row of a Linux /proc/net/{tcp,tcp6,udp,udp6} table.
type procSocket struct {
	Socket
	Inode uint64
}

// tcpStates names the kernel's TCP states as gopsutil does.
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
	7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}

// parseProcNet parses one /proc/net socket table. proto is "tcp" or "udp"; order is the byte
// order of the machine that wrote it (the kernel prints addresses as host-order words). Rows
// that do not parse are skipped; the error names the first one.
func parseProcNet(data []byte, proto string, order binary.ByteOrder, dst []procSocket) ([]procSocket, error) {
	var firstErr error
	line := 0
	for len(data) > 0 {
		var row []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			row, data = data[:i], data[i+1:]
		} else {
			row, data = data, nil
		}
		line++
		if line == 1 || len(bytes.TrimSpace(row)) == 0 {
			continue // header
		}
		s, err := parseProcNetRow(row, proto, order)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("line %d: %w", line, err)
			}
			continue
		}
		dst = append(dst, s)
	}
	return dst, firstErr
}

func parseProcNetRow(row []byte, proto string, order binary.ByteOrder) (procSocket, error) {
	var f [10][]byte
	n := 0
	for _, w := range bytes.Fields(row) {
		if n == len(f) {
			break
		}
		f[n] = w
		n++
	}
	if n < 10 {
		return procSocket{}, fmt.Errorf("%d fields, want at least 10", n)
	}
	lip, lport, err := parseHexAddr(f[1], order)
	if err != nil {
		return procSocket{}, fmt.Errorf("local address: %w", err)
	}
	rip, rport, err := parseHexAddr(f[2], order)
	if err != nil {
		return procSocket{}, fmt.Errorf("remote address: %w", err)
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return procSocket{}, fmt.Errorf("state %q", f[3])
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return procSocket{}, fmt.Errorf("inode %q", f[9])
	}
	s := procSocket{Socket: Socket{Protocol: proto, LocalIP: normIP(lip.String()), LocalPort: lport}, Inode: inode}
	if rport != 0 || !rip.IsUnspecified() {
		s.RemoteIP, s.RemotePort = normIP(rip.String()), rport
	}
	if proto == "tcp" && int(st) < len(tcpStates) {
		s.State = tcpStates[st]
	}
	return s, nil
}

// parseHexAddr parses "0100007F:0019" (IPv4) or a 32-digit IPv6 address and a port.
func parseHexAddr(b []byte, order binary.ByteOrder) (netip.Addr, int, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.Addr{}, 0, fmt.Errorf("%q has no port", b)
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("port %q", b[i+1:])
	}
	var raw [16]byte
	hexAddr := b[:i]
	if len(hexAddr) != 8 && len(hexAddr) != 32 {
		return netip.Addr{}, 0, fmt.Errorf("address %q: want 8 or 32 hex digits", hexAddr)
	}
	if _, err := hex.Decode(raw[:len(hexAddr)/2], hexAddr); err != nil {
		return netip.Addr{}, 0, fmt.Errorf("address %q: %w", hexAddr, err)
	}
	// Each 32-bit word was printed as a host-order integer: restore network order.
	for w := 0; w < len(hexAddr)/8; w++ {
		word := binary.BigEndian.Uint32(raw[w*4:]) // the value as printed
		order.PutUint32(raw[w*4:], word)           // the bytes as they were in memory
	}
	if len(hexAddr) == 8 {
		return netip.AddrFrom4([4]byte(raw[:4])), int(port), nil
	}
	return netip.AddrFrom16(raw), int(port), nil
}
