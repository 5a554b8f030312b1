package collector

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestPace(t *testing.T) {
	var nilPace *Pace
	if nilPace.Factor() != 1 || nilPace.Slowed() || nilPace.Scale(time.Second) != time.Second {
		t.Fatal("a nil pace is not full speed")
	}
	p := &Pace{}
	if p.Factor() != 1 {
		t.Fatalf("zero pace factor %d", p.Factor())
	}
	p.Set(4)
	if !p.Slowed() || p.Scale(time.Second) != 4*time.Second {
		t.Fatalf("factor 4: %d", p.Factor())
	}
	p.Set(1000)
	if p.Factor() != MaxPaceFactor {
		t.Fatalf("factor above the maximum: %d", p.Factor())
	}
	p.Set(-3)
	if p.Factor() != 1 {
		t.Fatalf("negative factor: %d", p.Factor())
	}
}

// A slowed pace stretches the loop's interval. Only an upper bound on the polls is checked: a
// busy machine can delay ticks, never add them.
func TestLoopFollowsPace(t *testing.T) {
	pace := &Pace{}
	pace.Set(MaxPaceFactor)
	var polls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// 5 ms at factor 16 is 80 ms: at most 3 ticks in 300 ms (plus the one that sees the pace).
	_ = Loop{Interval: 5 * time.Millisecond, Pace: pace}.Run(ctx, func(context.Context) (bool, error) {
		polls.Add(1)
		return false, nil
	})
	if n := polls.Load(); n > 5 {
		t.Fatalf("%d polls in 300 ms at 80 ms intervals", n)
	}
}
