package netconn

import (
	"context"
	"maps"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/process"
	"github.com/vigilhq/vigil/collector/rdprobe"
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
	// EtcRoot stands for /etc, for the owners' user names (see process.Config.EtcRoot).
	EtcRoot string
	// Interval is the polling period (default DefaultInterval).
	Interval time.Duration
	// NoUDP leaves UDP sockets out.
	NoUDP bool
	// IgnoreLoopback leaves out sockets whose both ends are loopback addresses (and listeners
	// bound to loopback only).
	IgnoreLoopback bool
	// Hostnames names a remote address from the DNS answers this host received (see
	// collector/dnsnames); outbound connections then carry DestinationHostname. Nil: none.
	Hostnames func(ip string) (name string, ok bool)
	// Prober, when set, learns once per new TCP listener whether it serves a remote-desktop
	// protocol (RemoteDesktopProtocol on the listener's event and on connections to it).
	Prober *rdprobe.Prober
	// Changes, when set, receives when sockets may have changed (processes started): Run polls
	// ChangeSettle after a notification, besides every Interval.
	Changes <-chan struct{}
	// ChangeSettle is the wait after a change notification (default 1 s).
	ChangeSettle time.Duration
	// Logger receives warnings; default: discard.
	Logger hclog.Logger
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
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

// probeWorkers bounds the listeners probed at once.
const probeWorkers = 4

// changeFollowUps is how many more polls follow the one a change notification brings.
const changeFollowUps = 2

// tracker remembers the sockets reported, to report each once and forget closed ones.
type tracker struct {
	seen map[connKey]bool
	live map[connKey]bool // scratch, reused per poll
	peak int              // the most connections live was sized for
	// rd holds the remote-desktop protocol of each live TCP listener that serves one, by its
	// local address ("" for a wildcard bind) and port.
	rd map[portKey]string
}

func newTracker() *tracker {
	return &tracker{seen: make(map[connKey]bool), live: make(map[connKey]bool), rd: make(map[portKey]string)}
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
	if cfg.ChangeSettle <= 0 {
		cfg.ChangeSettle = time.Second
	}
	cfg.Logger = collector.Logger(cfg.Logger)
	s := &Source{
		cfg:      cfg,
		log:      cfg.Logger,
		resolver: process.NewResolver(process.Config{ProcRoot: cfg.ProcRoot, EtcRoot: cfg.EtcRoot}),
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
	return s.poll(ctx, emit, newTracker(), true)
}

// Run reports the current sockets, then each new one every Interval until ctx ends. Closed
// sockets are forgotten, so a reconnect is reported again.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	if err := s.poll(ctx, emit, s.tracker, true); err != nil {
		return err
	}
	loop := collector.Loop{What: "sockets", Log: s.log, Interval: s.cfg.Interval, Pace: s.cfg.Pace}
	// After a change notification, sockets are listed ChangeSettle later and twice more, a
	// ChangeSettle apart: a program that just started may take a few seconds to listen.
	var followUps atomic.Int32
	if s.cfg.Changes != nil {
		loop.Settle = s.cfg.ChangeSettle
		notify := make(chan struct{}, 1)
		go func() {
			defer close(notify)
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-s.cfg.Changes:
					if !ok {
						return
					}
					followUps.Store(changeFollowUps)
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			}
		}()
		loop.Watch = func(context.Context) (<-chan struct{}, error) { return notify, nil }
	}
	return loop.Run(ctx, func(ctx context.Context) (bool, error) {
		err := s.poll(ctx, emit, s.tracker, false)
		return followUps.Add(-1) >= 0, err
	})
}

// poll lists sockets once and emits the ones tr has not seen in its previous poll; initial marks
// them Snapshot (open when the source started).
func (s *Source) poll(ctx context.Context, emit collector.Emit, tr *tracker, initial bool) error {
	socks, err := s.list(ctx)
	if err != nil {
		return err
	}
	conns := classify(socks, s.cfg.IgnoreLoopback)
	if len(conns) > tr.peak {
		tr.peak = len(conns)
	} else if tr.peak > 1024 && len(conns) < tr.peak/8 {
		// Back to a fraction of a peak (a load test's sockets): Go maps keep their size.
		tr.live, tr.peak = make(map[connKey]bool, len(conns)), len(conns)
		seen := make(map[connKey]bool, len(conns))
		maps.Copy(seen, tr.seen)
		tr.seen = seen
	}
	clear(tr.live)
	pids := make(map[int]bool)
	var fresh []*conn
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
		fresh = append(fresh, c)
	}
	for k := range tr.seen {
		if !tr.live[k] {
			delete(tr.seen, k)
		}
	}
	for k := range tr.rd {
		if !tr.live[connKey{proto: "tcp", listen: true, localIP: k.ipOr("0.0.0.0"), localPort: k.port}] &&
			!tr.live[connKey{proto: "tcp", listen: true, localIP: k.ipOr("::"), localPort: k.port}] {
			delete(tr.rd, k)
		}
	}
	s.probe(ctx, fresh, tr)
	for _, c := range fresh {
		var owner *process.Owner
		if c.PID > 0 {
			if o, ok := s.resolver.Lookup(ctx, c.PID); ok {
				owner = &o
			}
		}
		f := c.fields(owner)
		if p := tr.protocolOf(c); p != "" {
			f["RemoteDesktopProtocol"] = p
		}
		if initial {
			f["Snapshot"] = true
		}
		if c.initiated && s.cfg.Hostnames != nil {
			if name, ok := s.cfg.Hostnames(c.RemoteIP); ok {
				f["DestinationHostname"] = name
			}
		}
		emit(event.New(event.NetworkConnection, f))
	}
	s.resolver.Retain(func(pid int) bool { return pids[pid] })
	return nil
}

// probe learns the remote-desktop protocol of the new TCP listeners among fresh (not this
// process's own), a few at a time, and records the ones that serve one in tr.rd.
func (s *Source) probe(ctx context.Context, fresh []*conn, tr *tracker) {
	if s.cfg.Prober == nil {
		return
	}
	self := os.Getpid()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeWorkers)
	for _, c := range fresh {
		if !c.listening || c.Protocol != "tcp" || c.PID == self {
			continue
		}
		ip, err := netip.ParseAddr(c.LocalIP)
		if err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(c *conn) {
			defer wg.Done()
			defer func() { <-sem }()
			proto, err := s.cfg.Prober.Probe(ctx, rdprobe.Target(ip, c.LocalPort))
			if err != nil {
				s.log.Debug("listener not probed", "address", c.LocalIP, "port", c.LocalPort, "error", err)
				return
			}
			s.log.Debug("listener probed", "address", c.LocalIP, "port", c.LocalPort, "protocol", proto)
			if proto != "" {
				mu.Lock()
				tr.rd[listenerKey(c.LocalIP, c.LocalPort)] = proto
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
}
