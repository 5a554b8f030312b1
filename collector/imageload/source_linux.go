package imageload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/collector"
)

// maxMapsBytes bounds the read of one maps file (a browser's is about 200 KiB).
const maxMapsBytes = 4 << 20

// Snapshot reports the libraries of every running process, once per executable.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	return s.snapshot(ctx, emit, false)
}

// snapshot is Snapshot; with wait (Run's), a process whose loader is still at work is read
// again later instead of reported half loaded.
func (s *Source) snapshot(ctx context.Context, emit collector.Emit, wait bool) error {
	emit = snapshotEmit(emit)
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
			if s.report(pid, wait, emit) {
				s.schedule(notice{pid: pid, tries: 1, snapshot: true})
			}
		}
	}
	return nil
}

// report reads one process's maps, unless its executable was reported before, and emits an
// image_load event per library. With wait set, a process whose dynamic loader is still mapping
// its libraries is left for later: report then returns true and emits nothing.
func (s *Source) report(pid int, wait bool, emit collector.Emit) (again bool) {
	dir := filepath.Join(s.cfg.ProcRoot, strconv.Itoa(pid))
	image, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil {
		return false // gone, a kernel thread, or not ours to read
	}
	image = strings.TrimSuffix(image, " (deleted)")
	st, err := os.Stat(filepath.Join(dir, "exe"))
	if err != nil {
		return false
	}
	key, first := s.firstTime(st, image, isLoader(image) || strings.HasPrefix(image, "/memfd:"))
	if !first {
		return false
	}
	data, err := readCapped(filepath.Join(dir, "maps"), maxMapsBytes)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("maps not read", "pid", pid, "error", err)
		}
		return false
	}
	maps := parseMaps(data)
	if wait && stillLoading(maps) {
		s.mu.Lock()
		s.stats.Waits++
		s.mu.Unlock()
		return true
	}
	libs := loaded(maps, image)
	s.read(key, len(libs))
	for _, lib := range libs {
		emit(s.event(pid, image, lib, ""))
	}
	return false
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
