package process

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/exeinfo"
	"github.com/vigilhq/vigil/internal/event"
)

// DefaultPollInterval is how often the polling path (macOS, Windows, Linux fallback) lists
// processes. A process that starts and exits between two polls is missed.
const DefaultPollInterval = 2 * time.Second

// Config configures the process source. The zero value watches the live system.
type Config struct {
	// ProcRoot is the Linux procfs root (default "/proc"). The kernel connector reports process
	// ids only; the details are read from here.
	ProcRoot string
	// EtcRoot stands for /etc: user names come from EtcRoot/passwd. Unset, they come from the
	// system's user database when ProcRoot is /proc, and a fixture tree's user ids stay numbers.
	EtcRoot string
	// Poll forces the polling path on Linux instead of the kernel connector.
	Poll bool
	// PollInterval is the polling period (default DefaultPollInterval).
	PollInterval time.Duration
	// HashMaxBytes is the largest executable hashed (default DefaultHashMaxBytes); larger ones
	// are reported without Hashes.
	HashMaxBytes int64
	// HashCacheEntries bounds the hash cache (default DefaultHashCacheEntries).
	HashCacheEntries int
	// MaxCommandLine caps CommandLine in bytes (default DefaultMaxCommandLine).
	MaxCommandLine int
	// Logger receives warnings (connector refused, events lost); default: discard.
	Logger hclog.Logger
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
}

// Mode says how a running Source learns about processes.
type Mode string

// Modes reported by Source.Mode.
const (
	ModeNone      Mode = ""          // Run has not started yet
	ModeConnector Mode = "connector" // Linux kernel process-events connector (netlink)
	ModePoll      Mode = "poll"      // periodic listing with diffing
)

// Source is the process collector. It implements collector.Source; Run and Snapshot call emit
// from one goroutine at a time.
type Source struct {
	cfg     Config
	log     hclog.Logger
	hasher  *Hasher
	exeinfo *exeinfo.Cache
	users   *userCache
	mode    atomic.Value // Mode
}

var _ collector.Source = (*Source)(nil)

// New returns a process source for cfg, filling defaults.
func New(cfg Config) *Source {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxCommandLine <= 0 {
		cfg.MaxCommandLine = DefaultMaxCommandLine
	}
	cfg.Logger = collector.Logger(cfg.Logger)
	s := &Source{
		cfg:     cfg,
		log:     cfg.Logger,
		hasher:  pacedHasher(cfg),
		exeinfo: exeinfo.NewCache(cfg.HashCacheEntries),
		users:   newUserCache(userLookup(cfg)),
	}
	s.mode.Store(ModeNone)
	return s
}

// Name implements collector.Source.
func (s *Source) Name() string { return "process" }

// Mode reports the path Run chose: ModeConnector or ModePoll (ModeNone before Run decides).
func (s *Source) Mode() Mode { return s.mode.Load().(Mode) }

// Hasher is the source's executable hash cache (shared by its Snapshot and Run).
func (s *Source) Hasher() *Hasher { return s.hasher }

// Snapshot reports every running process as process_creation with Snapshot: true.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	return s.snapshot(ctx, emit)
}

// Run reports the running processes as Snapshot does, then every start and exit until ctx ends.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	return s.run(ctx, emit)
}

// procInfo is one process as the collectors see it, whatever the OS.
type procInfo struct {
	PID, PPID        int
	Image            string
	CommandLine      string
	CurrentDirectory string
	User             string
	Hashes           string
	Name             string         // short name (Linux comm); not emitted
	Extra            map[string]any // OS-specific fields (Windows PE version resource)
}

// parentRef is what a child's event says about its parent.
type parentRef struct {
	Image, CommandLine string
}

// fields renders a process as event fields, leaving out what was not observed.
func (p *procInfo) fields(parent *parentRef, snapshot bool) map[string]any {
	f := make(map[string]any, 12)
	f["ProcessId"] = p.PID
	if p.PPID > 0 {
		f["ParentProcessId"] = p.PPID
	}
	setStr(f, "Image", p.Image)
	setStr(f, "CommandLine", p.CommandLine)
	setStr(f, "CurrentDirectory", p.CurrentDirectory)
	setStr(f, "User", p.User)
	setStr(f, "Hashes", p.Hashes)
	if parent != nil {
		setStr(f, "ParentImage", parent.Image)
		setStr(f, "ParentCommandLine", parent.CommandLine)
	}
	for k, v := range p.Extra {
		f[k] = v
	}
	if snapshot {
		f["Snapshot"] = true
	}
	return f
}

// identity adds what the executable says about itself, read through openPath (for a live Linux
// process its exe link, which reaches a deleted or memfd executable too) once per file version:
// the Go build identity (GoPackage, GoModule, GoModuleVersion), a PE file's Authenticode
// signer (Signature) and a Mach-O file's code signature (SigningId, SigningTeamId, SigningAdHoc,
// Signature).
func (s *Source) identity(info *procInfo, openPath string) {
	if openPath == "" {
		return
	}
	id := s.exeinfo.Path(openPath)
	if id == (exeinfo.Info{}) {
		return
	}
	if info.Extra == nil {
		info.Extra = map[string]any{}
	}
	id.Fields(info.Extra)
}

func setStr(f map[string]any, k, v string) {
	if v != "" {
		f[k] = v
	}
}

// newEvent builds an event for a process of the given product (the OS the data describes).
func newEvent(category, product string, p *procInfo, parent *parentRef, snapshot bool) *event.Event {
	ev := event.New(category, p.fields(parent, snapshot))
	ev.Product = product
	return ev
}

func pacedHasher(cfg Config) *Hasher {
	h := NewHasher(cfg.HashMaxBytes, cfg.HashCacheEntries)
	h.Pace = cfg.Pace
	return h
}
