package main

// End-to-end tests of `vigil scan` with the built-in rule pack: real IP-KVM captures (lsusb -v,
// macOS ioreg, Windows pnputil, EDIDs) go through the real collectors, via fixture trees built by
// internal/fixtures, and must raise the IP-KVM findings; ordinary devices and a scripted developer
// workload must not raise anything above low.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/devworkload"
	"github.com/vigilhq/vigil/internal/fixtures"
	"github.com/vigilhq/vigil/internal/shareddata"
	"github.com/vigilhq/vigil/policies"
)

// e2eLine is one line of `vigil scan --json --events` output: an event or a finding.
type e2eLine struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// events
	Category string         `json:"category"`
	Product  string         `json:"product"`
	Fields   map[string]any `json:"fields"`
	// findings
	RuleName string   `json:"rule_name"`
	Title    string   `json:"title"`
	Level    string   `json:"level"`
	EventIDs []string `json:"event_ids"`
}

// e2eScan is a parsed `vigil scan --json --events` run.
type e2eScan struct {
	events   []*e2eLine
	byID     map[string]*e2eLine
	findings []*e2eLine
	stderr   string
}

func (r *e2eScan) ofCategory(cat string) []*e2eLine {
	var out []*e2eLine
	for _, ev := range r.events {
		if ev.Category == cat {
			out = append(out, ev)
		}
	}
	return out
}

// describe is a finding with its evidence, for failure messages.
func (r *e2eScan) describe(f *e2eLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) %q", f.RuleName, f.Level, f.Title)
	for _, id := range f.EventIDs {
		if ev := r.byID[id]; ev != nil {
			fj, _ := json.Marshal(ev.Fields)
			fmt.Fprintf(&b, "\n    evidence %s/%s %s", ev.Category, ev.Product, fj)
		} else {
			fmt.Fprintf(&b, "\n    evidence %s (not in the output)", id)
		}
	}
	return b.String()
}

// e2eRun runs the vigil command tree in-process with args, until it returns or ctx ends.
func e2eRun(ctx context.Context, stdout, stderr *e2eBuffer, args ...string) error {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// e2eScanJSON runs `vigil scan --json --events` with args and parses its output. A failing
// command, a line that is not JSON, or a warning on standard error (a source that failed) fails
// the test.
func e2eScanJSON(t *testing.T, args ...string) *e2eScan {
	t.Helper()
	var out, errOut e2eBuffer
	err := e2eRun(context.Background(), &out, &errOut, append([]string{"scan", "--json", "--events"}, args...)...)
	if err != nil {
		t.Fatalf("vigil scan %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	r := e2eParse(t, out.Bytes())
	r.stderr = errOut.String()
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("vigil scan %s wrote to standard error:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

func e2eParse(t *testing.T, out []byte) *e2eScan {
	t.Helper()
	r := &e2eScan{byID: map[string]*e2eLine{}}
	for i, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l e2eLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("output line %d is not JSON (%v): %s", i+1, err, line)
		}
		switch l.Kind {
		case "event":
			r.events = append(r.events, &l)
			r.byID[l.ID] = &l
		case "finding":
			r.findings = append(r.findings, &l)
		default:
			t.Fatalf("output line %d: kind %q: %s", i+1, l.Kind, line)
		}
	}
	return r
}

// e2eBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type e2eBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *e2eBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *e2eBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *e2eBuffer) String() string { return string(b.Bytes()) }

// e2eCheckFields reports the fields of ev that differ from want (a nil want: the field is absent).
func e2eCheckFields(t *testing.T, what string, ev *e2eLine, want map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := ev.Fields[k]
		switch w := want[k].(type) {
		case nil:
			if ok {
				t.Errorf("%s: %s = %#v, want it absent", what, k, got)
			}
		case []string:
			if fmt.Sprint(got) != fmt.Sprint(e2eAnySlice(w)) {
				t.Errorf("%s: %s = %v, want %v", what, k, got, w)
			}
		default:
			if !ok || got != w {
				t.Errorf("%s: %s = %#v, want %#v", what, k, got, w)
			}
		}
	}
}

func e2eAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// e2eExpectFindings checks that r has exactly the wanted findings (rule name -> level), each with
// one evidence event, and returns them by rule name. allowed names findings that may appear
// too (with that level).
func e2eExpectFindings(t *testing.T, r *e2eScan, want, allowed map[string]string) map[string]*e2eLine {
	t.Helper()
	got := map[string]*e2eLine{}
	for _, f := range r.findings {
		lvl, ok := want[f.RuleName]
		if !ok {
			lvl, ok = allowed[f.RuleName]
		}
		switch {
		case !ok:
			t.Errorf("unexpected finding %s", r.describe(f))
		case f.Level != lvl:
			t.Errorf("finding %s: level %s, want %s", r.describe(f), f.Level, lvl)
		case got[f.RuleName] != nil:
			t.Errorf("finding %s raised twice", r.describe(f))
		case len(f.EventIDs) != 1 || r.byID[f.EventIDs[0]] == nil:
			t.Errorf("finding %s: want one evidence event from this scan", r.describe(f))
		}
		got[f.RuleName] = f
	}
	for name := range want {
		if got[name] == nil {
			t.Errorf("no %s finding; findings: %d, events: %d", name, len(r.findings), len(r.events))
		}
	}
	return got
}

func e2eCapture(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(shareddata.Dir(t, "ipkvm-watch", "_device_output"), name)
}

func e2eRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// e2eSysfs builds a sysfs tree from an lsusb -v file and returns the scan arguments.
func e2eSysfs(path string) func(t *testing.T) []string {
	return func(t *testing.T) []string {
		root := t.TempDir()
		if _, err := fixtures.SysfsFromLsusb(root, e2eRead(t, path)); err != nil {
			t.Fatal(err)
		}
		return []string{"--sysfs-root", root}
	}
}

// TestScanIPKVMCaptures runs each real IP-KVM capture through the USB collector of its OS and
// the built-in pack: each must raise ipkvm_usb_identity (critical) on the capture's device.
func TestScanIPKVMCaptures(t *testing.T) {
	glkvm := map[string]any{"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "GLKVM", "Product": "Composite KVM Device",
		"Serial": "CAFEBABE", "DeviceClass": "00"}
	cases := []struct {
		name, product string
		args          func(t *testing.T) []string
		want          map[string]any
	}{
		{"comet lsusb (Linux sysfs)", "linux", func(t *testing.T) []string { return e2eSysfs(e2eCapture(t, "comet_lsusb"))(t) },
			e2eMerge(glkvm, map[string]any{"Location": "1-1", "Configuration": "Config 1: GLKVM device",
				"InterfaceClasses": []string{"rndis", "cdc-data", "hid-keyboard", "hid", "mass-storage"}})},
		{"jetkvm lsusb (Linux sysfs)", "linux", func(t *testing.T) []string { return e2eSysfs(e2eCapture(t, "jetkvm_lsusb"))(t) },
			map[string]any{"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "JetKVM", "Product": "USB Emulation Device",
				"Serial": nil, "Location": "7-1", "Configuration": "Config 1: HID",
				"InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "mass-storage"}}},
		{"comet ioreg (macOS)", "macos", func(t *testing.T) []string { return []string{"--ioreg-file", e2eCapture(t, "mac_glkvm")} },
			e2eMerge(glkvm, map[string]any{"Location": "0x00100000"})},
		// Windows gives no manufacturer string: the identity is the IDs and kvmd's serial.
		{"comet pnputil (Windows)", "windows", func(t *testing.T) []string {
			return []string{"--windows-devices-file", e2eCapture(t, "comet_windows")}
		}, map[string]any{"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": nil, "Serial": "CAFEBABE",
			"Location": `USB\VID_1D6B&PID_0104\CAFEBABE`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := e2eScanJSON(t, append([]string{"--only", "usb"}, c.args(t)...)...)
			usbEvents := r.ofCategory("usb_device")
			if len(usbEvents) != 1 || len(r.events) != 1 {
				t.Fatalf("want the capture's one usb_device event, got %d events (%d usb_device)", len(r.events), len(usbEvents))
			}
			ev := usbEvents[0]
			if ev.Product != c.product {
				t.Errorf("event product %q, want %q", ev.Product, c.product)
			}
			e2eCheckFields(t, "usb_device event", ev, c.want)
			got := e2eExpectFindings(t, r, map[string]string{"ipkvm_usb_identity": "critical"},
				map[string]string{"ipkvm_usb_gadget_shape": "high"})
			for name, f := range got {
				if len(f.EventIDs) == 1 && f.EventIDs[0] != ev.ID {
					t.Errorf("%s: evidence %v, want the capture's event %s", name, f.EventIDs, ev.ID)
				}
			}
		})
	}
}

func e2eMerge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestScanIPKVMReport checks the human-readable report and --fail-on for a real capture.
func TestScanIPKVMReport(t *testing.T) {
	args := e2eSysfs(e2eCapture(t, "comet_lsusb"))(t)
	var out, errOut e2eBuffer
	err := e2eRun(context.Background(), &out, &errOut, append([]string{"scan", "--only", "usb", "--fail-on", "high"}, args...)...)
	if ee, ok := err.(exitError); !ok || ee.code != 1 {
		t.Errorf("--fail-on high with a critical finding: error %v, want exit status 1\n%s", err, errOut.String())
	}
	report := out.String()
	for _, want := range []string{
		"USB devices (1)\n    1d6b:0104  GLKVM Composite KVM Device  [rndis, cdc-data, hid-keyboard, hid, mass-storage]",
		"CRITICAL (1)\n    IP-KVM Identified by Its USB Identity\n      rule adf6bc07-db99-4780-b16a-e1cdb8899fd3 by Vigil project",
		"evidence: usb_device: 1d6b:0104  GLKVM  Composite KVM Device  serial CAFEBABE",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// e2eKVMEDIDs are the shared corpus's EDIDs with their identity (../shared/testdata/edid/SOURCE.md).
var e2eKVMEDIDs = []struct {
	file, mfg, product, serial, name string
}{
	{"jetkvm_native_default.hex", "LNX", "0001", "00000001", "JetkVM HDMI"},
	{"pikvm_tc358743_1080p60.hex", "LNX", "8888", "88888800", "PiKVM"},
	{"tinypilot_pi4.hex", "TSB", "9876", "88888800", "TinyPilot"},
}

// TestScanIPKVMEDIDs puts each real IP-KVM EDID on a connected HDMI connector: the display
// collector and the built-in pack must raise ipkvm_display_edid (high). A Dell monitor's EDID
// raises nothing.
func TestScanIPKVMEDIDs(t *testing.T) {
	dir := shareddata.Dir(t, "edid")
	for _, k := range e2eKVMEDIDs {
		t.Run(k.file, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if err := fixtures.DRMFromEDIDHex(root, "HDMI-A-1", e2eRead(t, filepath.Join(dir, k.file))); err != nil {
				t.Fatal(err)
			}
			r := e2eScanJSON(t, "--only", "display", "--sysfs-root", root)
			if len(r.events) != 1 || r.events[0].Category != "display" {
				t.Fatalf("want one display event, got %d events", len(r.events))
			}
			ev := r.events[0]
			e2eCheckFields(t, "display event", ev, map[string]any{"Connector": "HDMI-A-1", "EdidValid": true, "EdidManufacturer": k.mfg,
				"EdidProduct": k.product, "EdidSerial": k.serial, "MonitorName": k.name, "PnpId": k.mfg + strings.ToUpper(k.product),
				"Action": "present"})
			f := e2eExpectFindings(t, r, map[string]string{"ipkvm_display_edid": "high"}, nil)["ipkvm_display_edid"]
			if f != nil && (len(f.EventIDs) != 1 || f.EventIDs[0] != ev.ID) {
				t.Errorf("evidence %v, want %s", f.EventIDs, ev.ID)
			}
		})
	}
	t.Run("Dell monitor", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		edid, err := fixtures.BuildEDID(fixtures.EDIDSpec{Manufacturer: "DEL", Product: 0xa0b3, Serial: 0x4c4c4d30, Week: 12, Year: 2021,
			MonitorName: "DELL U2720Q", SerialString: "7XJ3M23"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fixtures.WriteDRMConnector(root, "card0-DP-1", "connected", edid); err != nil {
			t.Fatal(err)
		}
		r := e2eScanJSON(t, "--only", "display", "--sysfs-root", root)
		if len(r.events) != 1 {
			t.Fatalf("want one display event, got %d", len(r.events))
		}
		e2eCheckFields(t, "display event", r.events[0], map[string]any{"Connector": "DP-1", "EdidValid": true, "EdidManufacturer": "DEL",
			"EdidProduct": "a0b3", "EdidSerial": "4c4c4d30", "MonitorName": "DELL U2720Q", "EdidSerialString": "7XJ3M23"})
		e2eExpectFindings(t, r, nil, nil)
	})
}

// TestScanOrdinaryUSB: a machine with only a root hub and a Logitech receiver raises nothing.
func TestScanOrdinaryUSB(t *testing.T) {
	args := e2eSysfs(filepath.Join("testdata", "lsusb_roothub_logitech.txt"))(t)
	r := e2eScanJSON(t, append([]string{"--only", "usb"}, args...)...)
	usbEvents := r.ofCategory("usb_device")
	if len(usbEvents) != 2 {
		t.Fatalf("want 2 usb_device events, got %d", len(usbEvents))
	}
	byLoc := map[string]*e2eLine{}
	for _, ev := range usbEvents {
		byLoc[fmt.Sprint(ev.Fields["Location"])] = ev
	}
	if ev := byLoc["usb1"]; ev == nil {
		t.Error("no root hub event at usb1")
	} else {
		e2eCheckFields(t, "root hub", ev, map[string]any{"VendorId": "1d6b", "ProductId": "0002", "DeviceClass": "09",
			"InterfaceClasses": []string{"hub"}, "Manufacturer": "Linux 6.1.0-28-amd64 xhci-hcd"})
	}
	if ev := byLoc["1-1"]; ev == nil {
		t.Error("no Logitech receiver event at 1-1")
	} else {
		e2eCheckFields(t, "Logitech receiver", ev, map[string]any{"VendorId": "046d", "ProductId": "c52b", "Manufacturer": "Logitech",
			"Product": "USB Receiver", "InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "hid"}})
	}
	e2eExpectFindings(t, r, nil, nil)
}

// TestScanIPKVMLaptop is a whole laptop in one scan: root hub, Logitech receiver, a GL.iNet
// Comet and a JetKVM on USB, a Dell monitor and a PiKVM capture on HDMI. Each KVM part raises
// its finding on its own event; the ordinary devices raise nothing.
func TestScanIPKVMLaptop(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{filepath.Join("testdata", "lsusb_roothub_logitech.txt"), e2eCapture(t, "comet_lsusb"), e2eCapture(t, "jetkvm_lsusb")} {
		if _, err := fixtures.SysfsFromLsusb(root, e2eRead(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	dell, err := fixtures.BuildEDID(fixtures.EDIDSpec{Manufacturer: "DEL", Product: 0xa0b3, Serial: 0x4c4c4d30, Week: 12, Year: 2021,
		MonitorName: "DELL U2720Q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixtures.WriteDRMConnector(root, "eDP-1", "connected", dell); err != nil {
		t.Fatal(err)
	}
	if err := fixtures.DRMFromEDIDHex(root, "HDMI-A-1", e2eRead(t, filepath.Join(shareddata.Dir(t, "edid"), "pikvm_tc358743_1080p60.hex"))); err != nil {
		t.Fatal(err)
	}
	r := e2eScanJSON(t, "--only", "usb,display", "--sysfs-root", root)
	if n := len(r.ofCategory("usb_device")); n != 4 {
		t.Errorf("%d usb_device events, want 4", n)
	}
	if n := len(r.ofCategory("display")); n != 2 {
		t.Errorf("%d display events, want 2", n)
	}
	// Which event each finding names, as "rule@location".
	var got []string
	for _, f := range r.findings {
		for _, id := range f.EventIDs {
			ev := r.byID[id]
			if ev == nil {
				t.Errorf("finding %s: evidence %s not in the output", f.RuleName, id)
				continue
			}
			loc := ev.Fields["Location"]
			if loc == nil {
				loc = ev.Fields["Connector"]
			}
			got = append(got, fmt.Sprintf("%s:%s@%v", f.RuleName, f.Level, loc))
		}
	}
	sort.Strings(got)
	want := []string{"ipkvm_display_edid:high@HDMI-A-1", "ipkvm_usb_gadget_shape:high@1-2", "ipkvm_usb_gadget_shape:high@7-1",
		"ipkvm_usb_identity:critical@1-2", "ipkvm_usb_identity:critical@7-1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("findings\n got %v\nwant %v", got, want)
	}
}

// benignWatch bounds how long the benign-workload test watches: the scan is stopped
// benignSettle after the workload ends (on a loaded machine its Go build alone can take 30 s),
// which leaves time for the last files to settle and the last sockets to be listed.
const (
	benignWatch  = 5 * time.Minute
	benignSettle = 8 * time.Second
)

// TestScanBenignDeveloperWorkload watches a home-like folder, the processes and the network
// with `vigil scan --watch` while a developer's day runs in that folder: git repositories
// created and cloned, a Go build, an npm install from a local package, a tarball of the build,
// a zip extracted with 7z, files written, renamed and deleted, ssh -V (internal/devworkload). None of it may raise a
// finding above low. Other processes on the machine (other tests) may raise findings; those
// are logged, not failed: a finding counts as the workload's when one of its events is a file
// event in the folder or comes from this test process or one of its descendants.
func TestScanBenignDeveloperWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test runs a developer workload under vigil scan --watch")
	}
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: elsewhere the process collector polls and misses the workload's short processes")
	}
	home := devworkload.HomeLikeDir(t)

	var out, errOut e2eBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- e2eRun(ctx, &out, &errOut, "scan", "--watch", benignWatch.String(), "--json", "--events",
			"--only", "process,imageload,netconn,files,media", "--files-root", home)
	}()
	waitWatching(t, &out, &errOut, home)

	w := devworkload.New(t, home)
	start := time.Now()
	w.Run()
	t.Logf("workload ran in %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(benignSettle)
	cancel() // the scan stops as on Ctrl-C: it reports what is pending and its findings

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("vigil scan --watch: %v\n%s", err, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("vigil scan --watch did not end within 60 s of its cancellation")
	}
	if s := strings.TrimSpace(errOut.String()); s != "" {
		t.Logf("vigil scan standard error:\n%s", s)
	}
	r := e2eParse(t, out.Bytes())
	mine := workloadEvents(r, home)

	// The workload must have been seen, or the absence of findings proves nothing.
	expectSeen(w, r, mine)

	counts := map[string]int{}
	for id := range mine {
		counts[r.byID[id].Category]++
	}
	t.Logf("%d events (%d from the workload: %v), %d findings", len(r.events), len(mine), counts, len(r.findings))
	foreign := map[string][]*e2eLine{}
	for _, f := range r.findings {
		ours := false
		for _, id := range f.EventIDs {
			ours = ours || mine[id]
		}
		switch {
		case ours && policies.LevelRank(f.Level) > policies.LevelRank("low"):
			t.Errorf("the benign workload raised %s", r.describe(f))
		case ours:
			t.Logf("workload finding at or below low (allowed): %s", r.describe(f))
		default:
			foreign[f.RuleName] = append(foreign[f.RuleName], f)
		}
	}
	names := make([]string, 0, len(foreign))
	for n := range foreign {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("%d finding(s) from other processes on this machine, not the workload's; the first: %s", len(foreign[n]), r.describe(foreign[n][0]))
	}
}

// waitWatching writes probe files in home until the scan reports one: then the file watcher
// is in place (the files collector reports a file once writes to it have settled).
func waitWatching(t *testing.T, out, errOut *e2eBuffer, home string) {
	t.Helper()
	probe := filepath.Join(home, "Documents", "ready")
	if err := os.MkdirAll(filepath.Dir(probe), 0o755); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if i%4 == 0 {
			if err := os.WriteFile(fmt.Sprintf("%s-%d.txt", probe, i/4), []byte("ready\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if bytes.Contains(out.Bytes(), []byte(`"TargetFilename":"`+probe)) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the scan did not report a probe file in %s within 30 s\n%s", home, errOut.String())
}

// expectSeen checks that the scan saw the workload: the tarball as a gz archive, a cloned file,
// and the steps' processes.
func expectSeen(w *devworkload.Workload, r *e2eScan, mine map[string]bool) {
	t := w.T
	t.Helper()
	var files, cmds []string
	for id := range mine {
		ev := r.byID[id]
		switch ev.Category {
		case "file_event":
			files = append(files, fmt.Sprint(ev.Fields["Action"], " ", ev.Fields["TargetFilename"], " ", ev.Fields["ArchiveType"]))
		case "process_creation":
			cmds = append(cmds, fmt.Sprint(ev.Fields["CommandLine"]))
		}
	}
	sort.Strings(files)
	sort.Strings(cmds)
	seenFile := func(what, needle string) {
		for _, f := range files {
			if strings.Contains(f, needle) {
				return
			}
		}
		t.Errorf("the scan did not report %s (%q); workload file events:\n  %s", what, needle, strings.Join(files, "\n  "))
	}
	seenCmd := func(needle string) {
		for _, c := range cmds {
			if strings.Contains(c, needle) {
				return
			}
		}
		t.Errorf("the scan did not report the workload's %q process; workload processes:\n  %s", needle, strings.Join(cmds, "\n  "))
	}
	seenFile("the renamed notes", w.Path("Documents", "notes.md"))
	for _, step := range w.Ran {
		switch step {
		case "git":
			seenCmd("git clone")
			seenFile("a cloned file", w.Path("work", "api"))
		case "go build":
			seenCmd("go build")
		case "tar":
			seenCmd("tar czf dist.tgz")
			seenFile("the tarball as a gz archive", w.Path("projects", "hello", "dist.tgz")+" gz")
		case "npm":
			seenCmd("npm install")
			seenFile("the packed npm package", w.Path("projects", "greet-lib", "greet-lib-1.0.0.tgz")+" gz")
		case "7z":
			seenCmd("7z x")
			seenFile("an extracted file", w.Path("Downloads", "specs-extracted"))
		case "go test":
			seenCmd("go test")
		case "ssh":
			seenCmd("ssh -V")
		}
	}
}

// workloadEvents returns the ids of the events the workload caused: file events in home, and
// process and network events of this test process and its descendants.
func workloadEvents(r *e2eScan, home string) map[string]bool {
	pids := map[string]bool{fmt.Sprint(os.Getpid()): true}
	for grew := true; grew; {
		grew = false
		for _, ev := range r.events {
			if ev.Category != "process_creation" {
				continue
			}
			pid, ppid := fmt.Sprint(ev.Fields["ProcessId"]), fmt.Sprint(ev.Fields["ParentProcessId"])
			if pids[ppid] && !pids[pid] {
				pids[pid] = true
				grew = true
			}
		}
	}
	mine := map[string]bool{}
	for _, ev := range r.events {
		switch ev.Category {
		case "file_event":
			if strings.HasPrefix(fmt.Sprint(ev.Fields["TargetFilename"]), home+string(filepath.Separator)) {
				mine[ev.ID] = true
			}
		case "process_creation", "process_termination", "network_connection":
			if pids[fmt.Sprint(ev.Fields["ProcessId"])] {
				mine[ev.ID] = true
			}
		}
	}
	return mine
}

// BenchmarkScanIPKVMCapture is one in-process `vigil scan --json --only usb` of the Comet's
// sysfs tree: loading the built-in pack, the USB collector's snapshot, evaluation, output.
func BenchmarkScanIPKVMCapture(b *testing.B) {
	root := b.TempDir()
	text, err := os.ReadFile(filepath.Join(shareddata.Dir(b, "ipkvm-watch", "_device_output"), "comet_lsusb"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fixtures.SysfsFromLsusb(root, text); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var out, errOut e2eBuffer
		if err := e2eRun(context.Background(), &out, &errOut, "scan", "--json", "--only", "usb", "--sysfs-root", root); err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(out.Bytes(), []byte(`"rule_name":"ipkvm_usb_identity"`)) {
			b.Fatalf("no finding:\n%s", out.String())
		}
	}
}
