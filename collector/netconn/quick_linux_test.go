package netconn

import (
	"net"
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
	s := New(Config{Interval: time.Hour, ChangeSettle: time.Hour, Prober: rdprobe.New(rdprobe.Config{})})
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
	wait := func(what string, match func(map[string]any) bool) *event.Event {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got := rec.find(match); len(got) > 0 {
				return got[0]
			}
		}
		t.Fatalf("no %s event within 30 s", what)
		return nil
	}
	wait("first listing", listener(ln.Addr().(*net.TCPAddr).Port))

	start := func(reply string) (int, time.Time) {
		port := rdservers.FreePort(t)
		begin := time.Now()
		p := rdservers.Start(t, socat, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,reuseaddr,fork", reply)
		s.Notice(p.Cmd.Process.Pid)
		return port, begin
	}
	silent, silentStart := start("SYSTEM:sleep 30")
	vnc, vncStart := start("SYSTEM:echo RFB 003.008")
	got := wait("VNC listener", listener(vnc))
	t.Logf("VNC-speaking listener reported %d ms after its start (seen after %d ms)", time.Since(vncStart).Milliseconds(), got.Time.Sub(vncStart).Milliseconds())
	if got.Fields["RemoteDesktopProtocol"] != rdprobe.RFB {
		t.Errorf("VNC-speaking listener: %v, want RemoteDesktopProtocol rfb", got.Fields)
	}
	if len(rec.find(listener(silent))) != 0 {
		t.Errorf("the silent listener's event came first: its probe cannot have waited out its timeout")
	}
	quiet := wait("silent listener", listener(silent))
	t.Logf("silent listener reported %d ms after its start (seen after %d ms; its probe waits out %s)",
		time.Since(silentStart).Milliseconds(), quiet.Time.Sub(silentStart).Milliseconds(), rdprobe.DefaultTimeout)
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
	for _, e := range rec.find(toPort) {
		if e.Fields["State"] != "LISTEN" {
			t.Errorf("a probe connection was reported: %v", e.Fields)
		}
	}
}
