package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

const adminToken = "vgt_test-admin-token-0123456789abcdef"

// testServer starts a server on loopback with TLS and returns it with a client trusting its CA.
func testServer(t testing.TB, mod func(*Config)) (*Server, *http.Client) {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminToken: adminToken, FlushInterval: 50 * time.Millisecond, AgentRate: 1000, AgentBurst: 1000}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	pool := x509.NewCertPool()
	if !cfg.InsecureHTTP && !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CA PEM")
	}
	return srv, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) errBody(t *testing.T) wire.Error {
	t.Helper()
	var e wire.ErrorBody
	r.decode(t, &e)
	return e.Error
}

func do(t testing.TB, c *http.Client, method, url, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, header: res.Header}
}

func enrollAgent(t testing.TB, srv *Server, c *http.Client, machine string) wire.EnrollResponse {
	t.Helper()
	r := do(t, c, "POST", srv.LocalURL()+wire.PathEnroll, "", wire.EnrollRequest{EnrollSecret: srv.EnrollSecret(),
		Host: wire.HostFacts{MachineID: machine, Hostname: "host-" + machine, OS: "linux"}})
	if r.status != 200 {
		t.Fatalf("enroll: %d %s", r.status, r.body)
	}
	var er wire.EnrollResponse
	r.decode(t, &er)
	return er
}

func sampleBatch(n int, prefix string) wire.Batch {
	var b wire.Batch
	now := time.Now().UTC()
	for i := range n {
		b.Events = append(b.Events, event.Event{ID: fmt.Sprintf("%s-%04d", prefix, i), Time: now, Host: "spoofed-host",
			Category: "process_creation", Product: "linux", Fields: map[string]any{"Image": "/usr/bin/x11vnc", "ProcessId": i}})
	}
	b.Findings = []wire.Finding{{ID: prefix + "-f1", RuleID: "remote_access_x11vnc_process_linux", Title: "x11vnc", Level: "high", Time: now, EventIDs: []string{prefix + "-0000"}}}
	return b
}

func TestEnrollBatchIdempotent(t *testing.T) {
	srv, c := testServer(t, nil)
	er := enrollAgent(t, srv, c, "m-1")
	if er.AgentID == "" || er.Token == "" || er.CheckinIntervalSeconds != 60 {
		t.Fatalf("enroll response: %+v", er)
	}
	if _, err := wire.ParseKey(er.PolicyKey); err != nil {
		t.Fatal(err)
	}
	// Re-enrolling the same machine gives the same host.
	er2 := enrollAgent(t, srv, c, "m-1")
	if er2.AgentID != er.AgentID || er2.Token == er.Token {
		t.Fatalf("re-enrollment: %s vs %s", er2.AgentID, er.AgentID)
	}
	// The old token is dead.
	if r := do(t, c, "POST", srv.LocalURL()+wire.PathCheckin, er.Token, wire.CheckinRequest{}); r.status != 401 {
		t.Fatalf("old token: %d", r.status)
	}
	b := sampleBatch(50, "a")
	for i := range 3 { // a retry never duplicates
		r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, er2.Token, b)
		if r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
		var br wire.BatchResponse
		r.decode(t, &br)
		if i == 0 && (br.Accepted != 51 || br.Duplicates != 0) || i > 0 && (br.Accepted != 0 || br.Duplicates != 51) {
			t.Fatalf("batch %d: %+v", i, br)
		}
	}
	n, _ := srv.Store().CountEvents(context.Background())
	if n != 50 {
		t.Fatalf("events stored: %d", n)
	}
	r := do(t, c, "GET", srv.LocalURL()+"/api/v1/findings", adminToken, nil)
	var fl struct {
		Findings []struct {
			HostID string `json:"host_id"`
		}
	}
	r.decode(t, &fl)
	if len(fl.Findings) != 1 || fl.Findings[0].HostID != er.AgentID {
		t.Fatalf("findings: %s", r.body)
	}
}

func TestTokenWritesOnlyItsHost(t *testing.T) {
	srv, c := testServer(t, nil)
	a := enrollAgent(t, srv, c, "m-a")
	b := enrollAgent(t, srv, c, "m-b")
	batch := sampleBatch(3, "x")
	for i := range batch.Events {
		batch.Events[i].Host = b.AgentID // claims to be b
	}
	if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, a.Token, batch); r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	r := do(t, c, "GET", srv.LocalURL()+"/api/v1/hosts/"+b.AgentID+"/events", adminToken, nil)
	var el struct{ Events []json.RawMessage }
	r.decode(t, &el)
	if len(el.Events) != 0 {
		t.Fatalf("host b got events written by a's token: %s", r.body)
	}
	r = do(t, c, "GET", srv.LocalURL()+"/api/v1/hosts/"+a.AgentID+"/events", adminToken, nil)
	r.decode(t, &el)
	if len(el.Events) != 3 {
		t.Fatalf("host a events: %s", r.body)
	}
	if r := do(t, c, "GET", srv.LocalURL()+"/api/v1/hosts/no-such-host/events", adminToken, nil); r.status != 404 {
		t.Errorf("events of a host that does not exist: %d %s, want 404", r.status, r.body)
	}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	return buf.Bytes()
}

func TestLimitsAndMalformed(t *testing.T) {
	srv, c := testServer(t, nil)
	a := enrollAgent(t, srv, c, "m-a")
	url := srv.LocalURL() + wire.PathBatch
	// Oversize body.
	big := bytes.Repeat([]byte(" "), wire.MaxBodyBytes+10)
	if r := do(t, c, "POST", url, a.Token, big); r.status != 413 || r.errBody(t).Code != wire.CodeTooLarge {
		t.Fatalf("oversize: %d %s", r.status, r.body)
	}
	// A gzip bomb: small compressed, huge decompressed.
	bomb := gz(t, append([]byte(`{"events":[`), bytes.Repeat([]byte(" "), wire.MaxDecodedBytes+100)...))
	if len(bomb) > wire.MaxBodyBytes {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	if r := do(t, c, "POST", url, a.Token, bomb, "Content-Encoding", "gzip"); r.status != 413 {
		t.Fatalf("gzip bomb: %d %s", r.status, r.body)
	}
	// A gzip body within limits is accepted.
	raw, _ := json.Marshal(sampleBatch(5, "g"))
	if r := do(t, c, "POST", url, a.Token, gz(t, raw), "Content-Encoding", "gzip"); r.status != 200 {
		t.Fatalf("gzip batch: %d %s", r.status, r.body)
	}
	for name, tc := range map[string]struct{ body, field string }{
		"wrong type":   {`{"events": [{"id": 7}]}`, "events.id"},
		"bad time":     {`{"events": [{"id": "e1", "time": "yesterday", "category": "x", "fields": {}}]}`, "events[0].time"},
		"bad level":    {`{"findings": [{"id": "f", "rule_id": "r", "level": "severe", "time": "2026-12-01T00:00:00Z"}]}`, "findings[0].level"},
		"fields array": {`{"events": [{"id": "e1", "time": "2026-12-01T00:00:00Z", "category": "x", "fields": []}]}`, "events[0].fields"},
		"kind":         {`{"inventory": [{"id": "i", "kind": "nope", "time": "2026-12-01T00:00:00Z", "items": []}]}`, "inventory[0].kind"},
	} {
		r := do(t, c, "POST", url, a.Token, []byte(tc.body))
		if r.status != 400 || r.errBody(t).Field != tc.field {
			t.Errorf("%s: %d %s, want 400 naming %s", name, r.status, r.body, tc.field)
		}
	}
	if r := do(t, c, "POST", url, a.Token, []byte(`{"events": [`)); r.status != 400 {
		t.Errorf("truncated JSON: %d %s", r.status, r.body)
	}
	// Too many items.
	if r := do(t, c, "POST", url, a.Token, sampleBatch(wire.MaxBatchItems+1, "m")); r.status != 400 {
		t.Errorf("too many items: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	srv, c := testServer(t, func(c *Config) { c.AgentRate, c.AgentBurst = 1, 2 })
	a := enrollAgent(t, srv, c, "m-a")
	var last resp
	for range 5 {
		last = do(t, c, "POST", srv.LocalURL()+wire.PathCheckin, a.Token, wire.CheckinRequest{})
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("after a burst: %d %v", last.status, last.header)
	}
}

func TestFailedEnrollmentsLimited(t *testing.T) {
	srv, c := testServer(t, nil)
	var last resp
	for range 12 {
		last = do(t, c, "POST", srv.LocalURL()+wire.PathEnroll, "", wire.EnrollRequest{EnrollSecret: "vge_wrong", Host: wire.HostFacts{MachineID: "m", Hostname: "h"}})
	}
	if last.status != 429 {
		t.Fatalf("after 12 wrong secrets: %d", last.status)
	}
	// Many good enrollments from one address (an office behind NAT) are not limited... once the
	// failures have drained; from a fresh server:
	srv2, c2 := testServer(t, nil)
	for i := range 30 {
		enrollAgent(t, srv2, c2, fmt.Sprintf("m-%d", i))
	}
}

func TestInsecureHTTPOnlyOnLoopback(t *testing.T) {
	_, err := New(context.Background(), Config{Listen: "0.0.0.0:0", DataDir: t.TempDir(), InsecureHTTP: true})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("plain HTTP on every address: %v", err)
	}
	srv, _ := testServer(t, func(c *Config) { c.InsecureHTTP = true })
	if !strings.HasPrefix(srv.URL(), "http://") || srv.CAFingerprint() != "" || strings.Contains(srv.AgentCommand(), "--ca-pin") {
		t.Fatalf("plain HTTP server: %s, %q", srv.URL(), srv.AgentCommand())
	}
	r := do(t, http.DefaultClient, "GET", srv.LocalURL()+"/healthz", "", nil)
	if r.status != 200 {
		t.Fatalf("health over http: %d", r.status)
	}
}

func TestFirstStartFilesAndBanner(t *testing.T) {
	srv, _ := testServer(t, func(c *Config) { c.EnrollSecret = "vge_from-the-environment" })
	fs := srv.FirstStart()
	if fs == nil || fs.AdminPassword == "" || fs.EnrollSecret != "vge_from-the-environment" || !strings.HasPrefix(fs.CAFingerprint, "sha256:") {
		t.Fatalf("first start: %+v", fs)
	}
	want := "vigil agent run --server " + srv.URL() + " --enroll-secret vge_from-the-environment --ca-pin " + srv.CAFingerprint()
	var out bytes.Buffer
	srv.PrintFirstStart(&out)
	for _, s := range []string{want, fs.AdminPassword, srv.URL(), srv.CAFingerprint(), "password is also kept in " + filepath.Join(srv.cfg.DataDir, AdminPasswordFile)} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("banner lacks %q:\n%s", s, out.String())
		}
	}
	// The configured enroll secret is in no file, and the banner says none.
	if _, err := os.Stat(filepath.Join(srv.cfg.DataDir, EnrollSecretFile)); !os.IsNotExist(err) || strings.Contains(out.String(), "secret is kept in") {
		t.Errorf("configured enroll secret: file %v; banner:\n%s", err, out.String())
	}
	for _, f := range []string{PolicyKeyFile, AdminPasswordFile, "tls/ca.key", "tls/server.key", DBFile} {
		st, err := os.Stat(filepath.Join(srv.cfg.DataDir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, err, st)
		}
	}
	if st, _ := os.Stat(srv.cfg.DataDir); st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", st.Mode().Perm())
	}
	// A second start is not a first start.
	ctx := context.Background()
	again, err := New(ctx, Config{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
	again2, err := New(ctx, Config{Listen: "127.0.0.1:0", DataDir: again.cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer again2.Close()
	if again2.FirstStart() != nil {
		t.Fatal("second start reported as first")
	}
}

func TestHostsOnlineOffline(t *testing.T) {
	srv, c := testServer(t, func(c *Config) { c.CheckinInterval = 5 * time.Second })
	on := enrollAgent(t, srv, c, "m-on")
	if _, _, err := srv.Store().Enroll(context.Background(), store.Enrollment{MachineID: "m-off", Hostname: "old-laptop", TokenHash: "x",
		Time: time.Now().Add(-16 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	for status, want := range map[string]string{"online": on.AgentID, "offline": ""} {
		var hl struct {
			Hosts []struct {
				ID       string
				Hostname string
				Online   bool
			}
			Total int
		}
		do(t, c, "GET", srv.LocalURL()+"/api/v1/hosts?status="+status, adminToken, nil).decode(t, &hl)
		if hl.Total != 1 || len(hl.Hosts) != 1 || (want != "" && hl.Hosts[0].ID != want) || hl.Hosts[0].Online != (status == "online") {
			t.Errorf("status=%s: %+v", status, hl)
		}
	}
	// A check-in reaches the store within the flush interval, with the agent's health.
	do(t, c, "POST", srv.LocalURL()+wire.PathCheckin, on.Token, wire.CheckinRequest{Health: wire.Health{AgentVersion: "9.9", QueueDropped: 12}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var d struct {
			Host struct {
				AgentVersion string `json:"agent_version"`
			}
			Health *wire.Health
		}
		do(t, c, "GET", srv.LocalURL()+"/api/v1/hosts/"+on.AgentID, adminToken, nil).decode(t, &d)
		if d.Health != nil && d.Health.QueueDropped == 12 && d.Host.AgentVersion == "9.9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health not stored: %+v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEnrollSecretsAndFindingDetail(t *testing.T) {
	srv, c := testServer(t, nil)
	u := srv.LocalURL()
	r := do(t, c, "POST", u+"/api/v1/enroll-secrets", adminToken, map[string]string{"name": "office laptops"})
	var sc struct {
		ID     string
		Secret string
	}
	r.decode(t, &sc)
	if r.status != 201 || !strings.HasPrefix(sc.Secret, "vge_") {
		t.Fatalf("create secret: %d %s", r.status, r.body)
	}
	enroll := func(secret, machine string) resp {
		return do(t, c, "POST", u+wire.PathEnroll, "", wire.EnrollRequest{EnrollSecret: secret, Host: wire.HostFacts{MachineID: machine, Hostname: machine}})
	}
	r = enroll(sc.Secret, "m-1")
	if r.status != 200 {
		t.Fatalf("enroll with the new secret: %d", r.status)
	}
	var er wire.EnrollResponse
	r.decode(t, &er)
	if r = do(t, c, "DELETE", u+"/api/v1/enroll-secrets/"+sc.ID, adminToken, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r = enroll(sc.Secret, "m-2"); r.status != 401 {
		t.Fatalf("enroll with a revoked secret: %d", r.status)
	}
	// The enrolled agent keeps working; its finding's detail has the evidence and the rule.
	b := sampleBatch(2, "d")
	if r = do(t, c, "POST", u+wire.PathBatch, er.Token, b); r.status != 200 {
		t.Fatalf("batch after revocation: %d", r.status)
	}
	var d struct {
		Finding  struct{ ID, Level string }
		Evidence []struct {
			ID     string
			Fields map[string]any
		}
		Hosts []struct{ Hostname string }
		Rule  struct{ Author, Text string }
	}
	do(t, c, "GET", u+"/api/v1/findings/d-f1", adminToken, nil).decode(t, &d)
	if d.Finding.Level != "high" || len(d.Evidence) != 1 || d.Evidence[0].ID != "d-0000" || d.Evidence[0].Fields["Image"] != "/usr/bin/x11vnc" ||
		len(d.Hosts) != 1 || d.Hosts[0].Hostname != "m-1" || d.Rule.Author == "" || !strings.Contains(d.Rule.Text, "x11vnc") {
		t.Fatalf("finding detail: %+v", d)
	}
	// Filters.
	var fl struct{ Findings []json.RawMessage }
	for q, want := range map[string]int{"level=high": 1, "level=low": 0, "status=new": 1, "rule=remote_access_x11vnc_process_linux": 1,
		"host=" + er.AgentID: 1, "since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z": 0} {
		do(t, c, "GET", u+"/api/v1/findings?"+q, adminToken, nil).decode(t, &fl)
		if len(fl.Findings) != want {
			t.Errorf("findings?%s: %d, want %d", q, len(fl.Findings), want)
		}
	}
	if r = do(t, c, "GET", u+"/api/v1/findings?level=severe", adminToken, nil); r.status != 400 || r.errBody(t).Field != "level" {
		t.Errorf("bad level filter: %d %s", r.status, r.body)
	}
	// The audit log names the secret's creation and revocation, never its value.
	r = do(t, c, "GET", u+"/api/v1/audit", adminToken, nil)
	if !strings.Contains(string(r.body), "createEnrollSecret") || !strings.Contains(string(r.body), "revokeEnrollSecret") ||
		!strings.Contains(string(r.body), "enroll-secret:office laptops") || strings.Contains(string(r.body), sc.Secret) {
		t.Fatalf("audit: %s", r.body)
	}
}

func TestRetentionJob(t *testing.T) {
	srv, c := testServer(t, func(c *Config) { c.Retention = map[string]int{store.TableEvents: 1, store.TableAudit: 0} })
	a := enrollAgent(t, srv, c, "m-1")
	b := sampleBatch(3, "r")
	b.Events[0].Time = time.Now().Add(-49 * time.Hour) // older than the 1-day retention
	if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, a.Token, b); r.status != 200 {
		t.Fatalf("batch: %d", r.status)
	}
	if err := srv.retention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Store().CountEvents(context.Background()); n != 2 {
		t.Fatalf("events after retention: %d, want 2", n)
	}
	// Audit kept forever (0), findings by the default (365 days).
	if fs, _, _ := srv.Store().ListFindings(context.Background(), store.FindingFilter{}); len(fs) != 1 {
		t.Fatalf("findings after retention: %d", len(fs))
	}
}
