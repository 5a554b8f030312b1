package files

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// From settled files to events: each is classified (archives are read), then reported on its own
// or counted in its folder's aggregation window, and queued for Run's goroutine to emit.

// flush classifies settled files (all pending ones when final) and closes due windows.
func (s *Source) flush(now time.Time, emit collector.Emit, final bool) {
	defer s.drain(emit)
	s.mu.Lock()
	if s.rename.path != "" && (final || now.Sub(s.rename.at) > renamePairWindow) {
		old := s.rename.path
		s.rename.path = ""
		s.goneLocked(old, now)
	}
	var ready []string
	for p, pf := range s.pending {
		if final || now.Sub(pf.last) >= s.cfg.Settle {
			ready = append(ready, p)
		}
	}
	sort.Strings(ready)
	s.mu.Unlock()

	for _, p := range ready {
		s.settle(p, now, final)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	when := now
	if final {
		when = now.Add(s.cfg.Window + time.Nanosecond) // close every window
	}
	for _, ag := range s.agg.due(when, statSize) {
		end := ag.End
		if final && end.After(now) {
			end = now
		}
		f := map[string]any{
			"TargetFilename": ag.Dir, "Action": "aggregate",
			"FileCount": ag.FileCount, "TotalBytes": ag.TotalBytes,
			"WindowStart": ag.Start.UTC().Format(time.RFC3339Nano), "WindowEnd": end.UTC().Format(time.RFC3339Nano),
		}
		if ag.DeletedCount > 0 {
			f["DeletedCount"] = ag.DeletedCount
		}
		s.stats.Aggregates++
		ev := s.queueLocked(f, ag.Dir)
		if !ag.Last.IsZero() && ag.Last.Before(ev.Time) {
			ev.Time = ag.Last.UTC() // when the burst's files were added, not when its window closed
		}
	}
	if now.Sub(s.lastPrune) > s.cfg.ModifiedInterval {
		s.lastPrune = now
		for p, r := range s.reported {
			if now.Sub(r.at) > s.cfg.ModifiedInterval {
				delete(s.reported, p)
			}
		}
	}
}

func statSize(p string) (int64, bool) {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

// settle classifies one settled file and reports it (or counts it in its directory's window).
// An archive whose headers are not complete yet (7-Zip writes a placeholder start header and
// the real one when it finishes; a zip's central directory comes last) is held back, up to
// ArchiveWait, so it is judged once its writer has finished, unless final.
func (s *Source) settle(p string, now time.Time, final bool) {
	s.mu.Lock()
	pf := s.pending[p]
	delete(s.pending, p)
	prev, seen := s.reported[p]
	s.mu.Unlock()
	if pf == nil {
		return
	}
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return // gone, or not a regular file (symlink, fifo, device): nothing to read
	}
	var info fileContent
	if seen && prev.size == st.Size() && prev.mtime.Equal(st.ModTime()) {
		info = prev.content // unchanged since last read: no need to read it again
	} else {
		info, err = classify(p)
		if err != nil {
			s.log.Debug("file header", "path", p, "error", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if info.incomplete && !final {
		if pf.held.IsZero() {
			pf.held = now
		}
		if now.Sub(pf.held) < s.cfg.ArchiveWait {
			if s.pending[p] == nil {
				pf.last = now
				s.pending[p] = pf
			}
			return
		}
	}
	if pf.action == "modified" && info.archive.Type == "" && info.encrypted == "" && seen && now.Sub(prev.at) < s.cfg.ModifiedInterval {
		return // reported recently; a file being edited is not news every few seconds
	}
	if !s.agg.add(p, st.Size(), false, info.archive.Type != "" || info.encrypted != "", now) {
		return // counted in its directory's aggregate
	}
	// Remember individually reported files only: that set is bounded by the per-window budgets
	// (and capped), where every file of a burst would not be.
	if len(s.reported) >= maxReported {
		s.reported = map[string]reportedFile{}
	}
	s.reported[p] = reportedFile{at: now, size: st.Size(), mtime: st.ModTime(), content: info}
	f := map[string]any{"TargetFilename": p, "Action": pf.action, "Size": st.Size()}
	if pf.from != "" {
		f["SourceFilename"] = pf.from
	}
	if t := info.archive.Type; t != "" {
		f["ArchiveType"] = t
		f["ArchiveEncrypted"] = info.archive.Encrypted
		if ExtensionMismatch(p, t) {
			f["ExtensionMismatch"] = true
		}
	}
	if info.encrypted != "" {
		f["EncryptedFormat"] = info.encrypted
	}
	s.queueLocked(f, p)
}

// fileContent is what a file's first bytes and headers say.
type fileContent struct {
	archive    ArchiveInfo
	incomplete bool   // an archive whose headers could not all be read yet
	encrypted  string // for a file that is not an archive: an Encrypted* value or ""
}

// classify reads the signature and headers of a regular file: the archive type and encryption
// flag, or for other files whether an encryption tool wrote them.
func classify(p string) (fileContent, error) {
	f, err := openNoFollow(p)
	if err != nil {
		return fileContent{}, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileContent{}, fmt.Errorf("stat: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fileContent{}, fmt.Errorf("%s: not a regular file", p)
	}
	a, err := DetectArchive(f, st.Size())
	if a.Type != "" {
		return fileContent{archive: a, incomplete: err != nil}, err
	}
	enc, err := DetectEncrypted(f, st.Size())
	return fileContent{encrypted: enc}, err
}

// queueLocked tags one event and queues it for drain, returning it. s.mu must be held.
func (s *Source) queueLocked(f map[string]any, p string) *event.Event {
	if s.cfg.IsRemovable != nil && s.cfg.IsRemovable(p) {
		f["Removable"] = true
	}
	if c := CloudProvider(p); c != "" {
		f["CloudSync"] = c
	}
	s.stats.Events++
	ev := event.New(event.FileEvent, f)
	s.outbox = append(s.outbox, ev)
	return ev
}

// drain emits the queued events without holding s.mu, so emit may call back into the Source.
func (s *Source) drain(emit collector.Emit) {
	s.mu.Lock()
	out := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	for _, e := range out {
		emit(e)
	}
}
