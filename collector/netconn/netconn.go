package netconn

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"strconv"
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
	// ChangeSettle is how long after a process start (see Notice) every socket is listed, and
	// listed again twice, ChangeSettle apart (default 1 s).
	ChangeSettle time.Duration
	// Logger receives warnings; default: discard.
	Logger hclog.Logger
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
}

// Source is the network collector. It implements collector.Source; emit is never called from
// two goroutines at once (the listing and the probes' results take turns).
type Source struct {
	cfg  Config
	log  hclog.Logger
	list func(ctx context.Context) ([]Socket, error)
	// listeners lists the TCP listeners alone, cheaply, with their owners looked for first among
	// the given pids (nil where there is no such look: not Linux, or a fixture root).
	listeners func(ctx context.Context, recent []int) ([]Socket, error)
	// holdsNew tells whether one of pids holds a socket the last listing did not show (nil
	// where that cannot be told cheaply: not Linux, or a fixture root).
	holdsNew func(pids []int) bool
	resolver *process.Resolver
	tracker  *tracker  // Run's memory of the sockets already reported
	listed   time.Time // the last listing (under mu)

	mu     sync.Mutex    // a listing, a listener look or a probe's result at a time
	probes chan struct{} // semaphore: probes in flight
	starts starts        // processes started lately (Notice)
	kick   chan struct{} // Notice -> Run
}

// probeWorkers bounds the listeners probed at once (a probe mostly waits for an answer).
const probeWorkers = 8

// changeFollowUps is how many more polls follow the one a change notification brings.
const changeFollowUps = 2

// Quick looks at the listeners after process starts (Linux): every listenerEvery while a
// process started within listenerWindow.
const (
	listenerEvery  = 250 * time.Millisecond
	listenerWindow = 5 * time.Second
)

// tracker remembers the sockets reported, to report each once and forget closed ones.
type tracker struct {
	seen map[connKey]bool
	live map[connKey]bool // scratch, reused per poll
	peak int              // the most connections live was sized for
	// rd holds the remote-desktop protocol of each live TCP listener that serves one, by its
	// local address ("" for a wildcard bind) and port.
	rd map[portKey]string
	// probing holds the listeners being probed, with the events that wait for the result (the
	// listener's own, connections to it).
	probing map[portKey]*[]*event.Event
	wg      sync.WaitGroup // probes in flight
}

func newTracker() *tracker {
	return &tracker{seen: make(map[connKey]bool), live: make(map[connKey]bool), rd: make(map[portKey]string),
		probing: make(map[portKey]*[]*event.Event)}
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
		probes:   make(chan struct{}, probeWorkers),
		kick:     make(chan struct{}, 1),
	}
	s.list, s.listeners, s.holdsNew = newSocketLister(s)
	return s
}

// Name implements collector.Source.
func (s *Source) Name() string { return "netconn" }

// Notice tells the source that process pid just started (the suite passes on every
// process_creation): a new program may listen or connect soon, so Run looks at the listeners
// every 250 ms for the next 5 s (Linux; a cheap look at the listening sockets alone) and lists
// every socket 1, 2 and 3 s later (ChangeSettle). Safe for concurrent use.
func (s *Source) Notice(pid int) {
	s.starts.add(pid, time.Now())
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Snapshot reports every current connection and listening socket, once the new listeners'
// probes are over. It does not change what Run has reported.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	tr := newTracker()
	err := s.poll(ctx, emit, tr, true)
	tr.wg.Wait()
	return err
}

// Run reports the current sockets, then each new one every Interval, after process starts
// (Notice) and, for a new listener, as soon as its probe is over, until ctx ends. Closed
// sockets are forgotten, so a reconnect is reported again.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	watching := make(chan struct{}) // closed when the quick listener look is over
	defer func() {
		<-watching
		s.tracker.wg.Wait() // the probes end with ctx
	}()
	if err := s.poll(ctx, emit, s.tracker, true); err != nil {
		close(watching)
		return err
	}
	loop := collector.Loop{What: "sockets", Log: s.log, Interval: s.cfg.Interval, Pace: s.cfg.Pace, Settle: s.cfg.ChangeSettle}
	// After a process start, sockets are listed ChangeSettle later and twice more, a
	// ChangeSettle apart (a program that just started may take a few seconds to connect), and
	// the listeners alone every listenerEvery meanwhile.
	var followUps atomic.Int32
	notify := make(chan struct{}, 1)
	quick := make(chan struct{}, 1)
	go func() {
		defer close(notify)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
				followUps.Store(changeFollowUps)
				for _, ch := range []chan struct{}{notify, quick} {
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	loop.Watch = func(context.Context) (<-chan struct{}, error) { return notify, nil }
	if s.listeners != nil {
		go func() {
			defer close(watching)
			s.watchListeners(ctx, emit, quick)
		}()
	} else {
		close(watching)
	}
	return loop.Run(ctx, func(ctx context.Context) (bool, error) {
		again := followUps.Add(-1) >= 0
		if !s.listingDue() {
			return again, nil
		}
		return again, s.poll(ctx, emit, s.tracker, false)
	})
}

// listingDue tells whether a listing is worth its cost now. Reading the socket tables walks the
// kernel's socket hash tables, sized by the machine's memory rather than by its sockets (about
// 3 ms of CPU on a 24 GiB machine), and the listings after process starts came once a second
// while processes kept starting. So within half an Interval of the last listing, one is made only when
// a process started lately holds a socket that listing did not show (a look at those processes'
// descriptors); most new processes open none (a Unix-domain socket counts as new: the tables
// read do not show those). A regular listing so skipped (within half an Interval of one that
// followed a process start) leaves listings at most 1.5 Intervals apart at full pace (with the
// Pace's factor f, f+0.5 Intervals): a new socket of an older process waits that long at most.
func (s *Source) listingDue() bool {
	if s.holdsNew == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.listed) >= s.cfg.Interval/2 || s.holdsNew(s.starts.recent(listenerWindow))
}

// watchListeners looks at the listeners every listenerEvery while a process started within
// listenerWindow, from a notification on quick on; it stops for good if the look fails (the
// regular listings go on).
func (s *Source) watchListeners(ctx context.Context, emit collector.Emit, quick <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	ticking := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-quick:
			if !ticking {
				t.Reset(s.cfg.Pace.Scale(listenerEvery))
				ticking = true
			}
			continue
		case <-t.C:
		}
		if err := s.checkListeners(ctx, emit); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("quick listener look unavailable; new listeners wait for the regular listings", "error", err)
			}
			return
		}
		ticking = time.Since(s.starts.last()) < listenerWindow
		if ticking {
			t.Reset(s.cfg.Pace.Scale(listenerEvery))
		}
	}
}

// checkListeners lists the TCP listeners alone and reports the new ones (probing them).
func (s *Source) checkListeners(ctx context.Context, emit collector.Emit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	socks, err := s.listeners(ctx, s.starts.recent(listenerWindow))
	if err != nil {
		return err
	}
	conns := classify(socks, s.cfg.IgnoreLoopback)
	tr := s.tracker
	var fresh []*conn
	for i := range conns {
		c := &conns[i]
		if !c.listening || tr.seen[c.key] {
			continue
		}
		tr.seen[c.key] = true
		fresh = append(fresh, c)
	}
	s.report(ctx, emit, fresh, tr, false)
	return nil
}

// poll lists sockets once and emits the ones tr has not seen in its previous poll; initial marks
// them Snapshot (open when the source started).
func (s *Source) poll(ctx context.Context, emit collector.Emit, tr *tracker, initial bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	socks, err := s.list(ctx)
	if err != nil {
		return err
	}
	s.listed = time.Now()
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
	probes := s.probeEnds(conns, tr)
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
		if probes[endpoint(c.LocalIP, c.LocalPort)] || (c.RemoteIP != "" && probes[endpoint(c.RemoteIP, c.RemotePort)]) {
			continue // a probe's connection, either end: the agent's own doing
		}
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
	s.report(ctx, emit, fresh, tr, initial)
	s.resolver.Retain(func(pid int) bool { return pids[pid] })
	return nil
}

// probeEnds returns the local ends of the listener probes' connections among the conns tr has
// not seen: the ones the prober counts as its own, and this process's connections to a listener
// being probed (the prober counts a connection only once its connect has returned).
func (s *Source) probeEnds(conns []conn, tr *tracker) map[string]bool {
	if s.cfg.Prober == nil || len(tr.probing) == 0 {
		return nil
	}
	self := os.Getpid()
	var ends map[string]bool
	for i := range conns {
		c := &conns[i]
		if c.Protocol != "tcp" || c.listening || tr.seen[c.key] {
			continue
		}
		_, toProbed := listenerOf(c, tr.probing)
		mine := c.PID == self && c.initiated && toProbed
		if !mine {
			ip, err := netip.ParseAddr(c.LocalIP)
			mine = err == nil && s.cfg.Prober.Own(netip.AddrPortFrom(ip, uint16(c.LocalPort)))
		}
		if mine {
			if ends == nil {
				ends = map[string]bool{}
			}
			ends[endpoint(c.LocalIP, c.LocalPort)] = true
		}
	}
	return ends
}

func endpoint(ip string, port int) string { return ip + "|" + strconv.Itoa(port) }

// report emits the events of fresh sockets, after probing the new TCP listeners among them: a
// listener's event, and those of connections to it, wait for its probe; the others go at once.
// initial marks them Snapshot. Called under s.mu.
func (s *Source) report(ctx context.Context, emit collector.Emit, fresh []*conn, tr *tracker, initial bool) {
	s.probe(ctx, emit, fresh, tr)
	for _, c := range fresh {
		var owner *process.Owner
		if c.PID > 0 {
			if o, ok := s.resolver.Lookup(ctx, c.PID); ok {
				owner = &o
			}
		}
		f := c.fields(owner)
		if initial {
			f["Snapshot"] = true
		}
		if c.initiated && s.cfg.Hostnames != nil {
			if name, ok := s.cfg.Hostnames(c.RemoteIP); ok {
				f["DestinationHostname"] = name
			}
		}
		ev := event.New(event.NetworkConnection, f)
		if k, ok := listenerOf(c, tr.probing); ok {
			*tr.probing[k] = append(*tr.probing[k], ev)
			continue
		}
		if p := tr.protocolOf(c); p != "" {
			f["RemoteDesktopProtocol"] = p
		}
		emit(ev)
	}
}

// probe starts a probe of each new TCP listener among fresh (not this process's own, nor one
// being probed), at most probeWorkers at once; each records its result in tr.rd and emits the
// events that waited for it. Called under s.mu.
func (s *Source) probe(ctx context.Context, emit collector.Emit, fresh []*conn, tr *tracker) {
	if s.cfg.Prober == nil {
		return
	}
	self := os.Getpid()
	for _, c := range fresh {
		if !c.listening || c.Protocol != "tcp" || c.PID == self {
			continue
		}
		ip, err := netip.ParseAddr(c.LocalIP)
		if err != nil {
			continue
		}
		key := listenerKey(c.LocalIP, c.LocalPort)
		if tr.probing[key] != nil {
			continue // the same port's wildcard listener of the other address family
		}
		tr.probing[key] = new([]*event.Event)
		tr.wg.Add(1)
		go func(addr netip.AddrPort) {
			defer tr.wg.Done()
			proto := ""
			for try := 1; try <= silentTries; try++ {
				silent := false
				select {
				case s.probes <- struct{}{}:
					var err error
					proto, err = s.cfg.Prober.Probe(ctx, addr)
					<-s.probes
					if err != nil {
						s.log.Debug("listener not probed", "address", addr, "error", err)
					} else {
						s.log.Debug("listener probed", "address", addr, "protocol", proto)
					}
					silent = errors.Is(err, rdprobe.ErrSilent)
				case <-ctx.Done():
				}
				// A listener that accepted and neither answered nor closed through the whole
				// probe may be a server still starting (the kernel accepts before the program
				// does; Xtigervnc greets only once its X server is up, seconds later on a loaded
				// machine): asked again. One that answered or closed (a web or TLS server) is not.
				if !silent || try == silentTries {
					break
				}
				select {
				case <-time.After(silentRetry):
				case <-ctx.Done():
				}
			}
			s.probed(ctx, emit, tr, key, proto)
		}(rdprobe.Target(ip, c.LocalPort))
	}
}

// silentTries is how many times a listener that stays silent through a whole probe
// (rdprobe.ErrSilent) is asked, silentRetry apart.
const (
	silentTries = 3
	silentRetry = 2 * time.Second
)

// probed records a listener's protocol and emits the events that waited for it.
func (s *Source) probed(ctx context.Context, emit collector.Emit, tr *tracker, key portKey, proto string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if proto != "" {
		tr.rd[key] = proto
	}
	held := tr.probing[key]
	delete(tr.probing, key)
	if ctx.Err() != nil {
		return
	}
	for _, ev := range *held {
		if proto != "" {
			ev.Fields["RemoteDesktopProtocol"] = proto
		}
		emit(ev)
	}
}

// starts remembers the processes started lately, for the quick listener look.
type starts struct {
	mu   sync.Mutex
	list []started // oldest first, at most maxStarts
}

type started struct {
	pid int
	at  time.Time
}

// maxStarts bounds the processes remembered (a burst of starts keeps the newest).
const maxStarts = 64

func (st *starts) add(pid int, at time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.list) == maxStarts {
		st.list = append(st.list[:0], st.list[1:]...)
	}
	st.list = append(st.list, started{pid, at})
}

// recent returns the pids started within d, newest first.
func (st *starts) recent(d time.Duration) []int {
	st.mu.Lock()
	defer st.mu.Unlock()
	cut := time.Now().Add(-d)
	var out []int
	for i := len(st.list) - 1; i >= 0 && st.list[i].at.After(cut); i-- {
		out = append(out, st.list[i].pid)
	}
	return out
}

// last is when the newest process started (zero if none).
func (st *starts) last() time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.list) == 0 {
		return time.Time{}
	}
	return st.list[len(st.list)-1].at
}
