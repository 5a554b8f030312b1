package exeinfo

import (
	"io"
	"os"
	"sync"
)

// DefaultCacheEntries bounds a Cache: a laptop runs a few hundred distinct executables.
const DefaultCacheEntries = 4096

// FileID identifies one version of a file whatever its name: a hard link, a renamed copy that
// kept its inode or a path reused by another binary are told apart by device, inode, size and
// modification time (on Windows, which has no inode here: a hash of the base name, size and
// modification time).
type FileID [4]uint64

// Info is what an executable says about itself.
type Info struct {
	Go     GoInfo         // Go build identity (zero for other programs)
	Signer string         // the signer's certificate name (PE: see ReadPESigner; Mach-O: MachO.Signer)
	MachO  MachOSignature // Mach-O code signature (zero for other formats)
}

// Read reads an executable's identity: Go build information and, for a PE file, its
// Authenticode signer or, for a Mach-O file, its code signature. The format is told from the
// first bytes, so a file is parsed only as what it is.
func Read(r io.ReaderAt) Info {
	var info Info
	info.Go, _ = ReadGo(r)
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return info
	}
	switch {
	case magic[0] == 'M' && magic[1] == 'Z':
		info.Signer, _ = ReadPESigner(r)
	case isMachO(magic):
		if sig, ok := ReadMachOSignature(r); ok {
			info.Signer, info.MachO = sig.Signer, sig
		}
	}
	return info
}

// Fields adds the event fields of info: GoPackage, GoModule, GoModuleVersion, Signature and,
// for a Mach-O executable, SigningId, SigningTeamId and SigningAdHoc.
func (info Info) Fields(f map[string]any) {
	info.Go.Fields(f)
	if info.Signer != "" {
		f["Signature"] = info.Signer
	}
	if info.MachO.Identifier != "" {
		f["SigningId"] = info.MachO.Identifier
		f["SigningAdHoc"] = info.MachO.AdHoc
		if info.MachO.TeamID != "" {
			f["SigningTeamId"] = info.MachO.TeamID
		}
	}
}

// Cache remembers Info per file version. It is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[FileID]Info
	reads   int
}

// NewCache returns a cache of at most entries results (DefaultCacheEntries when <= 0).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	return &Cache{max: entries, entries: make(map[FileID]Info)}
}

func (c *Cache) lookup(st os.FileInfo) (Info, FileID, bool, bool) {
	id, idOK := Identify(st)
	if !idOK {
		return Info{}, id, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	info, hit := c.entries[id]
	return info, id, true, hit
}

// File returns the identity of the open file f (for a live process, its executable opened
// through /proc/<pid>/exe, which reaches a deleted or memfd executable too), reading it only
// when this version of the file was not read before.
func (c *Cache) File(f *os.File) Info {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return Info{}
	}
	info, id, idOK, hit := c.lookup(st)
	if hit {
		return info
	}
	info = Read(f)
	if idOK {
		c.mu.Lock()
		if len(c.entries) >= c.max {
			clear(c.entries) // bounded: churn through many binaries cannot grow it without end
		}
		c.entries[id] = info
		c.reads++
		c.mu.Unlock()
	}
	return info
}

// Path is File for the file at path; a file read before is answered from a stat.
func (c *Cache) Path(path string) Info {
	if st, err := os.Stat(path); err == nil {
		if info, _, _, hit := c.lookup(st); hit {
			return info
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return Info{}
	}
	defer f.Close()
	return c.File(f)
}

// Reads reports how many files the cache has read (its misses), for tests and benchmarks.
func (c *Cache) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}
