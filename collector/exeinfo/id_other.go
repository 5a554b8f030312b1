//go:build !windows

package exeinfo

import (
	"os"
	"syscall"
)

// Identify returns the identity of the file st describes (false when the OS gives no inode).
func Identify(st os.FileInfo) (FileID, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, false
	}
	return FileID{uint64(s.Dev), uint64(s.Ino), uint64(st.Size()), uint64(st.ModTime().UnixNano())}, true
}
