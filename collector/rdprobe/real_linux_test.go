package rdprobe

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// TestProbeRealServers probes Debian's real servers: Xtigervnc and x11vnc (RFB), websockify in
// front of Xtigervnc (WebSocket RFB) and xrdp on a non-standard port (RDP). Each is probed once it is ready (the X
// server has announced its display; the others accept connections), and the probe's time is
// logged.
func TestProbeRealServers(t *testing.T) {
	p := New(Config{})
	probe := func(addr string) string {
		t.Helper()
		start := time.Now()
		got, err := p.Probe(context.Background(), netip.MustParseAddrPort(addr))
		if err != nil {
			t.Errorf("probe %s: %v", addr, err) // not Fatal: x11vnc's probes run in goroutines
			return ""
		}
		t.Logf("probe of %s: %q in %s", addr, got, time.Since(start).Round(time.Millisecond))
		return got
	}
	t.Run("Xtigervnc", func(t *testing.T) {
		port := rdservers.FreePort(t)
		rdservers.Xtigervnc(t, "", port, true)
		vnc := "127.0.0.1:" + strconv.Itoa(port)
		if got := probe(vnc); got != RFB {
			t.Errorf("Xtigervnc: %q, want rfb", got)
		}
		t.Run("websockify", func(t *testing.T) {
			ws := "127.0.0.1:" + strconv.Itoa(rdservers.FreePort(t))
			rdservers.Websockify(t, ws, vnc)
			if got := probe(ws); got != WebSocketRFB {
				t.Errorf("websockify: %q, want websocket-rfb", got)
			}
		})
	})
	t.Run("x11vnc", func(t *testing.T) {
		// libvncserver waits 100 ms for a WebSocket handshake and drops a client whose first
		// bytes are something else; with -localhost it listens on both loopback addresses.
		x11vnc := rdservers.Need(t, "x11vnc")
		display := rdservers.Xvfb(t)
		port := rdservers.FreePort(t)
		p := rdservers.Start(t, x11vnc, "-display", ":"+strconv.Itoa(display), "-rfbport", strconv.Itoa(port),
			"-localhost", "-forever", "-nopw", "-quiet", "-noxdamage")
		rdservers.WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(port))
		var wg sync.WaitGroup
		for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(port), "[::1]:" + strconv.Itoa(port)} {
			wg.Go(func() {
				if got := probe(addr); got != RFB {
					t.Errorf("x11vnc at %s: %q, want rfb", addr, got)
				}
			})
		}
		wg.Wait()
	})
	t.Run("xrdp", func(t *testing.T) {
		port := rdservers.FreePort(t)
		rdservers.Xrdp(t, "", port)
		if got := probe("127.0.0.1:" + strconv.Itoa(port)); got != RDP {
			t.Errorf("xrdp: %q, want rdp", got)
		}
	})
}
