// Package sqlstore implements store.Store on SQL databases: SQLite (modernc.org/sqlite, pure
// Go, WAL) as the embedded default, and PostgreSQL (jackc/pgx through database/sql) for fleets
// that outgrow one machine, with several server replicas on one database. One implementation
// serves both: queries are written once with ? placeholders and a dialect rewrites them, binds
// times (SQLite keeps microseconds since the epoch, PostgreSQL timestamptz) and supplies what
// differs (schema, locks, event partitions).
//
// Migrations are embedded SQL files named by timestamp (20261206103000_hosts.sql) so that two
// people adding migrations never collide; they are applied in name order on Open, each once,
// recorded in schema_migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

//go:embed migrations
var migrationsFS embed.FS

// DB is a store.Store over SQLite or PostgreSQL.
type DB struct {
	dialect string
	w       *sql.DB // writes (SQLite: one connection)
	r       *sql.DB // reads (SQLite: a pool of read connections; PostgreSQL: w)
	pgDSN   string
	locks   *leaseLocks // SQLite job locks
	group   *groupWriter
}

var _ store.Store = (*DB)(nil)

// Open opens the database a DSN names: "postgres://..." or "postgresql://..." for
// PostgreSQL, "sqlite:PATH" or a plain file path for SQLite. It applies pending migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case dsn == "":
		return nil, errors.New("store: empty database name")
	}
	return OpenSQLite(ctx, dsn)
}

// Dialect implements store.Store.
func (db *DB) Dialect() string { return db.dialect }

// Close implements store.Store.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.close()
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

func (db *DB) pg() bool { return db.dialect == "postgres" }

// q rewrites a query's ? placeholders for the dialect.
func (db *DB) q(query string) string {
	if !db.pg() {
		return query
	}
	var sb strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(query[i])
	}
	return sb.String()
}

// ts binds a time.
func (db *DB) ts(t time.Time) any {
	if db.pg() {
		return t.UTC()
	}
	return t.UnixMicro()
}

// tsOrNil binds an optional time.
func (db *DB) tsOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// scanTime reads a time column of either dialect.
type scanTime struct{ t *time.Time }

func (s scanTime) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*s.t = time.UnixMicro(x).UTC()
	case time.Time:
		*s.t = x.UTC()
	case nil:
		*s.t = time.Time{}
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	return nil
}

// scanTimePtr reads a nullable time column.
type scanTimePtr struct{ t **time.Time }

func (s scanTimePtr) Scan(v any) error {
	if v == nil {
		*s.t = nil
		return nil
	}
	var t time.Time
	if err := (scanTime{&t}).Scan(v); err != nil {
		return err
	}
	*s.t = &t
	return nil
}

// migrate applies the dialect's pending migrations.
func (db *DB) migrate(ctx context.Context) error {
	dir := "migrations/" + db.dialect
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		body, err := fs.ReadFile(migrationsFS, dir+"/"+name)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		err = db.tx(ctx, func(tx *sql.Tx) error {
			if db.pg() {
				// Replicas starting together: one applies, the others wait and then skip.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270731)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// uniqueViolation reports whether err is a unique-constraint failure.
func uniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}

// notFound maps sql.ErrNoRows to store.ErrNotFound with context.
func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	}
	return fmt.Errorf("%s %q: %w", what, id, err)
}

// placeholders returns "(?, ?, ...)" with n marks.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// seqCursor encodes and decodes integer cursors.
func seqCursor(seq int64) string { return strconv.FormatInt(seq, 10) }

func parseSeqCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cursor %q: %w", c, store.ErrBadCursor)
	}
	return n, nil
}
