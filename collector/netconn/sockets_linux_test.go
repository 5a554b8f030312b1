package netconn

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
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
