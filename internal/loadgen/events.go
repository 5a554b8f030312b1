package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

var images = []struct{ image, cmd, parent string }{
	{"/usr/bin/git", "git status --porcelain", "/usr/bin/bash"},
	{"/usr/bin/ls", "ls -la /home/dev/src", "/usr/bin/bash"},
	{"/usr/lib/firefox/firefox", "/usr/lib/firefox/firefox -contentproc -childID 12 -isForBrowser", "/usr/lib/firefox/firefox"},
	{"/usr/bin/python3", "python3 -m pytest tests/ -q", "/usr/bin/bash"},
	{"/usr/local/go/bin/go", "go build ./...", "/usr/bin/bash"},
	{"/usr/bin/ssh", "ssh -o BatchMode=yes git@github.com git-upload-pack 'org/repo.git'", "/usr/bin/git"},
	{"/usr/bin/code", "/usr/share/code/code --type=renderer --enable-crash-reporter", "/usr/share/code/code"},
	{"/usr/bin/curl", "curl -fsSL https://example.com/install.sh", "/usr/bin/bash"},
}

var files = []string{"/home/dev/src/app/main.go", "/home/dev/src/app/README.md", "/home/dev/.cache/go-build/ab/cdef", "/tmp/pytest-of-dev/pytest-3/test0/out.json"}

// SampleBatch returns a batch of n realistic events (and a finding per findingEvery events;
// 0: none), for benchmarks.
func SampleBatch(n, findingEvery int, seed uint64) wire.Batch {
	a := &agent{cfg: &Config{FindingEvery: findingEvery}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if findingEvery == 0 {
		a.cfg.FindingEvery = -1
	}
	var b wire.Batch
	a.gather(&b, n)
	return b
}

// gather adds n realistic events to the batch, and a finding per FindingEvery events.
func (a *agent) gather(b *wire.Batch, n int) {
	now := time.Now().UTC()
	for range n {
		a.pid++
		var e *event.Event
		switch r := a.rng.IntN(10); {
		case r < 6:
			im := images[a.rng.IntN(len(images))]
			e = event.New(event.ProcessCreation, map[string]any{"Image": im.image, "CommandLine": im.cmd, "ParentImage": im.parent,
				"User": "dev", "ProcessId": 10000 + a.pid, "ParentProcessId": 9000 + a.rng.IntN(500), "CurrentDirectory": "/home/dev/src/app",
				"Hashes": fmt.Sprintf("SHA256=%064x", a.rng.Uint64())})
		case r < 8:
			e = event.New(event.NetworkConnection, map[string]any{"Image": "/usr/lib/firefox/firefox", "ProcessId": 4242, "User": "dev",
				"Protocol": "tcp", "Initiated": true, "SourceIp": "192.168.1.23", "SourcePort": 40000 + a.rng.IntN(20000),
				"DestinationIp": fmt.Sprintf("140.82.%d.%d", a.rng.IntN(256), a.rng.IntN(256)), "DestinationPort": 443, "DestinationHostname": "github.com"})
		default:
			e = event.New(event.FileEvent, map[string]any{"TargetFilename": files[a.rng.IntN(len(files))], "Image": "/usr/bin/code",
				"ProcessId": 5151, "User": "dev", "Action": "write", "Size": a.rng.IntN(1 << 20)})
		}
		e.Product = event.Linux
		e.Time = now
		b.Events = append(b.Events, *e)
		if a.cfg.FindingEvery > 0 && a.rng.IntN(a.cfg.FindingEvery) == 0 {
			b.Findings = append(b.Findings, wire.Finding{ID: event.NewID(), RuleID: "remote_access_anydesk_process_linux",
				RuleName: "remote_access_anydesk_process_linux", Title: "AnyDesk Started", Level: "high", Author: "Vigil project",
				Tags: []string{"attack.command-and-control", "attack.t1219.002"}, Time: now, EventIDs: []string{e.ID}})
		}
	}
}

// inventory is the first batch: the host's inventory snapshot (its own home network).
func (a *agent) inventory() wire.Batch {
	now := time.Now().UTC()
	mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", a.i>>24&0xff, a.i>>16&0xff, a.i>>8&0xff, a.i&0xff, a.rng.IntN(256))
	return wire.Batch{Inventory: []wire.Inventory{
		{ID: event.NewID(), Kind: wire.InventoryHost, Time: now, Items: []map[string]any{{
			"Hostname": fmt.Sprintf("%s-%06d", a.cfg.MachinePrefix, a.i), "OsFamily": "linux", "OsVersion": "Debian 12",
			"Timezone": "America/Chicago", "Locale": "en_US.UTF-8", "KeyboardLayouts": []string{"us"},
			"DefaultGatewayIp": "192.168.1.1", "DefaultGatewayMac": mac, "LoggedInUsers": []string{"dev"}}}},
		{ID: event.NewID(), Kind: wire.InventoryUSB, Time: now, Items: []map[string]any{
			{"VendorId": "1d6b", "ProductId": "0003", "Manufacturer": "Linux Foundation", "Product": "3.0 root hub", "DeviceClass": "09"},
			{"VendorId": "046d", "ProductId": "c52b", "Manufacturer": "Logitech", "Product": "USB Receiver", "DeviceClass": "00"}}},
	}}
}
