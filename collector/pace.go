package collector

import (
	"sync/atomic"
	"time"
)

// Pace is how hard the sources may work: the agent's self-limits slow them down when it goes
// over its CPU or memory budget. Polling sources multiply their intervals by Factor; the process
// source stops hashing executables while Slowed. A nil *Pace is full speed.
type Pace struct{ factor atomic.Int32 }

// MaxPaceFactor is the slowest pace.
const MaxPaceFactor = 16

// Set sets the slow-down factor (1: full speed), bounded to [1, MaxPaceFactor].
func (p *Pace) Set(factor int) { p.factor.Store(int32(min(max(factor, 1), MaxPaceFactor))) }

// Factor returns the slow-down factor, 1 at full speed.
func (p *Pace) Factor() int {
	if p == nil {
		return 1
	}
	return max(int(p.factor.Load()), 1)
}

// Slowed reports whether the sources are asked to slow down.
func (p *Pace) Slowed() bool { return p.Factor() > 1 }

// Scale stretches an interval by the factor.
func (p *Pace) Scale(d time.Duration) time.Duration { return d * time.Duration(p.Factor()) }
