package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/vigilhq/vigil/server/forward"
)

var _ forward.Outbox = (*DB)(nil)

// Enqueue implements forward.Outbox.
func (db *DB) Enqueue(ctx context.Context, ds []forward.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return db.enqueueTx(ctx, tx, ds, time.Now()) })
	if err != nil {
		return fmt.Errorf("outbox enqueue: %w", err)
	}
	return nil
}

// enqueueTx records deliveries inside a transaction (the ingest's, so that a finding and the
// alerts it owes commit together).
func (db *DB) enqueueTx(ctx context.Context, tx *sql.Tx, ds []forward.Delivery, now time.Time) error {
	_, err := db.insertRows(ctx, tx, `INSERT INTO outbox (destination, finding_id, payload, attempts, next_attempt, last_error, created)`,
		"(destination, finding_id)", 7, len(ds), func(i int, args []any) []any {
			d := &ds[i]
			return append(args, d.Destination, d.FindingID, string(d.Payload), 0, db.ts(now), "", db.ts(now))
		})
	return err
}

const outboxCols = `id, destination, finding_id, payload, attempts, next_attempt, last_error, created`

// Claim implements forward.Outbox.
func (db *DB) Claim(ctx context.Context, dest string, now, until time.Time, n int) ([]forward.Delivery, error) {
	lock := ""
	if db.pg() {
		lock = " FOR UPDATE SKIP LOCKED" // replicas claim disjoint rows without waiting on each other
	}
	var out []forward.Delivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, db.q(`UPDATE outbox SET next_attempt = ? WHERE id IN (
			SELECT id FROM outbox WHERE destination = ? AND next_attempt <= ? ORDER BY id LIMIT ?`+lock+`)
			RETURNING `+outboxCols), db.ts(until), dest, db.ts(now), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d forward.Delivery
			var payload string
			if err := rows.Scan(&d.ID, &d.Destination, &d.FindingID, &payload, &d.Attempts, scanTime{&d.NextAttempt}, &d.LastError, scanTime{&d.Created}); err != nil {
				return err
			}
			d.Payload = []byte(payload)
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("outbox claim %s: %w", dest, err)
	}
	slices.SortFunc(out, func(a, b forward.Delivery) int { return int(a.ID - b.ID) })
	return out, nil
}

// Ack implements forward.Outbox.
func (db *DB) Ack(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM outbox WHERE id IN `+placeholders(len(ids))), args...); err != nil {
		return fmt.Errorf("outbox ack: %w", err)
	}
	return nil
}

// Retry implements forward.Outbox.
func (db *DB) Retry(ctx context.Context, id int64, next time.Time, errMsg string) error {
	if len(errMsg) > 1000 {
		errMsg = errMsg[:1000]
	}
	_, err := db.w.ExecContext(ctx, db.q(`UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?`),
		db.ts(next), errMsg, id)
	if err != nil {
		return fmt.Errorf("outbox retry %d: %w", id, err)
	}
	return nil
}

// Postpone implements forward.Outbox.
func (db *DB) Postpone(ctx context.Context, ids []int64, next time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{db.ts(next)}
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE outbox SET next_attempt = ? WHERE id IN `+placeholders(len(ids))), args...); err != nil {
		return fmt.Errorf("outbox postpone: %w", err)
	}
	return nil
}

// Stats implements forward.Outbox.
func (db *DB) Stats(ctx context.Context) ([]forward.OutboxStats, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT destination, count(*), sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), min(created),
		(SELECT last_error FROM outbox o2 WHERE o2.destination = o.destination AND o2.attempts > 0 ORDER BY o2.id DESC LIMIT 1)
		FROM outbox o GROUP BY destination ORDER BY destination`)
	if err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	var out []forward.OutboxStats
	for rows.Next() {
		var s forward.OutboxStats
		var last sql.NullString
		if err := rows.Scan(&s.Destination, &s.Pending, &s.Failing, scanTime{&s.Oldest}, &last); err != nil {
			return nil, fmt.Errorf("outbox stats: %w", err)
		}
		s.LastError = last.String
		out = append(out, s)
	}
	return out, rows.Err()
}

// Drop implements forward.Outbox.
func (db *DB) Drop(ctx context.Context, dest string) (int64, error) {
	r, err := db.w.ExecContext(ctx, db.q(`DELETE FROM outbox WHERE destination = ?`), dest)
	if err != nil {
		return 0, fmt.Errorf("outbox drop %s: %w", dest, err)
	}
	return r.RowsAffected()
}
