package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/loadgen"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/pgtest"
)

// Ingest benchmark sizes: writers in parallel (agents), batches each, events per batch.
const (
	benchWriters   = 8
	benchBatches   = 25
	benchBatchSize = 500
	benchRounds    = 5
)

// BenchmarkIngest measures, in one run, the rate of events through the HTTP agent API (gzip
// JSON over TLS, decoded, validated and written) beside the raw batched-insert rate of the same
// rows written straight to the store, and reports their ratio (goal >= 0.5). Run it with
// -benchtime=1x: each run moves a fixed number of events.
func BenchmarkIngest(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, "") })
	b.Run("postgres", func(b *testing.B) { benchIngest(b, pgtest.DSN(b)) })
}

func benchIngest(b *testing.B, dsn string) {
	for range b.N {
		srv, c := testServer(b, func(c *Config) { c.DB = dsn })
		// One host per writer; distinct batches (ids) for the raw and the HTTP pass.
		hosts := make([]wire.EnrollResponse, benchWriters)
		for i := range hosts {
			hosts[i] = enrollAgent(b, srv, c, fmt.Sprintf("bench-%d", i))
		}
		mk := func(pass, w, k int) wire.Batch {
			return loadgen.SampleBatch(benchBatchSize, 0, uint64(pass*1_000_000+w*1000+k))
		}
		// HTTP: gzip bodies built before the clock starts (agents compress on their own CPU).
		bodies := make([][][]byte, benchWriters)
		for w := range bodies {
			for k := range benchBatches {
				bt := mk(2, w, k)
				bodies[w] = append(bodies[w], gzipJSON(b, bt))
			}
		}
		// Raw: rows of the same shape through the store's batched insert.
		raw := make([][]*ingestBatch, benchWriters)
		for w := range raw {
			for k := range benchBatches {
				bt := mk(1, w, k)
				raw[w] = append(raw[w], toIngest(b, &bt, hosts[w].AgentID))
			}
		}
		// Interleaved rounds, so that neither pass gets the emptier database or the quieter
		// moment of a shared machine.
		var failed atomic.Int64
		var rawTime, httpTime time.Duration
		per := benchBatches / benchRounds
		for round := range benchRounds {
			lo, hi := round*per, (round+1)*per
			rawTime += elapsed(func(w int) {
				for _, sb := range raw[w][lo:hi] {
					if _, err := srv.Store().WriteBatch(context.Background(), sb.batch); err != nil {
						b.Error(err)
					}
				}
			})
			httpTime += elapsed(func(w int) {
				for _, body := range bodies[w][lo:hi] {
					req, _ := http.NewRequest(http.MethodPost, srv.LocalURL()+wire.PathBatch, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+hosts[w].Token)
					req.Header.Set("Content-Encoding", "gzip")
					res, err := c.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						failed.Add(1)
					}
				}
			})
		}
		events := float64(benchWriters * benchBatches * benchBatchSize)
		rawRate, httpRate := events/rawTime.Seconds(), events/httpTime.Seconds()
		if failed.Load() > 0 {
			b.Fatalf("%d batches failed", failed.Load())
		}
		n, _ := srv.Store().CountEvents(context.Background())
		if want := int64(2 * benchWriters * benchBatches * benchBatchSize); n != want {
			b.Fatalf("stored %d events, want %d", n, want)
		}
		b.ReportMetric(rawRate, "raw_events/s")
		b.ReportMetric(httpRate, "http_events/s")
		b.ReportMetric(httpRate/rawRate, "ratio")
	}
}

type ingestBatch struct{ batch *store.Batch }

// elapsed runs fn for each writer in parallel and returns how long they took.
func elapsed(fn func(w int)) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for w := range benchWriters {
		wg.Add(1)
		go func() { defer wg.Done(); fn(w) }()
	}
	wg.Wait()
	return time.Since(start)
}

func gzipJSON(b *testing.B, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return buf.Bytes()
}

// toIngest converts a wire batch into the store's rows as the ingest does (before timing).
func toIngest(b *testing.B, bt *wire.Batch, host string) *ingestBatch {
	raw, err := json.Marshal(bt)
	if err != nil {
		b.Fatal(err)
	}
	var body ingest.BatchBody
	if err := json.Unmarshal(raw, &body); err != nil {
		b.Fatal(err)
	}
	sb, werr := ingest.Validate(&body, host, time.Now().UTC())
	if werr != nil {
		b.Fatal(werr)
	}
	return &ingestBatch{batch: sb}
}
