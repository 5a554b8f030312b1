package store

import "context"

// Settings is a small key-value table of server-wide settings.
type Settings interface {
	// Setting returns a setting's value (ErrNotFound when unset).
	Setting(ctx context.Context, key string) (string, error)
	// PutSetting sets a setting.
	PutSetting(ctx context.Context, key, value string) error
	// InitSetting sets a setting unless it is set, and returns the value in force.
	InitSetting(ctx context.Context, key, value string) (string, error)
}
