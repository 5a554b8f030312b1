//go:build !linux && !darwin && !windows

package files

import "os"

// DefaultRoots on other systems: home folders under /home and the temp folders.
func DefaultRoots() []string {
	return existing(append(subdirs("/home"), "/tmp", "/var/tmp", os.TempDir()))
}
