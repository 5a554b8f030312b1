// Package store is the server's persistence contract: the types the server keeps (hosts, events,
// findings, inventory, custom rules and signed policy versions, enroll secrets, users and API
// tokens, the audit log, fleet facts) and small interfaces over them, one per concern and file,
// so that each part of the server depends only on what it uses and other parts can add their own.
// Store gathers them all. Implementations live in store/sqlstore (SQLite and PostgreSQL); the
// conformance suite every implementation passes is store/storetest.
//
// Ids are strings. Times are UTC with microsecond precision. Errors wrap ErrNotFound and
// ErrConflict where those apply, so callers test them with errors.Is.
package store

import (
	"context"
	"errors"
)

// Errors implementations wrap.
var (
	// ErrNotFound: no row has that id (or it is revoked, for secrets and tokens).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key (a user name, a rule file name...) is already taken.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor: a listing was given a cursor it did not return.
	ErrBadCursor = errors.New("not a cursor this listing returned")
)

// Store is every interface of this package, as one database provides them.
type Store interface {
	Hosts
	Ingest
	Findings
	Events
	Inventories
	Rules
	Policies
	EnrollSecrets
	Users
	APITokens
	Audit
	FleetFacts
	Jobs
	Settings
	// Dialect names the database: "sqlite" or "postgres".
	Dialect() string
	// Close releases the database.
	Close() error
}

// Page bounds a listing: at most Limit rows (implementations cap it at MaxLimit; 0 means
// DefaultLimit) after Cursor, an opaque string a previous page returned ("" for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Size returns the effective limit of p.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// Pinger is implemented by stores that can check the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}
