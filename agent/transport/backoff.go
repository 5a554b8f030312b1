package transport

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces retries: each failure doubles the ceiling from Min up to Max, and the wait is
// drawn uniformly between half the ceiling and the ceiling ("equal jitter"), so a fleet that
// lost its server does not come back in step. It is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Next returns the wait before the next attempt and counts a failure.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = lo
	}
	ceil := lo
	for i := 0; i < b.n && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	b.n++
	half := ceil / 2
	return half + rand.N(ceil-half+1)
}

// Failures is the number of failures since the last Reset.
func (b *Backoff) Failures() int { return b.n }

// Reset starts over after a success.
func (b *Backoff) Reset() { b.n = 0 }
