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
