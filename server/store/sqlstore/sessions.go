package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

var _ store.Sessions = (*DB)(nil)

// CreateSession implements store.Sessions.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO sessions (hash, user_id, csrf, method, remote, created_at, expires_at, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), s.Hash, s.UserID, s.CSRF, s.Method, s.Remote, db.ts(s.CreatedAt), db.ts(s.ExpiresAt), db.ts(s.LastSeen))
	if err != nil {
		if uniqueViolation(err) {
			return fmt.Errorf("session: %w", store.ErrConflict)
		}
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash implements store.Sessions.
func (db *DB) SessionByHash(ctx context.Context, hash string, now time.Time) (store.Session, store.User, error) {
	var s store.Session
	var u store.User
	err := db.r.QueryRowContext(ctx, db.q(`SELECT s.hash, s.user_id, s.csrf, s.method, s.remote, s.created_at, s.expires_at, s.last_seen,
		u.id, u.username, u.password_hash, u.role, u.created_at, u.disabled
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ? AND s.expires_at > ?`), hash, db.ts(now)).
		Scan(&s.Hash, &s.UserID, &s.CSRF, &s.Method, &s.Remote, scanTime{&s.CreatedAt}, scanTime{&s.ExpiresAt}, scanTime{&s.LastSeen},
			&u.ID, &u.Username, &u.PasswordHash, &u.Role, scanTime{&u.CreatedAt}, &u.Disabled)
	if err != nil {
		return s, u, notFound(err, "session", "")
	}
	return s, u, nil
}

// TouchSession implements store.Sessions.
func (db *DB) TouchSession(ctx context.Context, hash string, lastSeen, expires time.Time) error {
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE sessions SET last_seen = ?, expires_at = ? WHERE hash = ?`),
		db.ts(lastSeen), db.ts(expires), hash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession implements store.Sessions.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE hash = ?`), hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements store.Sessions.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("delete sessions of %s: %w", userID, err)
	}
	return nil
}

// PurgeSessions implements store.Sessions.
func (db *DB) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	r, err := db.w.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE expires_at <= ?`), db.ts(now))
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return r.RowsAffected()
}
