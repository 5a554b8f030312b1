package queue

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// impl builds a fresh queue with a byte cap; reopen, when set, closes and reopens it (Disk).
type impl struct {
	name   string
	open   func(t *testing.T, maxBytes int64) Queue
	reopen func(t *testing.T, q Queue) Queue
}

func impls() []impl {
	return []impl{
		{name: "memory", open: func(t *testing.T, maxBytes int64) Queue { return NewMemory(maxBytes) }},
		{
			name: "disk",
			open: func(t *testing.T, maxBytes int64) Queue {
				d, err := OpenDisk(filepath.Join(t.TempDir(), "queue.db"), DiskOptions{MaxBytes: maxBytes})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				return d
			},
			reopen: func(t *testing.T, q Queue) Queue {
				d := q.(*Disk)
				path, maxBytes := d.Path(), d.maxBytes
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
				n, err := OpenDisk(path, DiskOptions{MaxBytes: maxBytes})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			},
		},
	}
}

func item(kind string, i int) Item { return Item{Kind: kind, Data: fmt.Appendf(nil, `{"n":%d}`, i)} }

func mustPeek(t *testing.T, q Queue, n int, maxBytes int64) []Item {
	t.Helper()
	got, err := q.Peek(n, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestQueueSuite runs the same behaviour against every implementation.
func TestQueueSuite(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Run("fifo peek ack", func(t *testing.T) { testFIFO(t, im) })
			t.Run("peek bounds", func(t *testing.T) { testPeekBounds(t, im) })
			t.Run("drop oldest", func(t *testing.T) { testDropOldest(t, im) })
			t.Run("too large", func(t *testing.T) { testTooLarge(t, im) })
			t.Run("ack unknown and twice", func(t *testing.T) { testAckUnknown(t, im) })
			t.Run("notify", func(t *testing.T) { testNotify(t, im) })
			t.Run("concurrent", func(t *testing.T) { testConcurrent(t, im) })
			t.Run("closed", func(t *testing.T) { testClosed(t, im) })
			if im.reopen != nil {
				t.Run("survives reopen", func(t *testing.T) { testReopen(t, im) })
			}
		})
	}
}

func testFIFO(t *testing.T, im impl) {
	q := im.open(t, 0)
	for i := range 10 {
		if err := q.Append(item(KindEvent, i)); err != nil {
			t.Fatal(err)
		}
	}
	got := mustPeek(t, q, 4, 1<<20)
	if len(got) != 4 || string(got[0].Data) != `{"n":0}` || string(got[3].Data) != `{"n":3}` || got[0].Kind != KindEvent {
		t.Fatalf("peek: %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("sequence not increasing: %+v", got)
		}
	}
	// Peek does not remove.
	if again := mustPeek(t, q, 4, 1<<20); again[0].Seq != got[0].Seq {
		t.Fatalf("peek removed items")
	}
	if err := q.Ack(got[0].Seq, got[1].Seq, got[2].Seq, got[3].Seq); err != nil {
		t.Fatal(err)
	}
	rest := mustPeek(t, q, 100, 1<<20)
	if len(rest) != 6 || string(rest[0].Data) != `{"n":4}` {
		t.Fatalf("after ack: %+v", rest)
	}
	st := q.Stats()
	if st.Items != 6 || st.Bytes != 6*item(KindEvent, 4).Size() || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Acking out of order, from the middle, leaves the others.
	if err := q.Ack(rest[2].Seq); err != nil {
		t.Fatal(err)
	}
	if left := mustPeek(t, q, 100, 1<<20); len(left) != 5 || left[2].Seq != rest[3].Seq {
		t.Fatalf("after middle ack: %+v", left)
	}
}

func testPeekBounds(t *testing.T, im impl) {
	q := im.open(t, 0)
	big := Item{Kind: KindFinding, Data: make([]byte, 1000)}
	for range 5 {
		if err := q.Append(big); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustPeek(t, q, 100, 2*big.Size()); len(got) != 2 {
		t.Fatalf("byte-bounded peek returned %d items, want 2", len(got))
	}
	// A first item larger than maxBytes still comes out alone, so nothing is stuck.
	if got := mustPeek(t, q, 100, 10); len(got) != 1 {
		t.Fatalf("peek under an item's size returned %d items, want 1", len(got))
	}
	if got := mustPeek(t, q, 0, 1<<20); len(got) != 0 {
		t.Fatalf("peek of 0 items returned %d", len(got))
	}
	empty := im.open(t, 0)
	if got := mustPeek(t, empty, 10, 1<<20); len(got) != 0 {
		t.Fatalf("empty queue peeked %d", len(got))
	}
}

func testDropOldest(t *testing.T, im impl) {
	one := item(KindEvent, 0).Size() // every item below has the same size
	q := im.open(t, 10*one)
	for i := range 25 {
		if err := q.Append(item(KindEvent, i%10)); err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	if st.Items != 10 || st.Dropped != 15 || st.Bytes != 10*one {
		t.Fatalf("stats %+v, want 10 items, 15 dropped", st)
	}
	got := mustPeek(t, q, 100, 1<<30)
	if len(got) != 10 || string(got[0].Data) != `{"n":5}` {
		t.Fatalf("oldest kept: %s", got[0].Data)
	}
	// One append of several items past the cap drops what it must, its own first items too.
	if err := q.Append(item(KindEvent, 1), item(KindEvent, 2), item(KindEvent, 3)); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Items != 10 || st.Dropped != 18 {
		t.Fatalf("stats %+v after multi-append", st)
	}
	if im.reopen != nil {
		q = im.reopen(t, q)
		if st := q.Stats(); st.Items != 10 || st.Dropped != 18 || st.Bytes != 10*one {
			t.Fatalf("stats after reopen %+v: the dropped total must survive", st)
		}
	}
}

func testTooLarge(t *testing.T, im impl) {
	q := im.open(t, 100)
	err := q.Append(item(KindEvent, 1), Item{Kind: KindEvent, Data: make([]byte, 200)})
	if err == nil {
		t.Fatal("an item over the whole cap was accepted")
	}
	if st := q.Stats(); st.Items != 0 {
		t.Fatalf("a refused append stored %d items", st.Items)
	}
}

func testAckUnknown(t *testing.T, im impl) {
	q := im.open(t, 0)
	if err := q.Append(item(KindEvent, 1)); err != nil {
		t.Fatal(err)
	}
	got := mustPeek(t, q, 1, 1<<20)
	if err := q.Ack(got[0].Seq, 999999); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(got[0].Seq); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Items != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func testNotify(t *testing.T, im impl) {
	q := im.open(t, 0)
	select {
	case <-q.Notify():
		t.Fatal("notified before any append")
	default:
	}
	for i := range 3 {
		if err := q.Append(item(KindEvent, i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-q.Notify():
	case <-time.After(30 * time.Second):
		t.Fatal("no notification after append")
	}
}

func testConcurrent(t *testing.T, im impl) {
	q := im.open(t, 0)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := q.Append(item(KindEvent, w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[string]bool{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := func() {
		got, err := q.Peek(7, 1<<20)
		if err != nil {
			t.Error(err)
			return
		}
		var seqs []uint64
		for _, it := range got {
			if seen[string(it.Data)] {
				t.Errorf("item %s delivered twice", it.Data)
			}
			seen[string(it.Data)] = true
			seqs = append(seqs, it.Seq)
		}
		if err := q.Ack(seqs...); err != nil {
			t.Error(err)
		}
	}
	for {
		select {
		case <-done:
			for q.Stats().Items > 0 {
				drain()
			}
			if len(seen) != writers*each {
				t.Fatalf("drained %d distinct items, want %d", len(seen), writers*each)
			}
			return
		default:
			drain()
		}
	}
}

func testClosed(t *testing.T, im impl) {
	q := im.open(t, 0)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(item(KindEvent, 1)); err == nil {
		t.Error("append after close succeeded")
	}
	if _, err := q.Peek(1, 1); err == nil {
		t.Error("peek after close succeeded")
	}
	if err := q.Ack(1); err == nil {
		t.Error("ack after close succeeded")
	}
}

func testReopen(t *testing.T, im impl) {
	q := im.open(t, 0)
	for i := range 5 {
		if err := q.Append(item(KindInventory, i)); err != nil {
			t.Fatal(err)
		}
	}
	first := mustPeek(t, q, 2, 1<<20)
	if err := q.Ack(first[0].Seq, first[1].Seq); err != nil {
		t.Fatal(err)
	}
	q = im.reopen(t, q)
	got := mustPeek(t, q, 100, 1<<20)
	if len(got) != 3 || string(got[0].Data) != `{"n":2}` || got[0].Kind != KindInventory {
		t.Fatalf("after reopen: %+v", got)
	}
	if err := q.Append(item(KindEvent, 9)); err != nil {
		t.Fatal(err)
	}
	all := mustPeek(t, q, 100, 1<<20)
	if last := all[len(all)-1]; last.Seq <= got[2].Seq {
		t.Fatalf("sequence reused after reopen: %d after %d", last.Seq, got[2].Seq)
	}
}
