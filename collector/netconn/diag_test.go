package netconn

import (
	"encoding/binary"
	"errors"
	"testing"
)

// diagMsg builds one netlink message of a sock_diag dump: an inet_diag_msg for a socket.
func diagMsg(family, state uint8, addr []byte, port uint16, inode uint32) []byte {
	m := make([]byte, nlmsgHdrLen+inetDiagMsgLen)
	ne := binary.NativeEndian
	ne.PutUint32(m[0:], uint32(len(m)))
	ne.PutUint16(m[4:], sockDiagByFam)
	p := m[nlmsgHdrLen:]
	p[0], p[1] = family, state
	binary.BigEndian.PutUint16(p[4:], port)
	copy(p[8:], addr)
	ne.PutUint32(p[68:], inode)
	return m
}

func nlControl(typ uint16, payload []byte) []byte {
	m := make([]byte, nlmsgHdrLen+len(payload))
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], typ)
	copy(m[nlmsgHdrLen:], payload)
	return m
}

func TestParseDiag(t *testing.T) {
	v6 := make([]byte, 16)
	v6[15] = 1 // ::1
	var dump []byte
	dump = append(dump, diagMsg(diagFamilyINET, tcpListenState, []byte{127, 0, 0, 1}, 5901, 4242)...)
	dump = append(dump, diagMsg(diagFamilyINET6, tcpListenState, v6, 3389, 4343)...)
	got, done, err := parseDiag(dump, nil)
	if err != nil || done || len(got) != 2 {
		t.Fatalf("parseDiag = %+v, done %v, %v", got, done, err)
	}
	if s := got[0]; s.LocalIP != "127.0.0.1" || s.LocalPort != 5901 || s.State != "LISTEN" || s.Inode != 4242 || s.Protocol != "tcp" || s.RemoteIP != "" {
		t.Errorf("IPv4 listener %+v", s)
	}
	if s := got[1]; s.LocalIP != "::1" || s.LocalPort != 3389 || s.Inode != 4343 {
		t.Errorf("IPv6 listener %+v", s)
	}
	if _, done, err := parseDiag(nlControl(nlmsgDone, make([]byte, 4)), nil); !done || err != nil {
		t.Errorf("NLMSG_DONE: done %v, %v", done, err)
	}
	errno := make([]byte, 20)
	binary.NativeEndian.PutUint32(errno, uint32(0xfffffffe)) // -ENOENT
	var refused diagError
	if _, _, err := parseDiag(nlControl(nlmsgError, errno), nil); !errors.As(err, &refused) || refused != 2 {
		t.Errorf("NLMSG_ERROR: %v", err)
	}
	for name, bad := range map[string][]byte{
		"short header":   dump[:10],
		"length too big": append(append([]byte{}, dump[:4]...), make([]byte, 20)...),
		"short message":  nlControl(sockDiagByFam, make([]byte, 10)),
		"bad family":     diagMsg(7, tcpListenState, nil, 1, 1),
	} {
		if _, _, err := parseDiag(bad, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzParseDiag feeds hostile netlink datagrams to the sock_diag parser: an error, never a panic.
func FuzzParseDiag(f *testing.F) {
	f.Add(diagMsg(diagFamilyINET, tcpListenState, []byte{127, 0, 0, 1}, 5901, 4242))
	f.Add(nlControl(nlmsgDone, make([]byte, 4)))
	f.Add(nlControl(nlmsgError, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, _ := parseDiag(b, nil)
		if len(got) > len(b)/(nlmsgHdrLen+inetDiagMsgLen) {
			t.Fatalf("%d sockets from %d bytes", len(got), len(b))
		}
	})
}
