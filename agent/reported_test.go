package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies"
)

// finding makes a finding of rule over evs (all held as evidence).
func finding(rule string, evs ...*event.Event) *pipeline.Finding {
	f := &pipeline.Finding{Finding: &policies.Finding{ID: event.NewID(), RuleID: rule}, Evidence: evs}
	for _, ev := range evs {
		f.EventIDs = append(f.EventIDs, ev.ID)
	}
	return f
}

func ev(category string, fields map[string]any) *event.Event { return event.New(category, fields) }

// restart reopens the memory from its file, as a new run of the agent would.
func restart(t *testing.T, path, boot string, now func() time.Time) *reported {
	t.Helper()
	return openReported(path, boot, hclog.NewNullLogger(), now)
}

// sent runs one finding through a memory the way the outbox does (committed at once) and tells
// whether it left.
func sent(r *reported, f *pipeline.Finding) bool {
	key, send := r.check(f, isStartupEvent)
	if send {
		r.record([]string{key})
		r.save()
	}
	return send
}

func TestReportedHoldsBackOnlyTheUnchangedStartupState(t *testing.T) {
	path := filepath.Join(t.TempDir(), reportedFile)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	proc := func(pid int, snapshot bool, parent string) *event.Event {
		f := map[string]any{"ProcessId": pid, "Image": "/usr/bin/x11vnc", "CommandLine": "x11vnc -forever", "ParentImage": parent}
		if snapshot {
			f["Snapshot"] = true
		}
		return ev(event.ProcessCreation, f)
	}
	sock := func(state string, snapshot bool) *event.Event {
		f := map[string]any{"Protocol": "tcp", "DestinationIp": "0.0.0.0", "DestinationPort": 5900, "ProcessId": 4242, "State": state}
		if snapshot {
			f["Snapshot"] = true
		}
		return ev(event.NetworkConnection, f)
	}
	usb := func(action string) *event.Event {
		return ev(event.USBDevice, map[string]any{"Action": action, "VendorId": "1d6b", "ProductId": "0104", "Serial": "PIKVM", "Location": "1-1"})
	}

	r := restart(t, path, "boot-1", clock)
	for i, c := range []struct {
		f    *pipeline.Finding
		want bool
	}{
		{finding("vnc", proc(4242, false, "/usr/bin/bash")), true}, // seen starting
		{finding("vnc-listen", sock("LISTEN", false)), true},
		{finding("kvm", usb("added")), true},
		{finding("vnc", proc(4242, false, "/usr/bin/bash")), true}, // a live event again: never held back
	} {
		if got := sent(r, c.f); got != c.want {
			t.Errorf("first run, finding %d: sent %v, want %v", i, got, c.want)
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("memory file: %v", err)
	}

	// The agent restarts: the same process (its parent gone meanwhile), listener and device are
	// found at start-up and held back; another process found at start-up is reported.
	now = now.Add(time.Hour)
	r = restart(t, path, "boot-1", clock)
	for i, c := range []struct {
		f    *pipeline.Finding
		want bool
	}{
		{finding("vnc", proc(4242, true, "/sbin/init")), false},
		{finding("vnc-listen", sock("LISTEN", true)), false},
		{finding("kvm", usb("present")), false},
		{finding("vnc", proc(5151, true, "/usr/bin/bash")), true}, // not reported before
		{finding("other-rule", proc(4242, true, "/sbin/init")), true},
		{finding("kvm", usb("added")), true}, // plugged in again while running
		{finding("vnc", proc(4242, false, "/usr/bin/bash")), true},
	} {
		if got := sent(r, c.f); got != c.want {
			t.Errorf("after a restart, finding %d: sent %v, want %v", i, got, c.want)
		}
	}

	// After a reboot the processes and sockets are new; the device is the same device.
	r = restart(t, path, "boot-2", clock)
	if !sent(r, finding("vnc", proc(4242, true, "/sbin/init"))) || !sent(r, finding("vnc-listen", sock("LISTEN", true))) {
		t.Error("a process or socket found after a reboot was held back")
	}
	if sent(r, finding("kvm", usb("present"))) {
		t.Error("the same device found after a reboot was reported again")
	}

	// Past the TTL an unchanged situation is reported once more at a restart.
	now = now.Add(reportedTTL)
	r = restart(t, path, "boot-2", clock)
	if !sent(r, finding("kvm", usb("present"))) {
		t.Error("a situation reported more than the TTL ago was held back")
	}
	if sent(r, finding("kvm", usb("present"))) {
		t.Error("the renewed report was not remembered")
	}
}

func TestReportedUnnamedAndHostInventory(t *testing.T) {
	path := filepath.Join(t.TempDir(), reportedFile)
	now := time.Now()
	r := restart(t, path, "b", func() time.Time { return now })
	// Evidence evicted: the finding cannot be named and always leaves.
	f := finding("corr", ev(event.ProcessCreation, map[string]any{"ProcessId": 1, "Snapshot": true}))
	f.EventIDs = append(f.EventIDs, "evicted")
	for range 2 {
		if !sent(r, f) {
			t.Error("a finding with evicted evidence was held back")
		}
	}
	// The host as found at start is held back after a restart when unchanged; the outbox says
	// which host_inventory event that is.
	host := func(tz string) *event.Event {
		return ev(event.HostInventory, map[string]any{"TimeZone": tz, "KeyboardLayouts": []string{"ru"}})
	}
	o := newOutbox(nil, hclog.NewNullLogger(), r)
	first := host("Asia/Pyongyang")
	o.Event(first)
	key, send := r.check(finding("tz", first), o.startup)
	if !send {
		t.Fatal("first report held back")
	}
	r.record([]string{key})
	r.save()
	r = restart(t, path, "b", func() time.Time { return now })
	o = newOutbox(nil, hclog.NewNullLogger(), r)
	again := host("Asia/Pyongyang")
	o.Event(again)
	if _, send := r.check(finding("tz", again), o.startup); send {
		t.Error("the unchanged host at start-up reported again")
	}
	changed := host("Europe/Moscow")
	o.Event(changed) // a later change: live
	if _, send := r.check(finding("tz", changed), o.startup); !send {
		t.Error("a change of the host held back")
	}
}

func TestReportedFileProblems(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, reportedFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	r := openReported(path, "b", hclog.New(&hclog.LoggerOptions{Output: &logs}), time.Now)
	if !strings.Contains(logs.String(), "unreadable; starting afresh") {
		t.Errorf("a damaged memory file was not reported: %q", logs.String())
	}
	p := ev(event.ProcessCreation, map[string]any{"ProcessId": 7, "Snapshot": true})
	if !sent(r, finding("x", p)) {
		t.Fatal("held back with an empty memory")
	}
	if sent(restart(t, path, "b", time.Now), finding("x", p)) {
		t.Error("the rewritten memory file was not read back")
	}
	// Bounded: the oldest keys go first.
	now := time.Now()
	r = restart(t, path, "b", func() time.Time { return now })
	for i := range reportedMax + 1 {
		now = now.Add(time.Millisecond)
		key, _ := r.check(finding("x", ev(event.ProcessCreation, map[string]any{"ProcessId": 100 + i, "Snapshot": true})), isStartupEvent)
		r.record([]string{key})
	}
	if n := len(r.keys); n > reportedMax {
		t.Fatalf("%d keys kept, want at most %d", n, reportedMax)
	}
	if sent(r, finding("x", ev(event.ProcessCreation, map[string]any{"ProcessId": 100 + reportedMax, "Snapshot": true}))) {
		t.Error("the newest key was evicted")
	}
	if !sent(r, finding("x", ev(event.ProcessCreation, map[string]any{"ProcessId": 100, "Snapshot": true}))) {
		t.Error("the oldest key was kept past the bound")
	}
}
