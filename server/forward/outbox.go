package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Delivery is one alert owed to one destination, as the outbox keeps it.
type Delivery struct {
	ID          int64  // assigned by the outbox on Enqueue; increasing in enqueue order
	Destination string // Config.Name
	FindingID   string
	Payload     []byte // the Alert as JSON
	Attempts    int    // failed attempts so far
	NextAttempt time.Time
	LastError   string
	Created     time.Time
}

// Alert decodes the delivery's payload.
func (d *Delivery) Alert() (*Alert, error) {
	var a Alert
	if err := json.Unmarshal(d.Payload, &a); err != nil {
		return nil, fmt.Errorf("outbox delivery %d: payload: %w", d.ID, err)
	}
	return &a, nil
}

// Outbox is the durable list of deliveries owed. The store implements it in the database so
// that it survives restarts and is shared by replicas; outboxtest holds its conformance suite.
type Outbox interface {
	// Enqueue records deliveries, due at once. A (destination, finding) pair already waiting
	// is not recorded twice.
	Enqueue(ctx context.Context, ds []Delivery) error
	// Claim returns up to n deliveries of dest that are due (NextAttempt <= now), oldest
	// first, and moves their NextAttempt to until, so that no other replica claims them while
	// this one is sending.
	Claim(ctx context.Context, dest string, now, until time.Time, n int) ([]Delivery, error)
	// Ack removes delivered deliveries.
	Ack(ctx context.Context, ids ...int64) error
	// Retry records a failed attempt: one more attempt, the error, and the next attempt's time.
	Retry(ctx context.Context, id int64, next time.Time, errMsg string) error
	// Postpone moves deliveries' next attempt without counting an attempt (the destination is
	// backing off because an earlier delivery failed).
	Postpone(ctx context.Context, ids []int64, next time.Time) error
	// Stats summarises what waits, per destination that has anything waiting.
	Stats(ctx context.Context) ([]OutboxStats, error)
	// Drop removes every delivery of a destination that no longer exists, returning how many.
	Drop(ctx context.Context, dest string) (int64, error)
}

// OutboxStats is what waits for one destination.
type OutboxStats struct {
	Destination string
	Pending     int       // deliveries waiting
	Failing     int       // of which have failed at least once
	Oldest      time.Time // the oldest one's creation
	LastError   string    // the most recent failure's message
}
