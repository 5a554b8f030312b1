package store

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry records one state-changing call.
type AuditEntry struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // user name, or "agent:<host id>", or "system"
	Action string    `json:"action"` // the route's operation name, e.g. createRule
	Target string    `json:"target,omitempty"`
	Remote string    `json:"remote,omitempty"`
	// Details holds what changed, as JSON (never a secret).
	Details json.RawMessage `json:"details,omitempty"`
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Actor, Action string
	// Target selects the entries about one object (a finding id, a rule file id...).
	Target       string
	Since, Until time.Time
	Page
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error)
}
