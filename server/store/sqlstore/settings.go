package sqlstore

import (
	"context"
	"fmt"
)

// Setting implements store.Settings.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v); err != nil {
		return "", notFound(err, "setting", key)
	}
	return v, nil
}

// PutSetting implements store.Settings.
func (db *DB) PutSetting(ctx context.Context, key, value string) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
	if err != nil {
		return fmt.Errorf("setting %s: %w", key, err)
	}
	return nil
}

// InitSetting implements store.Settings.
func (db *DB) InitSetting(ctx context.Context, key, value string) (string, error) {
	if _, err := db.w.ExecContext(ctx, db.q(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`), key, value); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	var v string
	if err := db.w.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	return v, nil
}
