package imageload

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/exeinfo"
	"github.com/vigilhq/vigil/internal/event"
)

// maxMapsBytes bounds the read of one maps file (a browser's is about 200 KiB).
const maxMapsBytes = 4 << 20

// Snapshot reports the libraries of every running process, once per executable.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	d, err := os.Open(s.cfg.ProcRoot)
	if err != nil {
		return fmt.Errorf("imageload: list processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("imageload: list processes in %s: %w", s.cfg.ProcRoot, err)
	}
	for _, n := range names {
		if ctx.Err() != nil {
			return nil
		}
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			s.report(pid, emit)
		}
	}
	return nil
}

// report reads one process's maps, unless its executable was reported before, and emits an
// image_load event per library.
func (s *Source) report(pid int, emit collector.Emit) {
	dir := filepath.Join(s.cfg.ProcRoot, strconv.Itoa(pid))
	image, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil {
		return // gone, a kernel thread, or not ours to read
	}
	image = strings.TrimSuffix(image, " (deleted)")
	st, err := os.Stat(filepath.Join(dir, "exe"))
	if err != nil {
		return
	}
	id, ok := exeinfo.Identify(st)
	always := !ok || isLoader(image) || strings.HasPrefix(image, "/memfd:")
	key := identityKey(id, image)
	if !always {
		s.mu.Lock()
		_, seen := s.done[key]
		if seen {
			s.stats.CacheHits++
		}
		s.mu.Unlock()
		if seen {
			return
		}
	}
	data, err := readCapped(filepath.Join(dir, "maps"), maxMapsBytes)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("maps not read", "pid", pid, "error", err)
		}
		return
	}
	libs := loaded(parseMaps(data), image)
	s.mu.Lock()
	s.stats.MapsRead++
	if !always {
		if len(s.done) >= s.cfg.CacheEntries {
			clear(s.done)
		}
		s.done[key] = struct{}{}
	}
	s.stats.Events += len(libs)
	s.mu.Unlock()
	for _, lib := range libs {
		f := map[string]any{"Image": image, "ImageLoaded": lib, "ProcessId": pid}
		if !s.cfg.NoHashes {
			if sum, err := s.hasher.Hash(lib); err == nil {
				f["Hashes"] = sum
			}
		}
		emit(event.New(event.ImageLoad, f))
	}
}

// identityKey folds an executable's identity and path into one map key: a hard link or a copy
// elsewhere is a new name for the rules to see, so the path is part of it.
func identityKey(id exeinfo.FileID, image string) uint64 {
	h := fnv.New64a()
	for _, v := range id {
		var b [8]byte
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		_, _ = h.Write(b[:])
	}
	_, _ = io.WriteString(h, image)
	return h.Sum64()
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
