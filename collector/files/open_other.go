//go:build !unix

package files

import "os"

// openNoFollow opens p for reading; the caller has checked with Lstat that it is a regular file.
func openNoFollow(p string) (*os.File, error) {
	return os.Open(p)
}
