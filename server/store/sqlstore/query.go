package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// scanner is a row to scan (*sql.Row or *sql.Rows).
type scanner interface{ Scan(dest ...any) error }

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query and scans every row; errors say what was read.
func queryAll[T any](ctx context.Context, q querier, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// queryPage runs a query ending in "LIMIT ?" for limit+1 rows and returns the first limit and
// the cursor of the next page ("" at the end), made from the last row returned.
func queryPage[T any](ctx context.Context, q querier, what, query string, args []any, limit int, scan func(scanner) (T, error), cursor func(T) string) ([]T, string, error) {
	out, err := queryAll(ctx, q, what, query, append(args, limit+1), scan)
	if err != nil || len(out) <= limit {
		return out, "", err
	}
	out = out[:limit]
	return out, cursor(out[limit-1]), nil
}

// where joins conditions into a WHERE clause ("" for none).
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
