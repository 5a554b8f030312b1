package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
)

const rules = `title: VNC server started
id: 0a000000-0000-4000-8000-000000000001
name: vnc_start
level: high
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: /x11vnc}
  condition: sel
---
title: Archive created
id: 0a000000-0000-4000-8000-000000000002
name: archive_created
level: low
logsource: {category: file_event}
detection:
  sel: {TargetFilename|endswith: .zip}
  condition: sel
---
title: Many archives
id: 0a000000-0000-4000-8000-000000000003
level: medium
correlation:
  type: event_count
  rules: [archive_created]
  group-by: [host]
  timespan: 10m
  condition: {gte: 3}
---
title: Quiet USB
id: 0a000000-0000-4000-8000-000000000004
name: usb_added
level: informational
logsource: {category: usb_device}
detection:
  sel: {Action: added}
  condition: sel
---
title: Only one device in a while
id: 0a000000-0000-4000-8000-000000000005
level: low
correlation:
  type: event_count
  rules: [usb_added]
  group-by: [host]
  timespan: 1m
  condition: {lt: 2}
`

func ruleset(t *testing.T, text string) *policies.Ruleset {
	t.Helper()
	rs, problems := policies.ParseBytes("test.yml", []byte(text), policies.LoadOptions{})
	if errs, _ := policies.CountProblems(problems); errs > 0 {
		t.Fatalf("rules: %v", problems)
	}
	return rs
}

// recorder is a Sink keeping everything.
type recorder struct {
	mu        sync.Mutex
	events    []*event.Event
	findings  []*Finding
	inventory []*wire.Inventory
}

func (r *recorder) Event(ev *event.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}
func (r *recorder) Finding(f *Finding) {
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
}
func (r *recorder) Inventory(inv *wire.Inventory) {
	r.mu.Lock()
	r.inventory = append(r.inventory, inv)
	r.mu.Unlock()
}

func (r *recorder) titles() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.findings {
		out = append(out, f.Title)
	}
	return strings.Join(out, ",")
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newTest(t *testing.T, cfg Config) (*Pipeline, *recorder, *clock) {
	t.Helper()
	rec, clk := &recorder{}, &clock{now: t0}
	if cfg.Rules == nil {
		cfg.Rules = ruleset(t, rules)
	}
	cfg.Sink, cfg.Now, cfg.Host = rec, clk.Now, "laptop-42"
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, rec, clk
}

func ev(cat string, at time.Time, fields map[string]any) *event.Event {
	e := event.New(cat, fields)
	e.Time = at
	return e
}

func TestRuleFindingCarriesItsEvent(t *testing.T) {
	p, rec, _ := newTest(t, Config{})
	e := ev(event.ProcessCreation, t0, map[string]any{"Image": "/usr/bin/x11vnc"})
	e.Host = ""
	p.Process(e)
	if rec.titles() != "VNC server started" {
		t.Fatalf("findings %q", rec.titles())
	}
	f := rec.findings[0]
	if len(f.Evidence) != 1 || f.Evidence[0] != e || f.Host != "laptop-42" || e.Host != "laptop-42" {
		t.Fatalf("finding %+v evidence %v", f.Finding, f.Evidence)
	}
	if len(rec.events) != 1 {
		t.Fatalf("sink saw %d events", len(rec.events))
	}
	p.Process(ev(event.ProcessCreation, t0, map[string]any{"Image": "/usr/bin/ls"}))
	if st := p.Stats(); st.Events != 2 || st.Matched != 1 || st.Findings != 1 || st.EvidenceHeld != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A correlation over a silent rule carries the events of that rule's matches.
func TestCorrelationEvidence(t *testing.T) {
	p, rec, _ := newTest(t, Config{})
	var zips []*event.Event
	for i := range 3 {
		z := ev(event.FileEvent, t0.Add(time.Duration(i)*time.Second), map[string]any{"TargetFilename": fmt.Sprintf("/home/a/out%d.zip", i)})
		zips = append(zips, z)
		p.Process(z)
		// unrelated noise in between is not evidence
		p.Process(ev(event.FileEvent, t0.Add(time.Duration(i)*time.Second), map[string]any{"TargetFilename": "/home/a/notes.txt"}))
	}
	if rec.titles() != "Many archives" {
		t.Fatalf("findings %q", rec.titles())
	}
	f := rec.findings[0]
	if len(f.Evidence) != 3 {
		t.Fatalf("evidence %d events, want 3", len(f.Evidence))
	}
	for i, e := range f.Evidence {
		if e != zips[i] {
			t.Fatalf("evidence[%d] = %v", i, e.Fields)
		}
	}
	if st := p.Stats(); st.EvidenceHeld != 3 {
		t.Fatalf("held %d events, want only the 3 that matched", st.EvidenceHeld)
	}
}

func TestEvidenceBounded(t *testing.T) {
	p, rec, _ := newTest(t, Config{EvidenceEvents: 2})
	for i := range 3 {
		p.Process(ev(event.FileEvent, t0.Add(time.Duration(i)*time.Second), map[string]any{"TargetFilename": fmt.Sprintf("/x/%d.zip", i)}))
	}
	if len(rec.findings) != 1 {
		t.Fatalf("findings %q", rec.titles())
	}
	if ev := rec.findings[0].Evidence; len(ev) != 2 || ev[0].Fields["TargetFilename"] != "/x/1.zip" {
		t.Fatalf("evidence after eviction: %d events", len(ev))
	}
	if st := p.Stats(); st.EvidenceHeld != 2 || st.EvidenceEvicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The byte bound too.
	p2, _, _ := newTest(t, Config{EvidenceBytes: 1})
	p2.Process(ev(event.FileEvent, t0, map[string]any{"TargetFilename": "/x/a.zip"}))
	p2.Process(ev(event.FileEvent, t0, map[string]any{"TargetFilename": "/x/b.zip"}))
	if st := p2.Stats(); st.EvidenceHeld > 1 {
		t.Fatalf("byte bound: %d held", st.EvidenceHeld)
	}
}

// An event stamped in the future is clamped to now, so it cannot move the correlation clock; a
// zero time becomes now.
func TestFutureTimesClamped(t *testing.T) {
	p, _, clk := newTest(t, Config{})
	future := ev(event.FileEvent, t0.Add(24*time.Hour), map[string]any{"TargetFilename": "/x/a.zip"})
	p.Process(future)
	if !future.Time.Equal(clk.Now()) {
		t.Fatalf("future time kept: %v", future.Time)
	}
	near := ev(event.FileEvent, t0.Add(5*time.Second), map[string]any{"TargetFilename": "/x/b.txt"})
	p.Process(near)
	if !near.Time.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("time within the skew changed: %v", near.Time)
	}
	zero := ev(event.FileEvent, time.Time{}, map[string]any{"TargetFilename": "/x/c.txt"})
	p.Process(zero)
	if !zero.Time.Equal(clk.Now()) {
		t.Fatalf("zero time: %v", zero.Time)
	}
	if st := p.Stats(); st.Clamped != 1 {
		t.Fatalf("clamped %d", st.Clamped)
	}
}

// Tick advances the engine's clock: a window with an lt condition closes and fires with no
// further event.
func TestTickClosesWindows(t *testing.T) {
	p, rec, clk := newTest(t, Config{})
	p.Process(ev(event.USBDevice, t0, map[string]any{"Action": "added", "Location": "1-1", "VendorId": "1d6b"}))
	p.Tick()
	if strings.Contains(rec.titles(), "Only one device") {
		t.Fatal("closing window fired before it ended")
	}
	clk.add(61 * time.Second)
	p.Tick()
	if !strings.Contains(rec.titles(), "Only one device in a while") {
		t.Fatalf("findings after the window ended: %q", rec.titles())
	}
	f := rec.findings[len(rec.findings)-1]
	if len(f.Evidence) != 1 || f.Evidence[0].Fields["Location"] != "1-1" {
		t.Fatalf("closing-window evidence %v", f.Evidence)
	}
}

func TestInventorySnapshots(t *testing.T) {
	p, rec, clk := newTest(t, Config{InventoryQuiet: 2 * time.Second})
	usb := func(action, loc string) *event.Event {
		return ev(event.USBDevice, clk.Now(), map[string]any{"Action": action, "Location": loc, "VendorId": "1d6b", "ProductId": "0104"})
	}
	p.Process(usb("present", "1-1"))
	p.Process(usb("present", "1-2"))
	p.Process(ev(event.HostInventory, clk.Now(), map[string]any{"Hostname": "laptop-42", "Timezone": "Asia/Seoul"}))
	p.Tick()
	if len(rec.inventory) != 0 {
		t.Fatal("snapshot handed out before the kind went quiet")
	}
	clk.add(3 * time.Second)
	p.Tick()
	if len(rec.inventory) != 2 {
		t.Fatalf("%d snapshots, want host and usb", len(rec.inventory))
	}
	host, usbInv := rec.inventory[0], rec.inventory[1]
	if host.Kind != wire.InventoryHost || len(host.Items) != 1 || host.Items[0]["Timezone"] != "Asia/Seoul" {
		t.Fatalf("host snapshot %+v", host)
	}
	if usbInv.Kind != wire.InventoryUSB || len(usbInv.Items) != 2 || usbInv.Items[0]["Action"] != nil || usbInv.ID == "" {
		t.Fatalf("usb snapshot %+v", usbInv)
	}
	// No change, no snapshot.
	clk.add(10 * time.Second)
	p.Tick()
	if len(rec.inventory) != 2 {
		t.Fatalf("unchanged inventory re-sent")
	}
	// A removal and an addition in one burst make one snapshot.
	p.Process(usb("removed", "1-1"))
	p.Process(usb("added", "2-1"))
	clk.add(3 * time.Second)
	p.Tick()
	if len(rec.inventory) != 3 {
		t.Fatalf("%d snapshots after the burst", len(rec.inventory))
	}
	if items := rec.inventory[2].Items; len(items) != 2 || items[0]["Location"] != "1-2" || items[1]["Location"] != "2-1" {
		t.Fatalf("usb after change: %v", items)
	}
	// Media: unmounted removes.
	p.Process(ev(event.RemovableMedia, clk.Now(), map[string]any{"Action": "mounted", "MountPoint": "/media/a", "Device": "/dev/sdb1"}))
	p.Process(ev(event.RemovableMedia, clk.Now(), map[string]any{"Action": "unmounted", "MountPoint": "/media/a", "Device": "/dev/sdb1"}))
	p.Flush()
	last := rec.inventory[len(rec.inventory)-1]
	if last.Kind != wire.InventoryMedia || len(last.Items) != 0 {
		t.Fatalf("media after unmount: %+v", last)
	}
	n := len(rec.inventory)
	p.Resend()
	if len(rec.inventory) != n+3 {
		t.Fatalf("Resend handed out %d snapshots, want 3", len(rec.inventory)-n)
	}
}

func TestNeighborInventoryBounded(t *testing.T) {
	p, rec, _ := newTest(t, Config{})
	for i := range maxNeighbors + 10 {
		p.Process(ev(event.Neighbor, t0, map[string]any{"Action": "added", "Ip": fmt.Sprintf("10.0.%d.%d", i/256, i%256), "Mac": "aa:bb:cc:00:00:01"}))
	}
	p.Flush()
	if items := rec.inventory[0].Items; len(items) != maxNeighbors || items[0]["Ip"] != "10.0.0.10" {
		t.Fatalf("%d neighbours, first %v", len(items), items[0]["Ip"])
	}
}

func TestSetRules(t *testing.T) {
	p, rec, _ := newTest(t, Config{})
	if err := p.SetRules(ruleset(t, `title: ls
id: 0b000000-0000-4000-8000-000000000001
level: low
logsource: {category: process_creation}
detection:
  sel: {Image|endswith: /ls}
  condition: sel
`)); err != nil {
		t.Fatal(err)
	}
	p.Process(ev(event.ProcessCreation, t0, map[string]any{"Image": "/usr/bin/x11vnc"}))
	p.Process(ev(event.ProcessCreation, t0, map[string]any{"Image": "/usr/bin/ls"}))
	if rec.titles() != "ls" {
		t.Fatalf("after SetRules: %q", rec.titles())
	}
}

// feed is a Sources that emits its events, then waits for the end.
type feed struct{ events []*event.Event }

func (f *feed) Snapshot(ctx context.Context, emit collector.Emit) error {
	for _, e := range f.events {
		emit(e)
	}
	return nil
}

func (f *feed) Run(ctx context.Context, emit collector.Emit) error {
	_ = f.Snapshot(ctx, emit)
	<-ctx.Done()
	return nil
}

func TestRunTicks(t *testing.T) {
	rec := &recorder{}
	src := &feed{events: []*event.Event{event.New(event.USBDevice, map[string]any{"Action": "present", "Location": "1-1"})}}
	p, err := New(Config{Sources: src, Rules: ruleset(t, rules), Sink: rec, Tick: 10 * time.Millisecond, InventoryQuiet: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.inventory)
		rec.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no inventory handed out by the ticking Run")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Snapshot mode.
	rec2 := &recorder{}
	p2, _ := New(Config{Sources: src, Rules: ruleset(t, rules), Sink: rec2})
	if err := p2.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec2.events) != 1 || len(rec2.inventory) != 1 {
		t.Fatalf("snapshot: %d events, %d inventories", len(rec2.events), len(rec2.inventory))
	}
}
