package exeinfo

import (
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

// Cache remembers GoInfo per file version. It is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[FileID]cached
	reads   int
}

type cached struct {
	info GoInfo
	ok   bool
}

// NewCache returns a cache of at most entries results (DefaultCacheEntries when <= 0).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	return &Cache{max: entries, entries: make(map[FileID]cached)}
}

// Go returns the Go build information of the open file f (for a live process, its executable
// opened through /proc/<pid>/exe, which reaches a deleted or memfd executable too), reading it
// only when this version of the file was not read before.
func (c *Cache) Go(f *os.File) (GoInfo, bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return GoInfo{}, false
	}
	id, idOK := Identify(st)
	if idOK {
		c.mu.Lock()
		e, hit := c.entries[id]
		c.mu.Unlock()
		if hit {
			return e.info, e.ok
		}
	}
	info, ok := ReadGo(f)
	if idOK {
		c.mu.Lock()
		if len(c.entries) >= c.max {
			clear(c.entries) // bounded: churn through many binaries cannot grow it without end
		}
		c.entries[id] = cached{info, ok}
		c.reads++
		c.mu.Unlock()
	}
	return info, ok
}

// GoPath is Go for the file at path; a file read before is answered from a stat.
func (c *Cache) GoPath(path string) (GoInfo, bool) {
	if st, err := os.Stat(path); err == nil {
		if id, ok := Identify(st); ok {
			c.mu.Lock()
			e, hit := c.entries[id]
			c.mu.Unlock()
			if hit {
				return e.info, e.ok
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return GoInfo{}, false
	}
	defer f.Close()
	return c.Go(f)
}

// Reads reports how many files the cache has read (its misses), for tests and benchmarks.
func (c *Cache) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}
