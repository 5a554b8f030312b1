package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// Store is what the ingest needs of the store.
type Store interface {
	store.Ingest
	store.Hosts
	store.Inventories
	store.FleetFacts
}

// Config configures a Service.
type Config struct {
	Store  Store
	Logger hclog.Logger
	// FlushInterval is how often coalesced check-ins are written (default 2 s).
	FlushInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hook, when set, sees each batch before it is stored (it may close findings a suppression
	// covers) and returns what to do once it is committed (forward the new findings, count).
	Hook BatchHook
}

// BatchHook is called with each valid batch before it is written; the function it returns (if
// any) runs after the commit with what the store did.
type BatchHook func(ctx context.Context, a Agent, b *store.Batch) (after func(context.Context, store.BatchResult), err error)

// Agent is the caller of an agent request, as authenticated.
type Agent struct {
	HostID   string
	Hostname string
	// RemoteIP is the address the request came from (X-Forwarded-For resolved for trusted
	// proxies), the host's egress address.
	RemoteIP string
	// StoredEgressIP is the egress address the store held when the token was resolved.
	StoredEgressIP string
}

// Result answers a batch.
type Result struct {
	Accepted, Duplicates int
}

// Service writes batches and check-ins.
type Service struct {
	st    Store
	log   hclog.Logger
	every time.Duration
	now   func() time.Time

	hook BatchHook

	mu    sync.Mutex
	seen  map[string]store.Seen
	facts map[string]hostFacts // host -> last facts recorded
	work  chan factWork
}

type hostFacts struct {
	egress string
	facts  map[string]string // without EgressIp
	known  bool              // facts were loaded or received
}

type factWork struct {
	agent Agent
	at    time.Time
}

// New returns a Service; Run must run for check-ins to reach the store.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, log: cfg.Logger, every: cfg.FlushInterval, now: cfg.Now, hook: cfg.Hook,
		seen: map[string]store.Seen{}, facts: map[string]hostFacts{}, work: make(chan factWork, 4096)}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.every <= 0 {
		s.every = 2 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Run flushes check-ins every FlushInterval and records egress changes until ctx ends, then
// flushes once more.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case w := <-s.work:
				s.recordEgress(ctx, w)
			}
		}
	}()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Flush(fctx); err != nil {
				s.log.Error("last check-in flush failed", "error", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("check-in flush failed", "error", err)
			}
		}
	}
}

// Flush writes the coalesced check-ins now.
func (s *Service) Flush(ctx context.Context) error {
	s.mu.Lock()
	if len(s.seen) == 0 {
		s.mu.Unlock()
		return nil
	}
	batch := make([]store.Seen, 0, len(s.seen))
	for _, v := range s.seen {
		batch = append(batch, v)
	}
	clear(s.seen)
	s.mu.Unlock()
	if err := s.st.MarkSeen(ctx, batch); err != nil {
		// Put them back unless newer news arrived meanwhile.
		s.mu.Lock()
		for _, v := range batch {
			if _, ok := s.seen[v.HostID]; !ok {
				s.seen[v.HostID] = v
			}
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

// Pending returns how many hosts' check-ins wait for the next flush.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// touch records that a host was heard from; h (may be nil) is its health report.
func (s *Service) touch(a Agent, at time.Time, h *wire.Health) {
	var raw json.RawMessage
	version := ""
	if h != nil {
		raw, _ = json.Marshal(h)
		version = h.AgentVersion
	}
	s.mu.Lock()
	cur, ok := s.seen[a.HostID]
	if !ok || at.After(cur.Time) {
		cur.HostID, cur.Time = a.HostID, at
		if a.RemoteIP != "" {
			cur.EgressIP = a.RemoteIP
		}
	}
	if raw != nil {
		cur.Health, cur.AgentVersion = raw, version
	}
	s.seen[a.HostID] = cur
	s.mu.Unlock()
}

// Checkin records a heartbeat: memory only, written at the next flush.
func (s *Service) Checkin(a Agent, req *wire.CheckinRequest) {
	now := s.now().UTC()
	var h *wire.Health
	if req != nil {
		h = &req.Health
	}
	s.touch(a, now, h)
	s.noteEgress(a, now)
}

// noteEgress queues a fleet fact when the host's egress address changed.
func (s *Service) noteEgress(a Agent, at time.Time) {
	if a.RemoteIP == "" {
		return
	}
	s.mu.Lock()
	hf, ok := s.facts[a.HostID]
	if !ok {
		// First word from this host since start: the store's address is the last recorded.
		hf = hostFacts{egress: a.StoredEgressIP}
		s.facts[a.HostID] = hf
	}
	s.mu.Unlock()
	if hf.egress == a.RemoteIP {
		return
	}
	select {
	case s.work <- factWork{agent: a, at: at}:
	default: // busy: the next request notices again
	}
}

// recordEgress appends the fleet fact of a host whose egress address changed, with the host
// facts of its stored inventory.
func (s *Service) recordEgress(ctx context.Context, w factWork) {
	s.mu.Lock()
	hf := s.facts[w.agent.HostID]
	s.mu.Unlock()
	if hf.egress == w.agent.RemoteIP {
		return
	}
	if !hf.known {
		invs, err := s.st.HostInventory(ctx, w.agent.HostID)
		if err != nil {
			s.log.Warn("fleet facts: reading host inventory failed", "host", w.agent.HostID, "error", err)
			return
		}
		for _, inv := range invs {
			if inv.Kind == wire.InventoryHost {
				hf.facts = hostFactsOf(inv.Items)
			}
		}
		hf.known = true
	}
	hf.egress = w.agent.RemoteIP
	fact, err := newFact(w.agent.HostID, w.at, hf)
	if err == nil {
		err = s.st.AppendFleetFacts(ctx, []store.FleetFact{fact})
	}
	if err != nil {
		s.log.Warn("fleet facts: recording an egress change failed", "host", w.agent.HostID, "error", err)
		return
	}
	s.mu.Lock()
	s.facts[w.agent.HostID] = hf
	s.mu.Unlock()
}

// Batch validates and stores a batch for the agent's host, returning once committed.
func (s *Service) Batch(ctx context.Context, a Agent, b *BatchBody) (Result, error) {
	now := s.now().UTC()
	sb, werr := Validate(b, a.HostID, now)
	if werr != nil {
		return Result{}, werr
	}
	var after func(context.Context, store.BatchResult)
	if s.hook != nil {
		var err error
		if after, err = s.hook(ctx, a, sb); err != nil {
			return Result{}, fmt.Errorf("ingest: %w", err)
		}
	}
	s.addFacts(a, sb, now)
	res, err := s.st.WriteBatch(ctx, sb)
	if err != nil {
		s.dropFacts(a.HostID, sb)
		return Result{}, fmt.Errorf("ingest: %w", err)
	}
	if after != nil {
		after(ctx, res)
	}
	s.touch(a, now, b.Health)
	s.noteEgress(a, now)
	return Result{Accepted: res.Accepted, Duplicates: b.Items() - len(sb.Inventory) - res.Accepted}, nil
}

// addFacts adds a fleet fact to the batch when it carries a host inventory whose facts differ
// from those last recorded (or the egress address changed).
func (s *Service) addFacts(a Agent, sb *store.Batch, now time.Time) {
	for _, inv := range sb.Inventory {
		if inv.Kind != wire.InventoryHost {
			continue
		}
		facts := hostFactsOf(inv.Items)
		s.mu.Lock()
		hf := s.facts[a.HostID]
		changed := !hf.known || !sameFacts(hf.facts, facts) || (a.RemoteIP != "" && hf.egress != a.RemoteIP)
		if changed {
			hf = hostFacts{egress: a.RemoteIP, facts: facts, known: true}
			if hf.egress == "" {
				hf.egress = a.StoredEgressIP
			}
			s.facts[a.HostID] = hf
		}
		s.mu.Unlock()
		if !changed {
			continue
		}
		at := inv.Time
		if at.After(now) {
			at = now
		}
		if fact, err := newFact(a.HostID, at, hf); err == nil {
			sb.FleetFacts = append(sb.FleetFacts, fact)
		}
	}
}

// dropFacts forgets what addFacts recorded, after a failed write.
func (s *Service) dropFacts(hostID string, sb *store.Batch) {
	if len(sb.FleetFacts) == 0 {
		return
	}
	s.mu.Lock()
	delete(s.facts, hostID)
	s.mu.Unlock()
}

// Fleet fact field names: the host_inventory fields the fleet rules read, plus what only the
// server knows.
const (
	FactEgressIP   = "EgressIp"
	FactMachineID  = "MachineId"
	FactHostname   = "Hostname"
	FactGatewayMac = "DefaultGatewayMac"
	FactGatewayIP  = "DefaultGatewayIp"
	FactWifiBssid  = "WifiBssid"
	FactWifiSsid   = "WifiSsid"
)

var inventoryFactFields = []string{FactHostname, FactGatewayMac, FactGatewayIP, FactWifiBssid, FactWifiSsid}

// hostFactsOf picks the fleet-relevant fields of a host_inventory snapshot's first item.
func hostFactsOf(items json.RawMessage) map[string]string {
	var list []map[string]any
	if json.Unmarshal(items, &list) != nil || len(list) == 0 {
		return map[string]string{}
	}
	out := map[string]string{}
	for _, k := range inventoryFactFields {
		if v, ok := list[0][k].(string); ok && v != "" {
			out[k] = normalizeFact(k, v)
		}
	}
	return out
}

func sameFacts(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func newFact(hostID string, at time.Time, hf hostFacts) (store.FleetFact, error) {
	m := make(map[string]string, len(hf.facts)+1)
	for k, v := range hf.facts {
		m[k] = v
	}
	if hf.egress != "" {
		m[FactEgressIP] = hf.egress
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return store.FleetFact{}, err
	}
	return store.FleetFact{HostID: hostID, ID: event.NewID(), Time: at, Facts: raw}, nil
}
