package netconn

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector/rdprobe"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/rdservers"
)

// TestNewListenerReportedSoon starts real listening programs (socat) and tells the source of
// their start, as the suite does for every process_creation: with the regular listings an hour
// apart, only the quick listener look can report them. A silent listener's probe (which waits
// out its timeout) must not hold back the event of a VNC-speaking listener started after it;
// the time from each start to its event is logged.
func TestNewListenerReportedSoon(t *testing.T) {
	socat := rdservers.Need(t, "socat")
	// The silent listener's probe waits 10 s: the VNC-speaking one, started after it, must be
	// reported before that, however slowly this machine starts it.
	s := New(Config{Interval: time.Hour, ChangeSettle: time.Hour, Prober: rdprobe.New(rdprobe.Config{Timeout: 10 * time.Second})})
	// A listener present before Run: its event says the first listing is over.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rec := runSource(t, s)
	listener := func(port int) func(map[string]any) bool {
		return func(f map[string]any) bool { return f["State"] == "LISTEN" && f["DestinationPort"] == port }
	}
	wait := func(what string, within time.Duration, match func(map[string]any) bool) *event.Event {
		t.Helper()
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got := rec.find(match); len(got) > 0 {
				return got[0]
			}
		}
		t.Fatalf("no %s event within %s", what, within)
		return nil
	}
	wait("first listing", 30*time.Second, listener(ln.Addr().(*net.TCPAddr).Port))

	start := func(reply string) (int, time.Time) {
		port := rdservers.FreePort(t)
		begin := time.Now()
		p := rdservers.Start(t, socat, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,reuseaddr,fork", reply)
		s.Notice(p.Cmd.Process.Pid)
		return port, begin
	}
	silent, silentStart := start("SYSTEM:sleep 30")
	vnc, vncStart := start("SYSTEM:echo RFB 003.008")
	got := wait("VNC listener", 30*time.Second, listener(vnc))
	t.Logf("VNC-speaking listener reported %d ms after its start (seen after %d ms)", time.Since(vncStart).Milliseconds(), got.Time.Sub(vncStart).Milliseconds())
	if got.Fields["RemoteDesktopProtocol"] != rdprobe.RFB {
		t.Errorf("VNC-speaking listener: %v, want RemoteDesktopProtocol rfb", got.Fields)
	}
	if len(rec.find(listener(silent))) != 0 {
		t.Errorf("the silent listener's event came first: its probe cannot have waited out its timeout")
	}
	// A listener silent through a whole probe is asked silentTries times, silentRetry apart.
	quiet := wait("silent listener", silentTries*(10*time.Second+silentRetry)+30*time.Second, listener(silent))
	if d := time.Since(silentStart); d < silentTries*10*time.Second {
		t.Errorf("the silent listener was reported %s after its start: asked fewer than %d times", d, silentTries)
	}
	t.Logf("silent listener reported %d ms after its start (seen after %d ms; its probes wait out 10 s each)",
		time.Since(silentStart).Milliseconds(), quiet.Time.Sub(silentStart).Milliseconds())
	if quiet.Fields["RemoteDesktopProtocol"] != nil {
		t.Errorf("silent listener: %v", quiet.Fields)
	}
}

// TestProbeConnectionsNotReported lists sockets every 20 ms while a slow VNC-speaking listener
// (it greets a second after accepting) is probed: the probe's own connections, both ends, stay
// out of the events.
func TestProbeConnectionsNotReported(t *testing.T) {
	socat := rdservers.Need(t, "socat")
	port := rdservers.FreePort(t)
	rdservers.Start(t, socat, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,reuseaddr,fork", "SYSTEM:sleep 1; echo RFB 003.008")
	rdservers.WaitListen(t, nil, "127.0.0.1:"+strconv.Itoa(port))
	s := New(Config{Interval: 20 * time.Millisecond, Prober: rdprobe.New(rdprobe.Config{})})
	rec := runSource(t, s)
	toPort := func(f map[string]any) bool { return f["DestinationPort"] == port }
	for deadline := time.Now().Add(30 * time.Second); len(rec.find(func(f map[string]any) bool {
		return toPort(f) && f["State"] == "LISTEN" && f["RemoteDesktopProtocol"] == rdprobe.RFB
	})) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no rfb listener event within 30 s")
		}
	}
	checkNoProbeConnections(t, rec.find(toPort), 0)
}

// BenchmarkQuickLook is the cost of one look at the listeners alone (sock_diag, LISTEN state
// only), as the source takes every 250 ms after process starts; compare BenchmarkPoll, the
// full listing.
func BenchmarkQuickLook(b *testing.B) {
	s := New(Config{})
	if s.listeners == nil {
		b.Skip("no quick listener look on this platform")
	}
	ctx := context.Background()
	discard := func(*event.Event) {}
	if err := s.checkListeners(ctx, discard); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.checkListeners(ctx, discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListenerLatency starts a VNC-speaking listener (socat) b.N times and tells the
// source of each start, as the suite does, with the regular listings an hour apart: the time
// from the start to the listener's event with RemoteDesktopProtocol (the quick look, the owner
// search, the probe), reported as p50 and p95.
func BenchmarkListenerLatency(b *testing.B) {
	socat := rdservers.Need(b, "socat")
	s := New(Config{Interval: time.Hour, ChangeSettle: time.Hour, Prober: rdprobe.New(rdprobe.Config{})})
	rec := runSource(b, s)
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		port := rdservers.FreePort(b)
		begin := time.Now()
		p := rdservers.Start(b, socat, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,reuseaddr,fork", "SYSTEM:echo RFB 003.008")
		s.Notice(p.Cmd.Process.Pid)
		for len(rec.find(func(f map[string]any) bool {
			return f["DestinationPort"] == port && f["RemoteDesktopProtocol"] == rdprobe.RFB
		})) == 0 {
			if time.Since(begin) > 30*time.Second {
				b.Fatalf("no rfb listener event within 30 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		took = append(took, time.Since(begin))
		p.Stop(5 * time.Second)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[(len(took)*95+99)/100-1].Milliseconds()), "p95-ms")
}
