package outboxtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/forward"
)

// Run runs the conformance suite against outboxes made by open, each test on a fresh one.
func Run(t *testing.T, open func(t *testing.T) forward.Outbox) {
	t.Run("EnqueueClaimAckOrder", func(t *testing.T) { testOrder(t, open(t)) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, open(t)) })
	t.Run("LeaseHides", func(t *testing.T) { testLease(t, open(t)) })
	t.Run("RetryPostpone", func(t *testing.T) { testRetry(t, open(t)) })
	t.Run("StatsDrop", func(t *testing.T) { testStats(t, open(t)) })
	t.Run("ConcurrentClaims", func(t *testing.T) { testConcurrent(t, open(t)) })
}

func deliveries(dest string, ids ...string) []forward.Delivery {
	out := make([]forward.Delivery, len(ids))
	for i, id := range ids {
		out[i] = forward.Delivery{Destination: dest, FindingID: id, Payload: []byte(`{"id":"` + id + `"}`)}
	}
	return out
}

func findingIDs(ds []forward.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.FindingID
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, ob forward.Outbox, dest string, at time.Time, n int) []forward.Delivery {
	t.Helper()
	ds, err := ob.Claim(context.Background(), dest, at, at.Add(time.Minute), n)
	must(t, err)
	return ds
}

func testOrder(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	must(t, ob.Enqueue(ctx, deliveries("a", "f1", "f2", "f3")))
	must(t, ob.Enqueue(ctx, deliveries("b", "f1")))
	now := time.Now().Add(time.Second)
	got := claim(t, ob, "a", now, 2)
	if fmt.Sprint(findingIDs(got)) != "[f1 f2]" {
		t.Fatalf("claim a,2 = %v, want [f1 f2] (oldest first, only a's)", findingIDs(got))
	}
	if got[0].ID >= got[1].ID {
		t.Errorf("ids not increasing: %d, %d", got[0].ID, got[1].ID)
	}
	if string(got[0].Payload) != `{"id":"f1"}` || got[0].Destination != "a" || got[0].Attempts != 0 {
		t.Errorf("claimed delivery = %+v", got[0])
	}
	must(t, ob.Ack(ctx, got[0].ID, got[1].ID))
	rest := claim(t, ob, "a", now, 10)
	if fmt.Sprint(findingIDs(rest)) != "[f3]" {
		t.Fatalf("after ack: claim a = %v, want [f3]", findingIDs(rest))
	}
	if b := claim(t, ob, "b", now, 10); fmt.Sprint(findingIDs(b)) != "[f1]" {
		t.Fatalf("claim b = %v, want [f1]", findingIDs(b))
	}
	must(t, ob.Ack(ctx)) // acking nothing is fine
}

func testIdempotent(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	must(t, ob.Enqueue(ctx, deliveries("a", "f1", "f2")))
	must(t, ob.Enqueue(ctx, deliveries("a", "f2", "f3")))
	got := claim(t, ob, "a", time.Now().Add(time.Second), 10)
	if fmt.Sprint(findingIDs(got)) != "[f1 f2 f3]" {
		t.Fatalf("claim = %v, want [f1 f2 f3] (f2 once)", findingIDs(got))
	}
}

func testLease(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	must(t, ob.Enqueue(ctx, deliveries("a", "f1")))
	now := time.Now().Add(time.Second)
	if got := claim(t, ob, "a", now, 10); len(got) != 1 {
		t.Fatalf("first claim = %d deliveries", len(got))
	}
	if got := claim(t, ob, "a", now, 10); len(got) != 0 {
		t.Fatalf("a leased delivery was claimed again: %v", findingIDs(got))
	}
	// the lease (a minute) runs out: another claimer takes it over
	if got := claim(t, ob, "a", now.Add(2*time.Minute), 10); len(got) != 1 {
		t.Fatalf("after the lease: %d deliveries, want 1", len(got))
	}
}

func testRetry(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	must(t, ob.Enqueue(ctx, deliveries("a", "f1", "f2")))
	now := time.Now().Add(time.Second)
	got := claim(t, ob, "a", now, 10)
	next := now.Add(30 * time.Second)
	must(t, ob.Retry(ctx, got[0].ID, next, "connection refused"))
	must(t, ob.Postpone(ctx, []int64{got[1].ID}, next))
	if got := claim(t, ob, "a", now.Add(10*time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed before the retry time: %v", findingIDs(got))
	}
	again := claim(t, ob, "a", next, 10)
	if fmt.Sprint(findingIDs(again)) != "[f1 f2]" {
		t.Fatalf("at the retry time: %v, want [f1 f2]", findingIDs(again))
	}
	if again[0].Attempts != 1 || again[0].LastError != "connection refused" {
		t.Errorf("retried delivery: attempts %d error %q, want 1 and the error", again[0].Attempts, again[0].LastError)
	}
	if again[1].Attempts != 0 {
		t.Errorf("postponed delivery: attempts %d, want 0", again[1].Attempts)
	}
}

func testStats(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	st, err := ob.Stats(ctx)
	must(t, err)
	if len(st) != 0 {
		t.Fatalf("empty outbox stats = %+v", st)
	}
	must(t, ob.Enqueue(ctx, deliveries("a", "f1", "f2", "f3")))
	must(t, ob.Enqueue(ctx, deliveries("b", "f1")))
	now := time.Now().Add(time.Second)
	got := claim(t, ob, "a", now, 1)
	must(t, ob.Retry(ctx, got[0].ID, now, "HTTP 503"))
	st, err = ob.Stats(ctx)
	must(t, err)
	if len(st) != 2 || st[0].Destination != "a" || st[1].Destination != "b" {
		t.Fatalf("stats = %+v, want a then b", st)
	}
	if st[0].Pending != 3 || st[0].Failing != 1 || st[0].LastError != "HTTP 503" || st[0].Oldest.IsZero() {
		t.Errorf("stats a = %+v", st[0])
	}
	if st[1].Pending != 1 || st[1].Failing != 0 {
		t.Errorf("stats b = %+v", st[1])
	}
	n, err := ob.Drop(ctx, "a")
	must(t, err)
	if n != 3 {
		t.Errorf("drop a = %d, want 3", n)
	}
	if got := claim(t, ob, "a", now.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("dropped deliveries still claimed: %v", findingIDs(got))
	}
}

// testConcurrent claims from several goroutines at once, as replicas do: every delivery is
// claimed exactly once.
func testConcurrent(t *testing.T, ob forward.Outbox) {
	ctx := context.Background()
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("f%03d", i)
	}
	must(t, ob.Enqueue(ctx, deliveries("a", ids...)))
	now := time.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := ob.Claim(ctx, "a", now, now.Add(time.Hour), 7)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.FindingID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s claimed %d times", id, c)
		}
	}
}
