package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

const findingCols = `seq, ` + findingInsertCols

func scanFinding(row scanner) (store.Finding, error) {
	var f store.Finding
	var hosts, tags, eventIDs string
	var group sql.NullString
	var value sql.NullFloat64
	err := row.Scan(&f.Seq, &f.ID, &f.HostID, &f.Source, &hosts, &f.RuleID, &f.RuleName, &f.Title, &f.Level, &f.Author,
		&tags, scanTime{&f.Time}, scanTime{&f.Received}, &eventIDs, &group, &f.Count, &value, &f.Correlation, &f.Status)
	if err != nil {
		return f, err
	}
	if err := errors.Join(
		json.Unmarshal([]byte(hosts), &f.Hosts),
		json.Unmarshal([]byte(tags), &f.Tags),
		json.Unmarshal([]byte(eventIDs), &f.EventIDs),
	); err != nil {
		return f, fmt.Errorf("finding %s: %w", f.ID, err)
	}
	if group.Valid {
		if err := json.Unmarshal([]byte(group.String), &f.Group); err != nil {
			return f, fmt.Errorf("finding %s: group: %w", f.ID, err)
		}
	}
	if value.Valid {
		v := value.Float64
		f.Value = &v
	}
	return f, nil
}

func inList(col string, vals []string, args []any) (string, []any) {
	for _, v := range vals {
		args = append(args, v)
	}
	return col + " IN " + placeholders(len(vals)), args
}

// ListFindings implements store.Findings.
func (db *DB) ListFindings(ctx context.Context, f store.FindingFilter) ([]store.Finding, string, error) {
	var conds []string
	var args []any
	if len(f.Levels) > 0 {
		var c string
		c, args = inList("level", f.Levels, args)
		conds = append(conds, c)
	}
	if len(f.Statuses) > 0 {
		var c string
		c, args = inList("status", f.Statuses, args)
		conds = append(conds, c)
	}
	if f.RuleID != "" {
		conds = append(conds, "rule_id = ?")
		args = append(args, f.RuleID)
	}
	if f.Source != "" {
		conds = append(conds, "source = ?")
		args = append(args, f.Source)
	}
	if f.HostID != "" {
		conds = append(conds, "(host_id = ? OR seq IN (SELECT finding_seq FROM finding_hosts WHERE host_id = ?))")
		args = append(args, f.HostID, f.HostID)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, db.ts(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, db.ts(f.Until))
	}
	after, err := parseSeqCursor(f.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list findings: %w", err)
	}
	if after > 0 {
		conds = append(conds, "seq < ?")
		args = append(args, after)
	}
	return queryPage(ctx, db.r, "list findings", db.q(`SELECT `+findingCols+` FROM findings`+where(conds)+` ORDER BY seq DESC LIMIT ?`), args, f.Size(),
		scanFinding, func(f store.Finding) string { return seqCursor(f.Seq) })
}

// Finding implements store.Findings.
func (db *DB) Finding(ctx context.Context, id string) (store.Finding, error) {
	f, err := scanFinding(db.r.QueryRowContext(ctx, db.q(`SELECT `+findingCols+` FROM findings WHERE id = ? ORDER BY seq LIMIT 1`), id))
	if err != nil {
		return f, notFound(err, "finding", id)
	}
	return f, nil
}

// UpsertFleetFinding implements store.Findings.
func (db *DB) UpsertFleetFinding(ctx context.Context, f store.Finding) (bool, error) {
	f.Source = store.SourceFleet
	f.HostID = ""
	created := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		var oldHosts string
		var oldCount int
		err := tx.QueryRowContext(ctx, db.q(`SELECT seq, hosts, count FROM findings WHERE host_id = '' AND id = ?`), f.ID).Scan(&seq, &oldHosts, &oldCount)
		added := f.Hosts
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			err = tx.QueryRowContext(ctx, db.q(`INSERT INTO findings (`+findingInsertCols+`) VALUES `+placeholders(18)+` RETURNING seq`),
				db.findingArgs(&f, nil)...).Scan(&seq)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			// Hosts only join: a pass that finds no new host changes nothing.
			var had []string
			if err := json.Unmarshal([]byte(oldHosts), &had); err != nil {
				return fmt.Errorf("finding %s: hosts: %w", f.ID, err)
			}
			known := make(map[string]bool, len(had))
			for _, h := range had {
				known[h] = true
			}
			added = nil
			for _, h := range f.Hosts {
				if !known[h] {
					added = append(added, h)
				}
			}
			if len(added) == 0 {
				return nil
			}
			f.Hosts = append(had, added...)
			f.Count = len(f.Hosts)
			var group any
			if len(f.Group) > 0 {
				group = jsonText(f.Group)
			}
			_, err = tx.ExecContext(ctx, db.q(`UPDATE findings SET hosts = ?, event_ids = ?, count = ?, time = ?, group_by = ?, title = ?, level = ? WHERE seq = ?`),
				jsonText(orEmpty(f.Hosts)), jsonText(orEmpty(f.EventIDs)), f.Count, db.ts(f.Time), group, f.Title, f.Level, seq)
			if err != nil {
				return err
			}
		}
		if len(added) == 0 {
			return nil
		}
		_, err = db.insertRows(ctx, tx, `INSERT INTO finding_hosts (host_id, finding_seq)`, "(host_id, finding_seq)", 2, len(added),
			func(i int, args []any) []any { return append(args, added[i], seq) })
		return err
	})
	if err != nil {
		return false, fmt.Errorf("upsert fleet finding %s: %w", f.ID, err)
	}
	return created, nil
}

// SetFindingStatus implements store.Findings.
func (db *DB) SetFindingStatus(ctx context.Context, id, status string) error {
	r, err := db.w.ExecContext(ctx, db.q(`UPDATE findings SET status = ? WHERE id = ?`), status, id)
	if err != nil {
		return fmt.Errorf("finding %s: set status: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("finding %q: %w", id, store.ErrNotFound)
	}
	return nil
}

const eventCols = `host_id, id, time, category, product, service, fields, received`

func scanEvent(row scanner) (store.Event, error) {
	var e store.Event
	var fields string
	err := row.Scan(&e.HostID, &e.ID, scanTime{&e.Time}, &e.Category, &e.Product, &e.Service, &fields, scanTime{&e.Received})
	e.Fields = json.RawMessage(fields)
	return e, err
}

// EventsByID implements store.Events.
func (db *DB) EventsByID(ctx context.Context, refs []store.EvidenceRef) ([]store.Event, error) {
	byKey := map[store.EvidenceRef]store.Event{}
	// One query per host, ids in chunks.
	perHost := map[string][]string{}
	for _, r := range refs {
		perHost[r.HostID] = append(perHost[r.HostID], r.EventID)
	}
	for host, ids := range perHost {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(len(ids), start+500)]
			args := []any{host}
			c, args := inList("id", chunk, args)
			evs, err := queryAll(ctx, db.r, "events of host "+host, db.q(`SELECT `+eventCols+` FROM events WHERE host_id = ? AND `+c), args, scanEvent)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				byKey[store.EvidenceRef{HostID: e.HostID, EventID: e.ID}] = e
			}
		}
	}
	out := make([]store.Event, 0, len(byKey))
	for _, r := range refs {
		if e, ok := byKey[r]; ok {
			out = append(out, e)
			delete(byKey, r)
		}
	}
	return out, nil
}

// HostEvents implements store.Events. The cursor is the last event's time and id.
func (db *DB) HostEvents(ctx context.Context, hostID string, since, until time.Time, p store.Page) ([]store.Event, string, error) {
	conds := []string{"host_id = ?"}
	args := []any{hostID}
	if !since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, db.ts(since))
	}
	if !until.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, db.ts(until))
	}
	if p.Cursor != "" {
		ts, id, ok := strings.Cut(p.Cursor, "/")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("host events: cursor %q: %w", p.Cursor, store.ErrBadCursor)
		}
		conds = append(conds, "(time < ? OR (time = ? AND id < ?))")
		args = append(args, db.ts(t), db.ts(t), id)
	}
	return queryPage(ctx, db.r, "host events", db.q(`SELECT `+eventCols+` FROM events`+where(conds)+` ORDER BY time DESC, id DESC LIMIT ?`), args, p.Size(),
		scanEvent, func(e store.Event) string { return e.Time.Format(time.RFC3339Nano) + "/" + e.ID })
}

// CountEvents implements store.Events.
func (db *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// HostInventory implements store.Inventories.
func (db *DB) HostInventory(ctx context.Context, hostID string) ([]store.Inventory, error) {
	return queryAll(ctx, db.r, "inventory of host "+hostID, db.q(`SELECT host_id, id, kind, time, items, received FROM inventory WHERE host_id = ? ORDER BY kind`), []any{hostID},
		func(r scanner) (store.Inventory, error) {
			var inv store.Inventory
			var items string
			err := r.Scan(&inv.HostID, &inv.ID, &inv.Kind, scanTime{&inv.Time}, &items, scanTime{&inv.Received})
			inv.Items = json.RawMessage(items)
			return inv, err
		})
}
