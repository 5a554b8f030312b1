package files

import "os"

// DefaultRoots are the folders watched by default on macOS: users' home folders (with
// /Users/Shared), /private/tmp, /private/var/tmp and $TMPDIR.
func DefaultRoots() []string {
	roots := subdirs("/Users")
	roots = append(roots, "/Users/Shared", "/private/tmp", "/private/var/tmp", os.TempDir())
	return existing(roots)
}
