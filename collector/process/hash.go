package process

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/vigilhq/vigil/collector"
)

// Hashing defaults. A laptop runs a few hundred distinct executables; 4096 entries keep every one
// of them (about 200 bytes each) so the steady state is a stat and a map lookup per process start.
const (
	// DefaultHashMaxBytes is the largest executable hashed (64 MiB: SHA-256 of that takes about
	// 40-150 ms of one core). Larger files get no Hashes field rather than stalling the stream;
	// remote-access tools are well under it (AnyDesk ~7 MiB, TeamViewer ~60 MiB).
	DefaultHashMaxBytes = 64 << 20
	// DefaultHashCacheEntries bounds the hash cache.
	DefaultHashCacheEntries = 4096
)

// ErrPaused is returned by the Hasher for a file not in its cache while its Pace is slowed
// (the agent is over its budget): only cached hashes are served then.
var ErrPaused = errors.New("hashing paused while the agent is over its budget")

// ErrTooLarge is returned by the Hasher for files above its size cap.
var ErrTooLarge = errors.New("file above the hashing size cap")

// fileKey identifies one version of an executable: the cache is keyed by path, size and
// modification time, so a replaced binary is hashed again.
type fileKey struct {
	path  string
	size  int64
	mtime int64 // UnixNano
}

func keyOf(path string, fi os.FileInfo) fileKey {
	return fileKey{path: path, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// Hasher computes Sysmon-style `SHA256=<UPPERCASE HEX>` strings of executables with a bounded LRU
// cache keyed by (path, size, mtime). It is safe for concurrent use.
type Hasher struct {
	maxBytes int64
	entries  int
	// Pace, when slowed, limits the Hasher to its cache.
	Pace *collector.Pace

	mu    sync.Mutex
	ll    *list.List // front = most recently used; values are *hashEntry
	index map[fileKey]*list.Element
}

type hashEntry struct {
	key fileKey
	sum string
}

// NewHasher returns a Hasher that skips files larger than maxBytes and caches up to entries
// results (defaults when <= 0).
func NewHasher(maxBytes int64, entries int) *Hasher {
	if maxBytes <= 0 {
		maxBytes = DefaultHashMaxBytes
	}
	if entries <= 0 {
		entries = DefaultHashCacheEntries
	}
	return &Hasher{maxBytes: maxBytes, entries: entries, ll: list.New(), index: make(map[fileKey]*list.Element)}
}

// Hash returns the hash string of the file at path, from the cache when the path, size and
// modification time match a cached entry.
func (h *Hasher) Hash(path string) (string, error) { return h.hashVia(path, path) }

// prepare looks up the hash of the file reached through openPath (for a live process,
// /proc/<pid>/exe, which stat and open follow to the executed file even after it was deleted) under
// the cache key of its reported path image. On a miss it opens openPath and returns the file for
// hashOpen, so the read can happen later without racing the process's exit; the caller closes it.
func (h *Hasher) prepare(image, openPath string) (sum string, key fileKey, f *os.File, err error) {
	fi, err := os.Stat(openPath)
	if err != nil {
		return "", key, nil, fmt.Errorf("hash %s: %w", image, err)
	}
	key = keyOf(image, fi)
	if sum, ok := h.lookup(key); ok {
		return sum, key, nil, nil
	}
	if key.size > h.maxBytes {
		return "", key, nil, fmt.Errorf("hash %s: %d bytes: %w (%d bytes)", image, key.size, ErrTooLarge, h.maxBytes)
	}
	if h.Pace.Slowed() {
		return "", key, nil, fmt.Errorf("hash %s: %w", image, ErrPaused)
	}
	f, err = os.Open(openPath)
	if err != nil {
		return "", key, nil, fmt.Errorf("hash %s: %w", image, err)
	}
	return "", key, f, nil
}

// hashVia is prepare followed by the hash of a miss.
func (h *Hasher) hashVia(image, openPath string) (string, error) {
	sum, key, f, err := h.prepare(image, openPath)
	if err != nil || f == nil {
		return sum, err
	}
	defer f.Close()
	return h.hashOpen(key, f)
}

// lookup returns a cached hash string.
func (h *Hasher) lookup(key fileKey) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	el, ok := h.index[key]
	if !ok {
		return "", false
	}
	h.ll.MoveToFront(el)
	return el.Value.(*hashEntry).sum, true
}

func (h *Hasher) store(key fileKey, sum string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if el, ok := h.index[key]; ok {
		h.ll.MoveToFront(el)
		return
	}
	h.index[key] = h.ll.PushFront(&hashEntry{key: key, sum: sum})
	for h.ll.Len() > h.entries {
		old := h.ll.Back()
		h.ll.Remove(old)
		delete(h.index, old.Value.(*hashEntry).key)
	}
}

// Len is the number of cached hashes.
func (h *Hasher) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ll.Len()
}

// hashOpen hashes an already open file (for example /proc/<pid>/exe, opened while the process
// still existed) and caches the result under key. It reads at most the size cap plus one byte, so
// a file that grew after the stat cannot make it read without bound.
func (h *Hasher) hashOpen(key fileKey, f *os.File) (string, error) {
	if key.size > h.maxBytes {
		return "", fmt.Errorf("hash %s: %d bytes: %w (%d bytes)", key.path, key.size, ErrTooLarge, h.maxBytes)
	}
	d := sha256.New()
	n, err := io.Copy(d, io.LimitReader(f, h.maxBytes+1))
	if err != nil {
		return "", fmt.Errorf("hash %s: read: %w", key.path, err)
	}
	if n > h.maxBytes {
		return "", fmt.Errorf("hash %s: grew past %d bytes while read: %w", key.path, h.maxBytes, ErrTooLarge)
	}
	sum := FormatSHA256(d.Sum(nil))
	h.store(key, sum)
	return sum, nil
}

// FormatSHA256 renders a digest in Sysmon's Hashes format: SHA256=<64 uppercase hex digits>.
func FormatSHA256(sum []byte) string {
	return "SHA256=" + strings.ToUpper(hex.EncodeToString(sum))
}
