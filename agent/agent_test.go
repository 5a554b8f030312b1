package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

const localRule = `title: Test tool started
id: 0c000000-0000-4000-8000-000000000001
level: high
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: /vigil-test-tool}
  condition: sel
`

// logBuffer collects the agent's log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type testAgent struct {
	a    *agent
	src  *chanSource
	logs *logBuffer
	stop func()
	done chan error
}

// startAgent runs an agent against srv with a test-fed collector; mod adjusts its config.
func startAgent(t *testing.T, srv *fakeServer, state string, mod func(*Config)) *testAgent {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "local.yml")
	if err := os.WriteFile(rules, []byte(localRule), 0o600); err != nil {
		t.Fatal(err)
	}
	src, logs := newChanSource(), &logBuffer{}
	cfg := Config{
		ServerURL: srv.srv.URL, EnrollSecret: srv.secret, StateDir: state, Rules: []string{rules},
		Sources: src, Hostname: "laptop-42", DisableLimits: true,
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}), tick: 50 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.retryMin, a.retryMax = 20*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{a: a, src: src, logs: logs, done: make(chan error, 1)}
	go func() { ta.done <- a.run(ctx) }()
	var once sync.Once
	ta.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-ta.done:
				if err != nil {
					t.Errorf("agent run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("agent did not stop within 30 s")
			}
		})
	}
	t.Cleanup(ta.stop)
	return ta
}

func toolStart(i int) *event.Event {
	return event.New(event.ProcessCreation, map[string]any{"Image": "/opt/x/vigil-test-tool", "CommandLine": fmt.Sprintf("vigil-test-tool %d", i), "ProcessId": 1000 + i})
}

func TestEnrollAndFindingLeavesAtOnce(t *testing.T) {
	srv := newFakeServer(t)
	state := t.TempDir()
	ta := startAgent(t, srv, state, nil)
	start := time.Now()
	ta.src.ch <- toolStart(1)
	waitFor(t, "the finding at the server", func() bool { return len(srv.findingsOf("Test tool started")) == 1 })
	t.Logf("event -> finding stored: %v", time.Since(start))
	fd := srv.findingsOf("Test tool started")[0]
	srv.mu.Lock()
	ev, ok := srv.events[fd.EventIDs[0]]
	srv.mu.Unlock()
	if !ok || ev.Fields["CommandLine"] != "vigil-test-tool 1" || ev.Host != "laptop-42" {
		t.Fatalf("evidence event at the server: %v %+v", ok, ev)
	}
	// The token is private to the agent.
	info, err := os.Stat(filepath.Join(state, tokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info.Mode(), err)
	}
	if d, _ := os.Stat(state); d.Mode().Perm() != 0o700 {
		t.Fatalf("state folder mode %v", d.Mode())
	}
	ta.stop()
	st, err := ReadStatus(state)
	if err != nil || !st.Enrolled || st.AgentID == "" {
		t.Fatalf("status %+v %v", st, err)
	}
	// A restart reuses the enrollment.
	ta2 := startAgent(t, srv, state, func(c *Config) { c.EnrollSecret = "" })
	ta2.src.ch <- toolStart(2)
	waitFor(t, "the second finding", func() bool { return len(srv.findingsOf("Test tool started")) == 2 })
	if srv.enrolls != 1 {
		t.Fatalf("%d enrollments, want 1", srv.enrolls)
	}
}

func TestHeartbeatCarriesHealth(t *testing.T) {
	srv := newFakeServer(t)
	srv.interval = 1 // below the protocol's minimum: the agent uses the minimum
	ta := startAgent(t, srv, t.TempDir(), nil)
	ta.src.ch <- toolStart(1)
	waitFor(t, "a finding", func() bool { return len(srv.findingsOf("Test tool started")) == 1 })
	if got := time.Duration(ta.a.checkinEvery.Load()); got != wire.MinCheckinInterval {
		t.Fatalf("check-in interval %v, want the protocol minimum %v", got, wire.MinCheckinInterval)
	}
	h := srv.lastHealth()
	if h.AgentVersion == "" || h.StartedAt.IsZero() {
		t.Fatalf("health %+v", h)
	}
}

// A refused token makes the agent enroll again and carry on.
func TestReenrollAfterUnauthorized(t *testing.T) {
	srv := newFakeServer(t)
	ta := startAgent(t, srv, t.TempDir(), nil)
	ta.src.ch <- toolStart(1)
	waitFor(t, "a finding", func() bool { return len(srv.findingsOf("Test tool started")) == 1 })
	srv.mu.Lock()
	clear(srv.tokens) // the server forgot the agent
	srv.mu.Unlock()
	ta.src.ch <- toolStart(2)
	waitFor(t, "the finding after re-enrolling", func() bool { return len(srv.findingsOf("Test tool started")) == 2 })
	if srv.enrolls != 2 {
		t.Fatalf("%d enrollments", srv.enrolls)
	}
}

// The server down while the agent keeps queuing, then back: every item arrives exactly once.
func TestServerDownThenBack(t *testing.T) {
	srv := newFakeServer(t)
	ta := startAgent(t, srv, t.TempDir(), nil)
	ta.src.ch <- toolStart(0)
	waitFor(t, "first finding", func() bool { return len(srv.findingsOf("Test tool started")) == 1 })
	srv.down.Store(true)
	const n = 300
	for i := 1; i <= n; i++ {
		ta.src.ch <- toolStart(i)
	}
	waitFor(t, "the items queued and a send refused", func() bool { return ta.a.q.Stats().Items >= 2*n && srv.refusals.Load() > 0 })
	if got := len(srv.findingsOf("Test tool started")); got != 1 {
		t.Fatalf("%d findings stored while down", got)
	}
	srv.down.Store(false)
	waitFor(t, "every finding after the outage", func() bool { return len(srv.findingsOf("Test tool started")) == n+1 })
	waitFor(t, "the queue drained", func() bool { return ta.a.q.Stats().Items == 0 })
	_, findings, _, dupes := srv.counts()
	if findings != n+1 || dupes != 0 {
		t.Fatalf("%d findings, %d duplicates", findings, dupes)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(ta.logs.String(), "\n") {
				if !strings.Contains(l, "[DEBUG]") {
					t.Log(l)
				}
			}
		}
	})
	waitFor(t, "the recovery log line", func() bool { return strings.Contains(ta.logs.String(), "server reachable again") })
}

// A full queue drops the oldest items and the server is told how many.
func TestFullQueueDropsOldestAndSaysSo(t *testing.T) {
	srv := newFakeServer(t)
	ta := startAgent(t, srv, t.TempDir(), func(c *Config) { c.QueueMaxMB = 1 })
	ta.src.ch <- toolStart(0)
	waitFor(t, "first finding", func() bool { return len(srv.findingsOf("Test tool started")) == 1 })
	srv.down.Store(true)
	const n = 3000 // about 2 MB of findings and events: twice the cap
	for i := 1; i <= n; i++ {
		ta.src.ch <- toolStart(i)
	}
	waitFor(t, "drops", func() bool { return ta.a.q.Stats().Dropped > 0 })
	waitFor(t, "all processed", func() bool { return ta.a.pipe.Stats().Events == n+1 })
	time.Sleep(200 * time.Millisecond)
	dropped := ta.a.q.Stats().Dropped
	srv.down.Store(false)
	waitFor(t, "the queue drained", func() bool { return ta.a.q.Stats().Items == 0 })
	waitFor(t, "the drop count at the server", func() bool { return srv.lastHealth().QueueDropped == dropped })
	findings := srv.findingsOf("Test tool started")
	// What was dropped is the oldest: the findings delivered after the outage are those of the
	// newest starts, a contiguous run ending with the last one. (How many were lost depends on
	// how the queue writer grouped its commits; a loaded machine can group them so that only
	// evidence events go.)
	delivered := map[int]bool{}
	for _, f := range findings {
		srv.mu.Lock()
		ev, ok := srv.events[f.EventIDs[0]]
		srv.mu.Unlock()
		var i int
		if cl, _ := ev.Fields["CommandLine"].(string); ok && cl != "" {
			if _, err := fmt.Sscanf(cl, "vigil-test-tool %d", &i); err == nil {
				delivered[i] = true
			}
		}
	}
	if !delivered[n] {
		t.Fatalf("the newest finding was not delivered (%d of %d delivered, %d dropped)", len(findings), n+1, dropped)
	}
	oldest := n
	for oldest > 1 && delivered[oldest-1] {
		oldest--
	}
	for i := 1; i < oldest; i++ {
		if delivered[i] {
			t.Fatalf("finding %d delivered although the older %d..%d were dropped: the queue dropped newer items than it kept", i, i+1, oldest-1)
		}
	}
	t.Logf("%d of %d findings delivered, queue dropped %d items (reported to the server)", len(findings), n+1, dropped)
}

const bundleRule = `title: Bundle rule
id: 0d000000-0000-4000-8000-000000000001
level: medium
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: /bundle-tool}
  condition: sel
`

func bundleTool() *event.Event {
	return event.New(event.ProcessCreation, map[string]any{"Image": "/usr/bin/bundle-tool"})
}

// Bundles: applied without restart; a tampered one and one that does not compile are refused
// (Health.PolicyError) with the last good one in force; the last good one survives a restart.
func TestPolicyBundles(t *testing.T) {
	srv := newFakeServer(t)
	state := t.TempDir()
	srv.publish(1, map[string]string{"r.yml": bundleRule}, []string{"0c000000-0000-4000-8000-000000000001"}, nil)
	ta := startAgent(t, srv, state, nil)
	waitFor(t, "bundle 1 in force", func() bool { return ta.a.health().PolicyVersion == 1 })
	ta.src.ch <- bundleTool()
	ta.src.ch <- toolStart(1) // disabled by the bundle
	waitFor(t, "the bundle rule's finding", func() bool { return len(srv.findingsOf("Bundle rule")) == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.findingsOf("Test tool started")); n != 0 {
		t.Fatalf("a rule the bundle disables fired %d times", n)
	}

	// Tampered: a rule changed after signing.
	srv.publish(2, map[string]string{"r.yml": strings.Replace(bundleRule, "bundle-tool", "other-tool", 1)}, nil, func(b *wire.Bundle) {
		b.Rules[0].Content = strings.Replace(b.Rules[0].Content, "other-tool", "evil-tool", 1)
	})
	ta.src.ch <- bundleTool() // any answer brings the directives
	waitFor(t, "bundle 2 refused", func() bool { return strings.Contains(ta.a.health().PolicyError, "signature") })
	if v := ta.a.health().PolicyVersion; v != 1 {
		t.Fatalf("version in force %d after a tampered bundle", v)
	}
	waitFor(t, "the refusal at the server", func() bool { return strings.Contains(srv.lastHealth().PolicyError, "bundle version 2") })
	waitFor(t, "bundle 1 still matching", func() bool { return len(srv.findingsOf("Bundle rule")) == 2 })

	// Verifies but does not compile.
	srv.publish(3, map[string]string{"bad.yml": "title: Broken\nlogsource: {category: process_creation}\ndetection:\n  condition: nothing\n"}, nil, nil)
	ta.src.ch <- bundleTool()
	waitFor(t, "bundle 3 refused", func() bool {
		h := ta.a.health()
		return strings.Contains(h.PolicyError, "bundle version 3 does not compile") && strings.Contains(h.PolicyError, "bundle:bad.yml")
	})
	if v := ta.a.health().PolicyVersion; v != 1 {
		t.Fatalf("version in force %d after a broken bundle", v)
	}
	ta.stop()

	// After a restart the last good bundle is in force before the server is asked.
	srv.down.Store(true)
	ta2 := startAgent(t, srv, state, nil)
	if v := ta2.a.health().PolicyVersion; v != 1 {
		t.Fatalf("after restart: version %d in force, want the kept bundle 1", v)
	}
	ta2.src.ch <- bundleTool()
	waitFor(t, "a local finding queued", func() bool { return ta2.a.q.Stats().Items > 0 })
	srv.down.Store(false)
	waitFor(t, "the bundle rule after restart", func() bool { return len(srv.findingsOf("Bundle rule")) == 4 })

	// A good new bundle replaces it, without restart.
	srv.publish(4, map[string]string{"r.yml": strings.Replace(bundleRule, "Bundle rule", "Bundle rule v4", 1)}, nil, nil)
	ta2.src.ch <- toolStart(9) // disabled by bundle 1 until bundle 4; brings no answer
	ta2.src.ch <- bundleTool()
	waitFor(t, "bundle 4 in force", func() bool { return ta2.a.health().PolicyVersion == 4 && ta2.a.health().PolicyError == "" })
	ta2.src.ch <- bundleTool()
	waitFor(t, "the v4 rule's finding", func() bool { return len(srv.findingsOf("Bundle rule v4")) == 1 })
}

// Inventory snapshots and changes reach the server; the state at start travels only in
// snapshots.
func TestInventoryReachesServer(t *testing.T) {
	srv := newFakeServer(t)
	ta := startAgent(t, srv, t.TempDir(), nil)
	ta.src.ch <- event.New(event.USBDevice, map[string]any{"Action": "present", "Location": "1-1", "VendorId": "1d6b"})
	ta.src.ch <- event.New(event.USBDevice, map[string]any{"Action": "added", "Location": "1-2", "VendorId": "0781"})
	waitFor(t, "a usb snapshot with both devices", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for _, inv := range srv.inventory {
			if inv.Kind == wire.InventoryUSB && len(inv.Items) == 2 {
				return true
			}
		}
		return false
	})
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var actions []string
	for _, ev := range srv.events {
		actions = append(actions, ev.String("Action"))
	}
	if strings.Join(actions, ",") != "added" {
		t.Fatalf("events sent: %v, want only the change", actions)
	}
}
