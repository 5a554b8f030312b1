//go:build unix

package files

import (
	"os"
	"syscall"
)

// openNoFollow opens p for reading without following a symlink and without blocking on a FIFO
// that replaced the file since it was checked.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
