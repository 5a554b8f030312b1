// Package rdprobe learns whether a TCP listener on this host serves a remote-desktop protocol,
// whatever program owns it and whatever port it uses: RFB/VNC (the server speaks first,
// "RFB 003.008\n"), RDP (an X.224 Connection Request answered by a Connection Confirm), or a
// WebSocket gateway to a VNC server (websockify, noVNC: an HTTP upgrade whose first frame carries
// the RFB greeting).
//
// It only ever connects to this host's own listening sockets, which the caller names; each probe
// is short (two connections at once, Timeout at most), the probes are rate limited,
// the connections are closed with a reset so no TIME_WAIT socket lingers, and nothing the
// listener sends is kept beyond the protocol's name.
package rdprobe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Protocols reported.
const (
	RFB          = "rfb"           // VNC's Remote Framebuffer protocol
	RDP          = "rdp"           // Microsoft's Remote Desktop Protocol
	WebSocketRFB = "websocket-rfb" // RFB carried over a WebSocket (websockify, noVNC)
)

// Defaults.
const (
	DefaultRate  = 10 // probes per second
	DefaultBurst = 10
	// DefaultTimeout bounds one probe: the wait for a server's answer, generous because a server
	// that just started on a loaded machine may greet late. Only a listener that answers neither
	// question waits it out.
	DefaultTimeout = 3 * time.Second
)

// Config configures a Prober. Zero values take the defaults.
type Config struct {
	Rate    float64       // probes per second (DefaultRate)
	Burst   int           // (DefaultBurst)
	Timeout time.Duration // one probe, all steps (DefaultTimeout)
}

// Prober probes listeners. It is safe for concurrent use.
type Prober struct {
	cfg     Config
	limiter *rate.Limiter
	probes  atomic.Int64
	mu      sync.Mutex
	open    map[netip.AddrPort]int // local ends of the open probe connections
}

// New returns a Prober.
func New(cfg Config) *Prober {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Prober{cfg: cfg, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst), open: map[netip.AddrPort]int{}}
}

// Probes reports how many probes have run.
func (p *Prober) Probes() int64 { return p.probes.Load() }

// Target is the address to connect to for a listener bound to ip:port: the listener's own
// address, or loopback for a wildcard bind.
func Target(ip netip.Addr, port int) netip.AddrPort {
	ip = ip.Unmap()
	if ip.IsUnspecified() {
		if ip.Is4() {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			ip = netip.IPv6Loopback()
		}
	}
	return netip.AddrPortFrom(ip, uint16(port))
}

// ErrNotLocal is returned for an address that is not one of this host's.
var ErrNotLocal = errors.New("not an address of this host")

// Probe learns which remote-desktop protocol the listener at addr serves: RFB, RDP,
// WebSocketRFB, or "" for none (or no answer in time). addr must be loopback or an address of
// one of this host's interfaces. It waits for the rate limiter (ctx bounds the wait) only when
// more than Burst probes ran within the last second.
//
// Two questions are asked at once, on their own connections, so no protocol waits for another's
// timeout: an RDP X.224 Connection Request (an RDP server confirms it; a VNC server greets
// first, whatever it is sent), and a WebSocket upgrade (a websockify or noVNC gateway answers
// with its VNC server's greeting in its first frame). The first recognised answer decides and
// closes the other connection. An HTTP answer other than an upgrade decides too (none: a VNC
// server would have greeted, an RDP server does not speak HTTP), so a web server is not waited
// out. Otherwise the listener is left when both questions have been answered, refused, closed,
// or Timeout ran out; when Timeout ran out on both with not a byte nor a close from the
// listener, Probe returns ErrSilent: a server still starting (the kernel accepts before the
// program reads) may answer when asked again later.
func (p *Prober) Probe(ctx context.Context, addr netip.AddrPort) (string, error) {
	if !isLocal(addr.Addr()) {
		return "", fmt.Errorf("probe %s: %w", addr, ErrNotLocal)
	}
	if err := p.limiter.Wait(ctx); err != nil {
		return "", fmt.Errorf("probe %s: %w", addr, err)
	}
	p.probes.Add(1)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	answers := make(chan answer, 2)
	for _, ask := range []func(context.Context, netip.AddrPort) answer{p.rdpOrGreeting, p.webSocketRFB} {
		go func() { answers <- ask(ctx, addr) }()
	}
	var firstErr error
	silent := 0
	for range 2 {
		a := <-answers
		if a.proto != "" || a.decided {
			return a.proto, nil // the deferred cancel ends the other question
		}
		if a.silent {
			silent++
		}
		if firstErr == nil {
			firstErr = a.err
		}
	}
	if silent == 2 {
		return "", fmt.Errorf("probe %s: %w", addr, ErrSilent)
	}
	return "", firstErr
}

// ErrSilent is returned by Probe for a listener that accepted both questions' connections and
// neither answered nor closed them within Timeout.
var ErrSilent = errors.New("the listener accepted and stayed silent")

// answer is one question's outcome.
type answer struct {
	proto   string // the protocol recognised, if any
	decided bool   // no protocol, and no need to wait for the other question (an HTTP server)
	silent  bool   // the listener neither wrote a byte nor closed before the deadline
	err     error
}

// rdpOrGreeting sends an RDP Connection Request at once and reads the answer: an X.224
// Connection Confirm is RDP; an RFB greeting is a VNC server (it speaks first, before it reads
// what the probe sent). A listener that closes the connection without a word may be a VNC
// server that waits for the client first: libvncserver (x11vnc's) waits 100 ms for a WebSocket
// handshake before it greets, and drops a client whose first bytes are something else. It is
// asked again on a new connection, silently, for its greeting.
func (p *Prober) rdpOrGreeting(ctx context.Context, addr netip.AddrPort) answer {
	c, err := p.dial(ctx, addr)
	if err != nil {
		return answer{err: err}
	}
	var resp []byte
	if _, err = c.Write(x224Request); err == nil {
		resp, err = readSome(c, 12)
	}
	c.close()
	switch {
	case isX224Confirm(resp):
		return answer{proto: RDP}
	case isRFBGreeting(resp):
		return answer{proto: RFB}
	case len(resp) == 0 && errors.Is(err, os.ErrDeadlineExceeded):
		return answer{silent: true}
	case len(resp) > 0 || ctx.Err() != nil:
		return answer{} // another protocol
	}
	if c, err = p.dial(ctx, addr); err != nil {
		return answer{}
	}
	defer c.close()
	if greeting, _ := readSome(c, 12); isRFBGreeting(greeting) {
		return answer{proto: RFB}
	}
	return answer{}
}

// Own reports whether addr is the local end of one of the prober's open connections, so a
// socket listing can leave the probe's own traffic out.
func (p *Prober) Own(addr netip.AddrPort) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open[addr] > 0
}

// conn is a probe connection, closed with a reset.
type conn struct {
	*net.TCPConn
	stop  func() bool // ends the context watch
	p     *Prober
	local netip.AddrPort
}

// dial connects to addr, and counts the connection as the prober's own (Own) until it is
// closed; its reads and writes end at ctx's deadline, or at once when ctx is cancelled.
func (p *Prober) dial(ctx context.Context, addr netip.AddrPort) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", addr, err)
	}
	tc := nc.(*net.TCPConn)
	c := &conn{TCPConn: tc, p: p, local: tc.LocalAddr().(*net.TCPAddr).AddrPort()}
	c.local = netip.AddrPortFrom(c.local.Addr().Unmap(), c.local.Port())
	p.mu.Lock()
	p.open[c.local]++
	p.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = tc.SetDeadline(dl)
	}
	c.stop = context.AfterFunc(ctx, func() { _ = tc.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

func (c *conn) close() {
	c.stop()
	_ = c.SetLinger(0) // reset: no TIME_WAIT socket left behind to be reported as a connection
	_ = c.Close()
	c.p.mu.Lock()
	if c.p.open[c.local]--; c.p.open[c.local] <= 0 {
		delete(c.p.open, c.local)
	}
	c.p.mu.Unlock()
}

// readSome reads up to n bytes, until the connection's deadline; a short read is completed by
// what follows at once (a greeting written in two parts). It returns what it read (nothing when
// the peer closed or stayed silent) and the error that ended the reading, if any.
func readSome(c *conn, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := io.ReadAtLeast(c, buf, 1)
	for got > 0 && got < n && err == nil {
		var m int
		m, err = c.Read(buf[got:])
		got += m
	}
	return buf[:got], err
}

// isRFBGreeting matches RFB's ProtocolVersion message: "RFB xxx.yyy\n" (RFC 6143 7.1.1).
func isRFBGreeting(b []byte) bool {
	if len(b) < 12 || !bytes.HasPrefix(b, []byte("RFB ")) || b[7] != '.' || b[11] != '\n' {
		return false
	}
	for _, i := range []int{4, 5, 6, 8, 9, 10} {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

// x224Request is a TPKT-framed X.224 Connection Request with an RDP Negotiation Request asking
// for TLS, CredSSP and CredSSP with Early User Authorization ([MS-RDPBCGR] 2.2.1.1).
var x224Request = []byte{
	0x03, 0x00, 0x00, 0x13, // TPKT version 3, length 19
	0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR TPDU
	0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00, // RDP_NEG_REQ: PROTOCOL_SSL|HYBRID|HYBRID_EX
}

// isX224Confirm matches a TPKT-framed X.224 Connection Confirm (TPDU code 0xD0), with or
// without an RDP negotiation response or failure.
func isX224Confirm(b []byte) bool {
	if len(b) < 7 || b[0] != 0x03 || b[1] != 0x00 {
		return false
	}
	n := int(b[2])<<8 | int(b[3])
	return n >= 11 && b[4] >= 6 && b[5]&0xf0 == 0xd0
}

// webSocketRFB sends a WebSocket upgrade and returns WebSocketRFB when the gateway accepts it
// and its first frame carries an RFB greeting (binary, or base64 text for the old "base64"
// subprotocol); any other HTTP status decides that the listener is a web server.
func (p *Prober) webSocketRFB(ctx context.Context, addr netip.AddrPort) answer {
	c, err := p.dial(ctx, addr)
	if err != nil {
		return answer{err: err}
	}
	defer c.close()
	return webSocketAnswer(c, addr)
}

func webSocketAnswer(c *conn, addr netip.AddrPort) answer {
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr.String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: binary, base64\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return answer{}
	}
	br := bufio.NewReaderSize(io.LimitReader(c, 8<<10), 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return answer{silent: status == "" && errors.Is(err, os.ErrDeadlineExceeded)}
	}
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return answer{}
	}
	if f[1] != "101" {
		return answer{decided: true}
	}
	base64Proto := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return answer{}
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Sec-WebSocket-Protocol") {
			base64Proto = strings.EqualFold(strings.TrimSpace(v), "base64")
		}
	}
	payload, opcode, ok := readFrame(br, 64)
	if !ok {
		return answer{}
	}
	rfb := false
	switch {
	case opcode == 2:
		rfb = isRFBGreeting(payload)
	case opcode == 1 && base64Proto:
		dec, err := base64.StdEncoding.DecodeString(string(payload))
		rfb = err == nil && isRFBGreeting(dec)
	}
	if rfb {
		return answer{proto: WebSocketRFB}
	}
	return answer{}
}

// readFrame reads one unmasked server WebSocket frame of at most max payload bytes.
func readFrame(r *bufio.Reader, max int) (payload []byte, opcode byte, ok bool) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, 0, false
	}
	opcode = h[0] & 0x0f
	if h[1]&0x80 != 0 {
		return nil, 0, false // servers never mask
	}
	n := int(h[1] & 0x7f)
	if n > max {
		return nil, 0, false
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, 0, false
	}
	return payload, opcode, true
}

// isLocal reports whether ip is loopback or assigned to one of this host's interfaces.
func isLocal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}
