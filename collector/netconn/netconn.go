package netconn

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/process"
	"github.com/vigilhq/vigil/internal/event"
)

// DefaultInterval is how often sockets are listed. A connection opened and closed between two
// polls is missed (on Linux, one that lingers in TIME_WAIT is still seen, without its process).
const DefaultInterval = 5 * time.Second

// Config configures the network source. The zero value watches the live system.
type Config struct {
	// ProcRoot is the Linux procfs root (default "/proc"): socket tables in <root>/net and
	// their owners through <root>/<pid>/fd.
	ProcRoot string
	// Interval is the polling period (default DefaultInterval).
	Interval time.Duration
	// NoUDP leaves UDP sockets out.
	NoUDP bool
	// IgnoreLoopback leaves out sockets whose both ends are loopback addresses (and listeners
	// bound to loopback only).
	IgnoreLoopback bool
	// Logger receives warnings; default: discard.
	Logger hclog.Logger
}

// Source is the network collector. It implements collector.Source; emit is called from one
// goroutine.
type Source struct {
	cfg      Config
	log      hclog.Logger
	list     func(ctx context.Context) ([]Socket, error)
	resolver *process.Resolver
	tracker  *tracker // Run's memory of the sockets already reported
}

// tracker remembers the sockets reported, to report each once and forget closed ones.
type tracker struct {
	seen map[connKey]bool
	live map[connKey]bool // scratch, reused per poll
}

func newTracker() *tracker {
	return &tracker{seen: make(map[connKey]bool), live: make(map[connKey]bool)}
}

var _ collector.Source = (*Source)(nil)

// New returns a network source for cfg, filling defaults.
func New(cfg Config) *Source {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	cfg.Logger = collector.Logger(cfg.Logger)
	s := &Source{
		cfg:      cfg,
		log:      cfg.Logger,
		resolver: process.NewResolver(cfg.ProcRoot),
		tracker:  newTracker(),
	}
	s.list = newSocketLister(s)
	return s
}

// Name implements collector.Source.
func (s *Source) Name() string { return "netconn" }

// Snapshot reports every current connection and listening socket. It does not change what Run
// has reported.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	return s.poll(ctx, emit, newTracker())
}

// Run reports the current sockets, then each new one every Interval until ctx ends. Closed
// sockets are forgotten, so a reconnect is reported again.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	if err := s.poll(ctx, emit, s.tracker); err != nil {
		return err
	}
	loop := collector.Loop{What: "sockets", Log: s.log, Interval: s.cfg.Interval}
	return loop.Run(ctx, func(ctx context.Context) (bool, error) { return false, s.poll(ctx, emit, s.tracker) })
}

// poll lists sockets once and emits the ones tr has not seen in its previous poll.
func (s *Source) poll(ctx context.Context, emit collector.Emit, tr *tracker) error {
	socks, err := s.list(ctx)
	if err != nil {
		return err
	}
	conns := classify(socks, s.cfg.IgnoreLoopback)
	clear(tr.live)
	pids := make(map[int]bool)
	for i := range conns {
		c := &conns[i]
		tr.live[c.key] = true
		if c.PID > 0 {
			pids[c.PID] = true
		}
		if tr.seen[c.key] {
			continue
		}
		tr.seen[c.key] = true
		var owner *process.Owner
		if c.PID > 0 {
			if o, ok := s.resolver.Lookup(ctx, c.PID); ok {
				owner = &o
			}
		}
		ev := event.New(event.NetworkConnection, c.fields(owner))
		emit(ev)
	}
	for k := range tr.seen {
		if !tr.live[k] {
			delete(tr.seen, k)
		}
	}
	s.resolver.Retain(func(pid int) bool { return pids[pid] })
	return nil
}
