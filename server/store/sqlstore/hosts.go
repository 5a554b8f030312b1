package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/store"
)

const hostCols = `id, machine_id, hostname, os, os_version, arch, agent_version, enrolled_at, last_seen, egress_ip, health, enroll_secret_id`

func scanHost(row scanner) (store.Host, error) {
	var h store.Host
	var health sql.NullString
	err := row.Scan(&h.ID, &h.MachineID, &h.Hostname, &h.OS, &h.OSVersion, &h.Arch, &h.AgentVersion,
		scanTime{&h.EnrolledAt}, scanTime{&h.LastSeen}, &h.EgressIP, &health, &h.EnrollSecretID)
	if health.Valid && health.String != "" {
		h.Health = []byte(health.String)
	}
	return h, err
}

// Enroll implements store.Hosts.
func (db *DB) Enroll(ctx context.Context, e store.Enrollment) (store.Host, bool, error) {
	if e.MachineID == "" {
		return store.Host{}, false, errors.New("enroll: empty machine id")
	}
	var id string
	created := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM hosts WHERE machine_id = ?`), e.MachineID).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id = event.NewID()
			created = true
			_, err = tx.ExecContext(ctx, db.q(`INSERT INTO hosts (id, machine_id, hostname, os, os_version, arch, agent_version,
				token_hash, enrolled_at, last_seen, egress_ip, enroll_secret_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				id, e.MachineID, e.Hostname, e.OS, e.OSVersion, e.Arch, e.AgentVersion, e.TokenHash,
				db.ts(e.Time), db.ts(e.Time), e.EgressIP, e.EnrollSecretID)
			return err
		case err != nil:
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE hosts SET hostname = ?, os = ?, os_version = ?, arch = ?, agent_version = ?,
			token_hash = ?, enrolled_at = ?, last_seen = ?, egress_ip = ?, enroll_secret_id = ? WHERE id = ?`),
			e.Hostname, e.OS, e.OSVersion, e.Arch, e.AgentVersion, e.TokenHash, db.ts(e.Time), db.ts(e.Time),
			e.EgressIP, e.EnrollSecretID, id)
		return err
	})
	if err != nil {
		if uniqueViolation(err) {
			return store.Host{}, false, fmt.Errorf("enroll %s: %w", e.MachineID, store.ErrConflict)
		}
		return store.Host{}, false, fmt.Errorf("enroll %s: %w", e.MachineID, err)
	}
	h, err := db.hostFrom(ctx, db.w, id)
	return h, created, err
}

// AgentByTokenHash implements store.Hosts.
func (db *DB) AgentByTokenHash(ctx context.Context, hash string) (store.AgentIdentity, error) {
	var a store.AgentIdentity
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, hostname, egress_ip FROM hosts WHERE token_hash = ?`), hash).Scan(&a.HostID, &a.Hostname, &a.EgressIP)
	if err != nil {
		return a, notFound(err, "agent token", "")
	}
	return a, nil
}

// AgentsByTokenHashes implements store.Hosts.
func (db *DB) AgentsByTokenHashes(ctx context.Context, hashes []string) (map[string]store.AgentIdentity, error) {
	out := map[string]store.AgentIdentity{}
	if len(hashes) == 0 {
		return out, nil
	}
	if len(hashes) > store.MaxTokenLookup {
		return nil, fmt.Errorf("agent tokens: %d hashes in one lookup, at most %d", len(hashes), store.MaxTokenLookup)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT token_hash, id, hostname, egress_ip FROM hosts WHERE token_hash IN `+
		placeholders(len(hashes))), idArgs(hashes)...)
	if err != nil {
		return nil, fmt.Errorf("agent tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		var a store.AgentIdentity
		if err := rows.Scan(&h, &a.HostID, &a.Hostname, &a.EgressIP); err != nil {
			return nil, fmt.Errorf("agent tokens: %w", err)
		}
		out[h] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("agent tokens: %w", err)
	}
	return out, nil
}

// Host implements store.Hosts.
func (db *DB) Host(ctx context.Context, id string) (store.Host, error) {
	return db.hostFrom(ctx, db.r, id)
}

func (db *DB) hostFrom(ctx context.Context, q *sql.DB, id string) (store.Host, error) {
	h, err := scanHost(q.QueryRowContext(ctx, db.q(`SELECT `+hostCols+` FROM hosts WHERE id = ?`), id))
	if err != nil {
		return h, notFound(err, "host", id)
	}
	return h, nil
}

func (db *DB) hostConds(f store.HostFilter) ([]string, []any) {
	var conds []string
	var args []any
	if f.Query != "" {
		like := "%" + strings.ToLower(escapeLike(f.Query)) + "%"
		conds = append(conds, `(lower(hostname) LIKE ? ESCAPE '\' OR lower(machine_id) LIKE ? ESCAPE '\')`)
		args = append(args, like, like)
	}
	if f.OS != "" {
		conds = append(conds, `os = ?`)
		args = append(args, f.OS)
	}
	if !f.SeenAfter.IsZero() {
		conds = append(conds, `last_seen >= ?`)
		args = append(args, db.ts(f.SeenAfter))
	}
	if !f.SeenBefore.IsZero() {
		conds = append(conds, `last_seen < ?`)
		args = append(args, db.ts(f.SeenBefore))
	}
	return conds, args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListHosts implements store.Hosts. The cursor is the last host's hostname and id.
func (db *DB) ListHosts(ctx context.Context, f store.HostFilter) ([]store.Host, string, error) {
	conds, args := db.hostConds(f)
	if f.Cursor != "" {
		name, id, ok := strings.Cut(f.Cursor, "\x00")
		if !ok {
			return nil, "", fmt.Errorf("list hosts: cursor %q: %w", f.Cursor, store.ErrBadCursor)
		}
		conds = append(conds, `(hostname > ? OR (hostname = ? AND id > ?))`)
		args = append(args, name, name, id)
	}
	return queryPage(ctx, db.r, "list hosts", db.q(`SELECT `+hostCols+` FROM hosts`+where(conds)+` ORDER BY hostname, id LIMIT ?`), args, f.Size(),
		scanHost, func(h store.Host) string { return h.Hostname + "\x00" + h.ID })
}

// CountHosts implements store.Hosts.
func (db *DB) CountHosts(ctx context.Context, f store.HostFilter) (int, error) {
	conds, args := db.hostConds(f)
	var n int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT count(*) FROM hosts`+where(conds)), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count hosts: %w", err)
	}
	return n, nil
}

// MarkSeen implements store.Hosts.
func (db *DB) MarkSeen(ctx context.Context, seen []store.Seen) error {
	if len(seen) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		last, err := tx.PrepareContext(ctx, db.q(`UPDATE hosts SET last_seen = ?, egress_ip = CASE WHEN ? = '' THEN egress_ip ELSE ? END
			WHERE id = ? AND last_seen < ?`))
		if err != nil {
			return err
		}
		defer last.Close()
		// With a health report, one statement does both (a check-in's usual case): SET reads
		// the row as it was, so the egress address moves only with a newer last_seen.
		both, err := tx.PrepareContext(ctx, db.q(`UPDATE hosts SET egress_ip = CASE WHEN ? = '' OR last_seen >= ? THEN egress_ip ELSE ? END,
			last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END,
			health = ?, agent_version = CASE WHEN ? = '' THEN agent_version ELSE ? END WHERE id = ?`))
		if err != nil {
			return err
		}
		defer both.Close()
		for _, s := range seen {
			t := db.ts(s.Time)
			if len(s.Health) == 0 {
				_, err = last.ExecContext(ctx, t, s.EgressIP, s.EgressIP, s.HostID, t)
			} else {
				_, err = both.ExecContext(ctx, s.EgressIP, t, s.EgressIP, t, t, string(s.Health), s.AgentVersion, s.AgentVersion, s.HostID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d hosts seen: %w", len(seen), err)
	}
	return nil
}
