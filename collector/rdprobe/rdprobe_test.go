package rdprobe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// serve runs handle for every connection to a new loopback listener.
func serve(t *testing.T, handle func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func wsFrame(opcode byte, payload []byte) []byte {
	return append([]byte{0x80 | opcode, byte(len(payload))}, payload...)
}

// wsGateway answers an upgrade with 101 and sends first as one frame.
func wsGateway(proto string, first []byte) func(net.Conn) {
	return func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: "+proto+"\r\n\r\n")
		_, _ = c.Write(first)
		_, _ = io.Copy(io.Discard, c)
	}
}

func TestProbeProtocols(t *testing.T) {
	rfb := []byte("RFB 003.008\n")
	cases := []struct {
		name   string
		handle func(net.Conn)
		want   string
		silent bool // Probe must return ErrSilent
	}{
		{"RFB server speaks first", func(c net.Conn) { _, _ = c.Write(rfb); _, _ = io.Copy(io.Discard, c) }, RFB, false},
		{"RFB greeting in two writes", func(c net.Conn) {
			_, _ = c.Write(rfb[:5])
			time.Sleep(50 * time.Millisecond)
			_, _ = c.Write(rfb[5:])
			_, _ = io.Copy(io.Discard, c)
		}, RFB, false},
		{"libvncserver: waits 100 ms for a WebSocket handshake, drops other first bytes, then greets", func(c net.Conn) {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, _ := c.Read(make([]byte, 4)); n > 0 {
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			_, _ = c.Write(rfb)
			_, _ = io.Copy(io.Discard, c)
		}, RFB, false},
		{"RDP confirm with negotiation response", func(c net.Conn) {
			req := make([]byte, 19)
			if _, err := io.ReadFull(c, req); err != nil || req[5] != 0xe0 {
				return
			}
			_, _ = c.Write([]byte{3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0})
			_, _ = io.Copy(io.Discard, c)
		}, RDP, false},
		{"websockify in front of a VNC server (binary)", wsGateway("binary", wsFrame(2, rfb)), WebSocketRFB, false},
		{"old websockify base64 subprotocol", wsGateway("base64", wsFrame(1, []byte(base64.StdEncoding.EncodeToString(rfb)))), WebSocketRFB, false},
		{"SSH banner (must not match)", func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.2p1\r\n"); _, _ = io.Copy(io.Discard, c) }, "", false},
		{"a WebSocket echo server (must not match)", wsGateway("binary", wsFrame(2, []byte("hello, world"))), "", false},
		{"an HTTP server (must not match)", func(c net.Conn) {
			_, _ = http.ReadRequest(bufio.NewReader(c))
			_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		}, "", false},
		{"silent server (must not match, ErrSilent)", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, "", true},
		{"closes at once (must not match)", func(c net.Conn) {}, "", false},
		{"RFB-like garbage (must not match)", func(c net.Conn) { _, _ = io.WriteString(c, "RFB 3.8\nxxxxxx"); _, _ = io.Copy(io.Discard, c) }, "", false},
	}
	p := New(Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.handle)
			start := time.Now()
			got, err := p.Probe(context.Background(), addr)
			if tc.silent != errors.Is(err, ErrSilent) || (!tc.silent && err != nil) {
				t.Fatalf("Probe error %v, want ErrSilent %v", err, tc.silent)
			}
			if got != tc.want {
				t.Errorf("Probe = %q, want %q", got, tc.want)
			}
			t.Logf("probe took %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestProbeWebServersDecide checks that a web server, plain or TLS (Go's closes a connection
// whose first bytes are not TLS without a word, and answers an HTTP request with a 400), is
// told apart at its HTTP answer rather than waited out, and is not taken for a silent listener
// (which the network source asks again).
func TestProbeWebServersDecide(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	plain, tlsServer := httptest.NewServer(handler), httptest.NewTLSServer(handler)
	t.Cleanup(plain.Close)
	t.Cleanup(tlsServer.Close)
	p := New(Config{Timeout: 10 * time.Minute})
	for name, url := range map[string]string{"HTTP": plain.URL, "HTTPS": tlsServer.URL} {
		t.Run(name, func(t *testing.T) {
			addr := netip.MustParseAddrPort(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"))
			type result struct {
				proto string
				err   error
			}
			done := make(chan result, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				proto, err := p.Probe(ctx, addr)
				done <- result{proto, err}
			}()
			select {
			case r := <-done:
				if r.proto != "" || r.err != nil {
					t.Errorf("Probe = %q, %v; want no protocol, no error", r.proto, r.err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Probe still waits after a minute: the web server's answer did not decide (its Timeout is 10 min)")
			}
		})
	}
}

// TestProbeOwnConnections checks that the prober names its open connections (so the network
// source leaves them out) and forgets them once closed.
func TestProbeOwnConnections(t *testing.T) {
	p := New(Config{Timeout: 300 * time.Millisecond})
	seen := make(chan bool, 4)
	addr := serve(t, func(c net.Conn) {
		// The prober counts a connection from when its connect returns, which may come just
		// after this accept.
		peer := netip.MustParseAddrPort(c.RemoteAddr().String())
		own := p.Own(peer)
		for deadline := time.Now().Add(time.Second); !own && time.Now().Before(deadline); own = p.Own(peer) {
			time.Sleep(time.Millisecond)
		}
		seen <- own
		_, _ = io.Copy(io.Discard, c)
	})
	if got, err := p.Probe(context.Background(), addr); got != "" || !errors.Is(err, ErrSilent) {
		t.Fatalf("silent listener: %q, %v", got, err)
	}
	for range 2 {
		if !<-seen {
			t.Error("a probe connection was not the prober's own while open")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.open) != 0 {
		t.Errorf("connections still counted open after the probe: %v", p.open)
	}
}

func TestProbeOnlyLocal(t *testing.T) {
	p := New(Config{})
	for _, a := range []string{"192.0.2.77:5900", "[2001:db8::1]:3389", "8.8.8.8:53"} {
		if _, err := p.Probe(context.Background(), netip.MustParseAddrPort(a)); !errors.Is(err, ErrNotLocal) {
			t.Errorf("Probe(%s) = %v, want ErrNotLocal", a, err)
		}
	}
	if p.Probes() != 0 {
		t.Errorf("%d probes ran", p.Probes())
	}
	if got := Target(netip.MustParseAddr("0.0.0.0"), 5900); got.String() != "127.0.0.1:5900" {
		t.Errorf("Target(0.0.0.0) = %s", got)
	}
	if got := Target(netip.MustParseAddr("::"), 3389); got.String() != "[::1]:3389" {
		t.Errorf("Target(::) = %s", got)
	}
}

func TestProbeRateLimited(t *testing.T) {
	addr := serve(t, func(c net.Conn) { _, _ = io.WriteString(c, "RFB 003.008\n") })
	p := New(Config{Rate: 1, Burst: 1})
	if got, _ := p.Probe(context.Background(), addr); got != RFB {
		t.Fatalf("first probe %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Probe(ctx, addr); err == nil {
		t.Error("a second probe within the same second was not held back by the limiter")
	}
}

// FuzzReplies feeds hostile listener replies to the parsers the probe uses.
func FuzzReplies(f *testing.F) {
	f.Add([]byte("RFB 003.008\n"))
	f.Add([]byte{3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0})
	f.Add([]byte{0x82, 12, 'R', 'F', 'B', ' ', '0', '0', '3', '.', '0', '0', '8', '\n'})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = isRFBGreeting(b)
		_ = isX224Confirm(b)
		p, _, ok := readFrame(bufio.NewReader(bytes.NewReader(b)), 64)
		if ok && len(p) > 64 {
			t.Fatalf("frame of %d bytes over the bound", len(p))
		}
	})
}
