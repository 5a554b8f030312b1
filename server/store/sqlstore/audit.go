package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vigilhq/vigil/server/store"
)

// AppendAudit implements store.Audit.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	var details any
	if len(e.Details) > 0 {
		details = string(e.Details)
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO audit (time, actor, action, target, remote, details) VALUES (?, ?, ?, ?, ?, ?)`),
		db.ts(e.Time), e.Actor, e.Action, e.Target, e.Remote, details)
	if err != nil {
		return fmt.Errorf("audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return nil
}

// ListAudit implements store.Audit.
func (db *DB) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, string, error) {
	var conds []string
	var args []any
	if f.Actor != "" {
		conds = append(conds, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		conds = append(conds, "action = ?")
		args = append(args, f.Action)
	}
	if f.Target != "" {
		conds = append(conds, "target = ?")
		args = append(args, f.Target)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, db.ts(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, db.ts(f.Until))
	}
	before, err := parseSeqCursor(f.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	if before > 0 {
		conds = append(conds, "seq < ?")
		args = append(args, before)
	}
	return queryPage(ctx, db.r, "list audit", db.q(`SELECT seq, time, actor, action, target, remote, details FROM audit`+where(conds)+` ORDER BY seq DESC LIMIT ?`), args, f.Size(),
		func(r scanner) (store.AuditEntry, error) {
			var e store.AuditEntry
			var details sql.NullString
			err := r.Scan(&e.Seq, scanTime{&e.Time}, &e.Actor, &e.Action, &e.Target, &e.Remote, &details)
			if details.Valid {
				e.Details = []byte(details.String)
			}
			return e, err
		},
		func(e store.AuditEntry) string { return seqCursor(e.Seq) })
}
