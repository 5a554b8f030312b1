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
	key, first := s.firstTime(st, image, isLoader(image) || strings.HasPrefix(image, "/memfd:"))
	if !first {
		return
	}
	data, err := readCapped(filepath.Join(dir, "maps"), maxMapsBytes)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("maps not read", "pid", pid, "error", err)
		}
		return
	}
	libs := loaded(parseMaps(data), image)
	s.read(key, len(libs))
	for _, lib := range libs {
		emit(s.event(pid, image, lib, ""))
	}
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
