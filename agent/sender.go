package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/agent/queue"
	"github.com/vigilhq/vigil/agent/transport"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

// maxBatchBytes bounds the JSON of one batch before compression, well under the protocol's
// limits (wire.MaxBodyBytes compressed, wire.MaxDecodedBytes decoded).
const maxBatchBytes = 4 << 20

// pollQueue is how often the sender looks at the queue without a notification (items left
// after a restart, a refused batch split).
const pollQueue = 5 * time.Second

// send runs until ctx ends: whenever the queue holds items, it sends them in batches at once,
// acknowledging each batch the server committed; failures back off with jitter.
func (a *agent) send(ctx context.Context) {
	back := transport.Backoff{Min: a.retryMin, Max: a.retryMax}
	limit := wire.MaxBatchItems
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.q.Notify():
		case <-timer.C:
		case <-a.reachable:
			back.Reset() // a check-in got through: the server is back, send now
		}
		for ctx.Err() == nil {
			wait, more := a.sendOnce(ctx, &limit)
			if wait < 0 { // failed: back off
				d := max(back.Next(), -wait)
				a.log.Debug("send failed; retrying", "in", d, "failures", back.Failures())
				timer.Reset(d)
				break
			}
			back.Reset()
			if !more {
				timer.Reset(pollQueue)
				break
			}
		}
	}
}

// sendOnce sends one batch from the head of the queue. It returns more=true when it sent
// something (the queue may hold more), and a negative wait after a failure (at least -wait,
// from a Retry-After).
func (a *agent) sendOnce(ctx context.Context, limit *int) (wait time.Duration, more bool) {
	if err := a.ensureEnrolled(ctx); err != nil {
		return -transport.RetryAfter(err) - time.Nanosecond, false
	}
	items, err := a.q.Peek(*limit, maxBatchBytes)
	if err != nil {
		a.log.Error("cannot read the queue", "error", err)
		return -pollQueue, false
	}
	if len(items) == 0 {
		return 0, false
	}
	b, seqs, bad := decodeBatch(items)
	if len(bad) > 0 {
		a.log.Error("undecodable queue items dropped", "items", len(bad))
		a.refused.Add(int64(len(bad)))
		_ = a.q.Ack(bad...)
	}
	b.Health = a.health()
	resp, err := a.client.SendBatch(ctx, b)
	switch {
	case err == nil:
		if err := a.q.Ack(seqs...); err != nil {
			a.log.Error("cannot acknowledge sent items (they will be sent again)", "error", err)
		}
		a.contact(resp.Directives, nil)
		*limit = wire.MaxBatchItems
		a.sent.Add(int64(len(seqs)))
		return 0, true // look again: the queue may hold more
	case transport.IsUnauthorized(err):
		a.contact(wire.Directives{}, err)
		a.dropEnrollment(err)
		return -time.Second, false
	case transport.Retryable(err):
		a.contact(wire.Directives{}, err)
		return -transport.RetryAfter(err) - time.Nanosecond, false
	}
	// Refused for its content (400, 413...): halve the batch to isolate the item; a single
	// refused item can never be sent and is dropped with an error line and a count.
	if len(items) > 1 {
		*limit = max(len(items)/2, 1)
		a.log.Warn("server refused a batch; sending smaller ones to isolate the item", "items", len(items), "error", err)
		return 0, true
	}
	a.log.Error("server refused an item; dropped", "kind", items[0].Kind, "error", err)
	a.refused.Add(1)
	_ = a.q.Ack(items[0].Seq)
	*limit = wire.MaxBatchItems
	return 0, true
}

// decodeBatch turns queue items into a batch, with the sequence numbers of those it holds and
// of those that do not decode.
func decodeBatch(items []queue.Item) (*wire.Batch, []uint64, []uint64) {
	b := &wire.Batch{}
	var seqs, bad []uint64
	for _, it := range items {
		var err error
		switch it.Kind {
		case queue.KindEvent:
			var ev *event.Event
			if ev, err = event.Unmarshal(it.Data); err == nil {
				b.Events = append(b.Events, *ev)
			}
		case queue.KindFinding:
			var f wire.Finding
			if err = json.Unmarshal(it.Data, &f); err == nil {
				b.Findings = append(b.Findings, f)
			}
		case queue.KindInventory:
			var inv wire.Inventory
			if err = json.Unmarshal(it.Data, &inv); err == nil {
				b.Inventory = append(b.Inventory, inv)
			}
		default:
			err = fmt.Errorf("unknown kind %q", it.Kind)
		}
		if err != nil {
			bad = append(bad, it.Seq)
			continue
		}
		seqs = append(seqs, it.Seq)
	}
	return b, seqs, bad
}

// checkin sends a heartbeat at start and then at the interval the server sets, until ctx
// ends.
func (a *agent) checkin(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.ensureEnrolled(ctx); err == nil {
			resp, err := a.client.Checkin(ctx, &wire.CheckinRequest{Health: *a.health()})
			if err != nil {
				a.contact(wire.Directives{}, err)
				if transport.IsUnauthorized(err) {
					a.dropEnrollment(err)
				} else if ctx.Err() == nil {
					a.log.Debug("check-in failed", "error", err)
				}
			} else {
				a.contact(resp.Directives, nil)
			}
		}
		t.Reset(a.interval())
	}
}

func (a *agent) interval() time.Duration {
	if d := a.checkinEvery.Load(); d > 0 {
		return time.Duration(d)
	}
	return wire.DefaultCheckinInterval
}

// contact records an answer (err nil, with its directives) or a failure to reach the server.
func (a *agent) contact(d wire.Directives, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if a.lastError == "" || a.lastError != err.Error() {
			if errors.Is(err, context.Canceled) {
				return
			}
			a.log.Warn("server unreachable or refusing; items stay queued", "error", err)
		}
		a.lastError = err.Error()
		return
	}
	if a.lastError != "" {
		a.log.Info("server reachable again")
		select {
		case a.reachable <- struct{}{}:
		default:
		}
	}
	a.lastError = ""
	a.lastContact = time.Now()
	a.checkinEvery.Store(int64(d.CheckinInterval()))
	a.up.offer(d.Upgrade)
	if d.PolicyVersion != a.policyVersion && d.PolicyVersion != a.refusedVersion && d.PolicyVersion > 0 {
		select {
		case a.policyWake <- struct{}{}:
		default:
		}
	}
}
