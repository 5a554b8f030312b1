package dnsnames

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// serveDNS answers every A query on conn (UDP) or ln (TCP) with addr.
func serveDNS(t *testing.T, pc net.PacketConn, ln net.Listener, addr [4]byte) {
	reply := func(q []byte) []byte {
		var p dnsmessage.Parser
		h, err := p.Start(q)
		if err != nil {
			return nil
		}
		qs, err := p.AllQuestions()
		if err != nil || len(qs) != 1 {
			return nil
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true})
		_ = b.StartQuestions()
		_ = b.Question(qs[0])
		_ = b.StartAnswers()
		if qs[0].Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr})
		}
		m, _ := b.Finish()
		return m
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if m := reply(buf[:n]); m != nil {
				_, _ = pc.WriteTo(m, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var l [2]byte
				if _, err := c.Read(l[:]); err != nil {
					return
				}
				q := make([]byte, int(l[0])<<8|int(l[1]))
				if _, err := c.Read(q); err != nil {
					return
				}
				m := reply(q)
				_, _ = c.Write(append([]byte{byte(len(m) >> 8), byte(len(m))}, m...))
			}()
		}
	}()
}

// TestCaptureLive runs the packet capture for real: a DNS server on a loopback address, port 53
// (as the 127.0.0.53 stub resolver), answers Go's resolver over UDP and TCP; the capture must
// learn both names and nothing else.
func TestCaptureLive(t *testing.T) {
	const server = "127.83.0.53"
	pc, err := net.ListenPacket("udp", server+":53")
	if err != nil {
		t.Skipf("cannot serve DNS on %s:53 (needs root): %v", server, err)
	}
	defer pc.Close()
	ln, err := net.Listen("tcp", server+":53")
	if err != nil {
		t.Skipf("cannot serve DNS over TCP on %s:53: %v", server, err)
	}
	defer ln.Close()
	serveDNS(t, pc, ln, [4]byte{198, 18, 7, 9})

	c := NewCache(0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Capture(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Capture: %v", err)
		}
	}()
	select {
	case err := <-done:
		if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
			t.Skipf("packet capture needs CAP_NET_RAW: %v", err)
		}
		t.Fatalf("Capture ended at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	for _, network := range []string{"udp", "tcp"} {
		name := network + "-relay.example.net"
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server+":53")
		}}
		addrs, err := r.LookupNetIP(context.Background(), "ip4", name)
		if err != nil || len(addrs) != 1 {
			t.Fatalf("lookup %s over %s: %v %v", name, network, addrs, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		got := ""
		for time.Now().Before(deadline) {
			if got, _ = c.Lookup(netip.MustParseAddr("198.18.7.9"), time.Now()); got == name {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != name {
			t.Errorf("over %s: the capture named 198.18.7.9 %q, want %q (stats %+v)", network, got, name, c.Stats())
		}
	}
	// Loopback packets are seen once (as received), not twice.
	if st := c.Stats(); st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
}
