package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/loadgen"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/pgtest"
	"github.com/vigilhq/vigil/server/store/sqlstore"
)

// TestTwoReplicasOnePostgres runs two servers on one PostgreSQL database with the load
// generator's agents spread over both: every acknowledged event is stored once, none is lost.
func TestTwoReplicasOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	a, _ := testServer(t, func(c *Config) { c.DB, c.DataDir = dsn, dir })
	b, _ := testServer(t, func(c *Config) { c.DB, c.DataDir = dsn, dir }) // shares the keys and CA
	if a.CAFingerprint() != b.CAFingerprint() {
		t.Fatal("replicas have different CAs")
	}
	// A replica with a key of its own is refused.
	other := t.TempDir()
	if _, err := New(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: other, DB: dsn}); err == nil || !strings.Contains(err.Error(), "policy-signing key") {
		t.Fatalf("replica with another key: %v", err)
	}
	res, err := loadgen.RunKeepingIDs(context.Background(), loadgen.Config{
		Servers: []string{a.LocalURL(), b.LocalURL()}, EnrollSecret: a.EnrollSecret(), CACertPEM: a.CACertPEM(),
		Agents: 40, Duration: 8 * time.Second, EventsPerMin: 600, BatchEvery: time.Second, CheckinEvery: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loadgen: %s (batch p50 %v p99 %v)", res.Line(), res.BatchP50, res.BatchP99)
	if res.Agents != 40 || res.Events == 0 || res.Errors != 0 {
		t.Fatalf("loadgen: %s (last error %s)", res.Line(), res.LastError)
	}
	assertStored(t, a.Store(), res)
}

// assertStored checks that the store holds exactly the events the run had acknowledged.
func assertStored(t *testing.T, st store.Store, res loadgen.Result) {
	t.Helper()
	n, err := st.CountEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range res.EventIDs {
		if seen[id] {
			t.Fatalf("event %s acknowledged twice", id)
		}
		seen[id] = true
	}
	if n != int64(len(seen)) {
		t.Fatalf("store holds %d events, %d were acknowledged", n, len(seen))
	}
	// Every acknowledged item was stored by its batch, or by an earlier try of it.
	if res.Accepted+res.Duplicates != res.Events+res.Findings {
		t.Fatalf("accepted %d + duplicates %d != events %d + findings %d", res.Accepted, res.Duplicates, res.Events, res.Findings)
	}
}

// openSQLite opens a data directory's SQLite store (after its server stopped).
func openSQLite(t *testing.T, dir string) store.Store {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
