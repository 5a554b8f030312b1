package dnsnames

import (
	"net/netip"
	"sync"
	"time"
)

// Cache defaults.
const (
	// DefaultEntries bounds the cache: a busy laptop resolves a few thousand distinct names an
	// hour; an entry costs about 100 bytes.
	DefaultEntries = 16384
	// DefaultGrace is added to each record's TTL: programs go on connecting to an address for
	// a while after its TTL (connection pools, their own caches), and the name stays true.
	DefaultGrace = 2 * time.Minute
	// maxTTL caps a record's TTL (hostile or misconfigured answers say up to 68 years).
	maxTTL = 24 * time.Hour
)

// Cache maps IP addresses to the name they were looked up under. It is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	max     int
	grace   time.Duration
	entries map[netip.Addr]entry
	stats   Stats
}

type entry struct {
	name    string
	expires time.Time
}

// Stats are a cache's counters.
type Stats struct {
	Answers   int // DNS responses parsed
	Records   int // A and AAAA records added
	Malformed int // packets or messages that did not parse
	Evicted   int // entries dropped to stay within the bound
	Entries   int // entries now
}

// NewCache returns a cache of at most entries addresses (DefaultEntries when <= 0) whose entries
// live TTL + grace (DefaultGrace when < 0).
func NewCache(entries int, grace time.Duration) *Cache {
	if entries <= 0 {
		entries = DefaultEntries
	}
	if grace < 0 {
		grace = DefaultGrace
	}
	return &Cache{max: entries, grace: grace, entries: make(map[netip.Addr]entry)}
}

// Add records that ip was an answer for name, valid for ttl from now.
func (c *Cache) Add(name string, ip netip.Addr, ttl time.Duration, now time.Time) {
	if name == "" || !ip.IsValid() {
		return
	}
	ttl = min(ttl, maxTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	ip = ip.Unmap()
	if _, ok := c.entries[ip]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[ip] = entry{name: name, expires: now.Add(ttl + c.grace)}
	c.stats.Records++
}

// evictLocked makes room: expired entries go first; if none had expired, an eighth of the
// entries (chosen by map order, so effectively at random) go.
func (c *Cache) evictLocked(now time.Time) {
	before := len(c.entries)
	for ip, e := range c.entries {
		if now.After(e.expires) {
			delete(c.entries, ip)
		}
	}
	if len(c.entries) >= c.max {
		drop := max(c.max/8, 1)
		for ip := range c.entries {
			if drop == 0 {
				break
			}
			delete(c.entries, ip)
			drop--
		}
	}
	c.stats.Evicted += before - len(c.entries)
}

// Lookup returns the name ip was last looked up under, while its entry lives.
func (c *Cache) Lookup(ip netip.Addr, now time.Time) (string, bool) {
	ip = ip.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ip]
	if !ok {
		return "", false
	}
	if now.After(e.expires) {
		delete(c.entries, ip)
		return "", false
	}
	return e.name, true
}

// LookupString is Lookup for an address in text form, at the current time.
func (c *Cache) LookupString(ip string) (string, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	return c.Lookup(a, time.Now())
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = len(c.entries)
	return s
}

func (c *Cache) count(answers, malformed int) {
	c.mu.Lock()
	c.stats.Answers += answers
	c.stats.Malformed += malformed
	c.mu.Unlock()
}
