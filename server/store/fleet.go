package store

import (
	"context"
	"encoding/json"
	"time"
)

// FleetFact is what the server knows of a host's network position at a time: the facts the
// fleet rules correlate across hosts (egress address, default gateway MAC, Wi-Fi BSSID...), as a
// JSON object of event fields. The ingest appends one whenever they change.
type FleetFact struct {
	HostID string          `json:"host_id"`
	ID     string          `json:"id"`
	Time   time.Time       `json:"time"`
	Facts  json.RawMessage `json:"facts"`
}

// FleetFacts holds the fleet facts history.
type FleetFacts interface {
	// AppendFleetFacts stores facts (a fact whose (host, id) exists is skipped).
	AppendFleetFacts(ctx context.Context, facts []FleetFact) error
	// FleetFactsSince returns the facts with Time >= since in time order, and for every host
	// also its newest fact before since when the host was seen since then (its position did not
	// change, so it still holds).
	FleetFactsSince(ctx context.Context, since time.Time) ([]FleetFact, error)
}
