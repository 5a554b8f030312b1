package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Directory watches: a tree is watched folder by folder; reaching the kernel's limit (or
// Config.MaxWatches) leaves the rest unwatched, counted in Stats and warned about once.

var errWatchCap = fmt.Errorf("configured watch cap reached: %w", syscall.ENOSPC)

func (s *Source) handleError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.stats.Overflows++
		if s.stats.Overflows == 1 || s.stats.Overflows%100 == 0 {
			s.log.Warn("file event queue overflowed; some file activity was not seen",
				"overflows", s.stats.Overflows, "limit", filepath.Join(s.cfg.ProcRoot, "sys/fs/inotify/max_queued_events"))
		}
		return
	}
	s.log.Debug("watcher error", "error", err)
}

// dropTreeLocked forgets watches at and below dir (renamed or removed). s.mu must be held.
func (s *Source) dropTreeLocked(dir string) {
	for p := range s.watched {
		if within(p, dir) {
			if s.w != nil {
				_ = s.w.Remove(p)
			}
			s.unwatchLocked(p)
		}
	}
}

// addTree watches dir and every directory below it that is not excluded. With report, the files
// found are queued as created (a directory that appeared while running). The walk ends early when
// Run stops: a home folder of a million files must not hold up the agent's shutdown.
func (s *Source) addTree(dir string, report bool) {
	now := time.Now()
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		select {
		case <-stop:
			return filepath.SkipAll
		default:
		}
		if err != nil {
			if p == dir {
				return err
			}
			s.log.Debug("walk", "path", p, "error", err)
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.w == nil {
			return filepath.SkipAll
		}
		if s.excluded(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			if report && d.Type().IsRegular() {
				if s.pending[p] == nil {
					s.pending[p] = &pendingFile{action: "created", last: now}
				}
			}
			return nil
		}
		if _, ok := s.watched[p]; ok {
			return nil
		}
		if err := s.watchLocked(p); err != nil {
			if errors.Is(err, errHiddenCap) {
				s.stats.UnwatchedDirs++
				if !s.hiddenWarned[s.hiddenBucketLocked(p)] {
					s.hiddenWarned[s.hiddenBucketLocked(p)] = true
					s.log.Info("hidden folder's share of watches used: deeper folders there are not watched",
						"folder", s.hiddenBucketLocked(p), "limit", s.cfg.HiddenWatchLimit)
				}
				return filepath.SkipDir
			}
			if isWatchLimit(err) {
				s.stats.UnwatchedDirs++
				s.stats.WatchLimitReached = true
				if !s.limitWarned {
					s.limitWarned = true
					s.log.Warn("watch limit reached: keeping existing watches, not descending further",
						"dir", p, "watches", len(s.watched), "limit_file", s.limitFile(),
						"limit", s.kernelLimit(), "error", err)
				}
				return filepath.SkipDir
			}
			s.log.Debug("cannot watch", "dir", p, "error", err)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		s.log.Debug("walk root", "dir", dir, "error", err)
	}
	if report {
		s.wake()
	}
}

func (s *Source) watchLocked(p string) error {
	if s.cfg.MaxWatches > 0 && len(s.watched) >= s.cfg.MaxWatches {
		return errWatchCap
	}
	bucket := s.hiddenBucketLocked(p)
	if bucket != "" && s.hidden[bucket] >= s.cfg.HiddenWatchLimit {
		return errHiddenCap
	}
	if err := s.w.Add(p); err != nil {
		return err
	}
	s.watched[p] = bucket
	if bucket != "" {
		s.hidden[bucket]++
	}
	return nil
}

// errHiddenCap: a hidden folder under a root has used its share of watches.
var errHiddenCap = errors.New("hidden folder's watch share used")

// unwatchLocked forgets the watch of directory p (the caller removed it from the watcher).
func (s *Source) unwatchLocked(p string) {
	if b := s.watched[p]; b != "" {
		s.hidden[b]--
	}
	delete(s.watched, p)
}

// hiddenBucketLocked returns the hidden folder directly under p's root that holds p (p itself
// included), or "" when p is not inside one. s.mu must be held.
func (s *Source) hiddenBucketLocked(p string) string {
	root := s.rootOf(p)
	if root == "" || p == root {
		return ""
	}
	rel := strings.TrimPrefix(p[len(root):], string(filepath.Separator))
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	if !strings.HasPrefix(first, ".") {
		return ""
	}
	return filepath.Join(root, first)
}

// isWatchLimit reports whether err means no more watches can be added: inotify's
// max_user_watches (ENOSPC), open files (EMFILE, ENFILE: kqueue and Windows use a descriptor or
// handle per watch) or the configured cap.
func isWatchLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, errWatchCap)
}

func (s *Source) limitFile() string {
	if s.cfg.MaxWatches > 0 && len(s.watched) >= s.cfg.MaxWatches {
		return "configured MaxWatches"
	}
	return filepath.Join(s.cfg.ProcRoot, "sys/fs/inotify/max_user_watches")
}

func (s *Source) kernelLimit() string {
	b, err := os.ReadFile(filepath.Join(s.cfg.ProcRoot, "sys/fs/inotify/max_user_watches"))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
