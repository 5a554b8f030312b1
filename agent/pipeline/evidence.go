package pipeline

import (
	"encoding/json"

	"github.com/vigilhq/vigil/internal/event"
)

// evidence holds the recent events that matched a rule, by id, oldest evicted first once over
// either bound.
type evidence struct {
	maxEvents int
	maxBytes  int64
	byID      map[string]held
	order     []string // ring of ids, oldest at head
	head      int
	bytes     int64
	evicted   int64
}

type held struct {
	ev   *event.Event
	size int64
}

func newEvidence(maxEvents int, maxBytes int64) *evidence {
	return &evidence{maxEvents: maxEvents, maxBytes: maxBytes, byID: make(map[string]held)}
}

// size estimates an event's memory by its JSON encoding.
func size(ev *event.Event) int64 {
	b, err := json.Marshal(ev)
	if err != nil {
		return 1024
	}
	return int64(len(b)) + 128
}

func (e *evidence) add(ev *event.Event) {
	if ev.ID == "" {
		return
	}
	if _, ok := e.byID[ev.ID]; ok {
		return
	}
	h := held{ev: ev, size: size(ev)}
	e.byID[ev.ID] = h
	e.order = append(e.order, ev.ID)
	e.bytes += h.size
	for len(e.byID) > 0 && (len(e.byID) > e.maxEvents || e.bytes > e.maxBytes) {
		e.evictOldest()
	}
	// Compact the ring's consumed head now and then.
	if e.head > 1024 && e.head > len(e.order)/2 {
		e.order = append([]string(nil), e.order[e.head:]...)
		e.head = 0
	}
}

func (e *evidence) evictOldest() {
	id := e.order[e.head]
	e.order[e.head] = ""
	e.head++
	if h, ok := e.byID[id]; ok {
		e.bytes -= h.size
		delete(e.byID, id)
		e.evicted++
	}
}

// lookup returns the held events among ids, in the order of ids.
func (e *evidence) lookup(ids []string) []*event.Event {
	var out []*event.Event
	for _, id := range ids {
		if h, ok := e.byID[id]; ok {
			out = append(out, h.ev)
		}
	}
	return out
}
