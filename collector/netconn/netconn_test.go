package netconn

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	gnet "github.com/shirou/gopsutil/v3/net"

	"github.com/vigilhq/vigil/internal/event"
)

func TestClassify(t *testing.T) {
	socks := []Socket{
		{Protocol: "tcp", LocalIP: "0.0.0.0", LocalPort: 22, State: "LISTEN", PID: 10},
		{Protocol: "tcp", LocalIP: "127.0.0.1", LocalPort: 7070, State: "LISTEN", PID: 11},
		{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 22, RemoteIP: "203.0.113.9", RemotePort: 50123, State: "ESTABLISHED", PID: 12},
		{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 40000, RemoteIP: "198.51.100.7", RemotePort: 6568, State: "SYN_SENT", PID: 13},
		// Same port as a loopback-only listener but on another address: outbound.
		{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 7070, RemoteIP: "198.51.100.8", RemotePort: 443, State: "ESTABLISHED", PID: 14},
		{Protocol: "udp", LocalIP: "::", LocalPort: 5353, PID: 15},
		{Protocol: "udp", LocalIP: "10.0.0.5", LocalPort: 5353, RemoteIP: "224.0.0.251", RemotePort: 5353, PID: 15},
		{Protocol: "udp", LocalIP: "10.0.0.5", LocalPort: 41000, RemoteIP: "9.9.9.9", RemotePort: 53, PID: 16},
		{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 41001, State: "CLOSE"},
		{Protocol: "tcp", LocalIP: "127.0.0.1", LocalPort: 41002, RemoteIP: "127.0.0.1", RemotePort: 7070, State: "TIME_WAIT"},
	}
	got := classify(socks, false)
	type want struct {
		listening, initiated bool
		src, dst             string
	}
	wants := []want{
		{true, false, "", "0.0.0.0:22"},
		{true, false, "", "127.0.0.1:7070"},
		{true, false, "", ":::5353"},
		{false, false, "203.0.113.9:50123", "10.0.0.5:22"},
		{false, true, "10.0.0.5:40000", "198.51.100.7:6568"},
		{false, true, "10.0.0.5:7070", "198.51.100.8:443"},
		{false, false, "224.0.0.251:5353", "10.0.0.5:5353"},
		{false, true, "10.0.0.5:41000", "9.9.9.9:53"},
		{false, true, "127.0.0.1:41002", "127.0.0.1:7070"},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d classified, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		f := got[i].fields(nil)
		src := ""
		if f["SourceIp"] != nil {
			src = fmt.Sprintf("%v:%v", f["SourceIp"], f["SourcePort"])
		}
		dst := fmt.Sprintf("%v:%v", f["DestinationIp"], f["DestinationPort"])
		if got[i].listening != w.listening || f["Initiated"] != w.initiated || src != w.src || dst != w.dst {
			t.Errorf("%d: %+v -> %v, want %+v", i, got[i].Socket, f, w)
		}
	}
	if f := got[0].fields(nil); f["State"] != "LISTEN" || f["Protocol"] != "tcp" || f["ProcessId"] != 10 {
		t.Errorf("listener fields %v", f)
	}
	if f := got[2].fields(nil); f["State"] != nil || f["Protocol"] != "udp" {
		t.Errorf("udp listener fields %v", f)
	}
	if f := got[8].fields(nil); f["ProcessId"] != nil || f["State"] != "TIME_WAIT" {
		t.Errorf("ownerless socket fields %v", f)
	}

	quiet := classify(socks, true)
	for _, c := range quiet {
		if c.LocalIP == "127.0.0.1" {
			t.Errorf("loopback kept with IgnoreLoopback: %+v", c)
		}
	}
	if len(quiet) != len(wants)-2 {
		t.Errorf("IgnoreLoopback kept %d", len(quiet))
	}
}

func TestFromGopsutil(t *testing.T) {
	stats := []gnet.ConnectionStat{
		{Type: 1, Laddr: gnet.Addr{IP: "::ffff:127.0.0.1", Port: 80}, Raddr: gnet.Addr{IP: "::ffff:127.0.0.1", Port: 5555}, Status: "ESTABLISHED", Pid: 3},
		{Type: 2, Laddr: gnet.Addr{IP: "0.0.0.0", Port: 68}, Raddr: gnet.Addr{IP: "0.0.0.0", Port: 0}, Status: "NONE"},
		{Type: 1, Laddr: gnet.Addr{IP: "FE80::1", Port: 22}, Status: "LISTEN"},
		{Type: 5, Laddr: gnet.Addr{IP: "1.2.3.4", Port: 1}},
	}
	got := fromGopsutil(stats)
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	if got[0].LocalIP != "127.0.0.1" || got[0].RemoteIP != "127.0.0.1" || got[0].Protocol != "tcp" || got[0].PID != 3 {
		t.Errorf("mapped v4: %+v", got[0])
	}
	if got[1].RemoteIP != "" || got[1].State != "" || got[1].Protocol != "udp" {
		t.Errorf("udp: %+v", got[1])
	}
	if got[2].LocalIP != "fe80::1" || got[2].RemoteIP != "" {
		t.Errorf("v6 listener: %+v", got[2])
	}
}

func TestPollReportsOnceAndForgetsClosed(t *testing.T) {
	s := New(Config{})
	listing := []Socket{
		{Protocol: "tcp", LocalIP: "0.0.0.0", LocalPort: 7070, State: "LISTEN"},
		{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 40000, RemoteIP: "198.51.100.7", RemotePort: 443, State: "SYN_SENT"},
	}
	s.list = func(context.Context) ([]Socket, error) { return listing, nil }
	var evs []*event.Event
	emit := func(e *event.Event) { evs = append(evs, e) }
	ctx := context.Background()
	if err := s.poll(ctx, emit, s.tracker, true); err != nil || len(evs) != 2 {
		t.Fatalf("first poll: %d events, %v", len(evs), err)
	}
	for _, e := range evs {
		if e.Fields["Snapshot"] != true {
			t.Errorf("a socket of the first poll without Snapshot: %v", e.Fields)
		}
	}
	listing[1].State = "ESTABLISHED" // a state change is not a new connection
	if err := s.poll(ctx, emit, s.tracker, false); err != nil || len(evs) != 2 {
		t.Fatalf("second poll: %d events", len(evs))
	}
	listing = listing[:1] // closed
	if err := s.poll(ctx, emit, s.tracker, false); err != nil || len(evs) != 2 {
		t.Fatalf("after close: %d events", len(evs))
	}
	listing = append(listing, Socket{Protocol: "tcp", LocalIP: "10.0.0.5", LocalPort: 40000, RemoteIP: "198.51.100.7", RemotePort: 443, State: "ESTABLISHED"})
	if err := s.poll(ctx, emit, s.tracker, false); err != nil || len(evs) != 3 {
		t.Fatalf("reconnect on the same ports: %d events, want it reported again", len(evs))
	}
	if _, ok := evs[2].Fields["Snapshot"]; ok {
		t.Errorf("a later poll's socket marked Snapshot: %v", evs[2].Fields)
	}
	if len(s.tracker.seen) != 2 {
		t.Errorf("seen holds %d keys, want 2", len(s.tracker.seen))
	}
	// Snapshot reports everything present and leaves Run's memory alone.
	evs = nil
	if err := s.Snapshot(ctx, emit); err != nil || len(evs) != 2 {
		t.Fatalf("snapshot: %d events, %v", len(evs), err)
	}
	if err := s.poll(ctx, emit, s.tracker, false); err != nil || len(evs) != 2 {
		t.Fatalf("poll after snapshot: %d events", len(evs))
	}
}

// recorder collects events from a running source.
type recorder struct {
	mu     sync.Mutex
	events []*event.Event
}

func (r *recorder) emit(e *event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) find(match func(map[string]any) bool) []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*event.Event
	for _, e := range r.events {
		if match(e.Fields) {
			out = append(out, e)
		}
	}
	return out
}

// dialLoopback connects to ln (accepted nowhere else) and returns the client end's port; both
// ends stay open until the test ends.
func dialLoopback(t *testing.T, ln net.Listener) (clientPort int) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, ok := <-accepted
	if !ok {
		t.Fatal("the loopback connection was not accepted")
	}
	t.Cleanup(func() { _ = server.Close() })
	return client.LocalAddr().(*net.TCPAddr).Port
}

func TestLoopbackConnectionSeenOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live socket test runs on Linux")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cport := dialLoopback(t, ln)

	s := New(Config{Interval: 50 * time.Millisecond})
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.emit) }()
	time.Sleep(600 * time.Millisecond) // several polls
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	pid := os.Getpid()
	check := func(name string, match func(map[string]any) bool) {
		t.Helper()
		got := rec.find(match)
		if len(got) != 1 {
			t.Fatalf("%s: %d events, want exactly 1", name, len(got))
		}
		f := got[0].Fields
		if f["ProcessId"] != pid || f["Image"] != self || f["User"] == nil || f["Protocol"] != "tcp" {
			t.Errorf("%s: owner fields %v (want pid %d image %s)", name, f, pid, self)
		}
		if got[0].Category != event.NetworkConnection || got[0].Host != "" {
			t.Errorf("%s: envelope %+v", name, got[0])
		}
	}
	check("listener", func(f map[string]any) bool {
		return f["State"] == "LISTEN" && f["DestinationPort"] == port && f["DestinationIp"] == "127.0.0.1" && f["Initiated"] == false && f["SourceIp"] == nil
	})
	check("outbound", func(f map[string]any) bool {
		return f["State"] == "ESTABLISHED" && f["Initiated"] == true && f["SourcePort"] == cport && f["DestinationPort"] == port
	})
	check("inbound", func(f map[string]any) bool {
		return f["State"] == "ESTABLISHED" && f["Initiated"] == false && f["SourcePort"] == cport && f["DestinationPort"] == port
	})
}

// BenchmarkPoll is the per-poll cost with this machine's sockets and processes when nothing
// changed: gopsutil's socket listing (on Linux, the socket tables plus a walk of every process's
// file descriptors) and the diff.
func BenchmarkPoll(b *testing.B) {
	s := New(Config{})
	ctx := context.Background()
	discard := func(*event.Event) {}
	if err := s.poll(ctx, discard, s.tracker, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.poll(ctx, discard, s.tracker, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(s.tracker.seen)), "sockets")
	if entries, err := os.ReadDir("/proc"); err == nil {
		n := 0
		for _, e := range entries {
			if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
				n++
			}
		}
		b.ReportMetric(float64(n), "procs")
	}
}

// Within half an Interval of the last listing, a listing is made only when a process started
// lately holds a new socket; past it, always; without the look, always.
func TestListingDue(t *testing.T) {
	s := New(Config{Interval: 10 * time.Second})
	news := false
	var asked []int
	s.holdsNew = func(pids []int) bool { asked = pids; return news }
	s.Notice(4242)
	s.listed = time.Now()
	if s.listingDue() {
		t.Error("a listing right after the last one, with nothing new")
	}
	if len(asked) != 1 || asked[0] != 4242 {
		t.Errorf("asked about %v, want the process started lately", asked)
	}
	news = true
	if !s.listingDue() {
		t.Error("no listing though a new process holds a new socket")
	}
	news = false
	s.listed = time.Now().Add(-6 * time.Second)
	if !s.listingDue() {
		t.Error("no listing half an Interval after the last one")
	}
	s.holdsNew, s.listed = nil, time.Now()
	if !s.listingDue() {
		t.Error("no listing without the look at new processes")
	}
}
