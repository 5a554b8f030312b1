package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilhq/vigil/server/store"
)

var _ store.Queue = (*DB)(nil)

// levelNames lists the levels by rank, lowest first.
var levelNames = []string{"informational", "low", "medium", "high", "critical"}

// levelRank orders levels in SQL (informational 0 ... critical 4).
const levelRank = `(CASE level WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)`

// queueWhere builds the queue's conditions other than level and status.
func (db *DB) queueWhere(f *store.QueueFilter) ([]string, []any) {
	var conds []string
	var args []any
	if f.RuleID != "" {
		conds = append(conds, "rule_id = ?")
		args = append(args, f.RuleID)
	}
	if f.Assignee != "" {
		conds = append(conds, "assignee = ?")
		args = append(args, f.Assignee)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, db.ts(f.Since))
	}
	if q := strings.TrimSpace(f.HostQuery); q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
		conds = append(conds, `(host_id IN (SELECT id FROM hosts WHERE lower(hostname) LIKE ? ESCAPE '\')
			OR (host_id = '' AND seq IN (SELECT fh.finding_seq FROM finding_hosts fh JOIN hosts h ON h.id = fh.host_id WHERE lower(h.hostname) LIKE ? ESCAPE '\')))`)
		args = append(args, like, like)
	}
	return conds, args
}

// FindingQueue implements store.Queue. It reads indexes rather than rows, and never
// aggregates every matching finding by host: the chips' counts come from findings_chips in index
// order; the page's groups from walking each level's matching findings newest first
// (findings_walk), critical first, until the page has its hosts (so a host's place is its worst
// level, then its newest finding of that level); then the listed hosts' findings are read by
// host.
func (db *DB) FindingQueue(ctx context.Context, f store.QueueFilter) (store.QueuePage, error) {
	page := store.QueuePage{ByLevel: map[string]int{}, ByStatus: map[string]int{}}
	hosts := f.Hosts
	if hosts <= 0 {
		hosts = 25
	}
	hosts = min(hosts, 200)
	per := f.PerHost
	if per <= 0 {
		per = 5
	}
	per = min(per, 50)
	offset := max(f.Offset, 0)

	conds, args := db.queueWhere(&f)
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT level, status, count(*) FROM findings`+where(conds)+` GROUP BY level, status`), args...)
	if err != nil {
		return page, fmt.Errorf("finding queue: counts: %w", err)
	}
	for rows.Next() {
		var level, status string
		var n int
		if err := rows.Scan(&level, &status, &n); err != nil {
			rows.Close()
			return page, fmt.Errorf("finding queue: counts: %w", err)
		}
		levelOK := len(f.Levels) == 0 || slices.Contains(f.Levels, level)
		statusOK := len(f.Statuses) == 0 || slices.Contains(f.Statuses, status)
		if statusOK {
			page.ByLevel[level] += n
		}
		if levelOK {
			page.ByStatus[status] += n
		}
		if levelOK && statusOK {
			page.Findings += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("finding queue: counts: %w", err)
	}
	if page.Findings == 0 {
		return page, nil
	}

	// the walk: hosts in page order, one level at a time
	if len(f.Statuses) > 0 {
		var c string
		c, args = inList("status", f.Statuses, args)
		conds = append(conds, c)
	}
	walkConds := append([]string{"level = ?"}, conds...)
	want := offset + hosts + 1 // one more tells whether another page follows
	seen := map[string]bool{}
	var order []string
	worst := map[string]string{}
	for rank := len(levelNames) - 1; rank >= 0 && len(order) < want; rank-- {
		level := levelNames[rank]
		if len(f.Levels) > 0 && !slices.Contains(f.Levels, level) || page.ByLevel[level] == 0 {
			continue
		}
		rows, err := db.r.QueryContext(ctx, db.q(`SELECT host_id FROM findings`+where(walkConds)+` ORDER BY seq DESC`), append([]any{level}, args...)...)
		if err != nil {
			return page, fmt.Errorf("finding queue: walk %s: %w", level, err)
		}
		for len(order) < want && rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return page, fmt.Errorf("finding queue: walk %s: %w", level, err)
			}
			if !seen[h] {
				seen[h] = true
				order = append(order, h)
				worst[h] = level
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return page, fmt.Errorf("finding queue: walk %s: %w", level, err)
		}
	}
	if len(order) > offset+hosts {
		page.More = true
		order = order[:offset+hosts]
	}
	if offset >= len(order) {
		return page, nil
	}
	ids := order[offset:]
	byHost := map[string]*store.QueueGroup{}
	page.Groups = make([]store.QueueGroup, len(ids))
	for i, id := range ids {
		page.Groups[i] = store.QueueGroup{HostID: id, Worst: worst[id]}
		byHost[id] = &page.Groups[i]
	}

	// the listed hosts' names and findings
	if err := db.queueHosts(ctx, ids, byHost); err != nil {
		return page, err
	}
	if len(f.Levels) > 0 {
		var c string
		c, args = inList("level", f.Levels, args)
		conds = append(conds, c)
	}
	conds = append(conds, "host_id IN "+placeholders(len(ids)))
	args = append(args, idArgs(ids)...)
	frows, err := db.r.QueryContext(ctx, db.q(`SELECT id, host_id, rule_id, rule_name, title, level, status, assignee, time, n FROM (
		SELECT id, host_id, rule_id, rule_name, title, level, status, assignee, time,
			row_number() OVER (PARTITION BY host_id ORDER BY `+levelRank+` DESC, seq DESC) AS rn,
			count(*) OVER (PARTITION BY host_id) AS n
		FROM findings`+where(conds)+`) ranked WHERE rn <= ? ORDER BY host_id, rn`), append(args, per)...)
	if err != nil {
		return page, fmt.Errorf("finding queue: findings: %w", err)
	}
	defer frows.Close()
	for frows.Next() {
		var it store.QueueItem
		var hostID string
		var n int
		if err := frows.Scan(&it.ID, &hostID, &it.RuleID, &it.RuleName, &it.Title, &it.Level, &it.Status, &it.Assignee, scanTime{&it.Time}, &n); err != nil {
			return page, fmt.Errorf("finding queue: findings: %w", err)
		}
		g := byHost[hostID]
		g.Count = n
		g.Findings = append(g.Findings, it)
		if it.Time.After(g.Latest) {
			g.Latest = it.Time
		}
	}
	if err := frows.Err(); err != nil {
		return page, fmt.Errorf("finding queue: findings: %w", err)
	}
	return page, nil
}

func (db *DB) queueHosts(ctx context.Context, ids []string, byHost map[string]*store.QueueGroup) error {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, hostname, os FROM hosts WHERE id IN `+placeholders(len(ids))), idArgs(ids)...)
	if err != nil {
		return fmt.Errorf("finding queue: hosts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, os string
		if err := rows.Scan(&id, &name, &os); err != nil {
			return fmt.Errorf("finding queue: hosts: %w", err)
		}
		byHost[id].Hostname, byHost[id].OS = name, os
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("finding queue: hosts: %w", err)
	}
	return nil
}
