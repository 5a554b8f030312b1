package agent

import (
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

// fakeServer speaks the agent API of internal/wire with an in-memory store that ignores ids it
// holds, as the real server does. The real server's end-to-end tests are in cmd/vigil.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey

	mu         sync.Mutex
	events     map[string]event.Event
	findings   map[string]wire.Finding
	inventory  map[string]wire.Inventory
	dupes      int
	health     *wire.Health
	bundle     *wire.Bundle
	tokens     map[string]bool
	enrolls    int
	checkins   int
	down       atomic.Bool  // answer 503 to everything
	refusals   atomic.Int64 // requests answered 503 while down
	interval   int
	firstFound map[string]time.Time // finding rule id -> when first stored
}

func newFakeServer(t *testing.T) *fakeServer {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f := &fakeServer{
		t: t, secret: "s3cret", pub: pub, priv: priv, events: map[string]event.Event{}, findings: map[string]wire.Finding{},
		inventory: map[string]wire.Inventory{}, tokens: map[string]bool{}, interval: 5, firstFound: map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathEnroll, f.enroll)
	mux.HandleFunc("POST "+wire.PathBatch, f.auth(f.batch))
	mux.HandleFunc("POST "+wire.PathCheckin, f.auth(f.checkin))
	mux.HandleFunc("GET "+wire.PathPolicy, f.auth(f.policy))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			f.refusals.Add(1)
			writeErr(w, 503, wire.CodeUnavailable, "down for the test")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.Error{Code: code, Message: msg}})
}

func (f *fakeServer) directives() wire.Directives {
	d := wire.Directives{CheckinIntervalSeconds: f.interval}
	if f.bundle != nil {
		d.PolicyVersion = f.bundle.Version
	}
	return d
}

func (f *fakeServer) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		f.mu.Lock()
		ok := len(tok) > 7 && f.tokens[tok[7:]]
		f.mu.Unlock()
		if !ok {
			writeErr(w, 401, wire.CodeUnauthorized, "bad token")
			return
		}
		h(w, r)
	}
}

func decodeBody(r *http.Request, v any) error {
	var body io.Reader = http.MaxBytesReader(nil, r.Body, wire.MaxBodyBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return err
		}
		body = io.LimitReader(zr, wire.MaxDecodedBytes)
	}
	return json.NewDecoder(body).Decode(v)
}

func (f *fakeServer) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, 400, wire.CodeBadRequest, err.Error())
		return
	}
	if req.EnrollSecret != f.secret {
		writeErr(w, 401, wire.CodeUnauthorized, "bad secret")
		return
	}
	f.mu.Lock()
	f.enrolls++
	tok := event.NewID()
	f.tokens[tok] = true
	d := f.directives()
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(wire.EnrollResponse{AgentID: "agent-" + req.Host.MachineID, Token: tok, PolicyKey: wire.EncodeKey(f.pub), Directives: d})
}

func (f *fakeServer) batch(w http.ResponseWriter, r *http.Request) {
	var b wire.Batch
	if err := decodeBody(r, &b); err != nil {
		writeErr(w, 400, wire.CodeBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	acc := storeNew(f.events, b.Events, func(e event.Event) string { return e.ID }, &f.dupes)
	acc += storeNew(f.findings, b.Findings, func(fd wire.Finding) string { return fd.ID }, &f.dupes)
	acc += storeNew(f.inventory, b.Inventory, func(inv wire.Inventory) string { return inv.ID }, &f.dupes)
	for _, fd := range b.Findings {
		if _, ok := f.firstFound[fd.RuleID]; !ok {
			f.firstFound[fd.RuleID] = time.Now()
		}
	}
	if b.Health != nil {
		f.health = b.Health
	}
	_ = json.NewEncoder(w).Encode(wire.BatchResponse{Accepted: acc, Directives: f.directives()})
}

// storeNew stores the items whose id is new and counts the others as duplicates.
func storeNew[T any](m map[string]T, items []T, id func(T) string, dupes *int) int {
	n := 0
	for _, it := range items {
		if _, ok := m[id(it)]; ok {
			*dupes++
			continue
		}
		m[id(it)] = it
		n++
	}
	return n
}

func (f *fakeServer) checkin(w http.ResponseWriter, r *http.Request) {
	var req wire.CheckinRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, 400, wire.CodeBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkins++
	f.health = &req.Health
	_ = json.NewEncoder(w).Encode(wire.CheckinResponse{Directives: f.directives()})
}

func (f *fakeServer) policy(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bundle == nil {
		writeErr(w, 404, wire.CodeNotFound, "no bundle")
		return
	}
	_ = json.NewEncoder(w).Encode(f.bundle)
}

// publish signs and publishes a bundle; tamper, when set, changes it after signing.
func (f *fakeServer) publish(version int64, rules map[string]string, disabled []string, tamper func(*wire.Bundle)) {
	b := &wire.Bundle{Version: version, Created: time.Now().UTC(), Disabled: disabled}
	for name, text := range rules {
		b.Rules = append(b.Rules, wire.RuleFile{Name: name, Content: text})
	}
	if err := b.Sign(f.priv); err != nil {
		f.t.Fatal(err)
	}
	if tamper != nil {
		tamper(b)
	}
	f.mu.Lock()
	f.bundle = b
	f.mu.Unlock()
}

func (f *fakeServer) counts() (events, findings, inventory, dupes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events), len(f.findings), len(f.inventory), f.dupes
}

func (f *fakeServer) lastHealth() wire.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.health == nil {
		return wire.Health{}
	}
	return *f.health
}

// findingsOf returns the stored findings of a rule (by title).
func (f *fakeServer) findingsOf(title string) []wire.Finding {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wire.Finding
	for _, fd := range f.findings {
		if fd.Title == title {
			out = append(out, fd)
		}
	}
	return out
}

// chanSource is a collector fed by a test.
type chanSource struct{ ch chan *event.Event }

func newChanSource() *chanSource { return &chanSource{ch: make(chan *event.Event, 100000)} }

func (c *chanSource) Snapshot(ctx context.Context, emit collector.Emit) error { return nil }

func (c *chanSource) Run(ctx context.Context, emit collector.Emit) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-c.ch:
			emit(ev)
		}
	}
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
