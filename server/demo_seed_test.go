package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// seeded is what seedWorkbench stored.
type seeded struct {
	anydesk  string // finding id of AnyDesk on nk-laptop-07
	anyHost  string // its host id
	hosts    map[string]string
	agentTok map[string]string
}

// Built-in rules the seed's findings come from.
const (
	ruleAnyDesk   = "138e105a-88e3-469b-9820-eda109d00630" // AnyDesk Running on Windows
	ruleKVMUSB    = "d0148d70-8598-48e0-b28a-13ebbf4d1a33" // USB Device Shaped Like an IP-KVM
	ruleKVMEDID   = "6309a0cb-f2ce-41a7-ad08-26ef09944b2a" // IP-KVM Capture Device Presented as the Display
	ruleRATAndKVM = "192055ea-d0d9-49dd-beb0-ff34c0a1070a" // Remote-Access Tool and IP-KVM on the Same Host
	ruleArchives  = "6a60d3ae-2f0f-46ee-8545-be6a633833ff" // Many Archives Written in a Short Time
	ruleJiggler   = "de9451c1-6e22-4dac-b4b2-efe1b268105e" // Hardware Mouse Jiggler Plugged In
)

// seedWorkbench enrolls a small fleet through the agent API and sends what its agents would:
// a laptop driven over AnyDesk through a PiKVM, three machines behind one gateway (a laptop
// farm), a developer laptop staging archives, and a quiet one.
func seedWorkbench(t *testing.T, srv *Server, c *http.Client) seeded {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	s := seeded{hosts: map[string]string{}, agentTok: map[string]string{}}
	type host struct {
		name, os, mac string
		findings      []wire.Finding
		events        []event.Event
		usb, displays []map[string]any
		health        wire.Health
	}
	ev := func(id, cat string, at time.Time, fields map[string]any) event.Event {
		return event.Event{ID: id, Time: at, Category: cat, Product: "windows", Fields: fields}
	}
	fid := func() string { return event.NewID() }
	s.anydesk = fid()
	hosts := []host{
		{name: "nk-laptop-07", os: "windows", mac: "3c:22:fb:10:00:07",
			events: []event.Event{
				ev("e-any-1", event.ProcessCreation, now.Add(-50*time.Minute), map[string]any{"Image": `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`, "CommandLine": `"AnyDesk.exe" --control`, "OriginalFileName": "AnyDesk.exe", "User": `CORP\j.kim`, "ParentImage": `C:\Windows\explorer.exe`, "ProcessId": 7312}),
				ev("e-kvm-1", event.USBDevice, now.Add(-55*time.Minute), map[string]any{"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "PiKVM", "Product": "PiKVM Composite Device", "Serial": "CAFEBABE", "Action": "added", "InterfaceClasses": []any{"03", "08"}}),
				ev("e-edid-1", event.Display, now.Add(-55*time.Minute), map[string]any{"MonitorName": "PiKVM V4", "EdidManufacturer": "LNX", "EdidProduct": "0", "EdidSerial": "0", "Connector": "HDMI-1"}),
			},
			findings: []wire.Finding{
				{ID: s.anydesk, RuleID: ruleAnyDesk, RuleName: "remote_access_anydesk_process_windows", Title: "AnyDesk Running on Windows", Level: "high", Author: "Vigil project", Tags: []string{"attack.t1219"}, Time: now.Add(-50 * time.Minute), EventIDs: []string{"e-any-1"}},
				{ID: fid(), RuleID: ruleKVMUSB, Title: "USB Device Shaped Like an IP-KVM (Keyboard and Mouse Gadget With Storage or Network)", Level: "high", Author: "Vigil project", Time: now.Add(-55 * time.Minute), EventIDs: []string{"e-kvm-1"}},
				{ID: fid(), RuleID: ruleKVMEDID, Title: "IP-KVM Capture Device Presented as the Display (EDID Identity)", Level: "high", Author: "Vigil project", Time: now.Add(-55 * time.Minute), EventIDs: []string{"e-edid-1"}},
				{ID: fid(), RuleID: ruleRATAndKVM, Title: "Remote-Access Tool and IP-KVM on the Same Host", Level: "critical", Author: "Vigil project", Time: now.Add(-49 * time.Minute), EventIDs: []string{"e-any-1", "e-kvm-1"}, Correlation: "temporal"},
			},
			usb:      []map[string]any{{"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "PiKVM", "Product": "PiKVM Composite Device", "Serial": "CAFEBABE", "DeviceClass": "00"}, {"VendorId": "046d", "ProductId": "c52b", "Manufacturer": "Logitech", "Product": "USB Receiver"}},
			displays: []map[string]any{{"MonitorName": "PiKVM V4", "EdidManufacturer": "LNX", "EdidProduct": "0", "EdidSerial": "0", "Connector": "HDMI-1"}},
			health:   wire.Health{AgentVersion: "1.0.0", QueueItems: 12, QueueBytes: 40960, QueueDropped: 3, SelfLimited: 1, CPUPercent: 0.7, RSSBytes: 38 << 20}},
		{name: "dev-mbp-12", os: "macos", mac: "a4:83:e7:00:00:12",
			events: []event.Event{ev("e-zip-1", event.FileEvent, now.Add(-3*time.Hour), map[string]any{"TargetFilename": "/Users/sam/Desktop/src-backup.7z", "Size": 734003200, "ArchiveType": "7z", "Action": "created"})},
			findings: []wire.Finding{
				{ID: fid(), RuleID: ruleArchives, Title: "Many Archives Written in a Short Time", Level: "medium", Author: "Vigil project", Time: now.Add(-3 * time.Hour), EventIDs: []string{"e-zip-1"}, Count: 14, Correlation: "event_count"},
				{ID: fid(), RuleID: ruleJiggler, Title: "Hardware Mouse Jiggler Plugged In", Level: "medium", Author: "Vigil project", Time: now.Add(-26 * time.Hour)},
			},
			health: wire.Health{AgentVersion: "1.0.0", CPUPercent: 0.4, RSSBytes: 31 << 20}},
		{name: "farm-a-01", os: "linux", mac: "f0:9f:c2:aa:bb:01", health: wire.Health{AgentVersion: "1.0.0"}},
		{name: "farm-a-02", os: "linux", mac: "f0:9f:c2:aa:bb:01", health: wire.Health{AgentVersion: "1.0.0"},
			findings: []wire.Finding{{ID: fid(), RuleID: ruleAnyDesk, Title: "AnyDesk Running on Windows", Level: "high", Author: "Vigil project", Time: now.Add(-2 * time.Hour)}}},
		{name: "farm-a-03", os: "linux", mac: "f0:9f:c2:aa:bb:01", health: wire.Health{AgentVersion: "0.9.2"}},
		{name: "qa-desktop-3", os: "windows", mac: "00:1a:2b:00:00:03", health: wire.Health{AgentVersion: "1.0.0"}},
	}
	// a fortnight of already-triaged history on the quiet desktop, for the overview's chart
	history := []struct{ rule, title, level string }{{ruleJiggler, "Hardware Mouse Jiggler Plugged In", "medium"},
		{ruleArchives, "Many Archives Written in a Short Time", "medium"}, {ruleAnyDesk, "AnyDesk Running on Windows", "high"},
		{ruleKVMUSB, "USB Device Shaped Like an IP-KVM (Keyboard and Mouse Gadget With Storage or Network)", "high"}}
	for d := 1; d < 14; d++ {
		for i := range (d*7)%5 + 1 {
			hh := history[(d+i)%len(history)]
			level := hh.level
			if (d+i)%6 == 0 {
				level = "low"
			}
			hosts[5].findings = append(hosts[5].findings, wire.Finding{ID: fid(), RuleID: hh.rule, Title: hh.title, Level: level, Author: "Vigil project",
				Time: now.Add(-time.Duration(d)*24*time.Hour - time.Duration(i)*time.Hour)})
		}
	}
	for _, h := range hosts {
		r := do(t, c, "POST", srv.LocalURL()+wire.PathEnroll, "", wire.EnrollRequest{EnrollSecret: srv.EnrollSecret(),
			Host: wire.HostFacts{MachineID: "machine-" + h.name, Hostname: h.name, OS: h.os, OSVersion: "", AgentVersion: h.health.AgentVersion}})
		if r.status != 200 {
			t.Fatalf("enroll %s: %d %s", h.name, r.status, r.body)
		}
		var er wire.EnrollResponse
		r.decode(t, &er)
		s.hosts[h.name] = er.AgentID
		s.agentTok[h.name] = er.Token
		b := wire.Batch{Events: h.events, Findings: h.findings, Health: &h.health}
		b.Inventory = []wire.Inventory{{ID: event.NewID(), Kind: wire.InventoryHost, Time: now, Items: []map[string]any{{
			"Hostname": h.name, "OsFamily": h.os, "OsVersion": map[string]string{"windows": "Windows 11 23H2", "macos": "macOS 15.1", "linux": "Ubuntu 24.04"}[h.os],
			"Timezone": "America/Chicago", "Locale": "en_US", "DefaultGatewayIp": "192.168.1.1", "DefaultGatewayMac": h.mac,
			"Interfaces": []map[string]any{{"Name": "eth0", "Mac": "02:00:00:00:00:01", "Addresses": []string{"192.168.1.23/24"}}}, "LoggedInUsers": []string{"j.kim"}}}}}
		if h.usb != nil {
			b.Inventory = append(b.Inventory, wire.Inventory{ID: event.NewID(), Kind: wire.InventoryUSB, Time: now, Items: h.usb})
		}
		if h.displays != nil {
			b.Inventory = append(b.Inventory, wire.Inventory{ID: event.NewID(), Kind: wire.InventoryDisplay, Time: now, Items: h.displays})
		}
		if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, er.Token, b); r.status != 200 {
			t.Fatalf("batch of %s: %d %s", h.name, r.status, r.body)
		}
	}
	s.anyHost = s.hosts["nk-laptop-07"]
	var old []string
	for _, f := range hosts[5].findings {
		old = append(old, f.ID)
	}
	resolved := store.StatusResolved
	if _, err := srv.wb.wb.ChangeFindings(t.Context(), old, store.TriageChange{Status: &resolved, Actor: "seed", Time: now}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Ingest().Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Fleet().Run(t.Context()); err != nil || n == 0 {
		t.Fatalf("fleet pass: %d findings, %v (want the laptop farm)", n, err)
	}
	return s
}
