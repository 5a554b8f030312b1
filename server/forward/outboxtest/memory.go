// Package outboxtest holds the conformance suite every forward.Outbox implementation passes
// (the store's SQLite and PostgreSQL outboxes run it in their tests), and Memory, the reference
// implementation in memory that the dispatcher's tests use.
package outboxtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vigilhq/vigil/server/forward"
)

// Memory is a forward.Outbox in memory: the reference behaviour, for tests. It keeps nothing
// across restarts.
type Memory struct {
	mu     sync.Mutex
	nextID int64
	ds     []forward.Delivery // in id order
}

var _ forward.Outbox = (*Memory)(nil)

// Enqueue implements forward.Outbox.
func (m *Memory) Enqueue(_ context.Context, ds []forward.Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, d := range ds {
		if slices.ContainsFunc(m.ds, func(x forward.Delivery) bool {
			return x.Destination == d.Destination && x.FindingID == d.FindingID
		}) {
			continue
		}
		m.nextID++
		d.ID = m.nextID
		d.Attempts, d.LastError = 0, ""
		d.NextAttempt, d.Created = now, now
		d.Payload = slices.Clone(d.Payload)
		m.ds = append(m.ds, d)
	}
	return nil
}

// Claim implements forward.Outbox.
func (m *Memory) Claim(_ context.Context, dest string, now, until time.Time, n int) ([]forward.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []forward.Delivery
	for i := range m.ds {
		d := &m.ds[i]
		if len(out) == n {
			break
		}
		if d.Destination == dest && !d.NextAttempt.After(now) {
			out = append(out, *d)
			d.NextAttempt = until
		}
	}
	return out, nil
}

// Ack implements forward.Outbox.
func (m *Memory) Ack(_ context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ds = slices.DeleteFunc(m.ds, func(d forward.Delivery) bool { return slices.Contains(ids, d.ID) })
	return nil
}

// Retry implements forward.Outbox.
func (m *Memory) Retry(_ context.Context, id int64, next time.Time, errMsg string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.ds {
		if m.ds[i].ID == id {
			m.ds[i].Attempts++
			m.ds[i].NextAttempt = next
			m.ds[i].LastError = errMsg
		}
	}
	return nil
}

// Postpone implements forward.Outbox.
func (m *Memory) Postpone(_ context.Context, ids []int64, next time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.ds {
		if slices.Contains(ids, m.ds[i].ID) {
			m.ds[i].NextAttempt = next
		}
	}
	return nil
}

// Stats implements forward.Outbox.
func (m *Memory) Stats(context.Context) ([]forward.OutboxStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	by := map[string]*forward.OutboxStats{}
	var order []string
	lastFail := map[string]int64{}
	for _, d := range m.ds {
		s := by[d.Destination]
		if s == nil {
			s = &forward.OutboxStats{Destination: d.Destination, Oldest: d.Created}
			by[d.Destination] = s
			order = append(order, d.Destination)
		}
		s.Pending++
		if d.Attempts > 0 {
			s.Failing++
			if d.ID > lastFail[d.Destination] {
				lastFail[d.Destination] = d.ID
				s.LastError = d.LastError
			}
		}
	}
	slices.Sort(order)
	out := make([]forward.OutboxStats, 0, len(order))
	for _, name := range order {
		out = append(out, *by[name])
	}
	return out, nil
}

// Drop implements forward.Outbox.
func (m *Memory) Drop(_ context.Context, dest string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.ds)
	m.ds = slices.DeleteFunc(m.ds, func(d forward.Delivery) bool { return d.Destination == dest })
	return int64(n - len(m.ds)), nil
}
