package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigilhq/vigil/server/store"
)

var _ store.Settings = (*DB)(nil)

// Setting implements store.Settings.
func (db *DB) Setting(ctx context.Context, key string) (store.Setting, error) {
	s := store.Setting{Key: key}
	var v string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT value, updated_at, updated_by FROM settings WHERE key = ?`), key).
		Scan(&v, scanTime{&s.UpdatedAt}, &s.UpdatedBy)
	if err != nil {
		return s, notFound(err, "setting", key)
	}
	s.Value = json.RawMessage(v)
	return s, nil
}

// PutSetting implements store.Settings.
func (db *DB) PutSetting(ctx context.Context, s store.Setting) error {
	if !json.Valid(s.Value) {
		return fmt.Errorf("setting %s: value is not JSON", s.Key)
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
		s.Key, string(s.Value), db.ts(s.UpdatedAt), s.UpdatedBy)
	if err != nil {
		return fmt.Errorf("setting %s: %w", s.Key, err)
	}
	return nil
}
