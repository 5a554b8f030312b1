package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

// CreateEnrollSecret implements store.EnrollSecrets.
func (db *DB) CreateEnrollSecret(ctx context.Context, s store.EnrollSecret) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO enroll_secrets (id, name, hash, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`),
		s.ID, s.Name, s.Hash, db.ts(s.CreatedAt), s.CreatedBy, db.tsOrNil(s.RevokedAt))
	if uniqueViolation(err) {
		return fmt.Errorf("enroll secret %s: %w", s.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("enroll secret %s: %w", s.ID, err)
	}
	return nil
}

const secretCols = `id, name, hash, created_at, created_by, revoked_at`

func scanSecret(row scanner) (store.EnrollSecret, error) {
	var s store.EnrollSecret
	err := row.Scan(&s.ID, &s.Name, &s.Hash, scanTime{&s.CreatedAt}, &s.CreatedBy, scanTimePtr{&s.RevokedAt})
	return s, err
}

// EnrollSecretByHash implements store.EnrollSecrets.
func (db *DB) EnrollSecretByHash(ctx context.Context, hash string) (store.EnrollSecret, error) {
	s, err := scanSecret(db.r.QueryRowContext(ctx, db.q(`SELECT `+secretCols+` FROM enroll_secrets WHERE hash = ? AND revoked_at IS NULL`), hash))
	if err != nil {
		return s, notFound(err, "enroll secret", "")
	}
	return s, nil
}

// ListEnrollSecrets implements store.EnrollSecrets.
func (db *DB) ListEnrollSecrets(ctx context.Context) ([]store.EnrollSecret, error) {
	return queryAll(ctx, db.r, "list enroll secrets", `SELECT `+secretCols+` FROM enroll_secrets ORDER BY created_at DESC, id DESC`, nil, scanSecret)
}

// RevokeEnrollSecret implements store.EnrollSecrets.
func (db *DB) RevokeEnrollSecret(ctx context.Context, id string, at time.Time) error {
	r, err := db.w.ExecContext(ctx, db.q(`UPDATE enroll_secrets SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), db.ts(at), id)
	if err != nil {
		return fmt.Errorf("revoke enroll secret %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("enroll secret %q: %w", id, store.ErrNotFound)
	}
	return nil
}

const userCols = `id, username, password_hash, role, created_at, disabled`

func scanUser(row scanner) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, scanTime{&u.CreatedAt}, &u.Disabled)
	return u, err
}

// CreateUser implements store.Users.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		u.ID, u.Username, u.PasswordHash, u.Role, db.ts(u.CreatedAt), u.Disabled)
	if uniqueViolation(err) {
		return fmt.Errorf("user %q: %w", u.Username, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("user %q: %w", u.Username, err)
	}
	return nil
}

// User implements store.Users.
func (db *DB) User(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE id = ?`), id))
	if err != nil {
		return u, notFound(err, "user", id)
	}
	return u, nil
}

// UserByName implements store.Users.
func (db *DB) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE username = ?`), name))
	if err != nil {
		return u, notFound(err, "user", name)
	}
	return u, nil
}

// ListUsers implements store.Users.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, db.r, "list users", `SELECT `+userCols+` FROM users ORDER BY username`, nil, scanUser)
}

// UpdateUser implements store.Users.
func (db *DB) UpdateUser(ctx context.Context, u store.User) error {
	r, err := db.w.ExecContext(ctx, db.q(`UPDATE users SET password_hash = ?, role = ?, disabled = ? WHERE id = ?`), u.PasswordHash, u.Role, u.Disabled, u.ID)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", u.ID, store.ErrNotFound)
	}
	return nil
}

const tokenCols = `id, user_id, name, hash, created_at, expires_at, revoked_at`

func scanToken(row scanner, extra ...any) (store.APIToken, error) {
	var t store.APIToken
	err := row.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Hash, scanTime{&t.CreatedAt}, scanTimePtr{&t.ExpiresAt}, scanTimePtr{&t.RevokedAt}}, extra...)...)
	return t, err
}

// CreateAPIToken implements store.APITokens.
func (db *DB) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.UserID, t.Name, t.Hash, db.ts(t.CreatedAt), db.tsOrNil(t.ExpiresAt), db.tsOrNil(t.RevokedAt))
	if uniqueViolation(err) {
		return fmt.Errorf("api token %s: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("api token %s: %w", t.ID, err)
	}
	return nil
}

// APITokenByHash implements store.APITokens.
func (db *DB) APITokenByHash(ctx context.Context, hash string, now time.Time) (store.APIToken, store.User, error) {
	var u store.User
	row := db.r.QueryRowContext(ctx, db.q(`SELECT t.id, t.user_id, t.name, t.hash, t.created_at, t.expires_at, t.revoked_at,
		u.id, u.username, u.password_hash, u.role, u.created_at, u.disabled
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`), hash, db.ts(now))
	t, err := scanToken(row, &u.ID, &u.Username, &u.PasswordHash, &u.Role, scanTime{&u.CreatedAt}, &u.Disabled)
	if err != nil {
		return t, u, notFound(err, "api token", "")
	}
	return t, u, nil
}

// ListAPITokens implements store.APITokens.
func (db *DB) ListAPITokens(ctx context.Context, userID string) ([]store.APIToken, error) {
	where, args := "", []any{}
	if userID != "" {
		where, args = " WHERE user_id = ?", []any{userID}
	}
	return queryAll(ctx, db.r, "list api tokens", db.q(`SELECT `+tokenCols+` FROM api_tokens`+where+` ORDER BY created_at DESC, id DESC`), args,
		func(r scanner) (store.APIToken, error) { return scanToken(r) })
}

// RevokeAPIToken implements store.APITokens.
func (db *DB) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	r, err := db.w.ExecContext(ctx, db.q(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), db.ts(at), id)
	if err != nil {
		return fmt.Errorf("revoke api token %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("api token %q: %w", id, store.ErrNotFound)
	}
	return nil
}
