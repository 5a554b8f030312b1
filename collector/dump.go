package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
)

// MaxDumpBytes is the largest saved dump a FileBackend reads.
const MaxDumpBytes = 64 << 20

// FileBackend lists the items of a saved dump (tool output captured on another machine, for
// tests and forensics), parsed by parse. The file is read and parsed again only when its size
// or modification time changes. A missing, empty or oversized file is an error naming it, and
// so is what parse refuses.
func FileBackend[T any](path, product string, parse func([]byte) ([]T, error)) *Backend[T] {
	return DumpsBackend(product, []string{path}, func(raw [][]byte) ([]T, error) {
		items, err := parse(raw[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return items, nil
	})
}

// DumpsBackend is FileBackend for items read from several dumps together: parse gets their
// bytes in the order of paths (nil for an empty path) and must name the file in its errors.
func DumpsBackend[T any](product string, paths []string, parse func(raw [][]byte) ([]T, error)) *Backend[T] {
	var (
		mu    sync.Mutex
		stamp string
		items []T
		err   error
	)
	return &Backend[T]{Product: product, List: func(context.Context) ([]T, error) {
		mu.Lock()
		defer mu.Unlock()
		var now string
		for _, p := range paths {
			if p == "" {
				continue
			}
			s, serr := dumpStamp(p)
			if serr != nil {
				return nil, serr
			}
			now += s + "\x00"
		}
		if now != stamp || stamp == "" {
			raw := make([][]byte, len(paths))
			items, err = nil, nil
			for i, p := range paths {
				if p == "" {
					continue
				}
				if raw[i], err = readDump(p); err != nil {
					break
				}
			}
			if err == nil {
				items, err = parse(raw)
			}
			stamp = now
		}
		if err != nil {
			return nil, err
		}
		// Callers may reorder what they get; the cached listing stays as parsed.
		return slices.Clone(items), nil
	}}
}

// dumpStamp checks a dump's size and returns what changes when it does.
func dumpStamp(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > MaxDumpBytes {
		return "", fmt.Errorf("%s: %d bytes, larger than the %d accepted", path, st.Size(), MaxDumpBytes)
	}
	return fmt.Sprint(st.Size(), " ", st.ModTime().UnixNano()), nil
}

func readDump(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxDumpBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", path, MaxDumpBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: empty file: no tool output to read", path)
	}
	return raw, nil
}
