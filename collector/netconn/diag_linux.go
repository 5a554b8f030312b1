package netconn

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// dumpListeners appends this network namespace's TCP listening sockets (IPv4 and IPv6) to dst,
// asking the kernel through sock_diag for the LISTEN state only: it walks the listening sockets
// and skips the connections, so the look costs the same whatever traffic the machine carries
// (reading /proc/net/tcp formats every socket).
func dumpListeners(dst []procSocket, buf []byte) ([]procSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return dst, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return dst, fmt.Errorf("sock_diag receive timeout: %w", err)
	}
	for i, fam := range []uint8{diagFamilyINET, diagFamilyINET6} {
		if err := unix.Sendto(fd, diagRequest(fam, 1<<tcpListenState, uint32(i+1)), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return dst, fmt.Errorf("sock_diag request: %w", err)
		}
		for done := false; !done; {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return dst, fmt.Errorf("sock_diag receive: %w", err)
			}
			if dst, done, err = parseDiag(buf[:n], dst); err != nil {
				var refused diagError
				if fam == diagFamilyINET6 && errors.As(err, &refused) {
					break // no IPv6 here
				}
				return dst, err
			}
			if n == 0 {
				return dst, errors.New("sock_diag: the kernel closed the dump")
			}
		}
	}
	return dst, nil
}
