package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	reads := 0
	m := New(func(context.Context) (State, error) {
		reads++
		return State{HostsTotal: 10, AgentsOnline: 7, AgentQueueItems: 42, NewFindings: 3,
			OpenFindings: map[string]int{"high": 2, "critical": 1}}, nil
	}, nil)
	m.BatchDone(3*time.Millisecond, true)
	m.BatchItems(100, 2, 1, 5)
	m.BatchDone(time.Millisecond, false)
	m.Finding("high", "agent", false)
	m.Finding("critical", "fleet", true)
	m.ObserveHTTP("listFindings", "GET", 200, 20*time.Millisecond)
	m.LoginFailed()
	out := scrape(t, m)
	for _, want := range []string{
		`vigil_ingest_batches_total{outcome="ok"} 1`, `vigil_ingest_batches_total{outcome="error"} 1`,
		`vigil_ingest_items_total{kind="event",result="new"} 100`, `vigil_ingest_batch_seconds_count 2`,
		`vigil_findings_total{level="high",source="agent"} 1`, `vigil_findings_suppressed_total 1`,
		`vigil_http_request_duration_seconds_count{code="200",method="GET",op="listFindings"} 1`,
		`vigil_login_failures_total 1`, `vigil_hosts 10`, `vigil_agents_online 7`, `vigil_agent_queue_items 42`,
		`vigil_triage_queue 3`, `vigil_findings_open{level="critical"} 1`, `vigil_findings_open{level="low"} 0`,
		`vigil_store_up 1`, `go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	scrape(t, m)
	if reads != 1 {
		t.Errorf("state read %d times for two scrapes within %v", reads, CacheFor)
	}
}

func TestStateError(t *testing.T) {
	m := New(func(context.Context) (State, error) { return State{}, errors.New("down") }, nil)
	if out := scrape(t, m); !strings.Contains(out, "vigil_store_up 0") || strings.Contains(out, "vigil_hosts ") {
		t.Errorf("scrape with the store down:\n%s", out)
	}
	var nilM *Metrics
	nilM.BatchDone(0, true) // a nil *Metrics records nothing and does not panic
	nilM.BatchItems(1, 1, 1, 1)
	nilM.Finding("high", "agent", false)
	nilM.ObserveHTTP("x", "GET", 200, 0)
}
