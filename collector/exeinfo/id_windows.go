package exeinfo

import (
	"hash/fnv"
	"os"
)

// identify has no inode on Windows through os.FileInfo: the cache key is the base name's hash,
// size and modification time.
func identify(st os.FileInfo) (fileID, bool) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(st.Name()))
	return fileID{h.Sum64(), 0, uint64(st.Size()), uint64(st.ModTime().UnixNano())}, true
}
