package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Logger  hclog.Logger
	Backoff Backoff
	// Poll is how often an idle worker looks for deliveries it was not woken for (enqueued
	// by another replica, or by the store within an ingest transaction). Default 5 s.
	Poll time.Duration
	// Batch is how many deliveries a worker claims at once. Default 50.
	Batch int
	// Lease is how long claimed deliveries stay hidden from other replicas. Default 2 min.
	Lease   time.Duration
	Metrics *Metrics
}

// Dispatcher routes alerts into the outbox and runs one delivery worker per enabled
// destination.
type Dispatcher struct {
	ob  Outbox
	o   Options
	log hclog.Logger

	mu      sync.Mutex
	ctx     context.Context // set by Start
	configs []Config
	workers map[string]*worker
	wg      sync.WaitGroup
}

// NewDispatcher returns a dispatcher over ob. Call SetDestinations, then Start.
func NewDispatcher(ob Outbox, o Options) *Dispatcher {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Backoff.Base <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	return &Dispatcher{ob: ob, o: o, log: o.Logger.Named("forward"), workers: map[string]*worker{}}
}

// SetDestinations replaces the destinations. Workers of removed or changed destinations stop
// (after the send in progress); new ones start if the dispatcher runs. Deliveries already in
// the outbox stay there.
func (d *Dispatcher) SetDestinations(cfgs []Config) error {
	for i := range cfgs {
		if err := cfgs[i].Validate(); err != nil {
			return fmt.Errorf("destination %q: %w", cfgs[i].Name, err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.configs = append([]Config(nil), cfgs...)
	if d.ctx != nil {
		d.reconcileLocked()
	}
	return nil
}

// Destinations returns the current configurations.
func (d *Dispatcher) Destinations() []Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Config(nil), d.configs...)
}

// Start runs the workers until ctx ends; Wait waits for them to finish.
func (d *Dispatcher) Start(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ctx = ctx
	d.reconcileLocked()
	d.wg.Add(1)
	go d.statsLoop(ctx)
}

// Wait blocks until every worker has stopped after Start's context ended.
func (d *Dispatcher) Wait() { d.wg.Wait() }

func (d *Dispatcher) reconcileLocked() {
	want := map[string]Config{}
	for _, c := range d.configs {
		if c.Enabled {
			want[c.Name] = c
		}
	}
	for name, w := range d.workers {
		if c, ok := want[name]; !ok || !reflect.DeepEqual(c, w.cfg) {
			w.cancel()
			delete(d.workers, name)
		}
	}
	for name, c := range want {
		if _, ok := d.workers[name]; ok {
			continue
		}
		fwd, err := New(c)
		if err != nil {
			d.log.Error("destination not started", "destination", name, "error", err)
			continue
		}
		ctx, cancel := context.WithCancel(d.ctx)
		w := &worker{d: d, cfg: c, fwd: fwd, wake: make(chan struct{}, 1), cancel: cancel}
		d.workers[name] = w
		d.wg.Add(1)
		go w.run(ctx)
	}
}

// Route returns the deliveries the alerts owe: one per alert and enabled destination whose
// filter accepts it. The store may record them in the transaction that stores the findings.
func (d *Dispatcher) Route(alerts []Alert) ([]Delivery, error) {
	d.mu.Lock()
	cfgs := d.configs
	d.mu.Unlock()
	var out []Delivery
	for i := range alerts {
		a := &alerts[i]
		var payload []byte
		for _, c := range cfgs {
			if !c.Enabled || !c.Filter.Accepts(a) {
				continue
			}
			if payload == nil {
				var err error
				if payload, err = json.Marshal(a); err != nil {
					return nil, fmt.Errorf("encode alert %s: %w", a.ID, err)
				}
			}
			out = append(out, Delivery{Destination: c.Name, FindingID: a.ID, Payload: payload})
		}
	}
	return out, nil
}

// Publish routes alerts into the outbox and wakes the workers concerned.
func (d *Dispatcher) Publish(ctx context.Context, alerts []Alert) error {
	ds, err := d.Route(alerts)
	if err != nil || len(ds) == 0 {
		return err
	}
	if err := d.ob.Enqueue(ctx, ds); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	names := map[string]bool{}
	for _, dl := range ds {
		names[dl.Destination] = true
	}
	d.Notify(names)
	return nil
}

// Notify wakes the workers of the named destinations (all of them when names is nil), after
// deliveries were enqueued outside Publish.
func (d *Dispatcher) Notify(names map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, w := range d.workers {
		if names == nil || names[name] {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Test sends one alert straight to a destination, outside the outbox, so an admin can check
// a configuration before saving it.
func Test(ctx context.Context, c Config, a *Alert) error {
	fwd, err := New(c)
	if err != nil {
		return err
	}
	defer fwd.Close()
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	return fwd.Send(ctx, a)
}

func (d *Dispatcher) statsLoop(ctx context.Context) {
	defer d.wg.Done()
	if d.o.Metrics == nil {
		return
	}
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		d.refreshStats(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) refreshStats(ctx context.Context) {
	st, err := d.ob.Stats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("outbox stats", "error", err)
		}
		return
	}
	d.o.Metrics.setPending(st, d.Destinations())
}

type worker struct {
	d      *Dispatcher
	cfg    Config
	fwd    Forwarder
	wake   chan struct{}
	cancel context.CancelFunc
}

func (w *worker) run(ctx context.Context) {
	defer w.d.wg.Done()
	defer w.fwd.Close()
	log := w.d.log.With("destination", w.cfg.Name)
	failures := 0
	for ctx.Err() == nil {
		wait, err := w.round(ctx, log, &failures)
		if err != nil && ctx.Err() == nil {
			log.Warn("outbox", "error", err)
			wait = w.d.o.Poll
		}
		if wait == 0 {
			continue
		}
		t := time.NewTimer(wait)
		if failures == 0 {
			select {
			case <-ctx.Done():
			case <-t.C:
			case <-w.wake:
			}
		} else {
			// backing off: new deliveries wait too, so a destination that is down is not
			// hammered by every new finding
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		t.Stop()
	}
}

// round claims and sends one batch. It returns how long to wait before the next: 0 when there
// may be more, the poll interval when there was nothing, the backoff after a failure.
func (w *worker) round(ctx context.Context, log hclog.Logger, failures *int) (time.Duration, error) {
	o := &w.d.o
	now := time.Now()
	ds, err := w.d.ob.Claim(ctx, w.cfg.Name, now, now.Add(o.Lease), o.Batch)
	if err != nil {
		return 0, err
	}
	if len(ds) == 0 {
		*failures = 0
		return o.Poll, nil
	}
	var done []int64
	ack := func() error {
		if len(done) == 0 {
			return nil
		}
		err := w.d.ob.Ack(context.WithoutCancel(ctx), done...)
		done = done[:0]
		return err
	}
	for i := range ds {
		dl := &ds[i]
		err := w.send(ctx, dl)
		if err == nil {
			done = append(done, dl.ID)
			o.Metrics.sent(w.cfg.Name)
			*failures = 0
			continue
		}
		if ackErr := ack(); ackErr != nil {
			return 0, ackErr
		}
		if ctx.Err() != nil {
			// stopping: hand the claimed deliveries back at once
			rest := ids(ds[i:])
			return 0, w.d.ob.Postpone(context.WithoutCancel(ctx), rest, time.Now())
		}
		*failures++
		delay := o.Backoff.Delay(dl.Attempts + 1)
		next := time.Now().Add(delay)
		o.Metrics.failed(w.cfg.Name)
		log.Warn("delivery failed; retrying later", "finding", dl.FindingID, "attempt", dl.Attempts+1,
			"retry_in", delay.Round(time.Millisecond), "error", err)
		bg := context.WithoutCancel(ctx)
		if err := w.d.ob.Retry(bg, dl.ID, next, err.Error()); err != nil {
			return 0, err
		}
		if rest := ids(ds[i+1:]); len(rest) > 0 {
			if err := w.d.ob.Postpone(bg, rest, next); err != nil {
				return 0, err
			}
		}
		return delay, nil
	}
	if err := ack(); err != nil {
		return 0, err
	}
	if len(ds) < o.Batch {
		return o.Poll, nil
	}
	return 0, nil
}

func (w *worker) send(ctx context.Context, dl *Delivery) error {
	a, err := dl.Alert()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.timeout())
	defer cancel()
	err = w.fwd.Send(sctx, a)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s: %w", w.cfg.timeout(), err)
	}
	return err
}

func ids(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i := range ds {
		out[i] = ds[i].ID
	}
	return out
}
