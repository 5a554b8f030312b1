package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
)

// fakeServer answers the agent API just enough for the generator: every enrollment gets a
// token, every check-in and batch a 200; it counts check-ins.
func fakeServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var checkins atomic.Int64
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST "+wire.PathEnroll, func(w http.ResponseWriter, _ *http.Request) {
		answer(w, wire.EnrollResponse{AgentID: "h", Token: "vga_t", Directives: wire.Directives{CheckinIntervalSeconds: 60}})
	})
	mux.HandleFunc("POST "+wire.PathCheckin, func(w http.ResponseWriter, _ *http.Request) {
		checkins.Add(1)
		answer(w, wire.CheckinResponse{})
	})
	mux.HandleFunc("POST "+wire.PathBatch, func(w http.ResponseWriter, _ *http.Request) {
		answer(w, wire.BatchResponse{})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &checkins
}

// TestSettle: check-ins within Settle of the last enrollment are made but not measured.
func TestSettle(t *testing.T) {
	srv, served := fakeServer(t)
	run := func(settle time.Duration) Result {
		t.Helper()
		res, err := Run(context.Background(), Config{Servers: []string{srv.URL}, EnrollSecret: "vge_x", Agents: 3,
			Duration: 600 * time.Millisecond, CheckinEvery: 20 * time.Millisecond, BatchEvery: time.Hour, Settle: settle})
		if err != nil {
			t.Fatal(err)
		}
		if res.Agents != 3 || !res.Steady || res.Errors != 0 {
			t.Fatalf("run: %+v", res)
		}
		return res
	}
	before := served.Load()
	res := run(time.Hour)
	if served.Load() == before || res.Checkins == 0 {
		t.Fatalf("no check-in made while settling (%d served)", served.Load()-before)
	}
	if res.CheckinP50 != 0 || res.CheckinP99 != 0 {
		t.Errorf("check-ins measured while settling: p50 %v p99 %v", res.CheckinP50, res.CheckinP99)
	}
	res = run(0)
	if res.CheckinP99 == 0 {
		t.Errorf("no check-in measured without settling: %+v", res)
	}
}
