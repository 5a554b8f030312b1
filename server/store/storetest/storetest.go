// Package storetest is the conformance suite every store.Store implementation passes: Run it
// from the implementation's tests with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// Opener returns a fresh, empty store for one test; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the suite. Each subtest gets its own store and may run in parallel with the others.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Enroll", testEnroll},
		{"ListHosts", testListHosts},
		{"MarkSeen", testMarkSeen},
		{"WriteBatchIdempotent", testWriteBatchIdempotent},
		{"WriteBatchConcurrentRetries", testConcurrentRetries},
		{"Inventory", testInventory},
		{"Findings", testFindings},
		{"FleetFindings", testFleetFindings},
		{"Events", testEvents},
		{"Rules", testRules},
		{"RulesConcurrent", testRulesConcurrent},
		{"EnrollSecrets", testSecrets},
		{"UsersAndTokens", testUsers},
		{"Audit", testAudit},
		{"FleetFacts", testFleetFacts},
		{"Locks", testLocks},
		{"Purge", testPurge},
		{"Settings", testSettings},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// T0 is the suite's reference time: recent, so that PostgreSQL's daily partitions exist for it.
func t0() time.Time { return time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func enroll(t *testing.T, s store.Store, machine, hostname string) store.Host {
	t.Helper()
	h, _, err := s.Enroll(ctx, store.Enrollment{MachineID: machine, Hostname: hostname, OS: "linux", TokenHash: "tok-" + machine + "-" + event.NewID(), Time: t0()})
	must(t, err)
	return h
}

func testEnroll(t *testing.T, s store.Store) {
	e := store.Enrollment{MachineID: "m-1", Hostname: "laptop-1", OS: "linux", OSVersion: "12", Arch: "amd64",
		AgentVersion: "1.0", TokenHash: "hash-a", EnrollSecretID: "sec", EgressIP: "192.0.2.1", Time: t0()}
	h, created, err := s.Enroll(ctx, e)
	must(t, err)
	if !created || h.ID == "" || h.Hostname != "laptop-1" || h.MachineID != "m-1" || !h.EnrolledAt.Equal(t0()) || h.EgressIP != "192.0.2.1" {
		t.Fatalf("first enrollment: created=%v host=%+v", created, h)
	}
	a, err := s.AgentByTokenHash(ctx, "hash-a")
	must(t, err)
	if a.HostID != h.ID {
		t.Fatalf("token resolves to %q, want %q", a.HostID, h.ID)
	}
	// Same machine again: same host, new token; the old one no longer resolves.
	e.TokenHash, e.Hostname = "hash-b", "laptop-1-renamed"
	h2, created, err := s.Enroll(ctx, e)
	must(t, err)
	if created || h2.ID != h.ID || h2.Hostname != "laptop-1-renamed" {
		t.Fatalf("re-enrollment: created=%v id=%q (want %q) hostname=%q", created, h2.ID, h.ID, h2.Hostname)
	}
	if _, err := s.AgentByTokenHash(ctx, "hash-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old token after re-enrollment: %v, want ErrNotFound", err)
	}
	// Many at once: the live token resolves, the old one and an unknown one are absent.
	many, err := s.AgentsByTokenHashes(ctx, []string{"hash-a", "hash-b", "nope"})
	must(t, err)
	if len(many) != 1 || many["hash-b"].HostID != h.ID || many["hash-b"].Hostname != "laptop-1-renamed" {
		t.Fatalf("AgentsByTokenHashes: %+v, want only hash-b -> %s", many, h.ID)
	}
	if none, err := s.AgentsByTokenHashes(ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("AgentsByTokenHashes(nil): %v, %v", none, err)
	}
	if _, err := s.AgentsByTokenHashes(ctx, make([]string, store.MaxTokenLookup+1)); err == nil {
		t.Fatalf("AgentsByTokenHashes of %d hashes: no error", store.MaxTokenLookup+1)
	}
	if _, err := s.Host(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
	// A token hash is one host's only.
	if _, _, err := s.Enroll(ctx, store.Enrollment{MachineID: "m-2", Hostname: "x", TokenHash: "hash-b", Time: t0()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("token hash reused: %v, want ErrConflict", err)
	}
	if n, err := s.CountHosts(ctx, store.HostFilter{}); err != nil || n != 1 {
		t.Fatalf("hosts: %d, %v; want 1", n, err)
	}
}

func testListHosts(t *testing.T, s store.Store) {
	for i := range 25 {
		enroll(t, s, fmt.Sprintf("m-%02d", i), fmt.Sprintf("host-%02d", 24-i))
	}
	var all []string
	cursor := ""
	for {
		page, next, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Limit: 10, Cursor: cursor}})
		must(t, err)
		for _, h := range page {
			all = append(all, h.Hostname)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 25 || !slices.IsSorted(all) || all[0] != "host-00" {
		t.Fatalf("paged hosts: %v", all)
	}
	got, _, err := s.ListHosts(ctx, store.HostFilter{Query: "ST-1"})
	must(t, err)
	if len(got) != 10 { // host-10 .. host-19
		t.Fatalf("query ST-1: %d hosts", len(got))
	}
	if n, _ := s.CountHosts(ctx, store.HostFilter{Query: "host-2"}); n != 5 {
		t.Fatalf("count host-2: %d, want 5", n)
	}
	if n, _ := s.CountHosts(ctx, store.HostFilter{OS: "windows"}); n != 0 {
		t.Fatalf("windows hosts: %d", n)
	}
	if _, _, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Cursor: "garbage"}}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if got, _, _ := s.ListHosts(ctx, store.HostFilter{Query: "%"}); len(got) != 0 {
		t.Fatalf("%% is a literal: %d hosts", len(got))
	}
}

func testMarkSeen(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	b := enroll(t, s, "m-b", "b")
	later := t0().Add(time.Hour)
	health := json.RawMessage(`{"queue_dropped":7}`)
	must(t, s.MarkSeen(ctx, []store.Seen{
		{HostID: a.ID, Time: later, EgressIP: "198.51.100.7", Health: health, AgentVersion: "2.0"},
		{HostID: b.ID, Time: later},
	}))
	must(t, s.MarkSeen(ctx, []store.Seen{{HostID: a.ID, Time: t0().Add(time.Minute), EgressIP: "203.0.113.9"}})) // older: ignored
	h, err := s.Host(ctx, a.ID)
	must(t, err)
	if !h.LastSeen.Equal(later) || h.EgressIP != "198.51.100.7" || h.AgentVersion != "2.0" {
		t.Fatalf("after MarkSeen: %+v", h)
	}
	var hv map[string]int
	if err := json.Unmarshal(h.Health, &hv); err != nil || hv["queue_dropped"] != 7 {
		t.Fatalf("health %s: %v", h.Health, err)
	}
	if n, _ := s.CountHosts(ctx, store.HostFilter{SeenAfter: later}); n != 2 {
		t.Fatalf("seen after: %d", n)
	}
	if n, _ := s.CountHosts(ctx, store.HostFilter{SeenBefore: later}); n != 0 {
		t.Fatalf("seen before: %d", n)
	}
	dropped := func(h store.Host) int {
		var m map[string]int
		_ = json.Unmarshal(h.Health, &m)
		return m["queue_dropped"]
	}
	// An older report with health: the health is taken, the time and the address are not; a
	// newer one moves all three.
	must(t, s.MarkSeen(ctx, []store.Seen{{HostID: a.ID, Time: t0().Add(2 * time.Minute), EgressIP: "203.0.113.10",
		Health: json.RawMessage(`{"queue_dropped":8}`), AgentVersion: "2.1"}}))
	h, err = s.Host(ctx, a.ID)
	must(t, err)
	if !h.LastSeen.Equal(later) || h.EgressIP != "198.51.100.7" || h.AgentVersion != "2.1" || dropped(h) != 8 {
		t.Fatalf("after an older report with health: %+v", h)
	}
	latest := later.Add(time.Minute)
	must(t, s.MarkSeen(ctx, []store.Seen{{HostID: a.ID, Time: latest, EgressIP: "203.0.113.11", Health: json.RawMessage(`{"queue_dropped":9}`)}}))
	h, err = s.Host(ctx, a.ID)
	must(t, err)
	if !h.LastSeen.Equal(latest) || h.EgressIP != "203.0.113.11" || h.AgentVersion != "2.1" || dropped(h) != 9 {
		t.Fatalf("after a newer report with health: %+v", h)
	}
}

// batch returns a batch of n events and m findings for host, ids prefixed.
func batch(host, prefix string, n, m int) *store.Batch {
	b := &store.Batch{HostID: host}
	for i := range n {
		b.Events = append(b.Events, store.Event{HostID: host, ID: fmt.Sprintf("%s-e%04d", prefix, i), Time: t0().Add(time.Duration(i) * time.Second),
			Category: "process_creation", Product: "linux", Fields: json.RawMessage(fmt.Sprintf(`{"Image":"/usr/bin/x%d","ProcessId":%d}`, i, i)), Received: t0()})
	}
	for i := range m {
		b.Findings = append(b.Findings, store.Finding{HostID: host, ID: fmt.Sprintf("%s-f%04d", prefix, i), Source: store.SourceAgent,
			RuleID: "rule-1", Title: "T", Level: "high", Author: "someone", Tags: []string{"attack.t1219"}, Time: t0(), Received: t0(),
			EventIDs: []string{fmt.Sprintf("%s-e%04d", prefix, i)}})
	}
	return b
}

func testWriteBatchIdempotent(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	b := enroll(t, s, "m-b", "b")
	bt := batch(a.ID, "x", 450, 3) // over one multi-row insert
	res, err := s.WriteBatch(ctx, bt)
	must(t, err)
	if res.Accepted != 453 || res.Duplicates != 0 {
		t.Fatalf("first write: %+v", res)
	}
	res, err = s.WriteBatch(ctx, bt)
	must(t, err)
	if res.Accepted != 0 || res.Duplicates != 453 {
		t.Fatalf("retry: %+v", res)
	}
	// Half old, half new.
	mixed := batch(a.ID, "x", 500, 0)
	res, err = s.WriteBatch(ctx, mixed)
	must(t, err)
	if res.Accepted != 50 || res.Duplicates != 450 {
		t.Fatalf("overlapping batch: %+v", res)
	}
	// The same ids from another host are that host's own.
	res, err = s.WriteBatch(ctx, batch(b.ID, "x", 10, 1))
	must(t, err)
	if res.Accepted != 11 {
		t.Fatalf("other host, same ids: %+v", res)
	}
	if n, _ := s.CountEvents(ctx); n != 510 {
		t.Fatalf("events stored: %d, want 510", n)
	}
	if fs, _, _ := s.ListFindings(ctx, store.FindingFilter{}); len(fs) != 4 {
		t.Fatalf("findings stored: %d, want 4", len(fs))
	}
	// An empty batch is fine.
	if _, err := s.WriteBatch(ctx, &store.Batch{HostID: a.ID}); err != nil {
		t.Fatal(err)
	}
}

func testConcurrentRetries(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	bt := batch(a.ID, "c", 300, 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.WriteBatch(ctx, bt)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			accepted += res.Accepted
			mu.Unlock()
		}()
	}
	wg.Wait()
	if accepted != 305 {
		t.Fatalf("accepted over 8 concurrent writes of one batch: %d, want 305", accepted)
	}
	if n, _ := s.CountEvents(ctx); n != 300 {
		t.Fatalf("events: %d", n)
	}
}

func testInventory(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	inv := func(id string, at time.Time, items string) store.Inventory {
		return store.Inventory{HostID: a.ID, ID: id, Kind: wire.InventoryUSB, Time: at, Items: json.RawMessage(items), Received: t0()}
	}
	res, err := s.WriteBatch(ctx, &store.Batch{HostID: a.ID, Inventory: []store.Inventory{inv("i1", t0(), `[{"VendorId":"1d6b"}]`)}})
	must(t, err)
	if res.Inventory != 1 {
		t.Fatalf("first snapshot: %+v", res)
	}
	// Older: ignored. Newer: replaces.
	_, err = s.WriteBatch(ctx, &store.Batch{HostID: a.ID, Inventory: []store.Inventory{inv("i0", t0().Add(-time.Hour), `[]`)}})
	must(t, err)
	got, err := s.HostInventory(ctx, a.ID)
	must(t, err)
	if len(got) != 1 || got[0].ID != "i1" {
		t.Fatalf("after older snapshot: %+v", got)
	}
	_, err = s.WriteBatch(ctx, &store.Batch{HostID: a.ID, Inventory: []store.Inventory{
		inv("i2", t0().Add(time.Hour), `[{"VendorId":"046d"}]`),
		{HostID: a.ID, ID: "h1", Kind: wire.InventoryHost, Time: t0(), Items: json.RawMessage(`[{"Hostname":"a"}]`), Received: t0()},
	}})
	must(t, err)
	got, err = s.HostInventory(ctx, a.ID)
	must(t, err)
	if len(got) != 2 || got[0].Kind != wire.InventoryHost || got[1].ID != "i2" || string(got[1].Items) != `[{"VendorId":"046d"}]` {
		t.Fatalf("after newer snapshot: %+v", got)
	}
}

func testFindings(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	b := enroll(t, s, "m-b", "b")
	levels := []string{"low", "medium", "high", "critical"}
	var fs []store.Finding
	for i := range 40 {
		v := float64(i) / 2
		fs = append(fs, store.Finding{HostID: a.ID, ID: fmt.Sprintf("fa-%02d", i), Source: store.SourceAgent, RuleID: fmt.Sprintf("rule-%d", i%3),
			RuleName: "n", Title: "T", Level: levels[i%4], Author: "au", Tags: []string{"t"}, Time: t0().Add(time.Duration(i) * time.Minute),
			Received: t0(), EventIDs: []string{"e1"}, Group: map[string]string{"host": a.ID}, Count: 3, Value: &v, Correlation: "event_count"})
	}
	_, err := s.WriteBatch(ctx, &store.Batch{HostID: a.ID, Findings: fs})
	must(t, err)
	_, err = s.WriteBatch(ctx, batch(b.ID, "b", 0, 5))
	must(t, err)

	all, next, err := s.ListFindings(ctx, store.FindingFilter{})
	must(t, err)
	if len(all) != 45 || next != "" || all[0].Seq < all[44].Seq {
		t.Fatalf("all findings: %d, next %q", len(all), next)
	}
	one, err := s.Finding(ctx, "fa-07")
	must(t, err)
	want := fs[7]
	if one.RuleID != want.RuleID || one.Level != want.Level || !one.Time.Equal(want.Time) || one.Count != 3 || one.Value == nil || *one.Value != 3.5 ||
		one.Group["host"] != a.ID || one.Status != store.StatusNew || !slices.Equal(one.Hosts, []string{a.ID}) || !slices.Equal(one.Tags, []string{"t"}) || one.Author != "au" {
		t.Fatalf("finding detail: %+v", one)
	}
	if _, err := s.Finding(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown finding: %v", err)
	}
	count := func(f store.FindingFilter) int {
		t.Helper()
		n := 0
		f.Limit = 7
		for {
			page, next, err := s.ListFindings(ctx, f)
			must(t, err)
			n += len(page)
			if next == "" {
				return n
			}
			f.Cursor = next
		}
	}
	for _, c := range []struct {
		name string
		f    store.FindingFilter
		want int
	}{
		{"level", store.FindingFilter{Levels: []string{"high", "critical"}}, 20 + 5},
		{"rule", store.FindingFilter{RuleID: "rule-0"}, 14},
		{"host", store.FindingFilter{HostID: b.ID}, 5},
		{"time", store.FindingFilter{Since: t0().Add(10 * time.Minute), Until: t0().Add(20 * time.Minute)}, 10},
		{"status", store.FindingFilter{Statuses: []string{store.StatusResolved}}, 0},
		{"all paged", store.FindingFilter{}, 45},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("filter %s: %d findings, want %d", c.name, got, c.want)
		}
	}
	must(t, s.SetFindingStatus(ctx, "fa-01", store.StatusResolved))
	if got := count(store.FindingFilter{Statuses: []string{store.StatusResolved}}); got != 1 {
		t.Errorf("resolved: %d", got)
	}
	if err := s.SetFindingStatus(ctx, "nope", store.StatusResolved); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status of unknown finding: %v", err)
	}
	if _, _, err := s.ListFindings(ctx, store.FindingFilter{Page: store.Page{Cursor: "x"}}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func testFleetFindings(t *testing.T, s store.Store) {
	hs := []store.Host{enroll(t, s, "m-1", "a"), enroll(t, s, "m-2", "b"), enroll(t, s, "m-3", "c"), enroll(t, s, "m-4", "d")}
	f := store.Finding{ID: "fleet-1", RuleID: "fleet_gateway", Title: "Laptop farm", Level: "high", Time: t0(), Received: t0(),
		Hosts: []string{hs[0].ID, hs[1].ID, hs[2].ID}, EventIDs: []string{"x", "y", "z"}, Group: map[string]string{"DefaultGatewayMac": "aa"}, Count: 3}
	created, err := s.UpsertFleetFinding(ctx, f)
	must(t, err)
	if !created {
		t.Fatal("first upsert did not create")
	}
	must(t, s.SetFindingStatus(ctx, "fleet-1", store.StatusInvestigating))
	f.Hosts = append(f.Hosts, hs[3].ID)
	f.Count = 4
	created, err = s.UpsertFleetFinding(ctx, f)
	must(t, err)
	if created {
		t.Fatal("second upsert created another")
	}
	got, err := s.Finding(ctx, "fleet-1")
	must(t, err)
	if got.Source != store.SourceFleet || got.HostID != "" || len(got.Hosts) != 4 || got.Count != 4 || got.Status != store.StatusInvestigating {
		t.Fatalf("fleet finding: %+v", got)
	}
	for _, h := range hs {
		page, _, err := s.ListFindings(ctx, store.FindingFilter{HostID: h.ID})
		must(t, err)
		if len(page) != 1 || page[0].ID != "fleet-1" {
			t.Fatalf("host %s: findings %+v", h.Hostname, page)
		}
	}
	if page, _, _ := s.ListFindings(ctx, store.FindingFilter{Source: store.SourceAgent}); len(page) != 0 {
		t.Fatalf("agent findings: %d", len(page))
	}
}

func testEvents(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	_, err := s.WriteBatch(ctx, batch(a.ID, "e", 30, 0))
	must(t, err)
	refs := []store.EvidenceRef{{HostID: a.ID, EventID: "e-e0005"}, {HostID: a.ID, EventID: "missing"}, {HostID: a.ID, EventID: "e-e0002"}, {HostID: "other", EventID: "e-e0001"}}
	got, err := s.EventsByID(ctx, refs)
	must(t, err)
	if len(got) != 2 || got[0].ID != "e-e0005" || got[1].ID != "e-e0002" || got[0].Category != "process_creation" {
		t.Fatalf("events by id: %+v", got)
	}
	var f map[string]any
	if err := json.Unmarshal(got[0].Fields, &f); err != nil || f["Image"] != "/usr/bin/x5" {
		t.Fatalf("fields %s: %v", got[0].Fields, err)
	}
	var ids []string
	cursor := ""
	for {
		page, next, err := s.HostEvents(ctx, a.ID, t0().Add(10*time.Second), time.Time{}, store.Page{Limit: 6, Cursor: cursor})
		must(t, err)
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(ids) != 20 || ids[0] != "e-e0029" || ids[19] != "e-e0010" {
		t.Fatalf("host events: %v", ids)
	}
}

func signedBuilder(fail error) store.BundleBuilder {
	return func(version int64, created time.Time, rules []store.RuleFile, disabled []string) (wire.Bundle, error) {
		if fail != nil {
			return wire.Bundle{}, fail
		}
		b := wire.Bundle{Version: version, Created: created, Disabled: disabled, Signature: "sig"}
		for _, r := range rules {
			b.Rules = append(b.Rules, wire.RuleFile{Name: r.Name, Content: r.Content})
		}
		return b, nil
	}
}

func testRules(t *testing.T, s store.Store) {
	if v, err := s.CurrentPolicyVersion(ctx); err != nil || v != 0 {
		t.Fatalf("empty store policy version: %d, %v", v, err)
	}
	if _, err := s.CurrentPolicy(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("current policy of empty store: %v", err)
	}
	put, pv, err := s.ChangeRules(ctx, store.RuleChange{Put: []store.RuleFile{{Name: "b.yml", Content: "B"}, {Name: "a.yml", Content: "A"}}, Actor: "alice", Comment: "two"}, signedBuilder(nil))
	must(t, err)
	if len(put) != 2 || put[0].Name != "a.yml" || put[0].ID == "" || pv.Version != 1 || len(pv.Bundle.Rules) != 2 || pv.CreatedBy != "alice" {
		t.Fatalf("first change: %+v %+v", put, pv)
	}
	// Replace by name, rename by id, disable a built-in.
	_, pv, err = s.ChangeRules(ctx, store.RuleChange{Put: []store.RuleFile{{Name: "a.yml", Content: "A2"}, {ID: put[1].ID, Name: "c.yml", Content: "C"}}, Disable: []string{"builtin-1"}, Actor: "bob"}, signedBuilder(nil))
	must(t, err)
	if pv.Version != 2 || !slices.Equal(pv.Bundle.Disabled, []string{"builtin-1"}) {
		t.Fatalf("second version: %+v", pv)
	}
	files, err := s.ListRuleFiles(ctx)
	must(t, err)
	if len(files) != 2 || files[0].Content != "A2" || files[0].UpdatedBy != "bob" || files[0].CreatedBy != "alice" || files[1].Name != "c.yml" {
		t.Fatalf("rule files: %+v", files)
	}
	// A failing build changes nothing.
	_, _, err = s.ChangeRules(ctx, store.RuleChange{Delete: []string{files[0].ID}}, signedBuilder(errors.New("does not compile")))
	if err == nil {
		t.Fatal("failed build accepted")
	}
	if files2, _ := s.ListRuleFiles(ctx); len(files2) != 2 {
		t.Fatalf("failed change deleted a file: %+v", files2)
	}
	// Name conflict on rename; unknown delete.
	if _, _, err := s.ChangeRules(ctx, store.RuleChange{Put: []store.RuleFile{{ID: files[1].ID, Name: "a.yml", Content: "x"}}}, signedBuilder(nil)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if _, _, err := s.ChangeRules(ctx, store.RuleChange{Delete: []string{"nope"}}, signedBuilder(nil)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	_, pv, err = s.ChangeRules(ctx, store.RuleChange{Delete: []string{files[0].ID}, Enable: []string{"builtin-1"}}, signedBuilder(nil))
	must(t, err)
	if pv.Version != 3 || len(pv.Bundle.Rules) != 1 || len(pv.Bundle.Disabled) != 0 {
		t.Fatalf("third version: %+v", pv)
	}
	cur, err := s.CurrentPolicy(ctx)
	must(t, err)
	if cur.Version != 3 || cur.Bundle.Rules[0].Content != "C" || cur.Bundle.Signature != "sig" {
		t.Fatalf("current: %+v", cur)
	}
	v2, err := s.PolicyVersion(ctx, 2)
	must(t, err)
	if len(v2.Bundle.Rules) != 2 {
		t.Fatalf("version 2: %+v", v2)
	}
	list, next, err := s.ListPolicyVersions(ctx, store.Page{Limit: 2})
	must(t, err)
	if len(list) != 2 || list[0].Version != 3 || next == "" || list[0].Bundle.Rules[0].Content != "" {
		t.Fatalf("versions page: %+v next %q", list, next)
	}
	list, next, err = s.ListPolicyVersions(ctx, store.Page{Limit: 2, Cursor: next})
	must(t, err)
	if len(list) != 1 || list[0].Version != 1 || next != "" {
		t.Fatalf("second page: %+v", list)
	}
	if _, err := s.RuleFile(ctx, files[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RuleFile(ctx, files[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted rule: %v", err)
	}
	if d, _ := s.DisabledBuiltins(ctx); len(d) != 0 {
		t.Fatalf("disabled: %v", d)
	}
}

func testRulesConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.ChangeRules(ctx, store.RuleChange{Put: []store.RuleFile{{Name: fmt.Sprintf("r%d.yml", i), Content: "x"}}}, signedBuilder(nil))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	list, _, err := s.ListPolicyVersions(ctx, store.Page{})
	must(t, err)
	if len(list) != 6 || list[0].Version != 6 || len(list[0].Bundle.Rules) != 6 {
		t.Fatalf("versions after 6 concurrent changes: %d", len(list))
	}
}

func testSecrets(t *testing.T, s store.Store) {
	must(t, s.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "s1", Name: "default", Hash: "h1", CreatedAt: t0(), CreatedBy: "admin"}))
	must(t, s.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "s2", Name: "second", Hash: "h2", CreatedAt: t0().Add(time.Second)}))
	if err := s.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "s3", Hash: "h1", CreatedAt: t0()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate hash: %v", err)
	}
	got, err := s.EnrollSecretByHash(ctx, "h1")
	must(t, err)
	if got.ID != "s1" || got.Name != "default" || got.RevokedAt != nil {
		t.Fatalf("by hash: %+v", got)
	}
	must(t, s.RevokeEnrollSecret(ctx, "s1", t0().Add(time.Minute)))
	if _, err := s.EnrollSecretByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked secret: %v", err)
	}
	if err := s.RevokeEnrollSecret(ctx, "s1", t0()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	list, err := s.ListEnrollSecrets(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != "s2" || list[1].RevokedAt == nil {
		t.Fatalf("list: %+v", list)
	}
}

func testUsers(t *testing.T, s store.Store) {
	u := store.User{ID: "u1", Username: "alice", PasswordHash: "$argon2id$x", Role: "admin", CreatedAt: t0()}
	must(t, s.CreateUser(ctx, u))
	if err := s.CreateUser(ctx, store.User{ID: "u2", Username: "alice", Role: "viewer", CreatedAt: t0()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate user name: %v", err)
	}
	got, err := s.UserByName(ctx, "alice")
	must(t, err)
	if got.ID != "u1" || got.PasswordHash != u.PasswordHash || got.Role != "admin" || got.Disabled {
		t.Fatalf("user: %+v", got)
	}
	got.Role, got.Disabled = "viewer", true
	must(t, s.UpdateUser(ctx, got))
	if got, _ = s.User(ctx, "u1"); got.Role != "viewer" || !got.Disabled {
		t.Fatalf("after update: %+v", got)
	}
	if users, _ := s.ListUsers(ctx); len(users) != 1 {
		t.Fatalf("users: %+v", users)
	}
	exp := t0().Add(time.Hour)
	must(t, s.CreateAPIToken(ctx, store.APIToken{ID: "t1", UserID: "u1", Name: "ci", Hash: "th1", CreatedAt: t0()}))
	must(t, s.CreateAPIToken(ctx, store.APIToken{ID: "t2", UserID: "u1", Name: "short", Hash: "th2", CreatedAt: t0(), ExpiresAt: &exp}))
	if err := s.CreateAPIToken(ctx, store.APIToken{ID: "t3", UserID: "u1", Hash: "th1", CreatedAt: t0()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate token hash: %v", err)
	}
	tok, user, err := s.APITokenByHash(ctx, "th1", t0())
	must(t, err)
	if tok.ID != "t1" || user.Username != "alice" || user.Role != "viewer" {
		t.Fatalf("token: %+v %+v", tok, user)
	}
	if _, _, err := s.APITokenByHash(ctx, "th2", exp.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	if _, _, err := s.APITokenByHash(ctx, "th2", exp.Add(-time.Second)); err != nil {
		t.Fatalf("unexpired token: %v", err)
	}
	must(t, s.RevokeAPIToken(ctx, "t1", t0()))
	if _, _, err := s.APITokenByHash(ctx, "th1", t0()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	if list, _ := s.ListAPITokens(ctx, "u1"); len(list) != 2 {
		t.Fatalf("tokens: %+v", list)
	}
}

func testAudit(t *testing.T, s store.Store) {
	for i := range 12 {
		actor := "alice"
		if i%3 == 0 {
			actor = "bob"
		}
		must(t, s.AppendAudit(ctx, store.AuditEntry{Time: t0().Add(time.Duration(i) * time.Second), Actor: actor, Action: "createRule",
			Target: fmt.Sprint(i), Remote: "127.0.0.1", Details: json.RawMessage(`{"name":"x.yml"}`)}))
	}
	page, next, err := s.ListAudit(ctx, store.AuditFilter{Page: store.Page{Limit: 5}})
	must(t, err)
	if len(page) != 5 || page[0].Target != "11" || next == "" || string(page[0].Details) != `{"name":"x.yml"}` {
		t.Fatalf("audit page: %+v", page)
	}
	bob, _, err := s.ListAudit(ctx, store.AuditFilter{Actor: "bob"})
	must(t, err)
	if len(bob) != 4 {
		t.Fatalf("bob: %d", len(bob))
	}
	since, _, err := s.ListAudit(ctx, store.AuditFilter{Since: t0().Add(10 * time.Second)})
	must(t, err)
	if len(since) != 2 {
		t.Fatalf("since: %d", len(since))
	}
}

func testFleetFacts(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	b := enroll(t, s, "m-b", "b")
	c := enroll(t, s, "m-c", "c")
	old := t0().Add(-48 * time.Hour)
	must(t, s.AppendFleetFacts(ctx, []store.FleetFact{
		{HostID: a.ID, ID: "a1", Time: old, Facts: json.RawMessage(`{"EgressIp":"1"}`)},
		{HostID: a.ID, ID: "a2", Time: old.Add(time.Hour), Facts: json.RawMessage(`{"EgressIp":"2"}`)},
		{HostID: b.ID, ID: "b1", Time: old, Facts: json.RawMessage(`{"EgressIp":"3"}`)},
		{HostID: c.ID, ID: "c1", Time: t0(), Facts: json.RawMessage(`{"EgressIp":"4"}`)},
	}))
	must(t, s.AppendFleetFacts(ctx, []store.FleetFact{{HostID: c.ID, ID: "c1", Time: t0(), Facts: json.RawMessage(`{}`)}})) // duplicate: skipped
	// a was seen recently, b not.
	must(t, s.MarkSeen(ctx, []store.Seen{{HostID: a.ID, Time: t0()}}))
	got, err := s.FleetFactsSince(ctx, t0().Add(-24*time.Hour))
	must(t, err)
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	// b's last enrollment/seen time is t0 too (enroll sets it): its old fact holds as well.
	if !slices.Equal(ids, []string{"b1", "a2", "c1"}) {
		t.Fatalf("facts: %v", ids)
	}
	if string(got[2].Facts) != `{"EgressIp":"4"}` {
		t.Fatalf("duplicate replaced facts: %s", got[2].Facts)
	}
}

func testLocks(t *testing.T, s store.Store) {
	release, ok, err := s.TryLock(ctx, "retention")
	must(t, err)
	if !ok {
		t.Fatal("first TryLock failed")
	}
	if _, ok, err := s.TryLock(ctx, "retention"); err != nil || ok {
		t.Fatalf("second TryLock while held: ok=%v err=%v", ok, err)
	}
	r2, ok, err := s.TryLock(ctx, "fleet")
	must(t, err)
	if !ok {
		t.Fatal("another lock's name is blocked")
	}
	r2()
	release()
	release() // twice is harmless
	r3, ok, err := s.TryLock(ctx, "retention")
	must(t, err)
	if !ok {
		t.Fatal("TryLock after release failed")
	}
	r3()
	must(t, s.Maintain(ctx, time.Now()))
}

func testPurge(t *testing.T, s store.Store) {
	a := enroll(t, s, "m-a", "a")
	_, err := s.WriteBatch(ctx, batch(a.ID, "p", 60, 10)) // events at t0 + i s
	must(t, err)
	cut := t0().Add(30 * time.Second)
	n, err := s.Purge(ctx, store.TableEvents, cut)
	must(t, err)
	if n != 30 {
		t.Fatalf("purged events: %d, want 30", n)
	}
	if c, _ := s.CountEvents(ctx); c != 30 {
		t.Fatalf("events left: %d", c)
	}
	n, err = s.Purge(ctx, store.TableFindings, t0().Add(time.Second))
	must(t, err)
	if n != 10 {
		t.Fatalf("purged findings: %d", n)
	}
	must(t, s.AppendAudit(ctx, store.AuditEntry{Time: t0(), Actor: "x", Action: "y"}))
	if n, err := s.Purge(ctx, store.TableAudit, t0().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purged audit: %d %v", n, err)
	}
	if n, err := s.Purge(ctx, store.TableFleetFacts, t0()); err != nil || n != 0 {
		t.Fatalf("purged fleet facts: %d %v", n, err)
	}
	if _, err := s.Purge(ctx, "hosts", t0()); err == nil {
		t.Fatal("purge of hosts accepted")
	}
}

func testSettings(t *testing.T, s store.Store) {
	if _, err := s.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	v, err := s.InitSetting(ctx, "k", "first")
	must(t, err)
	if v != "first" {
		t.Fatalf("init: %q", v)
	}
	if v, _ = s.InitSetting(ctx, "k", "second"); v != "first" {
		t.Fatalf("init again: %q", v)
	}
	must(t, s.PutSetting(ctx, "k", "third"))
	if v, _ = s.Setting(ctx, "k"); v != "third" {
		t.Fatalf("put: %q", v)
	}
}
