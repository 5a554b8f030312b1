package auth

import (
	"sync"
	"time"
)

// Cache maps token hashes to what they resolve to, for a bounded time, so that the check of a
// token an agent presents every minute does not read the database each time. Revocation takes
// effect within TTL on every replica (and at once on the replica that revoked, via Forget).
type Cache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]cacheEntry[V]
	// owner, when set, names each value's owner (a host), so that ForgetOwner drops an
	// owner's entries without a scan.
	owner   func(V) string
	byOwner map[string]map[string]bool
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// NewCache returns a cache keeping entries ttl, at most max of them (expired ones are swept, and
// beyond max the whole cache is dropped: it only saves work).
func NewCache[V any](ttl time.Duration, max int) *Cache[V] {
	return &Cache[V]{ttl: ttl, max: max, now: time.Now, m: map[string]cacheEntry[V]{}}
}

// NewOwnedCache is NewCache whose entries can be dropped by owner (ForgetOwner).
func NewOwnedCache[V any](ttl time.Duration, max int, owner func(V) string) *Cache[V] {
	c := NewCache[V](ttl, max)
	c.owner, c.byOwner = owner, map[string]map[string]bool{}
	return c
}

// ForgetOwner drops every entry of owner.
func (c *Cache[V]) ForgetOwner(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.byOwner[owner] {
		delete(c.m, k)
	}
	delete(c.byOwner, owner)
}

func (c *Cache[V]) index(key string, v V) {
	if c.owner == nil {
		return
	}
	o := c.owner(v)
	if c.byOwner[o] == nil {
		c.byOwner[o] = map[string]bool{}
	}
	c.byOwner[o][key] = true
}

// StaleFactor bounds how long past its TTL an entry may still be served by GetStale.
const StaleFactor = 10

// GetStale returns the value cached for key even when its TTL has passed (fresh false), up to
// StaleFactor TTLs: the caller serves it and refreshes it in the background.
func (c *Cache[V]) GetStale(key string) (v V, fresh, ok bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	now := c.now()
	if !ok || now.After(e.expires.Add((StaleFactor-1)*c.ttl)) {
		var zero V
		return zero, false, false
	}
	return e.v, !now.After(e.expires), true
}

// Get returns the value cached for key.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put caches v under key.
func (c *Cache[V]) Put(key string, v V) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
		if c.owner != nil {
			c.reindex()
		}
	}
	c.m[key] = cacheEntry[V]{v: v, expires: now.Add(c.ttl)}
	c.index(key, v)
}

// reindex rebuilds the owner index after a sweep.
func (c *Cache[V]) reindex() {
	clear(c.byOwner)
	for k, e := range c.m {
		c.index(k, e.v)
	}
}

// Forget drops key.
func (c *Cache[V]) Forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// ForgetIf drops every entry whose value matches.
func (c *Cache[V]) ForgetIf(match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if match(e.v) {
			delete(c.m, k)
		}
	}
}
