package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

func (db *DB) appendFleetFacts(ctx context.Context, tx *sql.Tx, facts []store.FleetFact) error {
	if len(facts) == 0 {
		return nil
	}
	_, err := db.insertRows(ctx, tx, `INSERT INTO fleet_facts (host_id, id, time, facts)`, "(host_id, id)", 4, len(facts),
		func(i int, args []any) []any {
			f := &facts[i]
			return append(args, f.HostID, f.ID, db.ts(f.Time), string(f.Facts))
		})
	if err != nil {
		return fmt.Errorf("fleet facts: %w", err)
	}
	return nil
}

// AppendFleetFacts implements store.FleetFacts.
func (db *DB) AppendFleetFacts(ctx context.Context, facts []store.FleetFact) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return db.appendFleetFacts(ctx, tx, facts) })
}

// FleetFactsSince implements store.FleetFacts.
func (db *DB) FleetFactsSince(ctx context.Context, since time.Time) ([]store.FleetFact, error) {
	var out []store.FleetFact
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var f store.FleetFact
			var facts string
			if err := rows.Scan(&f.HostID, &f.ID, scanTime{&f.Time}, &facts); err != nil {
				return err
			}
			f.Facts = json.RawMessage(facts)
			out = append(out, f)
		}
		return rows.Err()
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT host_id, id, time, facts FROM fleet_facts WHERE time >= ?`), db.ts(since))
	if err != nil {
		return nil, fmt.Errorf("fleet facts: %w", err)
	}
	if err := scan(rows); err != nil {
		return nil, fmt.Errorf("fleet facts: %w", err)
	}
	// The newest older fact of each host seen since then: its position still holds.
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT f.host_id, f.id, f.time, f.facts FROM fleet_facts f
		JOIN hosts h ON h.id = f.host_id AND h.last_seen >= ?
		WHERE f.time < ? AND f.time = (SELECT MAX(g.time) FROM fleet_facts g WHERE g.host_id = f.host_id AND g.time < ?)`),
		db.ts(since), db.ts(since), db.ts(since))
	if err != nil {
		return nil, fmt.Errorf("fleet facts: %w", err)
	}
	if err := scan(rows); err != nil {
		return nil, fmt.Errorf("fleet facts: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].HostID+out[i].ID < out[j].HostID+out[j].ID
	})
	return out, nil
}
