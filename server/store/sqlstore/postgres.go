package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// OpenPostgres connects to PostgreSQL, applies the migrations (one replica at a time, under an
// advisory lock) and creates the event partitions of the coming days.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{dialect: "postgres", w: pool, r: pool, pgDSN: dsn}
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := db.Maintain(ctx, time.Now()); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}
