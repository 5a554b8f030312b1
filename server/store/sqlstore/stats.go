package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

var _ store.Stats = (*DB)(nil)

// riskSQL is one open finding's contribution to its host's risk (store.RiskWeights).
const riskSQL = `(CASE level WHEN 'critical' THEN 40 WHEN 'high' THEN 20 WHEN 'medium' THEN 8 WHEN 'low' THEN 3 ELSE 1 END)`

const openStatuses = `status IN ('new', 'investigating')`

// dayExpr is the UTC day number (days since the epoch) of a time column.
func (db *DB) dayExpr(col string) string {
	if db.pg() {
		return `floor(extract(epoch FROM ` + col + `) / 86400)::bigint`
	}
	return `(` + col + ` / 86400000000)`
}

// Overview implements store.Stats.
func (db *DB) Overview(ctx context.Context, since, now time.Time, top int) (store.OverviewStats, error) {
	out := store.OverviewStats{Open: map[string]int{}}
	first := since.UTC().Truncate(24 * time.Hour)
	for d := first; !d.After(now); d = d.Add(24 * time.Hour) {
		out.Days = append(out.Days, store.DayCount{Day: d, ByLevel: map[string]int{}})
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+db.dayExpr("time")+`, level, count(*) FROM findings WHERE time >= ? GROUP BY 1, 2`), db.ts(first))
	if err != nil {
		return out, fmt.Errorf("overview: by day: %w", err)
	}
	for rows.Next() {
		var day int64
		var level string
		var n int
		if err := rows.Scan(&day, &level, &n); err != nil {
			rows.Close()
			return out, fmt.Errorf("overview: by day: %w", err)
		}
		i := int(time.Unix(day*86400, 0).UTC().Sub(first) / (24 * time.Hour))
		if i >= 0 && i < len(out.Days) {
			out.Days[i].ByLevel[level] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("overview: by day: %w", err)
	}

	rows, err = db.r.QueryContext(ctx, db.q(`SELECT rule_id, max(title), count(*) AS n FROM findings WHERE time >= ? GROUP BY rule_id ORDER BY n DESC, rule_id LIMIT ?`), db.ts(first), top)
	if err != nil {
		return out, fmt.Errorf("overview: top rules: %w", err)
	}
	for rows.Next() {
		var rc store.RuleCount
		if err := rows.Scan(&rc.RuleID, &rc.Title, &rc.Count); err != nil {
			rows.Close()
			return out, fmt.Errorf("overview: top rules: %w", err)
		}
		out.TopRules = append(out.TopRules, rc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("overview: top rules: %w", err)
	}

	rows, err = db.r.QueryContext(ctx, `SELECT level, status, count(*) FROM findings WHERE `+openStatuses+` GROUP BY level, status`)
	if err != nil {
		return out, fmt.Errorf("overview: open: %w", err)
	}
	for rows.Next() {
		var level, status string
		var n int
		if err := rows.Scan(&level, &status, &n); err != nil {
			rows.Close()
			return out, fmt.Errorf("overview: open: %w", err)
		}
		out.Open[level] += n
		if status == store.StatusNew {
			out.New += n
		} else {
			out.Investigating += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("overview: open: %w", err)
	}

	rows, err = db.r.QueryContext(ctx, db.q(`SELECT host_id, count(*), sum(`+riskSQL+`) AS score FROM findings
		WHERE `+openStatuses+` AND host_id <> '' GROUP BY host_id ORDER BY score DESC, host_id LIMIT ?`), top)
	if err != nil {
		return out, fmt.Errorf("overview: hosts at risk: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hr store.HostRisk
		if err := rows.Scan(&hr.HostID, &hr.Open, &hr.Score); err != nil {
			return out, fmt.Errorf("overview: hosts at risk: %w", err)
		}
		hr.Score = min(hr.Score, 100)
		out.AtRisk = append(out.AtRisk, hr)
	}
	return out, rows.Err()
}

// HostRisks implements store.Stats.
func (db *DB) HostRisks(ctx context.Context, hostIDs []string) (map[string]store.HostRisk, error) {
	out := map[string]store.HostRisk{}
	if len(hostIDs) == 0 {
		return out, nil
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT host_id, count(*), sum(`+riskSQL+`) FROM findings
		WHERE `+openStatuses+` AND host_id IN `+placeholders(len(hostIDs))+` GROUP BY host_id`), idArgs(hostIDs)...)
	if err != nil {
		return nil, fmt.Errorf("host risks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hr store.HostRisk
		if err := rows.Scan(&hr.HostID, &hr.Open, &hr.Score); err != nil {
			return nil, fmt.Errorf("host risks: %w", err)
		}
		hr.Score = min(hr.Score, 100)
		out[hr.HostID] = hr
	}
	return out, rows.Err()
}

// CountNew implements store.Stats.
func (db *DB) CountNew(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM findings WHERE status = 'new'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count new findings: %w", err)
	}
	return n, nil
}

// PolicyVersionsInUse implements store.Stats.
func (db *DB) PolicyVersionsInUse(ctx context.Context) (map[int64]int, error) {
	expr := `json_extract(health, '$.policy_version')`
	if db.pg() {
		expr = `(health::jsonb->>'policy_version')::bigint`
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+expr+` AS v, count(*) FROM hosts WHERE health IS NOT NULL AND health <> '' AND health <> 'null' GROUP BY v`)
	if err != nil {
		return nil, fmt.Errorf("policy versions in use: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var v sql.NullInt64
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, fmt.Errorf("policy versions in use: %w", err)
		}
		out[v.Int64] += n
	}
	return out, rows.Err()
}

// AgentQueues implements store.Stats.
func (db *DB) AgentQueues(ctx context.Context) (int64, int64, error) {
	items, dropped := `json_extract(health, '$.queue_items')`, `json_extract(health, '$.queue_dropped')`
	if db.pg() {
		items, dropped = `(health::jsonb->>'queue_items')::bigint`, `(health::jsonb->>'queue_dropped')::bigint`
	}
	var i, d sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT sum(`+items+`), sum(`+dropped+`) FROM hosts WHERE health IS NOT NULL AND health <> '' AND health <> 'null'`).Scan(&i, &d)
	if err != nil {
		return 0, 0, fmt.Errorf("agent queues: %w", err)
	}
	return i.Int64, d.Int64, nil
}
