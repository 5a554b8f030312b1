package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/vigilhq/vigil/server/store"
)

// groupWriter commits SQLite batches in groups: SQLite has one writer, and a commit costs far
// more than the rows of a small batch, so the batches waiting when the writer comes free are
// written in one transaction, each inside a savepoint of its own so that one failing batch
// fails alone. Every caller returns once the transaction holding its batch committed.
type groupWriter struct {
	db     *DB
	reqs   chan *groupReq
	quit   chan struct{}
	exited chan struct{} // closed when run has returned
	done   sync.WaitGroup
}

type groupReq struct {
	ctx  context.Context
	b    *store.Batch
	res  store.BatchResult
	err  error
	done chan struct{}
}

// Group bounds: batches and items per transaction.
const (
	groupMaxBatches = 64
	groupMaxItems   = 20000
)

func newGroupWriter(db *DB) *groupWriter {
	g := &groupWriter{db: db, reqs: make(chan *groupReq, 1024), quit: make(chan struct{}), exited: make(chan struct{})}
	g.done.Add(1)
	go g.run()
	return g
}

var errClosed = errors.New("store closed")

func (g *groupWriter) submit(ctx context.Context, b *store.Batch) (store.BatchResult, error) {
	r := &groupReq{ctx: ctx, b: b, done: make(chan struct{})}
	select {
	case g.reqs <- r:
	case <-g.quit:
		return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, errClosed)
	case <-ctx.Done():
		return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, ctx.Err())
	}
	// Once queued, the batch is written even if the caller gives up: the answer is what waits.
	select {
	case <-r.done:
		if r.err != nil {
			return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, r.err)
		}
		return r.res, nil
	case <-g.exited:
		select {
		case <-r.done:
			return r.res, r.err
		default: // queued after the writer stopped
			return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, errClosed)
		}
	case <-ctx.Done():
		return store.BatchResult{}, fmt.Errorf("write batch of host %s: %w", b.HostID, ctx.Err())
	}
}

func (g *groupWriter) run() {
	defer g.done.Done()
	defer close(g.exited)
	for {
		var first *groupReq
		select {
		case first = <-g.reqs:
		case <-g.quit:
			// Write what is queued, then stop.
			for {
				select {
				case r := <-g.reqs:
					g.write([]*groupReq{r})
				default:
					return
				}
			}
		}
		group := []*groupReq{first}
		items := first.b.Len()
	gather:
		for len(group) < groupMaxBatches && items < groupMaxItems {
			select {
			case r := <-g.reqs:
				group = append(group, r)
				items += r.b.Len()
			default:
				break gather
			}
		}
		g.write(group)
	}
}

// write commits a group; when the transaction itself fails, each batch is retried alone.
func (g *groupWriter) write(group []*groupReq) {
	ctx := context.Background()
	err := g.db.tx(ctx, func(tx *sql.Tx) error {
		for i, r := range group {
			sp := fmt.Sprintf("b%d", i)
			if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return err
			}
			r.res, r.err = g.db.writeBatch(ctx, tx, r.b)
			if r.err != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO "+sp); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE "+sp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, r := range group {
			g.write([]*groupReq{r})
		}
		return
	}
	for _, r := range group {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

func (g *groupWriter) close() {
	close(g.quit)
	g.done.Wait()
}
