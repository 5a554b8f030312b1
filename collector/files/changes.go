package files

import (
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/vigilhq/vigil/collector"
)

// From fsnotify events to pending files: a created, written or renamed file waits in s.pending
// until its writes settle (report.go); a file gone before it settled was a temporary one.

// handle processes one fsnotify event.
func (s *Source) handle(ev fsnotify.Event, now time.Time, emit collector.Emit) {
	defer s.drain(emit)
	p := filepath.Clean(ev.Name)
	s.mu.Lock()
	renamedFrom := ""
	if s.rename.path != "" {
		if ev.Has(fsnotify.Create) && now.Sub(s.rename.at) <= renamePairWindow {
			renamedFrom = s.rename.path
			s.rename.path = ""
		} else if !ev.Has(fsnotify.Rename) || ev.Name != s.rename.path {
			old := s.rename.path
			s.rename.path = ""
			s.goneLocked(old, now)
		}
	}
	if s.excluded(p) {
		s.mu.Unlock()
		return
	}
	switch {
	case ev.Has(fsnotify.Create):
		s.mu.Unlock()
		st, err := os.Lstat(p)
		if err != nil {
			return // already gone
		}
		if st.IsDir() {
			if renamedFrom != "" {
				s.mu.Lock()
				s.dropTreeLocked(renamedFrom)
				s.mu.Unlock()
			}
			// Files can land before the watch is added: report what the new tree holds.
			s.addTree(p, true)
			return
		}
		s.mu.Lock()
		pf := &pendingFile{action: "created", last: now}
		if renamedFrom != "" {
			if old := s.pending[renamedFrom]; old != nil && old.action == "created" {
				// Created and renamed before it settled (a download or an archiver's temp file).
				delete(s.pending, renamedFrom)
			} else {
				delete(s.pending, renamedFrom)
				pf = &pendingFile{action: "renamed", from: renamedFrom, last: now}
			}
		} else if old := s.pending[p]; old != nil {
			old.last = now
			pf = old
		}
		s.pending[p] = pf
	case ev.Has(fsnotify.Write):
		if pf := s.pending[p]; pf != nil {
			pf.last = now
		} else {
			s.pending[p] = &pendingFile{action: "modified", last: now}
		}
	case ev.Has(fsnotify.Remove):
		if _, isDir := s.watched[p]; isDir {
			s.unwatchLocked(p)
		} else {
			s.goneLocked(p, now)
		}
	case ev.Has(fsnotify.Rename):
		if _, isDir := s.watched[p]; isDir {
			s.dropTreeLocked(p)
		}
		s.rename.path, s.rename.at = p, now
	}
	s.mu.Unlock()
	s.wake()
}

// goneLocked handles a file that disappeared (deleted, or moved out of the watched roots). A file
// created and gone before it settled is dropped (a temp file). s.mu must be held.
func (s *Source) goneLocked(p string, now time.Time) {
	if _, isDir := s.watched[p]; isDir {
		s.dropTreeLocked(p)
		return
	}
	if pf := s.pending[p]; pf != nil {
		delete(s.pending, p)
		if pf.action == "created" {
			return
		}
	}
	delete(s.reported, p)
	if s.agg.add(p, 0, true, false, now) {
		s.queueLocked(map[string]any{"TargetFilename": p, "Action": "deleted"}, p)
	}
}
