//go:build !windows

package exeinfo

import (
	"os"
	"syscall"
)

func identify(st os.FileInfo) (fileID, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(s.Dev), uint64(s.Ino), uint64(st.Size()), uint64(st.ModTime().UnixNano())}, true
}
