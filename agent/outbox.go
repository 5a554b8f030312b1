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
	// rep, when set, holds back findings about the start-up state that an earlier run reported;
	// startHost is the id of this run's first host_inventory event (the host as found at start).
	rep       *reported
	startHost string
}

// pending is an item on its way to the queue; a finding's is logged once it is queued.
type pending struct {
	item    queue.Item
	finding *wire.Finding
	key     string // the finding's key in the reported memory ("" none)
}

func newOutbox(q queue.Queue, log hclog.Logger, rep *reported) *outbox {
	return &outbox{q: q, ch: make(chan pending, outboxSize), log: log, recent: map[string]bool{}, ring: make([]string, recentEvents), rep: rep}
}

func (o *outbox) put(kind string, v any) { o.putKeyed(kind, v, "") }

// putKeyed is put for a finding with its key in the reported memory.
func (o *outbox) putKeyed(kind string, v any, key string) {
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
	p := pending{item: queue.Item{Kind: kind, Data: data}, finding: f, key: key}
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
			o.hostSet, o.startHost = true, ev.ID
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
	var key string
	if o.rep != nil {
		var send bool
		if key, send = o.rep.check(f, o.startup); !send {
			o.log.Info("finding not sent again: an earlier run reported it about the same state at start-up", "rule", f.RuleID, "title", f.Title)
			return
		}
	}
	for _, ev := range f.Evidence {
		o.putEvent(ev)
	}
	o.putKeyed(queue.KindFinding, toWire(f), key)
}

// startup tells whether an event describes the state found at start-up (see isStartupEvent; and
// the first host_inventory).
func (o *outbox) startup(ev *event.Event) bool {
	return isStartupEvent(ev) || (ev.Category == event.HostInventory && ev.ID == o.startHost)
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
			var keys []string
			for _, p := range batch {
				if f := p.finding; f != nil {
					o.log.Info("finding queued", "id", f.ID, "rule", f.RuleID, "title", f.Title, "level", f.Level)
					if p.key != "" {
						keys = append(keys, p.key)
					}
				}
			}
			if len(keys) > 0 && o.rep != nil {
				// Remembered once committed: a crash in between reports the finding again after
				// the restart, never holds back one that was not queued.
				o.rep.record(keys)
				o.rep.save()
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
