package process

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connRecvBuf is the socket receive buffer asked for: room for tens of thousands of events while
// the reader is busy, so an exec storm (a build) is absorbed rather than lost.
const connRecvBuf = 8 << 20

// connector is a subscribed NETLINK_CONNECTOR socket for process events.
type connector struct {
	f   *os.File
	rc  syscall.RawConn
	fd  int
	seq uint32
}

// openConnector opens the socket and joins the CN_IDX_PROC group. The listen request is sent
// by listen, and the caller waits for its ack before trusting the connector.
func openConnector() (*connector, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("netlink connector socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, connRecvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, connRecvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink connector bind to group CN_IDX_PROC: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netlink-proc-connector")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netlink connector: %w", err)
	}
	return &connector{f: f, rc: rc, fd: fd, seq: rand.Uint32()}, nil
}

// control sends a listen or ignore request; it returns the request's sequence number.
func (c *connector) control(op uint32) (uint32, error) {
	c.seq++
	seq := c.seq
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), connectorControl(op, seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("netlink connector request %d: %w", op, err)
	}
	return seq, nil
}

// errOverrun reports that the kernel dropped events because the socket buffer was full.
var errOverrun = errors.New("process events lost: connector socket buffer overrun")

// recv reads one datagram from the kernel into buf, waiting at most until deadline (zero: no
// limit). Datagrams from anything but the kernel are dropped. ENOBUFS is returned as errOverrun.
func (c *connector) recv(buf []byte, deadline time.Time) (int, error) {
	if err := c.f.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("netlink connector deadline: %w", err)
	}
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return 0, err
		}
		if errors.Is(rerr, unix.ENOBUFS) {
			return 0, errOverrun
		}
		if rerr != nil {
			return 0, fmt.Errorf("netlink connector receive: %w", rerr)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		return n, nil
	}
}

// close asks the kernel to stop (best effort) and closes the socket.
func (c *connector) close() {
	_, _ = c.control(procCnMcastIgnore)
	c.f.Close()
}

// monotonicNow is the kernel's CLOCK_MONOTONIC in nanoseconds, the clock of proc_event timestamps.
func monotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
