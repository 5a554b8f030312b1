package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// Backend is one way a polling source lists its items: the live OS, a fixture tree or a saved
// dump (see FileBackend).
type Backend[T any] struct {
	// Product is the OS the items describe (event.Linux, event.MacOS, event.Windows), whatever
	// OS reads them.
	Product string
	// List returns the items present now.
	List func(ctx context.Context) ([]T, error)
	// Watch, when set, signals when the items may have changed (see Loop.Watch).
	Watch func(ctx context.Context) (<-chan struct{}, error)
}

// Actions are the Action field values a Polling source gives its events.
type Actions struct {
	Present, Added, Removed string
}

// DefaultActions are "present" (in a snapshot and at the start of Run), "added", "removed".
var DefaultActions = Actions{Present: "present", Added: "added", Removed: "removed"}

// Polling is the skeleton of a source that lists items (USB devices, displays, mounts) and
// reports them: Snapshot reports each item present, Run reports them too and then, every
// Loop tick or change notification, the items added and removed since the last listing
// (compared by Key with a Tracker).
//
// A source embeds a *Polling, which gives it Name, Snapshot and Run.
type Polling[T any] struct {
	// SourceName is the source's name (Name); errors start with it.
	SourceName string
	// Category of the events; Fields gives an item's event fields with an Action.
	Category string
	Fields   func(item *T, action string) map[string]any
	// Key identifies an item across listings.
	Key func(*T) string
	// Actions; the zero value means DefaultActions.
	Actions Actions
	// Open builds the backend. It is called once; its result, or its error, is kept.
	Open func() (*Backend[T], error)
	// Loop is the polling timing; its Watch comes from the backend.
	Loop Loop
	// Hold, when set, tells that a new item is not ready to report (a USB device whose
	// interfaces are still being set up): it is listed again after Loop.Settle, up to
	// maxHolds times, before it is reported as it is.
	Hold func(*T) bool
	// Listed, when set, sees every listing that succeeded (the media source publishes it).
	Listed func([]T)

	once sync.Once
	back *Backend[T]
	err  error
}

// Name is SourceName.
func (p *Polling[T]) Name() string { return p.SourceName }

// maxHolds is how many re-reads a held-back item waits for at most.
const maxHolds = 3

// Backend returns the backend, opening it on first use.
func (p *Polling[T]) Backend() (*Backend[T], error) {
	p.once.Do(func() {
		p.back, p.err = p.Open()
		if p.err != nil {
			p.err = fmt.Errorf("%s: %w", p.SourceName, p.err)
		}
	})
	return p.back, p.err
}

// List opens the backend if needed and lists the items present now.
func (p *Polling[T]) List(ctx context.Context) (*Backend[T], []T, error) {
	b, err := p.Backend()
	if err != nil {
		return nil, nil, err
	}
	items, err := p.list(ctx, b)
	return b, items, err
}

func (p *Polling[T]) list(ctx context.Context, b *Backend[T]) ([]T, error) {
	items, err := b.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.SourceName, err)
	}
	if p.Listed != nil {
		p.Listed(items)
	}
	return items, nil
}

func (p *Polling[T]) actions() Actions {
	if p.Actions == (Actions{}) {
		return DefaultActions
	}
	return p.Actions
}

func (p *Polling[T]) emitter(emit Emit, b *Backend[T], action string) func(*T) {
	return func(item *T) {
		ev := event.New(p.Category, p.Fields(item, action))
		ev.Product = b.Product
		emit(ev)
	}
}

// Snapshot reports every item present now.
func (p *Polling[T]) Snapshot(ctx context.Context, emit Emit) error {
	b, items, err := p.List(ctx)
	if err != nil {
		return err
	}
	present := p.emitter(emit, b, p.actions().Present)
	for i := range items {
		present(&items[i])
	}
	return nil
}

// Run reports the items present, then the ones added and removed until ctx ends. It fails
// only when the first listing does; later failures are logged and retried.
func (p *Polling[T]) Run(ctx context.Context, emit Emit) error {
	b, items, err := p.List(ctx)
	if err != nil {
		return err
	}
	act := p.actions()
	known := NewTracker(p.Key)
	known.Update(items, p.emitter(emit, b, act.Present), nil)
	added, removed := p.emitter(emit, b, act.Added), p.emitter(emit, b, act.Removed)
	held := map[string]int{} // new items not ready yet: key -> re-reads so far
	loop := p.Loop
	loop.Watch = b.Watch
	return loop.Run(ctx, func(ctx context.Context) (bool, error) {
		cur, err := p.list(ctx, b)
		if err != nil {
			return false, err
		}
		ready, again := cur, false
		if p.Hold != nil {
			ready, again = p.holdBack(cur, known, held)
		}
		known.Update(ready, added, removed)
		return again, nil
	})
}

// holdBack leaves out the new items that Hold says are not ready, for up to maxHolds
// listings each, and says whether any was left out.
func (p *Polling[T]) holdBack(cur []T, known *Tracker[T], held map[string]int) ([]T, bool) {
	seen := make(map[string]bool, len(cur))
	ready := make([]T, 0, len(cur))
	again := false
	for i := range cur {
		k := p.Key(&cur[i])
		seen[k] = true
		if !known.Known(k) && held[k] < maxHolds && p.Hold(&cur[i]) {
			held[k]++
			again = true
			continue
		}
		delete(held, k)
		ready = append(ready, cur[i])
	}
	for k := range held {
		if !seen[k] {
			delete(held, k)
		}
	}
	return ready, again
}

// AbsentIsNone wraps a live listing that reads a folder some machines lack (no DRM on a
// server, no USB bus in a container): there, a missing folder means no items, not a failure,
// and is logged once at Info with msg. Fixture roots are checked with CheckRoots instead.
func AbsentIsNone[T any](log hclog.Logger, msg string, list func(ctx context.Context) ([]T, error)) func(ctx context.Context) ([]T, error) {
	var once sync.Once
	return func(ctx context.Context) ([]T, error) {
		items, err := list(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			once.Do(func() { log.Info(msg, "error", err) })
			return nil, nil
		}
		return items, err
	}
}
