package agent

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/agent/queue"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

// outboxSize bounds the items waiting for the queue writer; beyond it an item waits up to a
// second for room, then is dropped and counted (Health.EventsDropped), so a stalled disk never
// stalls the collectors for long.
const outboxSize = 1024

// recentEvents is how many evidence event ids the outbox remembers having queued, so an event
// behind several findings is queued once.
const recentEvents = 4096

// outbox is the pipeline's Sink in the agent: it picks what leaves the machine (findings and
// their evidence, inventory snapshots, inventory changes) and hands it to a writer goroutine
// that appends to the queue in groups (one commit per group, not per item).
type outbox struct {
	q       queue.Queue
	ch      chan pending
	dropped atomic.Int64
	log     hclog.Logger
	recent  map[string]bool
	ring    []string
	next    int
	hostSet bool // the first host_inventory (the start state) went into the snapshot
}

// pending is an item on its way to the queue; a finding's is logged once it is queued.
type pending struct {
	item    queue.Item
	finding *wire.Finding
}

func newOutbox(q queue.Queue, log hclog.Logger) *outbox {
	return &outbox{q: q, ch: make(chan pending, outboxSize), log: log, recent: map[string]bool{}, ring: make([]string, recentEvents)}
}

func (o *outbox) put(kind string, v any) {
	var f *wire.Finding
	if kind == queue.KindFinding {
		f = v.(*wire.Finding)
	}
	data, err := json.Marshal(v)
	if err != nil {
		o.log.Error("cannot encode item; dropped", "kind", kind, "error", err)
		o.dropped.Add(1)
		return
	}
	p := pending{item: queue.Item{Kind: kind, Data: data}, finding: f}
	select {
	case o.ch <- p:
		return
	default:
	}
	// The writer is behind (a slow disk): hold the collectors back a little rather than drop
	// the newest items, then drop and count.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case o.ch <- p:
	case <-t.C:
		if o.dropped.Add(1)%1000 == 1 {
			o.log.Warn("queue writer behind; items dropped before the queue", "dropped_total", o.dropped.Load())
		}
	}
}

// putEvent queues an event once per recentEvents.
func (o *outbox) putEvent(ev *event.Event) {
	if o.recent[ev.ID] {
		return
	}
	if old := o.ring[o.next]; old != "" {
		delete(o.recent, old)
	}
	o.ring[o.next] = ev.ID
	o.next = (o.next + 1) % len(o.ring)
	o.recent[ev.ID] = true
	o.put(queue.KindEvent, ev)
}

// Event implements pipeline.Sink: inventory changes leave as events (the state at start goes
// in the snapshots only).
func (o *outbox) Event(ev *event.Event) {
	if !pipeline.IsInventory(ev.Category) {
		return
	}
	if ev.Category == event.HostInventory {
		if !o.hostSet {
			o.hostSet = true
			return
		}
		o.putEvent(ev)
		return
	}
	if ev.String("Action") != "present" {
		o.putEvent(ev)
	}
}

// Finding implements pipeline.Sink: the evidence first, so the server has the events when the
// finding arrives.
func (o *outbox) Finding(f *pipeline.Finding) {
	for _, ev := range f.Evidence {
		o.putEvent(ev)
	}
	o.put(queue.KindFinding, toWire(f))
}

// Inventory implements pipeline.Sink.
func (o *outbox) Inventory(inv *wire.Inventory) { o.put(queue.KindInventory, inv) }

func toWire(f *pipeline.Finding) *wire.Finding {
	ids := f.EventIDs
	if len(ids) > wire.MaxEvidence {
		ids = ids[len(ids)-wire.MaxEvidence:]
	}
	return &wire.Finding{
		ID: f.ID, RuleID: f.RuleID, RuleName: f.RuleName, Title: f.Title, Level: f.Level, Author: f.Author,
		Tags: f.Tags, Time: f.Time, EventIDs: ids, Group: f.Group, Count: f.Count, Value: f.Value, Correlation: f.Correlation,
	}
}

// run appends what arrives to the queue, everything waiting in one commit, until ctx ends and
// the channel is drained. Each finding is logged once its commit returned ("finding queued"):
// from then on it survives a crash.
func (o *outbox) run(ctx context.Context) {
	batch := make([]pending, 0, 256)
	items := make([]queue.Item, 0, 256)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for _, p := range batch {
			items = append(items, p.item)
		}
		if err := o.q.Append(items...); err != nil {
			o.dropped.Add(int64(len(batch)))
			o.log.Error("queue append failed; items dropped", "items", len(batch), "error", err)
		} else {
			for _, p := range batch {
				if f := p.finding; f != nil {
					o.log.Info("finding queued", "id", f.ID, "rule", f.RuleID, "title", f.Title, "level", f.Level)
				}
			}
		}
		clear(batch)
		clear(items)
		batch, items = batch[:0], items[:0]
	}
	for {
		select {
		case p := <-o.ch:
			batch = append(batch, p)
		drain:
			for len(batch) < 1000 {
				select {
				case p := <-o.ch:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			flush()
		case <-ctx.Done():
			for {
				select {
				case p := <-o.ch:
					batch = append(batch, p)
				default:
					flush()
					return
				}
			}
		}
	}
}
