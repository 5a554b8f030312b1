package imageload

import (
	"context"
	"hash/fnv"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/exeinfo"
	"github.com/vigilhq/vigil/collector/process"
	"github.com/vigilhq/vigil/internal/event"
)

// Defaults.
const (
	// DefaultDelay is how long after a process starts its maps are read: the dynamic loader
	// maps a program's libraries within milliseconds of exec.
	DefaultDelay = 700 * time.Millisecond
	// DefaultCacheEntries bounds the executables remembered as reported.
	DefaultCacheEntries = 4096
	// DefaultHashMaxBytes is the largest library hashed; larger ones get no Hashes.
	DefaultHashMaxBytes = 16 << 20
	// maxPending bounds the processes waiting for their maps read (a fork bomb cannot grow it).
	maxPending = 4096
	// maxRereads bounds the re-reads of a process whose dynamic loader is still mapping its
	// libraries (see stillLoading), one Delay apart; after them it is reported as it is.
	maxRereads = 5
)

// Config configures the source.
type Config struct {
	ProcRoot     string        // the Linux procfs root (default "/proc")
	Delay        time.Duration // DefaultDelay
	CacheEntries int           // DefaultCacheEntries
	// NoHashes leaves Hashes out (each library is otherwise hashed once, cached by path, size
	// and modification time).
	NoHashes     bool
	HashMaxBytes int64 // DefaultHashMaxBytes
	Logger       hclog.Logger
}

// Source is the image-load collector. Notice tells it of new processes (the suite passes every
// process_creation event on); it is safe for concurrent use.
type Source struct {
	cfg    Config
	log    hclog.Logger
	hasher *process.Hasher
	ids    *exeinfo.Cache // Windows: each module's signer, read once per file version

	mu      sync.Mutex
	done    map[uint64]struct{} // executables whose libraries were reported (by identity hash)
	pending []notice
	kick    chan struct{}
	stats   Stats
}

type notice struct {
	pid      int
	due      time.Time
	tries    int  // reads so far that found the loader still at work
	snapshot bool // a process of the start-up snapshot, read again: its events carry Snapshot
}

// Stats are the source's counters.
type Stats struct {
	MapsRead    int // /proc/<pid>/maps files read
	Waits       int // reads that found the dynamic loader still at work (read again later)
	CacheHits   int // processes whose executable was already reported
	Events      int // image_load events emitted
	Executables int // executables remembered
}

var _ collector.Source = (*Source)(nil)

// New returns the source.
func New(cfg Config) *Source {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Delay <= 0 {
		cfg.Delay = DefaultDelay
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.HashMaxBytes <= 0 {
		cfg.HashMaxBytes = DefaultHashMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Source{
		cfg: cfg, log: cfg.Logger, hasher: process.NewHasher(cfg.HashMaxBytes, 0), ids: exeinfo.NewCache(0),
		done: map[uint64]struct{}{}, kick: make(chan struct{}, 1),
	}
}

// Name implements collector.Source.
func (s *Source) Name() string { return "imageload" }

// Stats returns the counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Executables = len(s.done)
	return st
}

// Notice schedules the maps of a process that just started to be read after the delay.
func (s *Source) Notice(pid int) {
	if pid <= 0 {
		return
	}
	s.schedule(notice{pid: pid})
}

// schedule queues n to be read after the delay.
func (s *Source) schedule(n notice) {
	n.due = time.Now().Add(s.cfg.Delay)
	s.mu.Lock()
	if len(s.pending) < maxPending {
		s.pending = append(s.pending, n)
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run reports the libraries of the running processes, then of each process noticed, until ctx
// ends.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	if err := s.snapshot(ctx, emit, true); err != nil {
		return err
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		var due []notice
		next := time.Duration(-1)
		now := time.Now()
		keep := s.pending[:0]
		for _, n := range s.pending {
			if !n.due.After(now) {
				due = append(due, n)
				continue
			}
			if d := n.due.Sub(now); next < 0 || d < next {
				next = d
			}
			keep = append(keep, n)
		}
		s.pending = keep
		s.mu.Unlock()
		for _, n := range due {
			out := emit
			if n.snapshot {
				out = snapshotEmit(emit)
			}
			if s.report(n.pid, n.tries < maxRereads, out) {
				n.tries++
				s.schedule(n)
			}
		}
		if next >= 0 {
			t.Reset(next)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-t.C:
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

// firstTime tells whether the libraries of the executable image (st describes it) are to be
// read: true the first time a version of it is seen, or always when always is set (a loader
// or memfd, whose executable says nothing of what it runs) or its identity is unknown. key is
// passed to read.
func (s *Source) firstTime(st os.FileInfo, image string, always bool) (key uint64, first bool) {
	id, ok := exeinfo.Identify(st)
	if always || !ok {
		return 0, true
	}
	key = identityKey(id, image)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.done[key]; seen {
		s.stats.CacheHits++
		return key, false
	}
	return key, true
}

// read records that an executable's libraries were read (key 0: not remembered) and how many
// events they give.
func (s *Source) read(key uint64, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.MapsRead++
	s.stats.Events += events
	if key != 0 {
		if len(s.done) >= s.cfg.CacheEntries {
			clear(s.done)
		}
		s.done[key] = struct{}{}
	}
}

// snapshotEmit marks the events of a snapshot (libraries of the processes already running when
// the source looked) with Snapshot: true.
func snapshotEmit(emit collector.Emit) collector.Emit {
	return func(ev *event.Event) {
		ev.Fields["Snapshot"] = true
		emit(ev)
	}
}

// event builds one image_load event; signer is the module's Authenticode signer, if any.
func (s *Source) event(pid int, image, lib, signer string) *event.Event {
	f := map[string]any{"Image": image, "ImageLoaded": lib, "ProcessId": pid}
	if !s.cfg.NoHashes {
		if sum, err := s.hasher.Hash(lib); err == nil {
			f["Hashes"] = sum
		}
	}
	if signer != "" {
		f["Signature"] = signer
	}
	return event.New(event.ImageLoad, f)
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
