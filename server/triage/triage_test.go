package triage_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/sqlstore"
	"github.com/vigilhq/vigil/server/triage"
)

var ctx = context.Background()

func open(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seed(t *testing.T, db *sqlstore.DB) store.Host {
	t.Helper()
	h, _, err := db.Enroll(ctx, store.Enrollment{MachineID: "m1", Hostname: "laptop-1", OS: "linux", TokenHash: "t1", Time: time.Now()})
	must(t, err)
	now := time.Now().UTC()
	_, err = db.WriteBatch(ctx, &store.Batch{HostID: h.ID,
		Events: []store.Event{{HostID: h.ID, ID: "e1", Time: now, Category: "process_creation", Product: "linux",
			Fields: json.RawMessage(`{"Image":"/opt/it/rmm-agent","ProcessId":42,"Tags":["a","b"]}`), Received: now}},
		Findings: []store.Finding{
			{HostID: h.ID, ID: "f1", Source: store.SourceAgent, RuleID: "r1", Title: "T", Level: "high", Time: now, Received: now, EventIDs: []string{"e1"}},
			{HostID: h.ID, ID: "f2", Source: store.SourceAgent, RuleID: "r2", Title: "T", Level: "low", Time: now, Received: now},
		}})
	must(t, err)
	return h
}

func TestWorkflow(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{{"new", "investigating", true}, {"new", "false_positive", true}, {"investigating", "resolved", true},
		{"resolved", "investigating", true}, {"resolved", "new", false}, {"false_positive", "resolved", false}, {"resolved", "resolved", true}} {
		if triage.CanMove(tc.from, tc.to) != tc.ok {
			t.Errorf("CanMove(%s, %s) = %v", tc.from, tc.to, !tc.ok)
		}
	}
}

func TestApply(t *testing.T) {
	db := open(t)
	seed(t, db)
	s := triage.New(db, nil, nil)
	res, err := s.Apply(ctx, "alice", triage.Change{IDs: []string{"f1", "f2"}, Status: "false_positive", Comment: "IT's own tool"})
	must(t, err)
	if len(res.States) != 2 || res.States[0].Status != "false_positive" || res.States[0].UpdatedBy != "alice" || res.Comments != 2 {
		t.Fatalf("result %+v", res)
	}
	if cs, _ := db.Comments(ctx, "f2"); len(cs) != 1 || cs[0].Author != "alice" {
		t.Fatalf("comments %+v", cs)
	}
	// false_positive -> resolved is not a move the workflow allows: refused, naming the finding
	_, err = s.Apply(ctx, "alice", triage.Change{IDs: []string{"f1"}, Status: "resolved"})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeConflict || we.Field != "status" {
		t.Fatalf("forbidden move: %v", err)
	}
	_, err = s.Apply(ctx, "bob", triage.Change{IDs: []string{"f1"}, Assignee: "bob"})
	must(t, err)
	st, _ := db.TriageStates(ctx, []string{"f1"})
	if st["f1"].Assignee != "bob" || st["f1"].Status != "false_positive" {
		t.Fatalf("after assigning: %+v", st["f1"])
	}
	for _, bad := range []triage.Change{{}, {IDs: []string{"f1"}}, {IDs: []string{"f1"}, Status: "closed"}, {IDs: []string{"nope"}, Status: "resolved"}} {
		if _, err := s.Apply(ctx, "x", bad); err == nil {
			t.Errorf("change %+v accepted", bad)
		}
	}
	if _, err := s.Apply(ctx, "x", triage.Change{IDs: []string{"nope"}, Status: "resolved"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown finding: %v", err)
	}
}

func TestSuppressAndScreen(t *testing.T) {
	db := open(t)
	h := seed(t, db)
	now := time.Now()
	s := triage.New(db, nil, func() time.Time { return now })
	for _, bad := range []store.Suppression{
		{Kind: "everything", Reason: "x", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.SuppressRuleHost, RuleID: "r1", Reason: "x", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.SuppressField, Field: "Image", Reason: "x", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.SuppressField, Field: "Image", Value: "v", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.SuppressField, Field: "Image", Value: "v", Reason: "x", ExpiresAt: now.Add(-time.Hour)},
		{Kind: store.SuppressField, Field: "Image", Value: "v", Reason: "x", ExpiresAt: now.Add(400 * 24 * time.Hour)},
	} {
		if _, err := s.Suppress(ctx, "alice", bad); err == nil {
			t.Errorf("suppression %+v accepted", bad)
		}
	}
	byRule, err := s.Suppress(ctx, "alice", store.Suppression{Kind: store.SuppressRuleHost, RuleID: "r2", HostID: h.ID, Reason: "noisy here", ExpiresAt: now.Add(time.Hour)})
	must(t, err)
	byField, err := s.Suppress(ctx, "alice", store.Suppression{Kind: store.SuppressField, Field: "Image", Value: "/opt/it/rmm-agent", Reason: "IT's RMM", ExpiresAt: now.Add(time.Hour)})
	must(t, err)

	newer := []store.Finding{
		{HostID: h.ID, ID: "n1", RuleID: "r2", Level: "low"},                                 // rule r2 on this host
		{HostID: "other", ID: "n2", RuleID: "r2", Level: "low"},                              // r2 elsewhere: kept
		{HostID: h.ID, ID: "n3", RuleID: "r9", Level: "high", EventIDs: []string{"e1"}},      // evidence stored earlier has the Image
		{HostID: h.ID, ID: "n4", RuleID: "r9", Level: "high", EventIDs: []string{"e2"}},      // evidence in this batch, other Image
		{HostID: h.ID, ID: "n5", RuleID: "r9", Level: "high", EventIDs: []string{"e3"}},      // evidence in this batch, list field
		{ID: "n6", RuleID: "r2", Level: "high", Hosts: []string{"x", h.ID}, Source: "fleet"}, // a fleet finding naming the host
	}
	batchEvents := []store.Event{
		{HostID: h.ID, ID: "e2", Fields: json.RawMessage(`{"Image":"/usr/bin/anydesk"}`)},
		{HostID: h.ID, ID: "e3", Fields: json.RawMessage(`{"Image":["/bin/sh","/opt/it/rmm-agent"]}`)},
	}
	sup, err := s.Screen(ctx, newer, batchEvents)
	must(t, err)
	got := map[string]string{}
	for _, x := range sup {
		got[newer[x.Index].ID] = x.SuppressionID
		if newer[x.Index].Status != store.StatusResolved {
			t.Errorf("%s suppressed but status %q", newer[x.Index].ID, newer[x.Index].Status)
		}
	}
	want := map[string]string{"n1": byRule.ID, "n3": byField.ID, "n5": byField.ID, "n6": byRule.ID}
	if len(got) != len(want) {
		t.Fatalf("suppressed %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s suppressed by %q, want %q", k, got[k], v)
		}
	}
	// stored, then recorded
	_, err = db.WriteBatch(ctx, &store.Batch{HostID: h.ID, Findings: []store.Finding{{HostID: h.ID, ID: "n1", RuleID: "r2", Level: "low",
		Source: store.SourceAgent, Status: newer[0].Status, Time: now, Received: now}}})
	must(t, err)
	must(t, s.Record(ctx, newer[:1], []triage.Suppressed{{Index: 0, SuppressionID: byRule.ID}}))
	st, _ := db.TriageStates(ctx, []string{"n1"})
	if st["n1"].Status != store.StatusResolved || st["n1"].SuppressedBy != byRule.ID {
		t.Fatalf("recorded: %+v", st["n1"])
	}
	all, _ := db.ListSuppressions(ctx)
	for _, sp := range all {
		if sp.ID == byRule.ID && sp.Hits != 1 {
			t.Errorf("hits %d", sp.Hits)
		}
	}
	// deleted, it no longer applies
	must(t, s.Unsuppress(ctx, byRule.ID))
	again := []store.Finding{{HostID: h.ID, ID: "n7", RuleID: "r2", Level: "low"}}
	if sup, _ := s.Screen(ctx, again, nil); len(sup) != 0 {
		t.Fatalf("deleted suppression applied: %+v", sup)
	}
}
