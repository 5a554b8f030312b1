package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/sqlstore"
)

// countingStore counts the agent token lookups that reach the store.
type countingStore struct {
	Store
	one  atomic.Int64
	mu   sync.Mutex
	many []int // hashes per AgentsByTokenHashes call
}

func (c *countingStore) AgentByTokenHash(ctx context.Context, h string) (store.AgentIdentity, error) {
	c.one.Add(1)
	return c.Store.AgentByTokenHash(ctx, h)
}

func (c *countingStore) AgentsByTokenHashes(ctx context.Context, hs []string) (map[string]store.AgentIdentity, error) {
	c.mu.Lock()
	c.many = append(c.many, len(hs))
	c.mu.Unlock()
	return c.Store.AgentsByTokenHashes(ctx, hs)
}

// TestAgentRefreshBatched: tokens past their TTL are served at once from the cache and
// refreshed together in the background, a few queries for a whole fleet; a token revoked
// meanwhile (its host re-enrolled) stops working once refreshed.
func TestAgentRefreshBatched(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const n = 1200 // more than two lookups' worth
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("vga_token-%04d", i)
		if _, _, err := db.Enroll(ctx, store.Enrollment{MachineID: fmt.Sprintf("m-%04d", i), Hostname: fmt.Sprintf("h-%04d", i),
			TokenHash: HashToken(tokens[i]), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	cs := &countingStore{Store: db}
	a := NewAuthenticator(cs)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	a.agents.now = func() time.Time { return time.Unix(0, clock.Load()) }

	for _, tok := range tokens {
		if _, err := a.Agent(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := cs.one.Load(); got != n {
		t.Fatalf("%d single lookups for %d new tokens", got, n)
	}
	// Host 0 re-enrolls: its old token is dead in the store, still cached here.
	if _, _, err := db.Enroll(ctx, store.Enrollment{MachineID: "m-0000", Hostname: "h-0000", TokenHash: HashToken("vga_new"),
		Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(TokenCacheTTL + time.Second))
	for _, tok := range tokens {
		if _, err := a.Agent(ctx, tok); err != nil {
			t.Fatalf("stale token refused while its refresh is pending: %v", err)
		}
	}
	if got := cs.one.Load(); got != n {
		t.Fatalf("stale tokens looked up one by one: %d single lookups", got-n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.mu.Lock()
		done := !a.running
		a.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh did not finish in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cs.mu.Lock()
	calls := cs.many
	cs.mu.Unlock()
	total := 0
	for _, k := range calls {
		if k > store.MaxTokenLookup {
			t.Errorf("one lookup of %d hashes, at most %d", k, store.MaxTokenLookup)
		}
		total += k
	}
	// Gathered: a handful of queries, not one per token (3 when all arrive within the gather
	// delay; the bound leaves room for a slow machine).
	if total != n || len(calls) > n/50 {
		t.Errorf("refresh: %d queries for %d hashes (%v), want %d hashes in a few queries", len(calls), total, calls, n)
	}
	t.Logf("%d stale tokens refreshed in %d queries %v", n, len(calls), calls)
	// Refreshed: fresh again without the store; the revoked one is refused.
	before := cs.one.Load()
	for _, tok := range tokens[1:] {
		if _, fresh, ok := a.agents.GetStale(HashToken(tok)); !ok || !fresh {
			t.Fatalf("token %s not fresh after the refresh", tok)
		}
	}
	if _, err := a.Agent(ctx, tokens[0]); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("revoked token after the refresh: %v, want ErrUnauthorized", err)
	}
	if cs.one.Load() != before+1 {
		t.Fatalf("the revoked token: %d lookups, want 1", cs.one.Load()-before)
	}
}
