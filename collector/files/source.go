package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// Defaults for Config's zero values.
const (
	DefaultWindow           = 10 * time.Second
	DefaultSettle           = 2 * time.Second
	DefaultDirLimit         = 5
	DefaultGlobalLimit      = 50
	DefaultModifiedInterval = 5 * time.Minute
	DefaultMaxTracked       = 200000
	renamePairWindow        = 500 * time.Millisecond
	maxReported             = 10000
)

// Config configures the files source. Zero values take the defaults named in each field.
type Config struct {
	// Roots are the folders watched recursively. Nil means DefaultRoots(): users' home folders
	// and the temp folders of this OS. Removable volumes are added with AddRoot as they mount.
	Roots []string
	// Excludes are glob-ish patterns (see Matcher) of trees that get no watches and no events,
	// matched against the path below its root (patterns starting with "/" or a drive letter:
	// against the full path). Nil means DefaultExcludes; an empty non-nil slice excludes nothing.
	Excludes []string
	// Window is the aggregation window per directory (default 10 s).
	Window time.Duration
	// Settle is how long a file must see no writes before it is classified and reported, so
	// archives still being written are read once complete (default 2 s).
	Settle time.Duration
	// DirLimit is how many files per directory per window are reported individually before the
	// rest are only counted in the window's aggregate (default 5). Archives are always reported.
	DirLimit int
	// GlobalLimit caps individual (non-archive) events over all directories per window
	// (default 50), so a copy spread over many small directories stays bounded too.
	GlobalLimit int
	// ModifiedInterval: a file already reported is reported as modified again at most once per
	// interval (default 5 min). Archives are re-checked on every settled write.
	ModifiedInterval time.Duration
	// MaxWatches caps the number of directory watches; reaching it behaves like reaching the
	// kernel's limit (0: only the kernel's limit applies).
	MaxWatches int
	// MaxTracked caps the distinct file names held for open aggregation windows (default
	// 200,000); past it, files are still counted, with the size seen when classified.
	MaxTracked int
	// IsRemovable tells whether a path is on a removable volume (from the media collector).
	IsRemovable func(path string) bool
	// ProcRoot is where /proc is, to name and read the inotify limit in warnings (default "/proc").
	ProcRoot string
	// Logger receives warnings (watch limit, queue overflow); default: discard.
	Logger hclog.Logger
}

// Stats are the source's counters.
type Stats struct {
	Watches           int  // directories watched now
	UnwatchedDirs     int  // directories left unwatched because the watch limit was reached
	WatchLimitReached bool // the limit was hit at least once
	Overflows         int  // kernel or fsnotify queue overflows (events lost)
	Events            int  // events emitted
	Aggregates        int  // of which aggregate events
	Pending           int  // files waiting for writes to settle
}

// Source is the files collector. AddRoot, RemoveRoot and Stats are safe for concurrent use with
// Run; events are emitted from Run's goroutine only.
type Source struct {
	cfg     Config
	given   []collector.Root
	log     hclog.Logger
	matcher *Matcher
	abs     *Matcher // anchored patterns, matched on full paths

	mu        sync.Mutex
	roots     map[string]bool
	watched   map[string]struct{}
	w         *fsnotify.Watcher
	pending   map[string]*pendingFile
	agg       *aggregator
	reported  map[string]reportedFile
	lastPrune time.Time
	rename    struct {
		path string
		at   time.Time
	}
	stats       Stats
	limitWarned bool
	outbox      []*event.Event
	kick        chan struct{}
}

type pendingFile struct {
	action string // created, modified, renamed
	from   string // renamed: the old name
	last   time.Time
}

type reportedFile struct {
	at      time.Time
	size    int64
	mtime   time.Time
	archive ArchiveInfo
}

var _ collector.Source = (*Source)(nil)

var errWatchCap = fmt.Errorf("configured watch cap reached: %w", syscall.ENOSPC)

// New returns a files source. Invalid exclude patterns are logged and skipped.
func New(cfg Config) *Source {
	var given []collector.Root // folders the caller named: they must be there
	for _, r := range cfg.Roots {
		given = append(given, collector.Root{Stands: "a watched folder", Path: r})
	}
	if cfg.Roots == nil {
		cfg.Roots = DefaultRoots()
	}
	if cfg.Excludes == nil {
		cfg.Excludes = DefaultExcludes
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.DirLimit <= 0 {
		cfg.DirLimit = DefaultDirLimit
	}
	if cfg.GlobalLimit <= 0 {
		cfg.GlobalLimit = DefaultGlobalLimit
	}
	if cfg.ModifiedInterval <= 0 {
		cfg.ModifiedInterval = DefaultModifiedInterval
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = DefaultMaxTracked
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	cfg.Logger = collector.Logger(cfg.Logger)
	s := &Source{
		cfg: cfg, log: cfg.Logger, given: given,
		roots: map[string]bool{}, watched: map[string]struct{}{}, pending: map[string]*pendingFile{},
		reported: map[string]reportedFile{}, kick: make(chan struct{}, 1),
		agg: newAggregator(cfg.Window, cfg.DirLimit, cfg.GlobalLimit, cfg.MaxTracked),
	}
	var rel, abs []string
	for _, p := range cfg.Excludes {
		if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || hasDrive(p) {
			abs = append(abs, p)
		} else {
			rel = append(rel, p)
		}
	}
	var err error
	if s.matcher, err = NewMatcher(rel); err != nil {
		s.log.Warn("ignoring exclude patterns", "error", err)
		s.matcher, _ = NewMatcher(nil)
	}
	if s.abs, err = NewMatcher(abs); err != nil {
		s.log.Warn("ignoring anchored exclude patterns", "error", err)
		s.abs, _ = NewMatcher(nil)
	}
	for _, r := range cfg.Roots {
		if r != "" {
			s.roots[filepath.Clean(r)] = true
		}
	}
	return s
}

// Name implements collector.Source.
func (s *Source) Name() string { return "files" }

// Snapshot implements collector.Source. File activity has no history to report and listing the
// watched trees would be expensive and close to an inventory of the user's files, so Snapshot
// reports nothing; Run watches.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error { return nil }

// Stats returns the current counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Watches = len(s.watched)
	st.Pending = len(s.pending)
	return st
}

// Roots returns the configured roots, sorted.
func (s *Source) Roots() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.roots))
	for r := range s.roots {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// AddRoot starts watching dir recursively (a removable volume that was mounted). Files already
// there are not reported. Before Run it only records the root.
func (s *Source) AddRoot(dir string) error {
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("files: add root: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("files: add root %s: not a directory", dir)
	}
	s.mu.Lock()
	s.roots[dir] = true
	running := s.w != nil
	s.mu.Unlock()
	if running {
		s.addTree(dir, false)
	}
	return nil
}

// RemoveRoot stops watching dir (a volume that was unmounted); folders also under another root
// stay watched.
func (s *Source) RemoveRoot(dir string) {
	dir = filepath.Clean(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roots, dir)
	for p := range s.watched {
		if within(p, dir) && s.rootOf(p) == "" {
			if s.w != nil {
				_ = s.w.Remove(p)
			}
			delete(s.watched, p)
		}
	}
	for p := range s.pending {
		if within(p, dir) && s.rootOf(p) == "" {
			delete(s.pending, p)
		}
	}
	s.agg.forget(dir)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if !strings.HasPrefix(p, dir) {
		return false
	}
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return true
	}
	return p[len(dir)] == filepath.Separator
}

// rootOf returns the deepest root holding p ("" if none). s.mu must be held.
func (s *Source) rootOf(p string) string {
	best := ""
	for r := range s.roots {
		if len(r) > len(best) && within(p, r) {
			best = r
		}
	}
	return best
}

// excluded reports whether p is excluded or outside every root. s.mu must be held.
func (s *Source) excluded(p string) bool {
	root := s.rootOf(p)
	if root == "" {
		return true
	}
	if s.abs.Excluded(p) {
		return true
	}
	rel := strings.TrimPrefix(p[len(root):], string(filepath.Separator))
	return rel != "" && s.matcher.Excluded(rel)
}

// Run implements collector.Source: it watches the roots until ctx ends, then reports what is
// still pending (settled or not) and the open windows' aggregates, and returns. A folder named
// in Config.Roots that is missing or not a folder is an error.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	if err := collector.CheckRoots(s.given...); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return fmt.Errorf("files: start watcher: %w", err)
	}
	s.mu.Lock()
	if s.w != nil {
		s.mu.Unlock()
		_ = w.Close()
		return errors.New("files: Run already running")
	}
	s.w = w
	roots := make([]string, 0, len(s.roots))
	for r := range s.roots {
		roots = append(roots, r)
	}
	s.mu.Unlock()
	sort.Strings(roots)
	for _, r := range roots {
		if _, err := os.Stat(r); err != nil {
			s.log.Debug("root not available", "root", r, "error", err)
			continue
		}
		s.addTree(r, false)
	}
	s.log.Debug("watching", "roots", len(roots), "watches", s.Stats().Watches)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	defer func() {
		timer.Stop()
		_ = w.Close()
		s.flush(time.Now(), emit, true)
		s.mu.Lock()
		s.w = nil
		s.watched = map[string]struct{}{}
		s.mu.Unlock()
	}()
	for {
		if !armed && s.busy() {
			timer.Reset(s.tickEvery())
			armed = true
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			s.handle(ev, time.Now(), emit)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.handleError(err)
		case <-s.kick:
		case <-timer.C:
			armed = false
			s.flush(time.Now(), emit, false)
		}
	}
}

func (s *Source) tickEvery() time.Duration {
	d := s.cfg.Settle / 2
	if d < 50*time.Millisecond {
		d = 50 * time.Millisecond
	}
	return d
}

// busy reports whether there is pending work needing the timer.
func (s *Source) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0 || s.agg.open() || s.rename.path != ""
}

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
			delete(s.watched, p)
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

func (s *Source) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
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

// dropTreeLocked forgets watches at and below dir (renamed or removed). s.mu must be held.
func (s *Source) dropTreeLocked(dir string) {
	for p := range s.watched {
		if within(p, dir) {
			if s.w != nil {
				_ = s.w.Remove(p)
			}
			delete(s.watched, p)
		}
	}
}

// addTree watches dir and every directory below it that is not excluded. With report, the files
// found are queued as created (a directory that appeared while running).
func (s *Source) addTree(dir string, report bool) {
	now := time.Now()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
	if err := s.w.Add(p); err != nil {
		return err
	}
	s.watched[p] = struct{}{}
	return nil
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
		s.settle(p, now)
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
		s.queueLocked(f, ag.Dir)
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
func (s *Source) settle(p string, now time.Time) {
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
	var info ArchiveInfo
	if seen && prev.size == st.Size() && prev.mtime.Equal(st.ModTime()) {
		info = prev.archive // unchanged since last read: no need to read it again
	} else {
		info, err = classify(p)
		if err != nil {
			s.log.Debug("archive header", "path", p, "error", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pf.action == "modified" && info.Type == "" && seen && now.Sub(prev.at) < s.cfg.ModifiedInterval {
		return // reported recently; a file being edited is not news every few seconds
	}
	if !s.agg.add(p, st.Size(), false, info.Type != "", now) {
		return // counted in its directory's aggregate
	}
	// Remember individually reported files only: that set is bounded by the per-window budgets
	// (and capped), where every file of a burst would not be.
	if len(s.reported) >= maxReported {
		s.reported = map[string]reportedFile{}
	}
	s.reported[p] = reportedFile{at: now, size: st.Size(), mtime: st.ModTime(), archive: info}
	f := map[string]any{"TargetFilename": p, "Action": pf.action, "Size": st.Size()}
	if pf.from != "" {
		f["SourceFilename"] = pf.from
	}
	if info.Type != "" {
		f["ArchiveType"] = info.Type
		f["ArchiveEncrypted"] = info.Encrypted
	}
	s.queueLocked(f, p)
}

// classify reads the archive signature and headers of a regular file.
func classify(p string) (ArchiveInfo, error) {
	f, err := openNoFollow(p)
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("stat: %w", err)
	}
	if !st.Mode().IsRegular() {
		return ArchiveInfo{}, fmt.Errorf("%s: not a regular file", p)
	}
	return DetectArchive(f, st.Size())
}

// queueLocked tags one event and queues it for drain. s.mu must be held.
func (s *Source) queueLocked(f map[string]any, p string) {
	if s.cfg.IsRemovable != nil && s.cfg.IsRemovable(p) {
		f["Removable"] = true
	}
	if c := CloudProvider(p); c != "" {
		f["CloudSync"] = c
	}
	s.stats.Events++
	s.outbox = append(s.outbox, event.New(event.FileEvent, f))
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
