package store

import (
	"context"
	"time"
)

// Session is a signed-in browser. Only the hash of its cookie's token is stored.
type Session struct {
	Hash      string    `json:"-"`
	UserID    string    `json:"user_id"`
	CSRF      string    `json:"-"`
	Method    string    `json:"method"` // password or oidc
	Remote    string    `json:"remote"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// Sessions holds the web UI's sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the unexpired session with that hash and its user (ErrNotFound
	// otherwise).
	SessionByHash(ctx context.Context, hash string, now time.Time) (Session, User, error)
	// TouchSession moves a session's last activity and expiry forward.
	TouchSession(ctx context.Context, hash string, lastSeen, expires time.Time) error
	// DeleteSession ends one session; DeleteUserSessions every session of a user.
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	// PurgeSessions deletes sessions expired before now.
	PurgeSessions(ctx context.Context, now time.Time) (int64, error)
}
