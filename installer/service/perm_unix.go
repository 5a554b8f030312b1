//go:build !windows

package service

import "os"

// restrict makes path root's when this process is root (mode bits are set by the caller).
func restrict(path string, _ bool) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(path, 0, 0)
}

// restrictExecutable makes an installed executable root's when this process is root, so that
// no other user can replace what the service runs.
func restrictExecutable(path string) error { return restrict(path, false) }
