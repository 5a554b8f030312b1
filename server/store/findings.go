package store

import (
	"context"
	"time"
)

// Finding sources.
const (
	SourceAgent = "agent" // reported by an agent for its own host
	SourceFleet = "fleet" // raised by the server's fleet rules over several hosts
)

// Finding statuses.
const (
	StatusNew           = "new"
	StatusInvestigating = "investigating"
	StatusResolved      = "resolved"
	StatusFalsePositive = "false_positive"
)

// Finding is a stored detection.
type Finding struct {
	// Seq orders findings by arrival; it is unique across the store.
	Seq int64 `json:"seq"`
	// ID is the agent's finding id (unique per host), or for fleet findings a stable id derived
	// from the rule and the group.
	ID     string `json:"id"`
	HostID string `json:"host_id,omitempty"` // "" for fleet findings
	Source string `json:"source"`
	// Hosts lists every host a fleet finding names (agent findings: their own host).
	Hosts       []string          `json:"hosts"`
	RuleID      string            `json:"rule_id"`
	RuleName    string            `json:"rule_name,omitempty"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Author      string            `json:"author,omitempty"`
	Tags        []string          `json:"tags"`
	Time        time.Time         `json:"time"`
	Received    time.Time         `json:"received"`
	EventIDs    []string          `json:"event_ids"`
	Group       map[string]string `json:"group,omitempty"`
	Count       int               `json:"count,omitempty"`
	Value       *float64          `json:"value,omitempty"`
	Correlation string            `json:"correlation,omitempty"`
	Status      string            `json:"status"`
}

// FindingFilter selects findings; empty fields select everything.
type FindingFilter struct {
	Levels   []string
	Statuses []string
	RuleID   string
	// HostID selects the host's own findings and the fleet findings naming it.
	HostID string
	Source string
	// Since and Until bound the finding's Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	Page
}

// EvidenceRef names an event of a host.
type EvidenceRef struct {
	HostID, EventID string
}

// Findings reads findings and writes the server's own.
type Findings interface {
	// ListFindings returns findings newest first (by Seq) and the next page's cursor.
	ListFindings(ctx context.Context, f FindingFilter) ([]Finding, string, error)
	// Finding returns the finding with that id (the earliest stored, should two hosts have
	// reported one id).
	Finding(ctx context.Context, id string) (Finding, error)
	// UpsertFleetFinding stores a fleet finding under its id, or updates the stored one (hosts,
	// evidence, count, time) keeping its status. created says which.
	UpsertFleetFinding(ctx context.Context, f Finding) (created bool, err error)
	// SetFindingStatus changes a finding's status.
	SetFindingStatus(ctx context.Context, id, status string) error
}

// Events reads stored events.
type Events interface {
	// EventsByID returns the events named, in the order given, skipping those not stored.
	EventsByID(ctx context.Context, refs []EvidenceRef) ([]Event, error)
	// HostEvents returns a host's events in [since, until), newest first.
	HostEvents(ctx context.Context, hostID string, since, until time.Time, p Page) ([]Event, string, error)
	// CountEvents counts all stored events (for tests and status).
	CountEvents(ctx context.Context) (int64, error)
}

// Inventories reads the current inventory snapshots.
type Inventories interface {
	// HostInventory returns the host's snapshots, one per kind, by kind.
	HostInventory(ctx context.Context, hostID string) ([]Inventory, error)
}
