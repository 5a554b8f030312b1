package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
)

// Sources are the collectors (collector/suite.Suite).
type Sources interface {
	Snapshot(ctx context.Context, emit collector.Emit) error
	Run(ctx context.Context, emit collector.Emit) error
}

// Finding is a finding with the events behind it that the pipeline still held (a rule match
// always has its event; a correlation has those of its events not evicted by the bounds).
type Finding struct {
	*policies.Finding
	Evidence []*event.Event
}

// Sink receives what the pipeline produces. Its methods are called one at a time, from the
// goroutine that processes events, so they should be quick (hand off, do not block on I/O).
type Sink interface {
	// Event sees every event, after the engine did, with Host and Time filled in.
	Event(ev *event.Event)
	// Finding receives each finding as it is made.
	Finding(f *Finding)
	// Inventory receives a kind's whole current state after it changed.
	Inventory(inv *wire.Inventory)
}

// Config configures a Pipeline.
type Config struct {
	Sources Sources
	Rules   *policies.Ruleset
	Sink    Sink
	// Host fills the Host of events that have none (the machine's name).
	Host string
	// MaxSkew is how far in the future an event's time may be before it is clamped to now
	// (default 10 s).
	MaxSkew time.Duration
	// Tick is how often Run advances the engine's clock and hands out changed inventory
	// (default 1 s).
	Tick time.Duration
	// InventoryQuiet is how long a kind must see no change before its snapshot is handed out,
	// so a burst of changes makes one snapshot (default 2 s).
	InventoryQuiet time.Duration
	// EvidenceEvents and EvidenceBytes bound the matched events held for evidence (defaults
	// 4096 and 8 MiB).
	EvidenceEvents int
	EvidenceBytes  int64
	// MaxGroups caps each correlation's groups (policies.EngineOptions).
	MaxGroups int
	Logger    hclog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Stats are the pipeline's counters since New.
type Stats struct {
	Events, Matched, Findings, Clamped int64
	EvidenceHeld, EvidenceEvicted      int64
}

// Pipeline runs events through the engine to a Sink. Process, Tick, Flush and SetRules are safe
// to call from several goroutines (they are serialised).
type Pipeline struct {
	cfg Config
	log hclog.Logger

	mu       sync.Mutex
	eng      *policies.Engine
	evidence *evidence
	inv      *inventory
	pending  []*policies.Finding
	collect  func(*policies.Finding)

	events, matched, findings, clamped atomic.Int64
}

// New builds a pipeline; Rules and Sink are required, Sources only for Run and Snapshot.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Rules == nil || cfg.Sink == nil {
		return nil, errors.New("pipeline: Rules and Sink are required")
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 10 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.InventoryQuiet <= 0 {
		cfg.InventoryQuiet = 2 * time.Second
	}
	if cfg.EvidenceEvents <= 0 {
		cfg.EvidenceEvents = 4096
	}
	if cfg.EvidenceBytes <= 0 {
		cfg.EvidenceBytes = 8 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger, evidence: newEvidence(cfg.EvidenceEvents, cfg.EvidenceBytes), inv: newInventory()}
	p.collect = func(f *policies.Finding) { p.pending = append(p.pending, f) }
	eng, err := p.engine(cfg.Rules)
	if err != nil {
		return nil, err
	}
	p.eng = eng
	return p, nil
}

func (p *Pipeline) engine(rs *policies.Ruleset) (*policies.Engine, error) {
	return policies.NewEngine(rs, policies.EngineOptions{MaxGroups: p.cfg.MaxGroups, Logger: p.log.Named("engine")})
}

// SetRules replaces the rules without stopping: a new engine is built first (an error leaves
// the old one in force). Correlation state (open windows) starts afresh; held evidence stays.
func (p *Pipeline) SetRules(rs *policies.Ruleset) error {
	eng, err := p.engine(rs)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.eng = eng
	p.mu.Unlock()
	return nil
}

// Process runs one event through the engine, then hands the event, the findings it caused and
// its inventory change to the sink. It is the collectors' Emit.
func (p *Pipeline) Process(ev *event.Event) {
	if ev == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	if ev.Host == "" {
		ev.Host = p.cfg.Host
	}
	if ev.Time.IsZero() {
		ev.Time = now
	} else if ev.Time.After(now.Add(p.cfg.MaxSkew)) {
		if p.clamped.Add(1) == 1 {
			p.log.Warn("event time in the future clamped to now (further ones are counted only)", "category", ev.Category, "time", ev.Time, "now", now)
		}
		ev.Time = now
	}
	p.events.Add(1)
	p.eng.Process(ev, p.collect)
	if p.eng.Matches() > 0 {
		p.matched.Add(1)
		p.evidence.add(ev)
	}
	p.cfg.Sink.Event(ev)
	p.inv.observe(ev, now)
	p.dispatch()
}

// dispatch hands the collected findings to the sink with their evidence.
func (p *Pipeline) dispatch() {
	for i, f := range p.pending {
		p.findings.Add(1)
		p.cfg.Sink.Finding(&Finding{Finding: f, Evidence: p.evidence.lookup(f.EventIDs)})
		p.pending[i] = nil
	}
	p.pending = p.pending[:0]
}

// Tick advances the engine's clock to now (closing correlation windows that ended) and hands out
// the inventory kinds that changed and then stayed quiet. Run calls it on its timer.
func (p *Pipeline) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	p.eng.Advance(now, p.collect)
	p.dispatch()
	for _, inv := range p.inv.due(now, p.cfg.InventoryQuiet) {
		p.cfg.Sink.Inventory(inv)
	}
}

// Flush ends the stream: correlation windows still open are judged, and every changed
// inventory kind is handed out at once.
func (p *Pipeline) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eng.Flush(p.collect)
	p.dispatch()
	for _, inv := range p.inv.due(p.cfg.Now(), 0) {
		p.cfg.Sink.Inventory(inv)
	}
}

// Resend hands out a snapshot of every inventory kind seen so far, changed or not.
func (p *Pipeline) Resend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, inv := range p.inv.all(p.cfg.Now()) {
		p.cfg.Sink.Inventory(inv)
	}
}

// Snapshot runs every source once, then Flush. Source failures are returned (see
// suite.Failures) after the rest ran.
func (p *Pipeline) Snapshot(ctx context.Context) error {
	if p.cfg.Sources == nil {
		return errors.New("pipeline: no sources")
	}
	err := p.cfg.Sources.Snapshot(ctx, p.Process)
	p.Flush()
	return err
}

// Run runs the sources until ctx ends, with the clock ticking, and returns the sources' errors.
// It does not Flush: a stream that stops for a restart has not ended, and judging its open
// windows early would report what did not happen. A caller whose stream ends for good (a
// timed `vigil scan --watch`) calls Flush.
func (p *Pipeline) Run(ctx context.Context) error {
	if p.cfg.Sources == nil {
		return errors.New("pipeline: no sources")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.Tick()
			}
		}
	}()
	err := p.cfg.Sources.Run(ctx, p.Process)
	<-done
	return err
}

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	held, evicted := int64(len(p.evidence.byID)), p.evidence.evicted
	p.mu.Unlock()
	return Stats{
		Events: p.events.Load(), Matched: p.matched.Load(), Findings: p.findings.Load(), Clamped: p.clamped.Load(),
		EvidenceHeld: held, EvidenceEvicted: evicted,
	}
}
