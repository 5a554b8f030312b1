package files

import "os"

// DefaultRoots are the folders watched by default on Linux: users' home folders, root's, and the
// temp folders (/tmp, /var/tmp, /dev/shm and $TMPDIR).
func DefaultRoots() []string {
	roots := subdirs("/home")
	roots = append(roots, "/root", "/tmp", "/var/tmp", "/dev/shm", os.TempDir())
	return existing(roots)
}
