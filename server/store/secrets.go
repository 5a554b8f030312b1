package store

import (
	"context"
	"time"
)

// EnrollSecret lets agents enroll. Only its hash is stored.
type EnrollSecret struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// EnrollSecrets holds the enroll secrets.
type EnrollSecrets interface {
	CreateEnrollSecret(ctx context.Context, s EnrollSecret) error
	// EnrollSecretByHash returns the unrevoked secret with that hash (ErrNotFound otherwise).
	EnrollSecretByHash(ctx context.Context, hash string) (EnrollSecret, error)
	// ListEnrollSecrets returns every secret, revoked ones too, newest first.
	ListEnrollSecrets(ctx context.Context) ([]EnrollSecret, error)
	// RevokeEnrollSecret revokes a secret (ErrNotFound when unknown or already revoked).
	RevokeEnrollSecret(ctx context.Context, id string, at time.Time) error
}
