package collector

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Loop is when a polling source looks again: every Interval, and after each change
// notification when it has a Watch. The process, network and device sources all run on it.
type Loop struct {
	// What names what is listed, in log lines ("USB devices").
	What string
	// Log receives the warnings; nil discards them.
	Log hclog.Logger
	// Interval between polls; it must be positive.
	Interval time.Duration
	// Watch, when set, returns a channel that receives when things may have changed and is
	// closed when notifications stop; an error means there are none, and the loop only polls.
	Watch func(ctx context.Context) (<-chan struct{}, error)
	// WatchedInterval replaces Interval while notifications work: a safety re-read in case one
	// was lost (0: Interval).
	WatchedInterval time.Duration
	// Settle is how long to wait after a notification before polling, so the burst of
	// notifications one change gives makes one poll (0: poll at once). The wait starts at the
	// first notification and is not pushed back by the next ones: on a busy machine, where
	// processes start every few hundred milliseconds, the poll still comes Settle after the
	// first. A poll that asks to be run again is run after Settle too.
	Settle time.Duration
	// Pace, when set, stretches the intervals while the agent is over its budget; the new
	// pace takes effect at the next tick.
	Pace *Pace
}

// Run calls poll at every tick and notification until ctx ends, then returns nil. A failing
// poll is logged once per run of failures (its recovery too) and retried at the next tick;
// when poll returns again, it is called once more after Settle.
func (l Loop) Run(ctx context.Context, poll func(ctx context.Context) (again bool, err error)) error {
	log := Logger(l.Log)
	interval := l.Interval
	var notify <-chan struct{}
	if l.Watch != nil {
		ch, err := l.Watch(ctx)
		if err != nil {
			log.Info("change notifications unavailable, polling", "what", l.What, "interval", interval, "reason", err)
		} else {
			notify = ch
			if l.WatchedInterval > 0 {
				interval = l.WatchedInterval
			}
			log.Debug("watching for changes", "what", l.What, "rescan", interval)
		}
	}
	factor := l.Pace.Factor()
	tick := time.NewTicker(interval * time.Duration(factor))
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	settling := false // settle is armed
	arm := func() {
		if !settling {
			settle.Reset(l.Settle)
			settling = true
		}
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case _, ok := <-notify:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("change notifications stopped, polling", "what", l.What, "interval", l.Interval)
				notify = nil
				interval = l.Interval
				tick.Reset(interval * time.Duration(factor))
				continue
			}
			if l.Settle > 0 {
				arm()
				continue
			}
		case <-settle.C:
			settling = false
		}
		if f := l.Pace.Factor(); f != factor {
			factor = f
			tick.Reset(interval * time.Duration(factor))
		}
		again, err := poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !failing {
				log.Warn("listing failed; retrying every poll", "what", l.What, "error", err)
			}
			failing = true
			continue
		}
		if failing {
			log.Info("listing works again", "what", l.What)
			failing = false
		}
		if again {
			arm()
		}
	}
}
