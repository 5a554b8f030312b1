package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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
	DefaultArchiveWait      = 10 * time.Minute
	DefaultHiddenWatchLimit = 512
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
	// ArchiveWait is how long an archive whose headers are not complete yet is held back before
	// it is reported as it is (default 10 min).
	ArchiveWait time.Duration
	// MaxWatches caps the number of directory watches; reaching it behaves like reaching the
	// kernel's limit (0: only the kernel's limit applies).
	MaxWatches int
	// HiddenWatchLimit caps the directory watches inside each hidden folder directly under a
	// root (~/.cache, ~/.config, ~/.local...), so a browser profile or a tool's cache cannot use
	// up the watch budget (default 512).
	HiddenWatchLimit int
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

	mu           sync.Mutex
	roots        map[string]bool
	watched      map[string]string // watched directories -> their hidden-folder bucket ("" for none)
	hidden       map[string]int    // watches per hidden folder directly under a root
	hiddenWarned map[string]bool
	w            *fsnotify.Watcher
	stop         <-chan struct{} // Run's ctx.Done(): tree walks end early when it closes
	pending      map[string]*pendingFile
	agg          *aggregator
	reported     map[string]reportedFile
	lastPrune    time.Time
	rename       struct {
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
	held   time.Time // when an archive with incomplete headers was first held back ("" if never)
}

type reportedFile struct {
	at      time.Time
	size    int64
	mtime   time.Time
	content fileContent
}

var _ collector.Source = (*Source)(nil)

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
	if cfg.HiddenWatchLimit <= 0 {
		cfg.HiddenWatchLimit = DefaultHiddenWatchLimit
	}
	if cfg.ArchiveWait <= 0 {
		cfg.ArchiveWait = DefaultArchiveWait
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
		roots: map[string]bool{}, watched: map[string]string{}, hidden: map[string]int{}, hiddenWarned: map[string]bool{}, pending: map[string]*pendingFile{},
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

// Run implements collector.Source: it watches the roots until ctx ends, then reports what is
// still pending (settled or not) and the open windows' aggregates, and returns. A folder named
// in Config.Roots that is missing or not a folder is an error.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	if err := collector.CheckRoots(s.given...); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	w, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return fmt.Errorf("files: start watcher: %w", err)
	}
	s.mu.Lock()
	if s.w != nil {
		s.mu.Unlock()
		_ = w.Close()
		return errors.New("files: Run already running")
	}
	s.w, s.stop = w, ctx.Done()
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
		s.w, s.stop = nil, nil
		s.watched = map[string]string{}
		s.hidden = map[string]int{}
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

func (s *Source) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
