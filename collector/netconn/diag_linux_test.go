package netconn

import (
	"context"
	"net"
	"os"
	"testing"
)

// TestDumpListeners lists the live listeners through sock_diag: a listener this test opens is
// there, with the owner (this process) and the inode /proc/net/tcp gives it.
func TestDumpListeners(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	rows, err := dumpListeners(nil, make([]byte, 64<<10))
	if err != nil {
		t.Fatalf("dumpListeners: %v", err)
	}
	l := &procLister{root: "/proc", owners: map[uint64]int{}, present: map[uint64]bool{}, unowned: map[uint64]bool{}}
	all, err := l.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var inode uint64
	for _, r := range l.rows {
		if r.LocalPort == port && r.State == "LISTEN" {
			inode = r.Inode
		}
	}
	found := false
	for _, r := range rows {
		if r.State != "LISTEN" {
			t.Errorf("not a listener: %+v", r)
		}
		if r.LocalPort == port && r.LocalIP == "127.0.0.1" {
			found = true
			if r.Inode != inode || inode == 0 {
				t.Errorf("inode %d, /proc/net/tcp says %d", r.Inode, inode)
			}
		}
	}
	if !found {
		t.Fatalf("the test's listener on port %d is not in %+v (of %d sockets)", port, rows, len(all))
	}
	l2 := &procLister{root: "/proc", owners: map[uint64]int{}, present: map[uint64]bool{}, unowned: map[uint64]bool{}}
	socks, err := l2.listeners(context.Background(), []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.LocalPort == port && s.PID != os.Getpid() {
			t.Errorf("owner %d, want this process %d", s.PID, os.Getpid())
		}
	}
}
