package exeinfo

import (
	"hash/fnv"
	"os"
)

// Identify returns the identity of the file st describes. Windows has no inode here: the key is
// the base name's hash, the size and the modification time.
func Identify(st os.FileInfo) (FileID, bool) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(st.Name()))
	return FileID{h.Sum64(), 0, uint64(st.Size()), uint64(st.ModTime().UnixNano())}, true
}
