package usb

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// TestReadUeventsSocket feeds uevent datagrams through a real socket pair into the reader the
// netlink socket uses, and checks that only device-level USB changes signal a rescan.
func TestReadUeventsSocket(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("socketpair: %v", err)
	}
	r := os.NewFile(uintptr(fds[0]), "r")
	w := os.NewFile(uintptr(fds[1]), "w")
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch := readUevents(ctx, r, unix.ENOBUFS, hclog.NewNullLogger())

	w.Write([]byte("add@/devices/x/1-1/1-1:1.0\x00ACTION=add\x00SUBSYSTEM=usb\x00DEVTYPE=usb_interface\x00"))
	select {
	case <-ch:
		t.Fatal("an interface uevent signalled a rescan")
	case <-time.After(100 * time.Millisecond):
	}
	w.Write([]byte("add@/devices/x/1-1\x00ACTION=add\x00SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00"))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no rescan signal for a usb_device add")
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			// a buffered signal may remain; the channel must close next
			if _, ok := <-ch; ok {
				t.Fatal("channel not closed after cancel")
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not stop on cancel")
	}
}

// TestNetlinkLive opens the real uevent socket (it needs no privilege to listen) and checks
// that a fixture root is refused.
func TestNetlinkLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := watchUevents(ctx, t.TempDir(), hclog.NewNullLogger()); err == nil {
		t.Error("uevents accepted for a fixture root")
	}
	ch, err := watchUevents(ctx, "/sys", hclog.NewNullLogger())
	if err != nil {
		t.Skipf("netlink uevent socket refused here: %v", err)
	}
	cancel()
	for range ch {
	}
}

func TestUeventFilter(t *testing.T) {
	msg := func(kv ...string) []byte { return []byte("add@/devices/x\x00" + strings.Join(kv, "\x00")) }
	cases := []struct {
		msg  []byte
		want bool
	}{
		{msg("ACTION=add", "SUBSYSTEM=usb", "DEVTYPE=usb_device"), true},
		{msg("ACTION=remove", "SUBSYSTEM=usb", "DEVTYPE=usb_device"), true},
		{msg("ACTION=bind", "SUBSYSTEM=usb", "DEVTYPE=usb_device"), true},
		{msg("ACTION=add", "SUBSYSTEM=usb", "DEVTYPE=usb_interface"), false},
		{msg("ACTION=change", "SUBSYSTEM=usb", "DEVTYPE=usb_device"), false},
		{msg("ACTION=add", "SUBSYSTEM=block", "DEVTYPE=disk"), false},
		{[]byte("libudev\x00garbage"), false},
		{nil, false},
	}
	for i, c := range cases {
		if got := ueventWantsRescan(c.msg); got != c.want {
			t.Errorf("case %d: got %v", i, got)
		}
	}
}
