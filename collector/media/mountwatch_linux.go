package media

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// watchMountinfo signals when the mount table changes: the kernel marks an open
// /proc/<pid>/mountinfo with POLLPRI|POLLERR after every mount or unmount in its namespace.
// Only the live /proc has that; a fixture file is refused (the caller polls instead).
//
// Not every kernel flags every change: the 6.18 kernel this was tested on flags unmounts but
// not mounts. So the notification only shortens the delay; the caller polls regardless.
func watchMountinfo(ctx context.Context, path string, log hclog.Logger) (<-chan struct{}, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", path, err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not on procfs", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		f.Close()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		unix.Write(pipe[1], []byte{0})
	}()
	go func() {
		defer close(ch)
		defer f.Close()
		defer unix.Close(pipe[0])
		defer unix.Close(pipe[1])
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}, {Fd: int32(pipe[0]), Events: unix.POLLIN}}
		for {
			fds[0].Revents, fds[1].Revents = 0, 0
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				log.Warn("polling mountinfo failed", "error", err)
				return
			}
			if fds[1].Revents != 0 || ctx.Err() != nil {
				return
			}
			if fds[0].Revents&(unix.POLLPRI|unix.POLLERR) != 0 {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch, nil
}
