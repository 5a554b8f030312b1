package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/forward/outboxtest"
	"github.com/vigilhq/vigil/server/store"
)

// WorkbenchStore is a store with the workbench's additions.
type WorkbenchStore interface {
	store.Store
	store.Workbench
}

// RunWorkbench runs the workbench's conformance tests (triage, queue, sessions, settings and
// the forwarding outbox) against stores open returns, each test on a fresh one.
func RunWorkbench(t *testing.T, open func(t *testing.T) WorkbenchStore) {
	fresh := func(t *testing.T) WorkbenchStore {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, WorkbenchStore)
	}{
		{"Triage", testTriage},
		{"Suppressions", testSuppressions},
		{"Queue", testQueue},
		{"Stats", testStats},
		{"Sessions", testSessions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
	t.Run("Outbox", func(t *testing.T) {
		outboxtest.Run(t, func(t *testing.T) forward.Outbox { return fresh(t) })
	})
}

func ptr[T any](v T) *T { return &v }

func testTriage(t *testing.T, s WorkbenchStore) {
	a := enroll(t, s, "m-a", "a")
	_, err := s.WriteBatch(ctx, batch(a.ID, "t", 0, 3))
	must(t, err)
	at := t0().Add(time.Minute)
	states, err := s.ChangeFindings(ctx, []string{"t-f0000", "t-f0001", "nope"}, store.TriageChange{
		Status: ptr(store.StatusInvestigating), Assignee: ptr("bob"), Actor: "alice", Time: at})
	must(t, err)
	if len(states) != 2 || states[0].Status != store.StatusInvestigating || states[0].Assignee != "bob" ||
		states[0].UpdatedBy != "alice" || !states[0].UpdatedAt.Equal(at) {
		t.Fatalf("states after change: %+v", states)
	}
	// a status change leaves the assignee alone
	_, err = s.ChangeFindings(ctx, []string{"t-f0000"}, store.TriageChange{Status: ptr(store.StatusFalsePositive), Actor: "bob", Time: at})
	must(t, err)
	got, err := s.TriageStates(ctx, []string{"t-f0000", "t-f0002"})
	must(t, err)
	if got["t-f0000"].Status != store.StatusFalsePositive || got["t-f0000"].Assignee != "bob" || got["t-f0002"].Status != store.StatusNew ||
		got["t-f0002"].Assignee != "" {
		t.Fatalf("triage states: %+v", got)
	}
	if f, _ := s.Finding(ctx, "t-f0000"); f.Status != store.StatusFalsePositive {
		t.Fatalf("finding status %q after triage", f.Status)
	}
	c1, err := s.AddComment(ctx, store.Comment{FindingID: "t-f0000", Author: "bob", Time: at, Text: "benign: IT's own <tool>"})
	must(t, err)
	_, err = s.AddComment(ctx, store.Comment{FindingID: "t-f0000", Author: "alice", Time: at.Add(time.Second), Text: "agreed"})
	must(t, err)
	cs, err := s.Comments(ctx, "t-f0000")
	must(t, err)
	if len(cs) != 2 || cs[0].ID != c1.ID || cs[0].Text != "benign: IT's own <tool>" || cs[1].Author != "alice" || !cs[0].Time.Equal(at) {
		t.Fatalf("comments: %+v", cs)
	}
	if cs, _ := s.Comments(ctx, "t-f0001"); len(cs) != 0 {
		t.Fatalf("comments of another finding: %+v", cs)
	}
}

func testSuppressions(t *testing.T, s WorkbenchStore) {
	now := t0()
	mk := func(id string, expires time.Duration) store.Suppression {
		return store.Suppression{ID: id, Kind: store.SuppressRuleHost, RuleID: "r", HostID: "h", Reason: "expected", CreatedBy: "bob",
			CreatedAt: now.Add(time.Duration(len(id)) * time.Second), ExpiresAt: now.Add(expires)}
	}
	must(t, s.CreateSuppression(ctx, mk("s1", time.Hour)))
	must(t, s.CreateSuppression(ctx, mk("s22", -time.Minute))) // already expired
	f := store.Suppression{ID: "s333", Kind: store.SuppressField, Field: "Image", Value: "/opt/it/rmm", Reason: "IT tool",
		FindingID: "f1", CreatedBy: "alice", CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(48 * time.Hour)}
	must(t, s.CreateSuppression(ctx, f))
	if err := s.CreateSuppression(ctx, mk("s1", time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	active, err := s.ActiveSuppressions(ctx, now)
	must(t, err)
	if len(active) != 2 || active[0].ID != "s333" || active[1].ID != "s1" {
		t.Fatalf("active: %+v", active)
	}
	if a := active[0]; a.Field != "Image" || a.Value != "/opt/it/rmm" || a.FindingID != "f1" || !a.ExpiresAt.Equal(f.ExpiresAt) {
		t.Fatalf("field suppression read back: %+v", a)
	}
	must(t, s.CountSuppressionHits(ctx, "s1", 3))
	all, err := s.ListSuppressions(ctx)
	must(t, err)
	if len(all) != 3 || all[2].ID != "s1" || all[2].Hits != 3 {
		t.Fatalf("all: %+v", all)
	}
	must(t, s.DeleteSuppression(ctx, "s1"))
	if err := s.DeleteSuppression(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func testQueue(t *testing.T, s WorkbenchStore) {
	hosts := []store.Host{enroll(t, s, "m-a", "alpha-laptop"), enroll(t, s, "m-b", "beta-laptop"), enroll(t, s, "m-c", "gamma-desk")}
	// alpha: 8 findings up to high; beta: 3 up to critical; gamma: 2 low
	plan := []struct {
		host   int
		levels []string
	}{{0, []string{"low", "high", "medium", "low", "high", "low", "medium", "low"}}, {1, []string{"low", "critical", "medium"}}, {2, []string{"low", "low"}}}
	n := 0
	for _, p := range plan {
		var fs []store.Finding
		for i, lv := range p.levels {
			n++
			fs = append(fs, store.Finding{HostID: hosts[p.host].ID, ID: fmt.Sprintf("q-%d-%d", p.host, i), Source: store.SourceAgent,
				RuleID: fmt.Sprintf("rule-%d", i%2), Title: "T", Level: lv, Tags: []string{}, Time: t0().Add(time.Duration(n) * time.Minute),
				Received: t0(), EventIDs: []string{}})
		}
		_, err := s.WriteBatch(ctx, &store.Batch{HostID: hosts[p.host].ID, Findings: fs})
		must(t, err)
	}
	_, err := s.UpsertFleetFinding(ctx, store.Finding{ID: "farm-1", RuleID: "farm", Title: "Laptop farm", Level: "high",
		Hosts: []string{hosts[0].ID, hosts[2].ID}, Tags: []string{}, EventIDs: []string{}, Time: t0(), Received: t0()})
	must(t, err)
	_, err = s.ChangeFindings(ctx, []string{"q-0-1"}, store.TriageChange{Status: ptr(store.StatusResolved), Actor: "x", Time: t0()})
	must(t, err)

	pg, err := s.FindingQueue(ctx, store.QueueFilter{Statuses: []string{"new", "investigating"}, PerHost: 3})
	must(t, err)
	if pg.Findings != 13 || pg.More || len(pg.Groups) != 4 {
		t.Fatalf("queue totals: findings %d more %v groups %d, want 13, false, 4", pg.Findings, pg.More, len(pg.Groups))
	}
	var order []string
	for _, g := range pg.Groups {
		order = append(order, g.HostID+":"+g.Worst)
	}
	// worst first; among equals (alpha high, fleet high) the newest finding of that level first
	// (the fleet one)
	want := []string{hosts[1].ID + ":critical", ":high", hosts[0].ID + ":high", hosts[2].ID + ":low"}
	if !slices.Equal(order, want) {
		t.Fatalf("group order %v, want %v", order, want)
	}
	alpha := pg.Groups[2]
	if alpha.Hostname != "alpha-laptop" || alpha.OS != "linux" || alpha.Count != 7 || len(alpha.Findings) != 3 ||
		alpha.Findings[0].ID != "q-0-4" || alpha.Findings[0].Level != "high" || alpha.Findings[1].Level != "medium" {
		t.Fatalf("alpha group: %+v", alpha)
	}
	if pg.ByStatus["resolved"] != 1 || pg.ByStatus["new"] != 13 || pg.ByLevel["critical"] != 1 || pg.ByLevel["low"] != 7 {
		t.Fatalf("chips: by level %v by status %v", pg.ByLevel, pg.ByStatus)
	}
	// filters: level, host substring (a fleet finding naming the host counts), rule, paging
	pg, err = s.FindingQueue(ctx, store.QueueFilter{Levels: []string{"high", "critical"}, HostQuery: "ALPHA"})
	must(t, err)
	if pg.Findings != 3 || len(pg.Groups) != 2 || pg.Groups[0].HostID != "" || pg.ByLevel["low"] != 4 || pg.ByLevel["high"] != 3 {
		t.Fatalf("high+ on alpha: %d findings %d groups, by level %v", pg.Findings, len(pg.Groups), pg.ByLevel)
	}
	pg, err = s.FindingQueue(ctx, store.QueueFilter{RuleID: "rule-1", Hosts: 1, Offset: 1})
	must(t, err)
	if !pg.More || len(pg.Groups) != 1 || pg.Groups[0].HostID != hosts[0].ID || pg.Groups[0].Count != 4 || pg.Groups[0].Worst != "high" {
		t.Fatalf("rule-1, second page of one: more %v, %+v", pg.More, pg.Groups)
	}
	pg, err = s.FindingQueue(ctx, store.QueueFilter{Hosts: 10, Offset: 10})
	must(t, err)
	if len(pg.Groups) != 0 || pg.More || pg.Findings != 14 {
		t.Fatalf("past the end: %d groups, more %v, %d findings", len(pg.Groups), pg.More, pg.Findings)
	}
	_, err = s.ChangeFindings(ctx, []string{"q-2-0"}, store.TriageChange{Assignee: ptr("carol"), Actor: "x", Time: t0()})
	must(t, err)
	pg, err = s.FindingQueue(ctx, store.QueueFilter{Assignee: "carol", Since: t0().Add(time.Minute)})
	must(t, err)
	if pg.Findings != 1 || pg.Groups[0].Findings[0].Assignee != "carol" {
		t.Fatalf("assignee filter: %+v", pg)
	}
	if pg, err = s.FindingQueue(ctx, store.QueueFilter{Levels: []string{"informational"}}); err != nil || pg.Findings != 0 || len(pg.Groups) != 0 {
		t.Fatalf("nothing matches: %+v %v", pg, err)
	}
}

func testSessions(t *testing.T, s WorkbenchStore) {
	must(t, s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", Role: "analyst", CreatedAt: t0()}))
	now := t0()
	sess := store.Session{Hash: "h1", UserID: "u1", CSRF: "c1", Method: "password", Remote: "127.0.0.1", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), LastSeen: now}
	must(t, s.CreateSession(ctx, sess))
	must(t, s.CreateSession(ctx, store.Session{Hash: "h2", UserID: "u1", CSRF: "c2", Method: "oidc", CreatedAt: now, ExpiresAt: now.Add(time.Minute), LastSeen: now}))
	if err := s.CreateSession(ctx, sess); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate session: %v", err)
	}
	got, u, err := s.SessionByHash(ctx, "h1", now)
	must(t, err)
	if got.CSRF != "c1" || got.Method != "password" || got.Remote != "127.0.0.1" || !got.ExpiresAt.Equal(sess.ExpiresAt) || u.Username != "alice" || u.Role != "analyst" {
		t.Fatalf("session %+v user %+v", got, u)
	}
	if _, _, err := s.SessionByHash(ctx, "h1", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	must(t, s.TouchSession(ctx, "h1", now.Add(90*time.Minute), now.Add(3*time.Hour)))
	if got, _, err := s.SessionByHash(ctx, "h1", now.Add(2*time.Hour)); err != nil || !got.LastSeen.Equal(now.Add(90*time.Minute)) {
		t.Fatalf("touched session: %+v %v", got, err)
	}
	if n, err := s.PurgeSessions(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	must(t, s.DeleteSession(ctx, "h1"))
	if _, _, err := s.SessionByHash(ctx, "h1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	must(t, s.CreateSession(ctx, store.Session{Hash: "h3", UserID: "u1", CSRF: "c", Method: "password", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeen: now}))
	must(t, s.DeleteUserSessions(ctx, "u1"))
	if _, _, err := s.SessionByHash(ctx, "h3", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user's sessions deleted, h3: %v", err)
	}
}

func testStats(t *testing.T, s WorkbenchStore) {
	a, b := enroll(t, s, "m-a", "a"), enroll(t, s, "m-b", "b")
	now := time.Now().UTC()
	day := func(d int, level, rule string, i int) store.Finding {
		return store.Finding{ID: fmt.Sprintf("s-%d-%s-%d", d, level, i), Source: store.SourceAgent, RuleID: rule, Title: "Title " + rule,
			Level: level, Tags: []string{}, EventIDs: []string{}, Time: now.Add(-time.Duration(d) * 24 * time.Hour), Received: now}
	}
	var fa, fb []store.Finding
	for i := range 3 {
		fa = append(fa, day(0, "critical", "r-crit", i))
	}
	fa = append(fa, day(2, "low", "r-low", 0))
	fb = append(fb, day(1, "high", "r-high", 0), day(1, "high", "r-high", 1), day(20, "medium", "r-old", 0))
	for _, x := range []struct {
		h  store.Host
		fs []store.Finding
	}{{a, fa}, {b, fb}} {
		for i := range x.fs {
			x.fs[i].HostID = x.h.ID
		}
		_, err := s.WriteBatch(ctx, &store.Batch{HostID: x.h.ID, Findings: x.fs})
		must(t, err)
	}
	_, err := s.ChangeFindings(ctx, []string{"s-1-high-1"}, store.TriageChange{Status: ptr(store.StatusResolved), Actor: "x", Time: now})
	must(t, err)
	_, err = s.ChangeFindings(ctx, []string{"s-1-high-0"}, store.TriageChange{Status: ptr(store.StatusInvestigating), Actor: "x", Time: now})
	must(t, err)
	ov, err := s.Overview(ctx, now.Add(-13*24*time.Hour), now, 2)
	must(t, err)
	if len(ov.Days) != 14 {
		t.Fatalf("%d days, want 14", len(ov.Days))
	}
	last := ov.Days[13]
	if last.ByLevel["critical"] != 3 || ov.Days[12].ByLevel["high"] != 2 || ov.Days[11].ByLevel["low"] != 1 {
		t.Fatalf("by day: %+v / %+v / %+v", last, ov.Days[12], ov.Days[11])
	}
	if len(ov.TopRules) != 2 || ov.TopRules[0].RuleID != "r-crit" || ov.TopRules[0].Count != 3 || ov.TopRules[0].Title != "Title r-crit" || ov.TopRules[1].RuleID != "r-high" {
		t.Fatalf("top rules: %+v", ov.TopRules)
	}
	if ov.Open["critical"] != 3 || ov.Open["high"] != 1 || ov.New != 5 || ov.Investigating != 1 {
		t.Fatalf("open %v new %d investigating %d", ov.Open, ov.New, ov.Investigating)
	}
	// a: 3 critical (120, capped at 100) + 1 low; b: 1 high open (20) + 1 medium (8)
	if len(ov.AtRisk) != 2 || ov.AtRisk[0].HostID != a.ID || ov.AtRisk[0].Score != 100 || ov.AtRisk[0].Open != 4 ||
		ov.AtRisk[1].Score != 28 || ov.AtRisk[1].Open != 2 {
		t.Fatalf("at risk: %+v", ov.AtRisk)
	}
	risks, err := s.HostRisks(ctx, []string{b.ID, "nobody"})
	must(t, err)
	if len(risks) != 1 || risks[b.ID].Score != 28 {
		t.Fatalf("host risks: %+v", risks)
	}
}
