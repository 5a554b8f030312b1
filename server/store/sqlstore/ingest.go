package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigilhq/vigil/server/store"
)

// rowsPerInsert bounds one multi-row INSERT (events have 8 columns: 1,600 parameters).
const rowsPerInsert = 200

// WriteBatch implements store.Ingest. On SQLite, batches that arrive together share one
// transaction (group commit, see groupWriter); on PostgreSQL each has its own.
func (db *DB) WriteBatch(ctx context.Context, b *store.Batch) (store.BatchResult, error) {
	if db.group != nil {
		return db.group.submit(ctx, b)
	}
	var res store.BatchResult
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = db.writeBatch(ctx, tx, b)
		return err
	})
	if err != nil {
		return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, err)
	}
	return res, nil
}

// writeBatch writes one batch inside tx.
func (db *DB) writeBatch(ctx context.Context, tx *sql.Tx, b *store.Batch) (store.BatchResult, error) {
	var res store.BatchResult
	n, err := db.insertEvents(ctx, tx, b.Events)
	if err != nil {
		return res, fmt.Errorf("events: %w", err)
	}
	res.Accepted += n
	res.Duplicates += len(b.Events) - n
	n, err = db.insertFindings(ctx, tx, b.Findings)
	if err != nil {
		return res, fmt.Errorf("findings: %w", err)
	}
	res.Accepted += n
	res.Duplicates += len(b.Findings) - n
	for _, inv := range b.Inventory {
		r, err := tx.ExecContext(ctx, db.q(`INSERT INTO inventory (host_id, kind, id, time, items, received) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (host_id, kind) DO UPDATE SET id = excluded.id, time = excluded.time, items = excluded.items, received = excluded.received
			WHERE excluded.time > inventory.time`),
			inv.HostID, inv.Kind, inv.ID, db.ts(inv.Time), string(inv.Items), db.ts(inv.Received))
		if err != nil {
			return res, fmt.Errorf("inventory %s: %w", inv.ID, err)
		}
		if k, _ := r.RowsAffected(); k > 0 {
			res.Inventory++
		}
	}
	return res, db.appendFleetFacts(ctx, tx, b.FleetFacts)
}

// insertRows runs multi-row INSERT ... ON CONFLICT DO NOTHING statements of at most
// rowsPerInsert rows and returns how many rows were inserted.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, head, conflict string, cols, n int, row func(i int, args []any) []any) (int, error) {
	inserted := 0
	one := placeholders(cols)
	for start := 0; start < n; start += rowsPerInsert {
		end := min(n, start+rowsPerInsert)
		var sb strings.Builder
		sb.WriteString(head)
		sb.WriteString(" VALUES ")
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString(one)
			args = row(i, args)
		}
		sb.WriteString(" ON CONFLICT ")
		sb.WriteString(conflict)
		sb.WriteString(" DO NOTHING")
		r, err := tx.ExecContext(ctx, db.q(sb.String()), args...)
		if err != nil {
			return inserted, err
		}
		k, err := r.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += int(k)
	}
	return inserted, nil
}

func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, evs []store.Event) (int, error) {
	conflict := "(host_id, id)"
	if db.pg() {
		conflict = "(host_id, id, time)"
	}
	return db.insertRows(ctx, tx, `INSERT INTO events (host_id, id, time, category, product, service, fields, received)`, conflict, 8, len(evs),
		func(i int, args []any) []any {
			e := &evs[i]
			return append(args, e.HostID, e.ID, db.ts(e.Time), e.Category, e.Product, e.Service, string(e.Fields), db.ts(e.Received))
		})
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (db *DB) findingArgs(f *store.Finding, args []any) []any {
	var group any
	if len(f.Group) > 0 {
		group = jsonText(f.Group)
	}
	var value any
	if f.Value != nil {
		value = *f.Value
	}
	status := f.Status
	if status == "" {
		status = store.StatusNew
	}
	hosts := f.Hosts
	if hosts == nil && f.HostID != "" {
		hosts = []string{f.HostID}
	}
	return append(args, f.ID, f.HostID, f.Source, jsonText(orEmpty(hosts)), f.RuleID, f.RuleName, f.Title, f.Level, f.Author,
		jsonText(orEmpty(f.Tags)), db.ts(f.Time), db.ts(f.Received), jsonText(orEmpty(f.EventIDs)), group, f.Count, value, f.Correlation, status)
}

const findingInsertCols = `id, host_id, source, hosts, rule_id, rule_name, title, level, author, tags, time, received, event_ids, group_by, count, value, correlation, status`

func (db *DB) insertFindings(ctx context.Context, tx *sql.Tx, fs []store.Finding) (int, error) {
	return db.insertRows(ctx, tx, `INSERT INTO findings (`+findingInsertCols+`)`, "(host_id, id)", 18, len(fs),
		func(i int, args []any) []any { return db.findingArgs(&fs[i], args) })
}
