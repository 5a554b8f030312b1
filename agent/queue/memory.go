package queue

import "sync"

// Memory is a Queue held in memory: same bounds and counters as Disk, nothing survives the
// process.
type Memory struct {
	mu       sync.Mutex
	items    []Item
	bytes    int64
	dropped  int64
	next     uint64
	maxBytes int64
	closed   bool
	notify   notifier
}

// NewMemory returns an empty in-memory queue capped at maxBytes (<= 0: DefaultMaxBytes).
func NewMemory(maxBytes int64) *Memory {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Memory{maxBytes: maxBytes, next: 1, notify: newNotifier()}
}

// Append implements Queue.
func (m *Memory) Append(items ...Item) error {
	if err := checkSizes(items, m.maxBytes); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, it := range items {
		it.Seq = m.next
		m.next++
		it.Data = append([]byte(nil), it.Data...)
		m.items = append(m.items, it)
		m.bytes += it.Size()
	}
	for m.bytes > m.maxBytes && len(m.items) > 0 {
		m.bytes -= m.items[0].Size()
		m.items[0] = Item{}
		m.items = m.items[1:]
		m.dropped++
	}
	m.notify.signal()
	return nil
}

// Peek implements Queue.
func (m *Memory) Peek(maxItems int, maxBytes int64) ([]Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	var out []Item
	var size int64
	for _, it := range m.items {
		if len(out) >= maxItems || (len(out) > 0 && size+it.Size() > maxBytes) {
			break
		}
		size += it.Size()
		out = append(out, it)
	}
	return out, nil
}

// Ack implements Queue.
func (m *Memory) Ack(seqs ...uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	gone := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		gone[s] = true
	}
	kept := m.items[:0]
	for _, it := range m.items {
		if gone[it.Seq] {
			m.bytes -= it.Size()
			continue
		}
		kept = append(kept, it)
	}
	clear(m.items[len(kept):])
	m.items = kept
	return nil
}

// Stats implements Queue.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Items: int64(len(m.items)), Bytes: m.bytes, Dropped: m.dropped}
}

// Notify implements Queue.
func (m *Memory) Notify() <-chan struct{} { return m.notify }

// Close implements Queue.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.items = nil
	return nil
}
