package store

import (
	"context"
	"encoding/json"
	"time"
)

// Event is a stored event. Fields is the event's fields object as JSON.
type Event struct {
	HostID   string          `json:"host_id"`
	ID       string          `json:"id"`
	Time     time.Time       `json:"time"`
	Category string          `json:"category,omitempty"`
	Product  string          `json:"product,omitempty"`
	Service  string          `json:"service,omitempty"`
	Fields   json.RawMessage `json:"fields"`
	Received time.Time       `json:"received"`
}

// Inventory is a host's current state of one kind (wire.Inventory, stored).
type Inventory struct {
	HostID   string          `json:"host_id"`
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Time     time.Time       `json:"time"`
	Items    json.RawMessage `json:"items"`
	Received time.Time       `json:"received"`
}

// Batch is what one agent request writes, all for one host, in one transaction.
type Batch struct {
	HostID    string
	Events    []Event
	Findings  []Finding
	Inventory []Inventory
	// FleetFacts, when set, are appended for the fleet rules (see FleetFacts).
	FleetFacts []FleetFact
}

// Len counts the batch's items.
func (b *Batch) Len() int {
	return len(b.Events) + len(b.Findings) + len(b.Inventory) + len(b.FleetFacts)
}

// BatchResult counts what a batch stored, and what was already there.
type BatchResult struct {
	Accepted   int
	Duplicates int
	// Inventory counts the snapshots that replaced an older one (a newer stored one wins).
	Inventory int
}

// Ingest writes agent batches.
type Ingest interface {
	// WriteBatch stores the batch in one transaction: events and findings whose (host, id) is
	// already stored are skipped and counted as duplicates; an inventory snapshot replaces the
	// host's snapshot of its kind unless that one is newer. It returns once committed.
	WriteBatch(ctx context.Context, b *Batch) (BatchResult, error)
}
