package collector

import "sort"

// Tracker remembers the items a polling source has reported (devices, displays, mounts), by
// key, and tells what appeared and what went away between two listings.
type Tracker[T any] struct {
	key   func(*T) string
	known map[string]T
}

// NewTracker returns an empty tracker that identifies items by key.
func NewTracker[T any](key func(*T) string) *Tracker[T] {
	return &Tracker[T]{key: key, known: map[string]T{}}
}

// Update compares the current listing with what is known: added is called for each new item, in
// the listing's order, and removed for each known item that is no longer listed, in key order
// (either may be nil). The first Update reports everything as added.
func (t *Tracker[T]) Update(cur []T, added, removed func(*T)) {
	seen := make(map[string]bool, len(cur))
	for i := range cur {
		k := t.key(&cur[i])
		seen[k] = true
		if _, ok := t.known[k]; ok {
			continue
		}
		t.known[k] = cur[i]
		if added != nil {
			added(&cur[i])
		}
	}
	var gone []string
	for k := range t.known {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		item := t.known[k]
		delete(t.known, k)
		if removed != nil {
			removed(&item)
		}
	}
}

// Known reports whether an item with this key has been reported and not removed.
func (t *Tracker[T]) Known(key string) bool {
	_, ok := t.known[key]
	return ok
}

// Len is how many items are known.
func (t *Tracker[T]) Len() int { return len(t.known) }
