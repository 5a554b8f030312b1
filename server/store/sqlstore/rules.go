package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/store"
)

const ruleCols = `id, name, content, created_at, updated_at, created_by, updated_by`

func scanRule(row scanner) (store.RuleFile, error) {
	var r store.RuleFile
	err := row.Scan(&r.ID, &r.Name, &r.Content, scanTime{&r.CreatedAt}, scanTime{&r.UpdatedAt}, &r.CreatedBy, &r.UpdatedBy)
	return r, err
}

func (db *DB) listRules(ctx context.Context, q querier) ([]store.RuleFile, error) {
	return queryAll(ctx, q, "list rule files", `SELECT `+ruleCols+` FROM rule_files ORDER BY name`, nil, scanRule)
}

func (db *DB) listDisabled(ctx context.Context, q querier) ([]string, error) {
	out, err := queryAll(ctx, q, "disabled built-in rules", `SELECT rule_id FROM disabled_builtins ORDER BY rule_id`, nil,
		func(r scanner) (id string, err error) { return id, r.Scan(&id) })
	if out == nil {
		out = []string{}
	}
	return out, err
}

// ListRuleFiles implements store.Rules.
func (db *DB) ListRuleFiles(ctx context.Context) ([]store.RuleFile, error) {
	return db.listRules(ctx, db.r)
}

// DisabledBuiltins implements store.Rules.
func (db *DB) DisabledBuiltins(ctx context.Context) ([]string, error) {
	return db.listDisabled(ctx, db.r)
}

// RuleFile implements store.Rules.
func (db *DB) RuleFile(ctx context.Context, id string) (store.RuleFile, error) {
	r, err := scanRule(db.r.QueryRowContext(ctx, db.q(`SELECT `+ruleCols+` FROM rule_files WHERE id = ?`), id))
	if err != nil {
		return r, notFound(err, "rule file", id)
	}
	return r, nil
}

// ChangeRules implements store.Rules.
func (db *DB) ChangeRules(ctx context.Context, c store.RuleChange, build store.BundleBuilder) ([]store.RuleFile, store.PolicyVersion, error) {
	var changed []store.RuleFile
	var pv store.PolicyVersion
	err := db.tx(ctx, func(tx *sql.Tx) error {
		changed = nil
		if db.pg() {
			// One rule change at a time across replicas: versions stay gapless and ordered.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270732)`); err != nil {
				return err
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, r := range c.Put {
			var existing store.RuleFile
			var err error
			if r.ID != "" {
				existing, err = scanRule(tx.QueryRowContext(ctx, db.q(`SELECT `+ruleCols+` FROM rule_files WHERE id = ?`), r.ID))
				if err != nil {
					return notFound(err, "rule file", r.ID)
				}
			} else {
				existing, err = scanRule(tx.QueryRowContext(ctx, db.q(`SELECT `+ruleCols+` FROM rule_files WHERE name = ?`), r.Name))
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if existing.ID == "" {
				r.ID = event.NewID()
				r.CreatedAt, r.UpdatedAt, r.CreatedBy, r.UpdatedBy = now, now, c.Actor, c.Actor
				_, err = tx.ExecContext(ctx, db.q(`INSERT INTO rule_files (`+ruleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
					r.ID, r.Name, r.Content, db.ts(now), db.ts(now), c.Actor, c.Actor)
			} else {
				r.ID, r.CreatedAt, r.CreatedBy, r.UpdatedAt, r.UpdatedBy = existing.ID, existing.CreatedAt, existing.CreatedBy, now, c.Actor
				_, err = tx.ExecContext(ctx, db.q(`UPDATE rule_files SET name = ?, content = ?, updated_at = ?, updated_by = ? WHERE id = ?`),
					r.Name, r.Content, db.ts(now), c.Actor, r.ID)
			}
			if err != nil {
				if uniqueViolation(err) {
					return fmt.Errorf("rule file name %q: %w", r.Name, store.ErrConflict)
				}
				return err
			}
			changed = append(changed, r)
		}
		for _, id := range c.Delete {
			res, err := tx.ExecContext(ctx, db.q(`DELETE FROM rule_files WHERE id = ?`), id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("rule file %q: %w", id, store.ErrNotFound)
			}
		}
		for _, id := range c.Disable {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO disabled_builtins (rule_id) VALUES (?) ON CONFLICT DO NOTHING`), id); err != nil {
				return err
			}
		}
		for _, id := range c.Enable {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM disabled_builtins WHERE rule_id = ?`), id); err != nil {
				return err
			}
		}
		rules, err := db.listRules(ctx, tx)
		if err != nil {
			return err
		}
		disabled, err := db.listDisabled(ctx, tx)
		if err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM policy_versions`).Scan(&last); err != nil {
			return err
		}
		bundle, err := build(last+1, now, rules, disabled)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(bundle)
		if err != nil {
			return err
		}
		pv = store.PolicyVersion{Version: bundle.Version, CreatedAt: now, CreatedBy: c.Actor, Comment: c.Comment, Bundle: bundle}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO policy_versions (version, created_at, created_by, comment, bundle) VALUES (?, ?, ?, ?, ?)`),
			bundle.Version, db.ts(now), c.Actor, c.Comment, string(raw))
		return err
	})
	if err != nil {
		return nil, store.PolicyVersion{}, fmt.Errorf("change rules: %w", err)
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Name < changed[j].Name })
	return changed, pv, nil
}

func scanPolicy(row scanner, withBundle bool) (store.PolicyVersion, error) {
	var pv store.PolicyVersion
	var raw string
	if err := row.Scan(&pv.Version, scanTime{&pv.CreatedAt}, &pv.CreatedBy, &pv.Comment, &raw); err != nil {
		return pv, err
	}
	if err := json.Unmarshal([]byte(raw), &pv.Bundle); err != nil {
		return pv, fmt.Errorf("policy version %d: %w", pv.Version, err)
	}
	if !withBundle {
		// Listings carry the names only.
		for i := range pv.Bundle.Rules {
			pv.Bundle.Rules[i].Content = ""
		}
		pv.Bundle.Signature = ""
	}
	return pv, nil
}

const policyCols = `version, created_at, created_by, comment, bundle`

// CurrentPolicy implements store.Policies.
func (db *DB) CurrentPolicy(ctx context.Context) (store.PolicyVersion, error) {
	pv, err := scanPolicy(db.r.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policy_versions ORDER BY version DESC LIMIT 1`), true)
	if err != nil {
		return pv, notFound(err, "policy version", "current")
	}
	return pv, nil
}

// CurrentPolicyVersion implements store.Policies.
func (db *DB) CurrentPolicyVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM policy_versions`).Scan(&v); err != nil {
		return 0, fmt.Errorf("current policy version: %w", err)
	}
	return v, nil
}

// PolicyVersion implements store.Policies.
func (db *DB) PolicyVersion(ctx context.Context, version int64) (store.PolicyVersion, error) {
	pv, err := scanPolicy(db.r.QueryRowContext(ctx, db.q(`SELECT `+policyCols+` FROM policy_versions WHERE version = ?`), version), true)
	if err != nil {
		return pv, notFound(err, "policy version", fmt.Sprint(version))
	}
	return pv, nil
}

// ListPolicyVersions implements store.Policies.
func (db *DB) ListPolicyVersions(ctx context.Context, p store.Page) ([]store.PolicyVersion, string, error) {
	before, err := parseSeqCursor(p.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list policy versions: %w", err)
	}
	where, args := "", []any{}
	if before > 0 {
		where, args = " WHERE version < ?", []any{before}
	}
	return queryPage(ctx, db.r, "list policy versions", db.q(`SELECT `+policyCols+` FROM policy_versions`+where+` ORDER BY version DESC LIMIT ?`), args, p.Size(),
		func(r scanner) (store.PolicyVersion, error) { return scanPolicy(r, false) },
		func(pv store.PolicyVersion) string { return seqCursor(pv.Version) })
}
