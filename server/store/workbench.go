package store

import "github.com/vigilhq/vigil/server/forward"

// Workbench is what the analyst's workbench (the web UI, triage, forwarding) adds: triage and
// its queue, web sessions, settings and the forwarding outbox.
type Workbench interface {
	Triage
	Queue
	Stats
	Sessions
	Settings
	forward.Outbox
}
