//go:build !linux && !darwin && !windows

package files

import "os"

// DefaultRoots on other systems: the temp folder and /tmp.
func DefaultRoots() []string {
	return existing([]string{"/tmp", "/var/tmp", os.TempDir()})
}
