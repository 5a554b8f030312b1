package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

var _ store.Triage = (*DB)(nil)

func idArgs(ids []string) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// ChangeFindings implements store.Triage.
func (db *DB) ChangeFindings(ctx context.Context, ids []string, c store.TriageChange) ([]store.TriageState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	sets := []string{"triaged_at = ?", "triaged_by = ?"}
	args := []any{db.ts(c.Time), c.Actor}
	if c.Status != nil {
		sets = append(sets, "status = ?")
		args = append(args, *c.Status)
	}
	if c.Assignee != nil {
		sets = append(sets, "assignee = ?")
		args = append(args, *c.Assignee)
	}
	if c.SuppressedBy != nil {
		sets = append(sets, "suppressed_by = ?")
		args = append(args, *c.SuppressedBy)
	}
	var out []store.TriageState
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ids); start += rowsPerInsert {
			chunk := ids[start:min(len(ids), start+rowsPerInsert)]
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE findings SET `+strings.Join(sets, ", ")+` WHERE id IN `+placeholders(len(chunk))),
				append(append([]any{}, args...), idArgs(chunk)...)...); err != nil {
				return err
			}
		}
		var err error
		out, err = db.triageStates(ctx, tx, ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("triage %d findings: %w", len(ids), err)
	}
	return out, nil
}

func (db *DB) triageStates(ctx context.Context, q querier, ids []string) ([]store.TriageState, error) {
	var out []store.TriageState
	seen := map[string]bool{}
	for start := 0; start < len(ids); start += rowsPerInsert {
		chunk := ids[start:min(len(ids), start+rowsPerInsert)]
		rows, err := q.QueryContext(ctx, db.q(`SELECT id, status, assignee, suppressed_by, triaged_at, triaged_by FROM findings
			WHERE id IN `+placeholders(len(chunk))+` ORDER BY seq`), idArgs(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s store.TriageState
			if err := rows.Scan(&s.FindingID, &s.Status, &s.Assignee, &s.SuppressedBy, scanTime{&s.UpdatedAt}, &s.UpdatedBy); err != nil {
				rows.Close()
				return nil, err
			}
			if !seen[s.FindingID] {
				seen[s.FindingID] = true
				out = append(out, s)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TriageStates implements store.Triage.
func (db *DB) TriageStates(ctx context.Context, ids []string) (map[string]store.TriageState, error) {
	states, err := db.triageStates(ctx, db.r, ids)
	if err != nil {
		return nil, fmt.Errorf("triage states: %w", err)
	}
	out := make(map[string]store.TriageState, len(states))
	for _, s := range states {
		out[s.FindingID] = s
	}
	return out, nil
}

// AddComment implements store.Triage.
func (db *DB) AddComment(ctx context.Context, c store.Comment) (store.Comment, error) {
	err := db.w.QueryRowContext(ctx, db.q(`INSERT INTO finding_comments (finding_id, author, time, text) VALUES (?, ?, ?, ?) RETURNING id`),
		c.FindingID, c.Author, db.ts(c.Time), c.Text).Scan(&c.ID)
	if err != nil {
		return c, fmt.Errorf("comment on %s: %w", c.FindingID, err)
	}
	return c, nil
}

// Comments implements store.Triage.
func (db *DB) Comments(ctx context.Context, findingID string) ([]store.Comment, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, finding_id, author, time, text FROM finding_comments WHERE finding_id = ? ORDER BY id`), findingID)
	if err != nil {
		return nil, fmt.Errorf("comments of %s: %w", findingID, err)
	}
	defer rows.Close()
	var out []store.Comment
	for rows.Next() {
		var c store.Comment
		if err := rows.Scan(&c.ID, &c.FindingID, &c.Author, scanTime{&c.Time}, &c.Text); err != nil {
			return nil, fmt.Errorf("comments of %s: %w", findingID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const suppressionCols = `id, kind, rule_id, host_id, field, value, reason, finding_id, created_by, created_at, expires_at, hits`

// CreateSuppression implements store.Triage.
func (db *DB) CreateSuppression(ctx context.Context, s store.Suppression) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO suppressions (`+suppressionCols+`) VALUES `+placeholders(12)),
		s.ID, s.Kind, s.RuleID, s.HostID, s.Field, s.Value, s.Reason, s.FindingID, s.CreatedBy, db.ts(s.CreatedAt), db.ts(s.ExpiresAt), s.Hits)
	if err != nil {
		if uniqueViolation(err) {
			return fmt.Errorf("suppression %s: %w", s.ID, store.ErrConflict)
		}
		return fmt.Errorf("suppression %s: %w", s.ID, err)
	}
	return nil
}

func (db *DB) listSuppressions(ctx context.Context, where string, args ...any) ([]store.Suppression, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+suppressionCols+` FROM suppressions`+where+` ORDER BY created_at DESC, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	defer rows.Close()
	var out []store.Suppression
	for rows.Next() {
		var s store.Suppression
		if err := rows.Scan(&s.ID, &s.Kind, &s.RuleID, &s.HostID, &s.Field, &s.Value, &s.Reason, &s.FindingID, &s.CreatedBy,
			scanTime{&s.CreatedAt}, scanTime{&s.ExpiresAt}, &s.Hits); err != nil {
			return nil, fmt.Errorf("suppressions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ActiveSuppressions implements store.Triage.
func (db *DB) ActiveSuppressions(ctx context.Context, now time.Time) ([]store.Suppression, error) {
	return db.listSuppressions(ctx, " WHERE expires_at > ?", db.ts(now))
}

// ListSuppressions implements store.Triage.
func (db *DB) ListSuppressions(ctx context.Context) ([]store.Suppression, error) {
	return db.listSuppressions(ctx, "")
}

// DeleteSuppression implements store.Triage.
func (db *DB) DeleteSuppression(ctx context.Context, id string) error {
	r, err := db.w.ExecContext(ctx, db.q(`DELETE FROM suppressions WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("delete suppression %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("suppression %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// CountSuppressionHits implements store.Triage.
func (db *DB) CountSuppressionHits(ctx context.Context, id string, n int) error {
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE suppressions SET hits = hits + ? WHERE id = ?`), n, id); err != nil {
		return fmt.Errorf("suppression %s hits: %w", id, err)
	}
	return nil
}
