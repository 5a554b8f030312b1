package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/pgtest"
	"github.com/vigilhq/vigil/server/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestPostgresPartitions: events land in day partitions (and the default partition outside
// them), retention drops whole old days, and a day created after its events arrived takes them
// over from the default partition.
func TestPostgresPartitions(t *testing.T) {
	ctx := context.Background()
	db, err := OpenPostgres(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	old := now.AddDate(0, 0, -5)
	h, _, err := db.Enroll(ctx, store.Enrollment{MachineID: "m", Hostname: "h", TokenHash: "t", Time: now})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id string, at time.Time) store.Event {
		return store.Event{HostID: h.ID, ID: id, Time: at, Category: "c", Fields: []byte(`{}`), Received: now}
	}
	// Five days ago: no day partition yet, so the default one takes it.
	if _, err := db.WriteBatch(ctx, &store.Batch{HostID: h.ID, Events: []store.Event{ev("old-1", old), ev("new-1", now)}}); err != nil {
		t.Fatal(err)
	}
	where := func(id string) string {
		var part string
		if err := db.r.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM events WHERE id = $1`, id).Scan(&part); err != nil {
			t.Fatal(err)
		}
		return part
	}
	if p := where("old-1"); p != "events_default" {
		t.Fatalf("old event in %s", p)
	}
	if p := where("new-1"); p != partitionName(now.Truncate(24*time.Hour)) {
		t.Fatalf("today's event in %s", p)
	}
	// Maintaining as of five days ago creates that day and moves the event into it.
	if err := db.Maintain(ctx, old); err != nil {
		t.Fatal(err)
	}
	if p := where("old-1"); p != partitionName(old.Truncate(24*time.Hour)) {
		t.Fatalf("after maintenance the old event is in %s", p)
	}
	// A retry of the old event is still a duplicate.
	res, err := db.WriteBatch(ctx, &store.Batch{HostID: h.ID, Events: []store.Event{ev("old-1", old)}})
	if err != nil || res.Duplicates != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	// Retention of 2 days drops the old day's table.
	n, err := db.Purge(ctx, store.TableEvents, now.AddDate(0, 0, -2))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	var exists bool
	if err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = $1)`, partitionName(old.Truncate(24*time.Hour))).Scan(&exists); err != nil || exists {
		t.Fatalf("old partition still there: %v %v", exists, err)
	}
	if c, _ := db.CountEvents(ctx); c != 1 {
		t.Fatalf("events left: %d", c)
	}
}
