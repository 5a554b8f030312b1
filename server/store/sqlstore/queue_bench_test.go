package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/storetest"
)

// BenchmarkFindingQueue: the triage queue's query over 100,000 findings on 10,000 hosts in
// SQLite, with the page's usual filters.
func BenchmarkFindingQueue(b *testing.B) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "vigil.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	start := time.Now()
	if _, err := storetest.SeedQueue(ctx, db, 10000, 10, now); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 100,000 findings on 10,000 hosts in %v", time.Since(start).Round(time.Millisecond))
	for _, bc := range []struct {
		name string
		f    store.QueueFilter
	}{
		{"open", store.QueueFilter{Statuses: []string{"new", "investigating"}}},
		{"open-high+-7d", store.QueueFilter{Statuses: []string{"new", "investigating"}, Levels: []string{"high", "critical"}, Since: now.Add(-7 * 24 * time.Hour)}},
		{"open-page-40", store.QueueFilter{Statuses: []string{"new", "investigating"}, Offset: 1000}},
		{"host-search", store.QueueFilter{Statuses: []string{"new", "investigating"}, HostQuery: "laptop-012"}},
		{"rule", store.QueueFilter{RuleID: "vigil-rule-07"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				pg, err := db.FindingQueue(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
				if pg.Findings == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}
