package usb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// watchUevents listens to the kernel's uevent multicast group. It refuses fixture roots: the
// kernel's notifications describe the live /sys only.
func watchUevents(ctx context.Context, root string, log hclog.Logger) (<-chan struct{}, error) {
	if filepath.Clean(root) != "/sys" {
		return nil, fmt.Errorf("sysfs root %s is not the live /sys", root)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("netlink uevent socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink uevent bind: %w", err)
	}
	// A plug produces a burst of messages; a bigger buffer makes overflow (ENOBUFS) rare, and
	// an overflow only costs a rescan.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	f := os.NewFile(uintptr(fd), "netlink-uevent")
	return readUevents(ctx, f, unix.ENOBUFS, log), nil
}

// ueventWantsRescan tells whether a kernel uevent (ACTION@DEVPATH then NUL-separated KEY=VALUE
// pairs) may change the USB device list: a usb_device being added, removed, bound or unbound.
func ueventWantsRescan(msg []byte) bool {
	var action, subsystem, devtype []byte
	for _, kv := range bytes.Split(msg, []byte{0}) {
		k, v, ok := bytes.Cut(kv, []byte{'='})
		if !ok {
			continue
		}
		switch string(k) {
		case "ACTION":
			action = v
		case "SUBSYSTEM":
			subsystem = v
		case "DEVTYPE":
			devtype = v
		}
	}
	if string(subsystem) != "usb" || string(devtype) != "usb_device" {
		return false
	}
	switch string(action) {
	case "add", "remove", "bind", "unbind":
		return true
	}
	return false
}

// readUevents reads uevent datagrams from r until ctx ends and signals (coalesced) on the
// returned channel when one may change the device list. errLost, when r reports it, means
// messages were dropped (the socket buffer overflowed): that triggers a rescan too.
func readUevents(ctx context.Context, r io.ReadCloser, errLost error, log hclog.Logger) <-chan struct{} {
	ch := make(chan struct{}, 1)
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		r.Close()
	}()
	go func() {
		defer close(ch)
		defer close(stop)
		buf := make([]byte, 16<<10)
		for {
			n, err := r.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if errLost != nil && errors.Is(err, errLost) {
					signal()
					continue
				}
				log.Warn("reading uevents failed", "error", err)
				return
			}
			if ueventWantsRescan(buf[:n]) {
				signal()
			}
		}
	}()
	return ch
}
