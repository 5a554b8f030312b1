package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/store"
)

// TestForwardSuppressMetrics: a finding an agent reports reaches a webhook destination with its
// host and link; a suppression made through the API closes the next one on arrival, which is
// not forwarded; /metrics (with an API token) counts both.
func TestForwardSuppressMetrics(t *testing.T) {
	var mu sync.Mutex
	var got []forward.Alert
	partial := 0 // deliveries cut short, each followed by a retry
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a forward.Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			// A delivery the sender gave up on mid-body (its timeout, on a loaded machine): it
			// retries, as an outbox does (at least once).
			mu.Lock()
			partial++
			mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer hook.Close()
	srv, c := testServer(t, nil)
	if err := srv.wb.forward.SetDestinations([]forward.Config{{Name: "soc", Type: forward.TypeWebhook, Enabled: true, URL: hook.URL}}); err != nil {
		t.Fatal(err)
	}
	a := enrollAgent(t, srv, c, "m-fwd")
	send := func(id string) {
		t.Helper()
		b := wire.Batch{Findings: []wire.Finding{{ID: id, RuleID: ruleAnyDesk, Title: "AnyDesk Running on Windows", Level: "high", Time: time.Now().UTC()}}}
		if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, a.Token, b); r.status != 200 {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
	}
	first := event.NewID()
	send(first)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook got nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	al := got[0]
	mu.Unlock()
	if al.ID != first || al.Hostname != "host-m-fwd" || al.URL != srv.URL()+"/findings/"+first || al.HostID != a.AgentID {
		t.Errorf("alert %+v", al)
	}
	// a retried batch does not forward twice
	send(first)

	r := do(t, c, "POST", srv.LocalURL()+"/api/v1/suppressions", adminToken, map[string]any{"kind": "rule_host", "rule_id": ruleAnyDesk,
		"host_id": a.AgentID, "reason": "helpdesk AnyDesk", "expires_at": time.Now().Add(time.Hour)})
	if r.status != 201 {
		t.Fatalf("create suppression: %d %s", r.status, r.body)
	}
	second := event.NewID()
	send(second)
	f, err := srv.Store().Finding(t.Context(), second)
	if err != nil || f.Status != store.StatusResolved {
		t.Fatalf("suppressed finding: %+v %v", f, err)
	}
	st, _ := srv.wb.wb.TriageStates(t.Context(), []string{second})
	if st[second].SuppressedBy == "" {
		t.Errorf("suppressed finding does not name its suppression: %+v", st[second])
	}
	time.Sleep(300 * time.Millisecond) // give a wrong forward the time to arrive
	mu.Lock()
	ids := map[string]int{}
	for _, a := range got {
		ids[a.ID]++
	}
	if len(ids) != 1 || ids[first] == 0 || ids[first] > 1+partial {
		t.Errorf("webhook got alerts %v (%d deliveries cut short), want %s once (the retried batch not forwarded again, the suppressed finding not at all)", ids, partial, first)
	}
	mu.Unlock()

	if r := do(t, c, "GET", srv.LocalURL()+"/metrics", "", nil); r.status != 401 {
		t.Errorf("/metrics without a token: %d", r.status)
	}
	r = do(t, c, "GET", srv.LocalURL()+"/metrics", adminToken, nil)
	body := string(r.body)
	for _, want := range []string{`vigil_ingest_batches_total{outcome="ok"} 3`, `vigil_findings_total{level="high",source="agent"} 2`,
		`vigil_findings_suppressed_total 1`, `vigil_forward_sent_total{destination="soc"} 1`, "vigil_agents_online 1",
		`vigil_http_request_duration_seconds_count{code="200",method="POST",op="agentBatch"} 3`, "vigil_ingest_batch_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// the ECS export
	r = do(t, c, "GET", srv.LocalURL()+"/api/v1/findings/export.ndjson", adminToken, nil)
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if r.status != 200 || len(lines) != 2 || !strings.Contains(lines[0], `"rule":{`) || !strings.Contains(lines[0], `"@timestamp"`) {
		t.Errorf("export: %d %s", r.status, r.body)
	}
}

// TestOfficeNetworksFromSettings: office networks saved in the UI (the store's setting) are in
// force for the next fleet pass: three machines behind an office gateway or access point make
// no laptop-farm finding.
func TestOfficeNetworksFromSettings(t *testing.T) {
	srv, c := testServer(t, nil)
	for i, m := range []string{"o-1", "o-2", "o-3"} {
		a := enrollAgent(t, srv, c, m)
		b := wire.Batch{Inventory: []wire.Inventory{{ID: event.NewID(), Kind: wire.InventoryHost, Time: time.Now().UTC(),
			Items: []map[string]any{{"Hostname": m, "DefaultGatewayMac": "AA:BB:CC:00:00:01", "WifiBssid": "aa:bb:cc:00:00:99", "DefaultGatewayIp": "10.0.0.1"}}}}}
		if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, a.Token, b); r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	if err := srv.Ingest().Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().PutSetting(t.Context(), store.SettingOfficeNetworks,
		`{"cidrs":["127.0.0.0/8"],"macs":["aa:bb:cc:00:00:01"],"bssids":["AA:BB:CC:00:00:99"]}`); err != nil {
		t.Fatal(err)
	}
	srv.loadOffice(t.Context())
	if n, err := srv.Fleet().Run(t.Context()); err != nil || n != 0 {
		t.Fatalf("fleet pass behind office networks: %d findings, %v (want none)", n, err)
	}
	if err := srv.Store().PutSetting(t.Context(), store.SettingOfficeNetworks, `{}`); err != nil {
		t.Fatal(err)
	}
	srv.loadOffice(t.Context())
	if n, err := srv.Fleet().Run(t.Context()); err != nil || n == 0 {
		t.Fatalf("fleet pass without office networks: %d findings, %v (want the farm)", n, err)
	}
}
