package store

import (
	"context"
	"time"
)

// Retention tables: what a retention rule can age out.
const (
	TableEvents     = "events"
	TableFindings   = "findings"
	TableAudit      = "audit"
	TableFleetFacts = "fleet_facts"
)

// RetentionTables lists the tables Purge accepts.
var RetentionTables = []string{TableEvents, TableFindings, TableAudit, TableFleetFacts}

// Jobs serves the background jobs.
type Jobs interface {
	// TryLock takes the named cluster-wide lock without waiting: ok false means another server
	// replica holds it. release gives it back. On PostgreSQL it is an advisory lock held by one
	// connection; on SQLite a lease row (one file, one machine).
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
	// Purge deletes the rows of table older than before (by their time), returning how many.
	Purge(ctx context.Context, table string, before time.Time) (int64, error)
	// Maintain does periodic database upkeep: on PostgreSQL it creates the coming days' event
	// partitions.
	Maintain(ctx context.Context, now time.Time) error
}
