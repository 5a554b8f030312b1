package forward

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces the attempts of a failing destination: Base after the first failure, doubling
// with each further one up to Max, each delay spread by ±20% so that replicas do not retry in
// step.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff retries after 2 s, 4 s, 8 s... up to 10 minutes apart.
var DefaultBackoff = Backoff{Base: 2 * time.Second, Max: 10 * time.Minute}

// Delay is the wait after the attempt-th failure (1 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Base <= 0 {
		b = DefaultBackoff
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
