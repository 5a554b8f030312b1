package dnsnames

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// readPcap returns the IP packets of a pcap file captured with `tcpdump -i any` (Linux cooked
// capture v2 link type: 20-byte link header).
func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap file", path)
	}
	if lt := binary.LittleEndian.Uint32(data[20:]); lt != 276 {
		t.Fatalf("%s: link type %d, want 276 (LINUX_SLL2)", path, lt)
	}
	var out [][]byte
	for off := 24; off+16 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		rec := data[off+16 : off+16+n]
		off += 16 + n
		if len(rec) > 20 {
			out = append(out, rec[20:])
		}
	}
	return out
}

// TestCapturedResolverAnswers replays DNS traffic captured on this project's build machine
// (`tcpdump -i any -w port 53` around getent and Python lookups): A answers, empty AAAA
// answers, and the queries themselves, which must be ignored.
func TestCapturedResolverAnswers(t *testing.T) {
	c := NewCache(0, 0)
	pkts := readPcap(t, "testdata/resolver-sll2.pcap")
	if len(pkts) != 16 {
		t.Fatalf("%d packets, want 16", len(pkts))
	}
	for i, p := range pkts {
		if err := c.AddPacket(p, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Errorf("packet %d: %v", i, err)
		}
	}
	st := c.Stats()
	if st.Answers != 8 || st.Records != 4 || st.Malformed != 0 || st.Entries != 1 {
		t.Errorf("stats %+v, want 8 answers, 4 records, 1 entry", st)
	}
	// Every name resolved to the same address on that machine: the last lookup names it.
	if name, ok := c.Lookup(netip.MustParseAddr("203.0.113.80"), t0.Add(time.Second)); !ok || name != "registry.npmjs.org" {
		t.Errorf("Lookup = %q, %v; want registry.npmjs.org", name, ok)
	}
	if name, ok := c.LookupString("::ffff:203.0.113.80"); ok {
		t.Errorf("entry still alive at the wall clock, long after the captured time: %q", name)
	}
}

// answer builds a DNS response for q with the given records (a CNAME chain, A and AAAA).
func answer(t testing.TB, q string, qtype dnsmessage.Type, rcode dnsmessage.RCode, rrs ...dnsmessage.Resource) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true, RCode: rcode})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(q), Type: qtype, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	for _, r := range rrs {
		switch body := r.Body.(type) {
		case *dnsmessage.AResource:
			must(b.AResource(r.Header, *body))
		case *dnsmessage.AAAAResource:
			must(b.AAAAResource(r.Header, *body))
		case *dnsmessage.CNAMEResource:
			must(b.CNAMEResource(r.Header, *body))
		}
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

func rr(name string, ttl uint32, body dnsmessage.ResourceBody) dnsmessage.Resource {
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: ttl}, Body: body}
}

func TestMessageCNAMEChainNamesTheQuestion(t *testing.T) {
	c := NewCache(0, time.Minute)
	msg := answer(t, "Relay-12.NET.AnyDesk.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess,
		rr("relay-12.net.anydesk.com.", 300, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("edge.cdn.example.")}),
		rr("edge.cdn.example.", 30, &dnsmessage.AResource{A: [4]byte{198, 51, 100, 7}}),
		rr("edge.cdn.example.", 30, &dnsmessage.AResource{A: [4]byte{198, 51, 100, 8}}),
	)
	if err := c.AddMessage(msg, t0); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"198.51.100.7", "198.51.100.8"} {
		if name, ok := c.Lookup(netip.MustParseAddr(ip), t0.Add(89*time.Second)); !ok || name != "relay-12.net.anydesk.com" {
			t.Errorf("%s: %q, %v", ip, name, ok)
		}
	}
	// TTL 30 s + grace 1 min: gone at 91 s.
	if name, ok := c.Lookup(netip.MustParseAddr("198.51.100.7"), t0.Add(91*time.Second)); ok {
		t.Errorf("expired entry answered %q", name)
	}
}

func TestMessageIgnored(t *testing.T) {
	c := NewCache(0, 0)
	cases := map[string][]byte{
		"NXDOMAIN": answer(t, "nope.example.", dnsmessage.TypeA, dnsmessage.RCodeNameError),
		"MX query": answer(t, "example.com.", dnsmessage.TypeMX, dnsmessage.RCodeSuccess),
	}
	q := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1})
	_ = q.StartQuestions()
	_ = q.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("x.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	cases["a query"], _ = q.Finish()
	for name, msg := range cases {
		if err := c.AddMessage(msg, t0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st := c.Stats(); st.Records != 0 {
		t.Errorf("records added from ignored messages: %+v", st)
	}
	if err := c.AddMessage([]byte{1, 2, 3}, t0); err == nil {
		t.Error("3-byte message: no error")
	}
}

// ipv4 wraps a transport segment in an IPv4 header.
func ipv4(proto byte, l4 []byte) []byte {
	h := make([]byte, 20, 20+len(l4))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{10, 0, 0, 53})
	copy(h[16:], []byte{10, 0, 0, 2})
	return append(h, l4...)
}

func ipv6(proto byte, l4 []byte) []byte {
	h := make([]byte, 40, 40+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6], h[7] = proto, 64
	return append(h, l4...)
}

func udp(src uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, src)
	binary.BigEndian.PutUint16(h[2:], 40000)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func tcp(src uint16, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, src)
	binary.BigEndian.PutUint16(h[2:], 40000)
	h[12] = 5 << 4
	return append(h, payload...)
}

func framed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func TestPacketTransports(t *testing.T) {
	a := answer(t, "relay.rustdesk.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess,
		rr("relay.rustdesk.com.", 60, &dnsmessage.AResource{A: [4]byte{203, 0, 113, 9}}))
	aaaa := answer(t, "ssh.tmate.io.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess,
		rr("ssh.tmate.io.", 60, &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::9").As16()}))
	cases := []struct {
		name, ip, want string
		pkt            []byte
	}{
		{"udp over ipv4", "203.0.113.9", "relay.rustdesk.com", ipv4(17, udp(53, a))},
		{"udp over ipv6", "2001:db8::9", "ssh.tmate.io", ipv6(17, udp(53, aaaa))},
		{"two messages in one tcp segment", "2001:db8::9", "ssh.tmate.io", ipv4(6, tcp(53, framed(a, aaaa)))},
		{"tcp over ipv6", "203.0.113.9", "relay.rustdesk.com", ipv6(6, tcp(53, framed(a)))},
		{"not from port 53", "203.0.113.9", "", ipv4(17, udp(5353, a))},
		{"truncated tcp message", "203.0.113.9", "", ipv4(6, tcp(53, framed(a)[:20]))},
	}
	for _, tc := range cases {
		c := NewCache(0, 0)
		if err := c.AddPacket(tc.pkt, t0); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		got, _ := c.Lookup(netip.MustParseAddr(tc.ip), t0)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	frag := ipv4(17, udp(53, a))
	frag[6] = 0x20 // more fragments
	c := NewCache(0, 0)
	if err := c.AddPacket(frag, t0); err != nil || c.Stats().Records != 0 {
		t.Errorf("fragment read: %v, %+v", err, c.Stats())
	}
	for _, bad := range [][]byte{{0x45}, {0x70, 0, 0}, ipv4(17, []byte{0, 53})} {
		if err := c.AddPacket(bad, t0); err == nil {
			t.Errorf("malformed packet % x: no error", bad)
		}
	}
	if c.Stats().Malformed != 3 {
		t.Errorf("malformed count %d, want 3", c.Stats().Malformed)
	}
}

func TestCacheBoundedAndTTLCapped(t *testing.T) {
	c := NewCache(64, 0)
	for i := 0; i < 1000; i++ {
		c.Add("h.example", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), time.Hour, t0)
		if n := c.Stats().Entries; n > 64 {
			t.Fatalf("%d entries after %d adds, bound 64", n, i+1)
		}
	}
	if st := c.Stats(); st.Evicted == 0 {
		t.Errorf("nothing evicted: %+v", st)
	}
	// Expired entries go first.
	c = NewCache(2, 0)
	c.Add("old.example", netip.MustParseAddr("10.0.0.1"), time.Second, t0)
	c.Add("live.example", netip.MustParseAddr("10.0.0.2"), time.Hour, t0)
	c.Add("new.example", netip.MustParseAddr("10.0.0.3"), time.Hour, t0.Add(time.Minute))
	if _, ok := c.Lookup(netip.MustParseAddr("10.0.0.2"), t0.Add(time.Minute)); !ok {
		t.Error("a live entry was evicted while an expired one could go")
	}
	// A TTL of 68 years is capped at a day.
	c.Add("far.example", netip.MustParseAddr("10.0.0.4"), 1<<31*time.Second, t0)
	if _, ok := c.Lookup(netip.MustParseAddr("10.0.0.4"), t0.Add(25*time.Hour)); ok {
		t.Error("TTL not capped")
	}
}

func FuzzAddPacket(f *testing.F) {
	a := answer(f, "relay.rustdesk.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess,
		rr("relay.rustdesk.com.", 60, &dnsmessage.AResource{A: [4]byte{203, 0, 113, 9}}))
	f.Add(ipv4(17, udp(53, a)))
	f.Add(ipv6(6, tcp(53, framed(a, a))))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		c := NewCache(8, 0)
		_ = c.AddPacket(pkt, t0)
		if c.Stats().Entries > 8 {
			t.Fatal("bound exceeded")
		}
	})
}
