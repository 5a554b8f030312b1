// Package queue is the agent's outbound queue: what the pipeline produced (findings, their
// evidence events, inventory snapshots) waits here until the server has acknowledged it.
//
// Delivery is at least once: Peek hands the oldest items to the sender without removing them,
// and only Ack removes them, after the server committed them. The server ignores ids it already
// holds, so an item sent twice (the agent killed between the server's answer and Ack) is stored
// once.
//
// The queue is bounded in bytes: an Append that would go over the cap drops the oldest items
// first and counts them (Stats.Dropped, a total kept across restarts), so the server learns how
// many were lost and nothing is lost silently.
//
// Two implementations share one behaviour, checked by one test suite: Disk (bbolt, durable
// under the agent's state folder, the one the agent runs on) and Memory (for tests, and the
// agent's fallback when its state folder cannot hold a queue at all).
package queue

import (
	"errors"
	"fmt"
)

// Item is one queued record: its kind (what the sender does with it) and its JSON encoding.
type Item struct {
	// Seq is the queue's own sequence number, set by Append, increasing, never reused.
	Seq  uint64
	Kind string
	Data []byte
}

// Kinds of items.
const (
	KindEvent     = "event"
	KindFinding   = "finding"
	KindInventory = "inventory"
)

// itemOverhead is what an item costs beyond its kind and data, in the byte accounting (its
// key and bookkeeping).
const itemOverhead = 16

// Size is what an item counts against the byte cap.
func (it Item) Size() int64 { return int64(len(it.Kind) + len(it.Data) + itemOverhead) }

// Stats describe the queue now. Dropped is a total since the queue was created.
type Stats struct {
	Items   int64
	Bytes   int64
	Dropped int64
}

// DefaultMaxBytes is the default byte cap (256 MiB).
const DefaultMaxBytes = 256 << 20

// ErrTooLarge is returned by Append for an item larger than the whole cap.
var ErrTooLarge = errors.New("queue: item larger than the queue's cap")

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("queue: closed")

// Queue is the outbound queue. Its methods are safe for concurrent use.
type Queue interface {
	// Append adds items at the tail, as one unit: once it returns nil they survive a crash
	// (Disk). Oldest items are dropped to stay under the cap.
	Append(items ...Item) error
	// Peek returns up to maxItems of the oldest items, fewer if their sizes would exceed
	// maxBytes (at least one item when the queue is not empty), oldest first, without removing
	// them.
	Peek(maxItems int, maxBytes int64) ([]Item, error)
	// Ack removes the items with these sequence numbers; unknown ones (already dropped or
	// acknowledged) are ignored.
	Ack(seqs ...uint64) error
	// Stats returns the counters.
	Stats() Stats
	// Notify returns a channel that receives (without blocking the appender) after each Append.
	Notify() <-chan struct{}
	// Close releases the queue.
	Close() error
}

// notifier is the wake-up channel both implementations use.
type notifier chan struct{}

func newNotifier() notifier { return make(notifier, 1) }

func (n notifier) signal() {
	select {
	case n <- struct{}{}:
	default:
	}
}

func checkSizes(items []Item, maxBytes int64) error {
	for i, it := range items {
		if it.Size() > maxBytes {
			return fmt.Errorf("%w: item %d (%s) is %d bytes, cap %d", ErrTooLarge, i, it.Kind, it.Size(), maxBytes)
		}
	}
	return nil
}
