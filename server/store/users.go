package store

import (
	"context"
	"time"
)

// User is a person (or automation) using the admin API and the web UI.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// PasswordHash is an argon2id PHC string; empty for users that only use API tokens.
	PasswordHash string    `json:"-"`
	Role         string    `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
	Disabled     bool      `json:"disabled"`
}

// APIToken is a bearer token of a user. Only its hash is stored.
type APIToken struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Name      string     `json:"name"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Users holds the accounts.
type Users interface {
	// CreateUser adds a user (ErrConflict when the name is taken).
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UserByName(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces a user's password hash, role and disabled flag.
	UpdateUser(ctx context.Context, u User) error
}

// APITokens holds the users' API tokens.
type APITokens interface {
	// CreateAPIToken adds a token (ErrConflict when its hash exists).
	CreateAPIToken(ctx context.Context, t APIToken) error
	// APITokenByHash returns the unrevoked, unexpired token with that hash and its user.
	APITokenByHash(ctx context.Context, hash string, now time.Time) (APIToken, User, error)
	// ListAPITokens returns a user's tokens ("" for every user's), newest first.
	ListAPITokens(ctx context.Context, userID string) ([]APIToken, error)
	// RevokeAPIToken revokes a token.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
}
