package netconn

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector/rdprobe"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/rdservers"
)

// TestRemoteDesktopListenerAndSession runs a real VNC server (Xtigervnc, on loopback) and
// connects to it: the listener's event says it serves RFB, and so do both ends of the session;
// the outbound end carries the host name the Hostnames function gives.
func TestRemoteDesktopListenerAndSession(t *testing.T) {
	port := rdservers.FreePort(t)
	vnc, _ := rdservers.Xtigervnc(t, "", port, true)
	s := New(Config{Interval: 100 * time.Millisecond, Prober: rdprobe.New(rdprobe.Config{}),
		Hostnames: func(ip string) (string, bool) { return "relay.example.net", ip == "127.0.0.1" }})
	rec := runSource(t, s)
	wait := func(what string, match func(map[string]any) bool) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if got := rec.find(match); len(got) > 0 {
				return got[0].Fields
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no %s event within 30 s", what)
		return nil
	}
	l := wait("listener", func(f map[string]any) bool {
		return f["State"] == "LISTEN" && f["DestinationPort"] == port && f["DestinationIp"] == "127.0.0.1"
	})
	if l["RemoteDesktopProtocol"] != rdprobe.RFB || l["ProcessId"] != vnc.Cmd.Process.Pid {
		t.Errorf("listener %v: want RemoteDesktopProtocol rfb, owned by pid %d", l, vnc.Cmd.Process.Pid)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = io.Copy(io.Discard, c) }()
	cport := c.LocalAddr().(*net.TCPAddr).Port
	out := wait("outbound", func(f map[string]any) bool { return f["Initiated"] == true && f["SourcePort"] == cport })
	in := wait("inbound", func(f map[string]any) bool { return f["Initiated"] == false && f["SourcePort"] == cport })
	if out["RemoteDesktopProtocol"] != rdprobe.RFB || out["DestinationHostname"] != "relay.example.net" {
		t.Errorf("outbound %v: want rfb and the host name", out)
	}
	if in["RemoteDesktopProtocol"] != rdprobe.RFB || in["DestinationHostname"] != nil {
		t.Errorf("inbound %v: want rfb and no host name", in)
	}
	// The probe left no connection of its own behind to be reported.
	checkNoProbeConnections(t, rec.find(func(f map[string]any) bool { return f["DestinationPort"] == port }), cport)
}

// checkNoProbeConnections fails on an event among evs (a listener's and connections to it)
// that is one end of the source's own probe connections: this process's, or the listener's end
// of one. Other agents on this machine may probe the listener too: the listener's end of a
// foreign probe is reported with the foreign end beside it (one listing sees both). mine is a
// port this process connected from itself (the test's own session), or 0.
func checkNoProbeConnections(t *testing.T, evs []*event.Event, mine int) {
	t.Helper()
	foreign := map[any]bool{}
	for _, e := range evs {
		if e.Fields["Initiated"] != true || e.Fields["SourcePort"] == mine {
			continue
		}
		if e.Fields["ProcessId"] == os.Getpid() {
			t.Errorf("this source's probe connection was reported: %v", e.Fields)
		}
		foreign[e.Fields["SourcePort"]] = true
	}
	for _, e := range evs {
		if e.Fields["Initiated"] == false && e.Fields["State"] != "LISTEN" && e.Fields["SourcePort"] != mine && !foreign[e.Fields["SourcePort"]] {
			t.Errorf("the listener's end of this source's probe connection was reported: %v", e.Fields)
		}
	}
}

// runSource runs s until the test ends, recording its events.
func runSource(t testing.TB, s *Source) *recorder {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return rec
}
