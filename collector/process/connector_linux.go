package process

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// connRecvBuf is the socket receive buffer asked for: room for tens of thousands of events while
// the reader is busy, so an exec storm (a build) is absorbed rather than lost.
const connRecvBuf = 8 << 20

// connector is a subscribed NETLINK_CONNECTOR socket for process events. It is read by one
// goroutine locked to its own OS thread, blocked in recvfrom: the kernel wakes that thread as
// soon as an event is queued, without waiting for the Go network poller, because the details of
// a short-lived process must be read from procfs before it is gone.
type connector struct {
	fd  int
	seq uint32
}

// recvTimeout bounds each blocking receive so the reader notices a stop request.
const recvTimeout = 500 * time.Millisecond

// openConnector opens the socket and joins the CN_IDX_PROC group. The listen request is sent
// by control, and the caller waits for its ack before trusting the connector.
func openConnector() (*connector, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("netlink connector socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, connRecvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, connRecvBuf)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink connector receive timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink connector bind to group CN_IDX_PROC: %w", err)
	}
	return &connector{fd: fd, seq: rand.Uint32()}, nil
}

// control sends a listen or ignore request; it returns the request's sequence number.
func (c *connector) control(op uint32) (uint32, error) {
	c.seq++
	seq := c.seq
	if err := unix.Sendto(c.fd, connectorControl(op, seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink connector request %d: %w", op, err)
	}
	return seq, nil
}

// errOverrun reports that the kernel dropped events because the socket buffer was full.
var errOverrun = errors.New("process events lost: connector socket buffer overrun")

// errRecvTimeout is a receive that waited recvTimeout without a datagram.
var errRecvTimeout = errors.New("netlink connector: receive timed out")

// recv blocks for one datagram from the kernel, at most recvTimeout. Datagrams from anything
// but the kernel are dropped. ENOBUFS is returned as errOverrun.
func (c *connector) recv(buf []byte) (int, error) {
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, errRecvTimeout
		case errors.Is(err, unix.ENOBUFS):
			return 0, errOverrun
		case err != nil:
			return 0, fmt.Errorf("netlink connector receive: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		return n, nil
	}
}

// close asks the kernel to stop (best effort) and closes the socket. Only call it once the
// reader has returned.
func (c *connector) close() {
	_, _ = c.control(procCnMcastIgnore)
	unix.Close(c.fd)
}

// monotonicNow is the kernel's CLOCK_MONOTONIC in nanoseconds, the clock of proc_event timestamps.
func monotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
