package netconn

import (
	"encoding/binary"
	"strings"
	"testing"
)

// Rows as a little-endian Linux prints them.
const procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1A0A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0202000A:D2F0 22D8B85D:01BB 01 00000000:00000000 02:000004B1 00000000  1000        0 777 2 0000000000000000 20 4 30 10 -1
`

const procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 20 4 0 10 -1
   2: 000080FE00000000FF00C8A8EFBEADDE:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0
`

func TestParseProcNet(t *testing.T) {
	got, err := parseProcNet([]byte(procTCP), "tcp", binary.LittleEndian, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %+v", err, got)
	}
	if s := got[0]; s.LocalIP != "127.0.0.1" || s.LocalPort != 6666 || s.RemoteIP != "" || s.State != "LISTEN" || s.Inode != 4242 {
		t.Errorf("listener: %+v", s)
	}
	if s := got[1]; s.LocalIP != "10.0.2.2" || s.LocalPort != 54000 || s.RemoteIP != "93.184.216.34" || s.RemotePort != 443 || s.State != "ESTABLISHED" {
		t.Errorf("connection: %+v", s)
	}
	got, err = parseProcNet([]byte(procTCP6), "tcp", binary.LittleEndian, nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %+v", err, got)
	}
	if s := got[0]; s.LocalIP != "::" || s.LocalPort != 22 || s.RemoteIP != "" {
		t.Errorf("v6 listener: %+v", s)
	}
	if s := got[1]; s.LocalIP != "127.0.0.1" || s.RemoteIP != "127.0.0.1" || s.RemotePort != 41668 {
		t.Errorf("v4-mapped: %+v", s)
	}
	if s := got[2]; s.LocalIP != "fe80::a8c8:ff:dead:beef" || s.LocalPort != 80 {
		t.Errorf("v6 address: %+v", s)
	}
	udp, _ := parseProcNet([]byte(strings.Replace(procTCP, " 0A ", " 07 ", 1)), "udp", binary.LittleEndian, nil)
	if udp[0].State != "" || udp[0].Protocol != "udp" {
		t.Errorf("udp: %+v", udp[0])
	}
	// A big-endian machine prints the words the other way round.
	be, _ := parseProcNet([]byte(strings.Replace(procTCP, "0100007F:1A0A", "7F000001:1A0A", 1)), "tcp", binary.BigEndian, nil)
	if be[0].LocalIP != "127.0.0.1" {
		t.Errorf("big-endian: %+v", be[0])
	}
}

func TestParseProcNetBadRows(t *testing.T) {
	bad := "header\n   0: 0100007F 00000000:0000 0A 0 0 0 0 0 1 1\n   1: zz:0000 00000000:0000 0A 0 0 0 0 0 1 1\n   2: 0100007F:0001 00000000:0000 0A 0 0 0 0 0 x 1\n   3: 0100007F:0016 00000000:0000 0A 0 0 0 0 0 7 1\n"
	got, err := parseProcNet([]byte(bad), "tcp", binary.LittleEndian, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "line 2:") {
		t.Errorf("error %v should name line 2", err)
	}
	if len(got) != 1 || got[0].LocalPort != 22 {
		t.Errorf("good rows must survive bad ones: %+v", got)
	}
}

func FuzzParseProcNet(f *testing.F) {
	f.Add([]byte(procTCP))
	f.Add([]byte(procTCP6))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseProcNet(data, "tcp", binary.LittleEndian, nil)
	})
}
