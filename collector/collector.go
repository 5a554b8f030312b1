package collector

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// Event is the schema every source emits (see docs/events.md).
type Event = event.Event

// Emit receives the events a source produces. It may be called from several goroutines of one
// source only if the source says so; callers that fan in several sources must serialise.
type Emit func(*Event)

// Source is one collector.
//
// Snapshot reports the current state once (running processes as process_creation, devices and
// mounts with Action "present", the host inventory...) and returns.
//
// Run reports the current state as Snapshot does, then reports changes until ctx is done; it
// returns nil when ctx ends and an error only when the source cannot work at all. A source that
// degrades (a permission refused, a watch limit reached) logs a warning and goes on.
type Source interface {
	Name() string
	Snapshot(ctx context.Context, emit Emit) error
	Run(ctx context.Context, emit Emit) error
}

// Logger is a source's logger: l as the caller named it (the suite names each source's), or
// one that discards when l is nil.
func Logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l
}
