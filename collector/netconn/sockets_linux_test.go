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
	f, err := passed.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "30")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Skipf("no sleep to hold the socket: %v", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	f.Close()
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
