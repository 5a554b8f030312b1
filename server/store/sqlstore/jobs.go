package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/store"
)

// leaseLocks are SQLite's job locks: a row per lock with a holder and an expiry, renewed while
// held, so two processes that open one database file (which SQLite allows) still run a job once.
type leaseLocks struct {
	holder string
	mu     sync.Mutex
	held   map[string]bool
}

func newLeaseLocks() *leaseLocks { return &leaseLocks{holder: event.NewID(), held: map[string]bool{}} }

const leaseTTL = 2 * time.Minute

// TryLock implements store.Jobs.
func (db *DB) TryLock(ctx context.Context, name string) (func(), bool, error) {
	if db.pg() {
		return db.pgTryLock(ctx, name)
	}
	l := db.locks
	l.mu.Lock()
	if l.held[name] {
		l.mu.Unlock()
		return nil, false, nil
	}
	l.held[name] = true
	l.mu.Unlock()
	unheld := func() { l.mu.Lock(); delete(l.held, name); l.mu.Unlock() }
	now := time.Now()
	r, err := db.w.ExecContext(ctx, `INSERT INTO job_leases (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE job_leases.expires < ? OR job_leases.holder = excluded.holder`,
		name, l.holder, now.Add(leaseTTL).UnixMicro(), now.UnixMicro())
	if err != nil {
		unheld()
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		unheld()
		return nil, false, nil
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // renew while held
		defer close(done)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = db.w.Exec(`UPDATE job_leases SET expires = ? WHERE name = ? AND holder = ?`, time.Now().Add(leaseTTL).UnixMicro(), name, l.holder)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			_, _ = db.w.Exec(`DELETE FROM job_leases WHERE name = ? AND holder = ?`, name, l.holder)
			unheld()
		})
	}, true, nil
}

// lockKey maps a lock name to an advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("vigil-job:" + name))
	return int64(h.Sum64() >> 1)
}

// pgTryLock takes a session advisory lock on a connection held until release.
func (db *DB) pgTryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	key := lockKey(name)
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		_ = conn.Close()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				// The session lock dies with the connection: discard it rather than return it.
				_ = conn.Raw(func(any) error { return errors.New("discard") })
			}
			_ = conn.Close()
		})
	}, true, nil
}

// purgeColumn is the time column retention reads per table.
var purgeColumn = map[string]string{
	store.TableEvents:     "time",
	store.TableFindings:   "time",
	store.TableAudit:      "time",
	store.TableFleetFacts: "time",
}

// Purge implements store.Jobs. On PostgreSQL, event partitions wholly older than before are
// dropped, and the rest deleted row by row.
func (db *DB) Purge(ctx context.Context, table string, before time.Time) (int64, error) {
	col, ok := purgeColumn[table]
	if !ok {
		return 0, fmt.Errorf("purge: unknown table %q (known: %s)", table, strings.Join(store.RetentionTables, ", "))
	}
	var total int64
	if db.pg() && table == store.TableEvents {
		n, err := db.dropEventPartitions(ctx, before)
		if err != nil {
			return 0, err
		}
		total += n
	}
	// In chunks, so that SQLite's one writer is not held for long.
	for {
		var r sql.Result
		var err error
		switch {
		case db.pg() && table == store.TableEvents:
			// ctid is per partition: delete by key.
			r, err = db.w.ExecContext(ctx, `DELETE FROM events WHERE (host_id, id, time) IN (SELECT host_id, id, time FROM events WHERE time < $1 LIMIT 5000)`, db.ts(before))
		case db.pg():
			r, err = db.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE ctid = ANY (ARRAY(SELECT ctid FROM `+table+` WHERE `+col+` < $1 LIMIT 5000))`, db.ts(before))
		default:
			key := "rowid"
			if table == store.TableEvents || table == store.TableFleetFacts {
				key = "(host_id, id)"
			}
			r, err = db.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+strings.Trim(key, "()")+` FROM `+table+` WHERE `+col+` < ? LIMIT 5000)`, db.ts(before))
		}
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", table, err)
		}
		n, _ := r.RowsAffected()
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}

const partitionPrefix = "events_p"

func partitionName(day time.Time) string { return partitionPrefix + day.Format("20060102") }

// Maintain implements store.Jobs: on PostgreSQL, the event partitions of yesterday, today and
// the next three days exist afterwards.
func (db *DB) Maintain(ctx context.Context, now time.Time) error {
	if !db.pg() {
		return nil
	}
	day := now.UTC().Truncate(24 * time.Hour)
	for i := -1; i <= 3; i++ {
		from := day.AddDate(0, 0, i)
		if err := db.createPartition(ctx, from); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) createPartition(ctx context.Context, from time.Time) error {
	name := partitionName(from)
	to := from.AddDate(0, 0, 1)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// Replicas maintain concurrently: one at a time.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270733)`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = $1)`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		// Rows already in the default partition for that day would block the new partition:
		// move them.
		var moved int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM events_default WHERE time >= $1 AND time < $2`, from, to).Scan(&moved); err != nil {
			return err
		}
		if moved > 0 {
			if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE moving ON COMMIT DROP AS SELECT * FROM events_default WHERE time >= $1 AND time < $2`, from, to); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM events_default WHERE time >= $1 AND time < $2`, from, to); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
			name, from.Format(time.RFC3339), to.Format(time.RFC3339))); err != nil {
			return err
		}
		if moved > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO events SELECT * FROM moving`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("event partition %s: %w", name, err)
	}
	return nil
}

// dropEventPartitions drops the daily partitions that end at or before before.
func (db *DB) dropEventPartitions(ctx context.Context, before time.Time) (int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' AND c.relname LIKE 'events_p%'`)
	if err != nil {
		return 0, fmt.Errorf("purge events: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("purge events: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	slices.Sort(names)
	var total int64
	for _, name := range names {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, partitionPrefix))
		if err != nil || day.AddDate(0, 0, 1).After(before) {
			continue
		}
		var n int64
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
			return total, fmt.Errorf("purge events: %s: %w", name, err)
		}
		if _, err := db.w.ExecContext(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
			return total, fmt.Errorf("purge events: drop %s: %w", name, err)
		}
		total += n
	}
	return total, nil
}
