package netconn

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Socket owners come from the live /proc: this process's listener, and one a child process holds
// alone (inherited, then closed here).
func TestProcListerFindsOwners(t *testing.T) {
	mine, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer mine.Close()
	passed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	child := inheritListener(t, passed)
	childPort := passed.Addr().(*net.TCPAddr).Port
	passed.Close()

	l := &procLister{root: "/proc", owners: map[uint64]int{}, present: map[uint64]bool{}}
	socks, err := l.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]int{mine.Addr().(*net.TCPAddr).Port: os.Getpid(), childPort: child.Process.Pid}
	for _, s := range socks {
		if pid, ok := want[s.LocalPort]; ok && s.State == "LISTEN" {
			if s.PID != pid {
				t.Errorf("listener on port %d: owner %d, want %d", s.LocalPort, s.PID, pid)
			}
			delete(want, s.LocalPort)
		}
	}
	if len(want) > 0 {
		t.Fatalf("listeners not listed: %v", want)
	}
}

// A listener its owner's child inherited (Xtigervnc's xkbcomp holds the RFB port this way) is
// its owner's, not the child's, though the child is the newer process and is looked at first.
func TestProcListerListenerOwnerIsTheEldestHolder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	child := inheritListener(t, ln) // this process still holds the listener itself
	port := ln.Addr().(*net.TCPAddr).Port

	check := func(how string, socks []Socket) {
		t.Helper()
		for _, s := range socks {
			if s.LocalPort == port && s.State == "LISTEN" {
				if s.PID != os.Getpid() {
					t.Errorf("%s: listener on port %d: owner %d, want %d (this process; %d is the child that inherited it)",
						how, port, s.PID, os.Getpid(), child.Process.Pid)
				}
				return
			}
		}
		t.Fatalf("%s: listener on port %d not listed", how, port)
	}
	l := &procLister{root: "/proc", owners: map[uint64]int{}, present: map[uint64]bool{}}
	socks, err := l.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check("full listing", socks)
	// The quick look searches the processes that just started first: the child.
	l = &procLister{root: "/proc", owners: map[uint64]int{}, present: map[uint64]bool{}}
	socks, err = l.listeners(context.Background(), []int{child.Process.Pid})
	if err != nil {
		t.Skipf("no sock_diag: %v", err)
	}
	check("quick listener look", socks)
}

// inheritListener starts a child process (sleep) that inherits ln's socket; it is killed when
// the test ends.
func inheritListener(t *testing.T, ln net.Listener) *exec.Cmd {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	child := exec.Command("sleep", "30")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Skipf("no sleep to hold the socket: %v", err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	return child
}

// holdsNew looks at the given processes' descriptors only: a socket the last listing did not
// show, held by one of them, is news; one held by another process is not. (A fixture procfs: on
// the live one other sessions open sockets at any time.)
func TestHoldsNewLooksAtTheGivenProcesses(t *testing.T) {
	root := t.TempDir()
	var rows []string
	socket := func(pid, fd, port int, inode uint64, listed bool) {
		t.Helper()
		if listed {
			rows = append(rows, fmt.Sprintf("%4d: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 100 0 0 10 0",
				len(rows), port, inode))
		}
		table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + strings.Join(rows, "\n") + "\n"
		if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, strconv.Itoa(pid), "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(fmt.Sprintf("socket:[%d]", inode), filepath.Join(dir, strconv.Itoa(fd))); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/null", filepath.Join(dir, strconv.Itoa(fd+100))); err != nil {
			t.Fatal(err)
		}
	}
	l := &procLister{root: root, noUDP: true, owners: map[uint64]int{}, present: map[uint64]bool{}, unowned: map[uint64]bool{}}
	socket(100, 3, 6666, 4242, true)
	socket(200, 3, 7777, 777, true)
	if _, err := l.list(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.holdsNew([]int{100, 200, 300}) {
		t.Error("news without a new socket")
	}
	socket(100, 4, 8888, 5000, false) // opened since the listing, by an older process
	if l.holdsNew([]int{200}) {
		t.Error("another process's new socket counted")
	}
	if !l.holdsNew([]int{200, 100}) {
		t.Error("a listed process's new socket not seen")
	}
}

// While processes keep starting (a Notice every 50 ms, of a process that holds no socket), the
// listings after each start are skipped within half an Interval of the last one, yet a
// connection an older process (this one) opens meanwhile is still reported: the regular listing
// comes at the latest 1.5 Intervals after the last. The time it took is logged, not asserted.
func TestOlderProcessConnectionSeenWhileProcessesStart(t *testing.T) {
	child := exec.Command("sleep", "300")
	if err := child.Start(); err != nil {
		t.Skipf("no sleep to stand for the processes that start: %v", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	const interval = time.Second
	s := New(Config{Interval: interval, ChangeSettle: 100 * time.Millisecond})
	var looks, skipped atomic.Int32
	holdsNew := s.holdsNew
	if holdsNew == nil {
		t.Fatal("no look at new processes' sockets on the live /proc")
	}
	s.holdsNew = func(pids []int) bool {
		news := holdsNew(pids)
		looks.Add(1)
		if !news {
			skipped.Add(1)
		}
		return news
	}
	rec := runSource(t, s)
	port := ln.Addr().(*net.TCPAddr).Port
	waitFor := func(what string, match func(map[string]any) bool) time.Time {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if len(rec.find(match)) > 0 {
				return time.Now()
			}
		}
		t.Fatalf("no %s event within 30 s", what)
		return time.Time{}
	}
	waitFor("listener", func(f map[string]any) bool { return f["State"] == "LISTEN" && f["DestinationPort"] == port })

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			s.Notice(child.Process.Pid)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); skipped.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no listing skipped within 30 s of process starts (%d looks)", looks.Load())
		}
	}
	begin := time.Now()
	cport := dialLoopback(t, ln)
	seen := waitFor("outbound connection", func(f map[string]any) bool {
		return f["State"] == "ESTABLISHED" && f["Initiated"] == true && f["SourcePort"] == cport && f["DestinationPort"] == port
	})
	t.Logf("connection of an older process reported %d ms after it opened (Interval %s); %d looks at new processes, %d listings skipped",
		seen.Sub(begin).Milliseconds(), interval, looks.Load(), skipped.Load())
}
