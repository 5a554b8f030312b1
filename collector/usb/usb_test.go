package usb

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/shareddata"
)

func capture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shareddata.Dir(t, "ipkvm-watch", "_device_output"), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func snapshot(t *testing.T, s *Source) []*event.Event {
	t.Helper()
	var evs []*event.Event
	if err := s.Snapshot(context.Background(), func(e *collector.Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func byLocation(evs []*event.Event) map[string]*event.Event {
	m := map[string]*event.Event{}
	for _, e := range evs {
		m[e.String("Location")] = e
	}
	return m
}

// checkFields compares the listed fields; a nil want means the field must be absent.
func checkFields(t *testing.T, who string, e *event.Event, want map[string]any) {
	t.Helper()
	if e == nil {
		t.Errorf("%s: no event", who)
		return
	}
	for k, w := range want {
		got, ok := e.Fields[k]
		if w == nil {
			if ok {
				t.Errorf("%s: %s = %#v, want absent", who, k, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %s = %#v, want %#v", who, k, got, w)
		}
	}
}

var (
	cometWant = map[string]any{
		"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "GLKVM", "Product": "Composite KVM Device",
		"Serial": "CAFEBABE", "DeviceClass": "00", "Configuration": "Config 1: GLKVM device",
		"Interfaces":       []string{"e0/01/03", "0a/00/00", "03/01/01", "03/00/00", "08/06/50", "08/06/50"},
		"InterfaceClasses": []string{"rndis", "cdc-data", "hid-keyboard", "hid", "mass-storage"},
		"Action":           "present",
	}
	jetWant = map[string]any{
		"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "JetKVM", "Product": "USB Emulation Device",
		"Serial": nil, "DeviceClass": "00", "Configuration": "Config 1: HID",
		"Interfaces":       []string{"03/01/01", "03/00/02", "03/01/02", "08/06/50"},
		"InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "mass-storage"},
		"Action":           "present",
	}
)

func TestLsusbCapturesAsSysfs(t *testing.T) {
	root := t.TempDir()
	comet := parseLsusb(t, capture(t, "comet_lsusb"))
	jet := parseLsusb(t, capture(t, "jetkvm_lsusb"))
	if len(comet) != 1 || len(jet) != 1 {
		t.Fatalf("converter found %d comet and %d jetkvm devices", len(comet), len(jet))
	}
	writeSysfs(t, root, "usb1", rootHub(1, false))
	writeSysfs(t, root, "1-1", comet[0])
	writeSysfs(t, root, "usb7", rootHub(7, true))
	writeSysfs(t, root, "7-1", jet[0])
	writeSysfs(t, root, "7-2", logitechReceiver(7, 4))

	evs := snapshot(t, New(Config{SysfsRoot: root}))
	if len(evs) != 5 {
		t.Fatalf("got %d events, want 5 (2 root hubs, 3 devices; interfaces are not devices)", len(evs))
	}
	for _, e := range evs {
		if e.Category != event.USBDevice || e.Product != event.Linux || e.Host != "" || e.ID == "" {
			t.Errorf("envelope: %+v", e)
		}
	}
	m := byLocation(evs)
	checkFields(t, "comet", m["1-1"], cometWant)
	checkFields(t, "jetkvm", m["7-1"], jetWant)
	checkFields(t, "root hub usb1", m["usb1"], map[string]any{
		"VendorId": "1d6b", "ProductId": "0002", "DeviceClass": "09", "InterfaceClasses": []string{"hub"},
		"Interfaces": []string{"09/00/00"}, "Product": "xHCI Host Controller",
	})
	checkFields(t, "root hub usb7", m["usb7"], map[string]any{"VendorId": "1d6b", "ProductId": "0003", "DeviceClass": "09"})
	checkFields(t, "logitech", m["7-2"], map[string]any{
		"VendorId": "046d", "ProductId": "c52b", "Manufacturer": "Logitech", "Product": "USB Receiver", "DeviceClass": "00",
		"InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "hid"}, "Serial": nil,
	})
}

func TestSysfsOddEntries(t *testing.T) {
	root := t.TempDir()
	writeSysfs(t, root, "1-1", logitechReceiver(1, 2))
	links := filepath.Join(root, "bus", "usb", "devices")
	// A folder without idVendor, a dangling link and a bad idVendor are skipped, not fatal.
	if err := os.MkdirAll(filepath.Join(links, "2-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(links, "3-1")); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(links, "4-1")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "idVendor"), []byte("zzzz\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "idProduct"), []byte("0001\n"), 0o644)
	devs, err := ReadSysfs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Location != "1-1" {
		t.Fatalf("devices: %+v", devs)
	}
	if _, err := ReadSysfs(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing root: %v", err)
	}
}

func TestIoregCapture(t *testing.T) {
	dir := shareddata.Dir(t, "ipkvm-watch", "_device_output")
	evs := snapshot(t, New(Config{IoregFile: filepath.Join(dir, "mac_glkvm")}))
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	if evs[0].Product != event.MacOS {
		t.Errorf("product %q", evs[0].Product)
	}
	checkFields(t, "comet (ioreg)", evs[0], map[string]any{
		"VendorId": "1d6b", "ProductId": "0104", "Manufacturer": "GLKVM", "Product": "Composite KVM Device",
		"Serial": "CAFEBABE", "DeviceClass": "00", "Location": "0x00100000", "Configuration": nil,
		// UsbDeviceSignature lists each distinct interface kind once.
		"Interfaces":       []string{"e0/01/03", "0a/00/00", "03/01/01", "03/00/00", "08/06/50"},
		"InterfaceClasses": []string{"rndis", "cdc-data", "hid-keyboard", "hid", "mass-storage"},
	})
}

const ioServicePlane = `+-o Root  <class IORegistryEntry, id 0x100000100, retain 27>
  +-o XHC1@14000000  <class AppleUSBXHCI, id 0x100000200>
    +-o USB Receiver@14100000  <class IOUSBHostDevice, id 0x100000300>
    | {
    |   "idVendor" = 1133
    |   "idProduct" = 50475
    |   "USB Vendor Name" = "Logitech"
    |   "USB Product Name" = "USB Receiver"
    |   "bDeviceClass" = 0
    |   "locationID" = 336592896
    |   "UsbDeviceSignature" = <6d042bc5011203>
    | }
    | +-o IOUSBHostInterface@1  <class IOUSBHostInterface, id 0x100000302>
    | | {
    | |   "bInterfaceNumber" = 1
    | |   "bInterfaceClass" = 3
    | |   "bInterfaceSubClass" = 1
    | |   "bInterfaceProtocol" = 2
    | | }
    | +-o IOUSBHostInterface@0  <class IOUSBHostInterface, id 0x100000301>
    |   {
    |     "bInterfaceNumber" = 0
    |     "bInterfaceClass" = 3
    |     "bInterfaceSubClass" = 1
    |     "bInterfaceProtocol" = 1
    |   }
    +-o Bad IDs@14200000  <class IOUSBHostDevice, id 0x100000400>
      {
        "idVendor" = 70000
        "idProduct" = 1
      }
`

func TestIoregServicePlaneInterfaces(t *testing.T) {
	devs, err := DevicesFromIoreg([]byte(ioServicePlane))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("devices: %+v", devs)
	}
	f := devs[0].Fields("present")
	checkFields(t, "logitech (ioreg)", &event.Event{Fields: f}, map[string]any{
		"VendorId": "046d", "ProductId": "c52b", "Location": "0x14100000",
		"Interfaces": []string{"03/01/01", "03/01/02"}, "InterfaceClasses": []string{"hid-keyboard", "hid-mouse"},
	})
	if _, err := DevicesFromIoreg([]byte("+-o A  <class X, id 0x1>\n{\n")); err == nil {
		t.Error("truncated dump accepted")
	}
}

func TestSignatureMismatchIgnored(t *testing.T) {
	// Wrong VID, serial not where expected, or a length that is not whole triples: no guess.
	for _, sig := range [][]byte{
		{0x6c, 0x1d, 0x04, 0x01, 0, 1, 0, 0, 0, 3, 1, 1},
		{0x6b, 0x1d, 0x04, 0x01, 0, 1, 'X', 0, 0, 0, 3, 1, 1},
		{0x6b, 0x1d, 0x04, 0x01, 0, 1, 'S', 0, 0, 0, 3, 1},
	} {
		if got := signatureInterfaces(sig, 0x1d6b, 0x0104, "S"); got != nil {
			t.Errorf("signature %x gave %v", sig, got)
		}
	}
}

func TestPnputilCapture(t *testing.T) {
	text := capture(t, "comet_windows")
	nodes, err := ParsePnpText([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]PnpDevice{}
	for _, n := range nodes {
		ids[n.InstanceID] = n
	}
	if len(nodes) != 4 {
		t.Errorf("got %d nodes: %v", len(nodes), nodes)
	}
	stor := ids[`USBSTOR\CDROM&VEN_GLINET&PROD_FLASH_DRIVE&REV_1.00\A&24467633&0&CAFEBABE&0`]
	if stor.Description != "Glinet Flash Drive USB Device" || stor.ClassName != "CDROM" ||
		!reflect.DeepEqual(stor.CompatibleIDs, []string{`USBSTOR\CdRom`, `USBSTOR\RAW`, "GenCdRom"}) || len(stor.HardwareIDs) != 3 {
		t.Errorf("USBSTOR node: %+v", stor)
	}
	mi := ids[`USB\VID_1D6B&PID_0104&MI_04\9&9f4824e&0&0004`]
	if mi.Driver != "usbstor.inf" || mi.Description != "USB Mass Storage Device" {
		t.Errorf("MI_04 node: %+v", mi)
	}
	id, ok := ParseInstanceID(mi.InstanceID)
	if !ok || id.VendorID != "1d6b" || id.ProductID != "0104" || id.MI != 4 || id.Serial != "" || id.Enumerator != "USB" {
		t.Errorf("MI_04 id: %+v", id)
	}

	evs := snapshot(t, New(Config{WindowsDevicesFile: writeTemp(t, []byte(text))}))
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	if evs[0].Product != event.Windows {
		t.Errorf("product %q", evs[0].Product)
	}
	checkFields(t, "comet (pnputil)", evs[0], map[string]any{
		"VendorId": "1d6b", "ProductId": "0104", "Serial": "CAFEBABE", "Location": `USB\VID_1D6B&PID_0104\CAFEBABE`,
		"Description": "USB Composite Device", "DeviceClass": "00", "InterfaceClasses": []string{"mass-storage"},
		"Manufacturer": nil, "Product": nil,
	})

	// The same capture saved by PowerShell as UTF-16LE with a BOM parses the same.
	u16 := utf16le(text)
	nodes16, err := ParsePnpText(u16)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(nodes16, nodes) {
		t.Errorf("UTF-16 parse differs")
	}
}

func utf16le(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dump.txt")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pnputil /enum-devices /connected /ids /relations output for a JetKVM-like composite device,
// a Logitech receiver and a root hub (the shape pnputil prints; values written for the test).
const pnputilIDs = `Microsoft PnP Utility

Instance ID:                USB\VID_1D6B&PID_0104\5&2f3a1b2&0&3
Device Description:         USB Composite Device
Class Name:                 USB
Manufacturer Name:          (Standard USB Host Controller)
Status:                     Started
Driver Name:                usb.inf
Hardware IDs:               USB\VID_1D6B&PID_0104&REV_0100
                            USB\VID_1D6B&PID_0104
Compatible IDs:             USB\DevClass_00&SubClass_00&Prot_00
                            USB\DevClass_00&SubClass_00
                            USB\DevClass_00
                            USB\COMPOSITE

Instance ID:                USB\VID_1D6B&PID_0104&MI_00\6&1a2b3c&0&0000
Device Description:         USB Input Device
Driver Name:                input.inf
Parent:                     USB\VID_1D6B&PID_0104\5&2f3a1b2&0&3
Compatible IDs:             USB\Class_03&SubClass_01&Prot_01
                            USB\Class_03&SubClass_01
                            USB\Class_03

Instance ID:                USB\VID_1D6B&PID_0104&MI_01\6&1a2b3c&0&0001
Device Description:         USB Input Device
Parent:                     USB\VID_1D6B&PID_0104\5&2f3a1b2&0&3
Compatible IDs:             USB\Class_03&SubClass_00&Prot_02

Instance ID:                USB\VID_1D6B&PID_0104&MI_03\6&1a2b3c&0&0003
Device Description:         USB Mass Storage Device
Parent:                     USB\VID_1D6B&PID_0104\5&2f3a1b2&0&3
Compatible IDs:             USB\Class_08&SubClass_06&Prot_50

Instance ID:                USB\VID_046D&PID_C52B\5&2f3a1b2&0&4
Device Description:         USB Composite Device
Compatible IDs:             USB\COMPOSITE

Instance ID:                USB\VID_046D&PID_C52B&MI_02\6&aaa&0&0002
Compatible IDs:             USB\Class_03&SubClass_00&Prot_00

Instance ID:                USB\ROOT_HUB30\4&1c2d3e4f&0&0
Device Description:         USB Root Hub (USB 3.0)
Hardware IDs:               USB\ROOT_HUB30&VID8086&PID9D2F&REV0021
                            USB\ROOT_HUB30
`

func TestPnputilIDsAndRelations(t *testing.T) {
	nodes, err := ParsePnpText([]byte(pnputilIDs))
	if err != nil {
		t.Fatal(err)
	}
	devs := DevicesFromPnp(nodes)
	m := map[string]map[string]any{}
	for i := range devs {
		m[devs[i].VendorID+":"+devs[i].ProductID] = devs[i].Fields("present")
	}
	checkFields(t, "jetkvm (pnputil)", &event.Event{Fields: m["1d6b:0104"]}, map[string]any{
		"DeviceClass": "00", "Serial": nil, "Interfaces": []string{"03/01/01", "03/00/02", "08/06/50"},
		"InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "mass-storage"},
	})
	checkFields(t, "logitech (pnputil)", &event.Event{Fields: m["046d:c52b"]}, map[string]any{
		"DeviceClass": "00", "Interfaces": []string{"03/00/00"}, "InterfaceClasses": []string{"hid"},
	})
	checkFields(t, "root hub (pnputil)", &event.Event{Fields: m["8086:9d2f"]}, map[string]any{
		"DeviceClass": "09", "Location": `USB\ROOT_HUB30\4&1c2d3e4f&0&0`, "Description": "USB Root Hub (USB 3.0)",
	})
	if len(devs) != 3 {
		t.Errorf("got %d devices", len(devs))
	}
}

func TestPnpParseErrors(t *testing.T) {
	if _, err := ParsePnpText([]byte{0xff, 0xfe, 'a'}); err == nil {
		t.Error("odd-length UTF-16 accepted")
	}
	if _, err := ParsePnpText([]byte("Instance ID: " + strings.Repeat("x", 2<<20))); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("huge line: %v", err)
	}
	// Text that holds no device record is not pnputil output: an error, not "no devices".
	for _, text := range []string{"garbage\n\x00\xff\nInstance ID: nothing\n", "root:x:0:0:root:/root:/bin/bash\n", "Microsoft PnP Utility\n\n"} {
		if nodes, err := ParsePnpText([]byte(text)); err == nil || !strings.Contains(err.Error(), "not pnputil") {
			t.Errorf("%q: %v %v", text, nodes, err)
		}
	}
}

func TestClassName(t *testing.T) {
	cases := map[[3]uint8]string{
		{3, 1, 1}: "hid-keyboard", {3, 0, 2}: "hid-mouse", {3, 0, 0}: "hid", {8, 6, 0x50}: "mass-storage",
		{2, 6, 0}: "cdc-ecm", {2, 0x0d, 0}: "cdc-ncm", {2, 2, 1}: "cdc-acm", {2, 2, 0xff}: "rndis",
		{0xe0, 1, 3}: "rndis", {0xef, 4, 1}: "rndis", {0xe0, 1, 1}: "wireless", {0x0a, 0, 0}: "cdc-data",
		{1, 1, 0}: "audio", {0x0e, 1, 0}: "video", {7, 1, 2}: "printer", {9, 0, 0}: "hub",
		{0xff, 0xff, 0xff}: "vendor-specific", {0xdc, 1, 1}: "other", {2, 0x0c, 7}: "cdc-eem",
	}
	for c, want := range cases {
		if got := ClassName(c[0], c[1], c[2]); got != want {
			t.Errorf("ClassName(%02x/%02x/%02x) = %q, want %q", c[0], c[1], c[2], got, want)
		}
	}
}

// recorder collects events from Run.
type recorder struct {
	mu  sync.Mutex
	evs []*event.Event
	ch  chan *event.Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan *event.Event, 100)} }

func (r *recorder) emit(e *collector.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	r.ch <- e
}

func (r *recorder) next(t *testing.T) *event.Event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

func TestHotplugOnFixtureTree(t *testing.T) {
	root := t.TempDir()
	writeSysfs(t, root, "usb1", rootHub(1, false))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	src := New(Config{SysfsRoot: root, PollInterval: 20 * time.Millisecond, SettleDelay: 20 * time.Millisecond})
	done := make(chan error)
	go func() { done <- src.Run(ctx, rec.emit) }()

	if e := rec.next(t); e.String("Action") != "present" || e.String("Location") != "usb1" {
		t.Fatalf("first event: %v", e.Fields)
	}
	// Plug in: build the device away from bus/usb/devices and link it in at once, as the
	// kernel makes it appear.
	jet := parseLsusb(t, capture(t, "jetkvm_lsusb"))[0]
	jet.Bus = 1
	writeSysfs(t, root, "1-1", jet)
	e := rec.next(t)
	checkFields(t, "plugged jetkvm", e, map[string]any{"Action": "added", "Location": "1-1", "Manufacturer": "JetKVM",
		"InterfaceClasses": []string{"hid-keyboard", "hid-mouse", "mass-storage"}})

	// Unplug.
	links := filepath.Join(root, "bus", "usb", "devices")
	matches, _ := filepath.Glob(filepath.Join(links, "1-1*"))
	for _, m := range matches {
		os.Remove(m)
	}
	e = rec.next(t)
	checkFields(t, "unplugged jetkvm", e, map[string]any{"Action": "removed", "Location": "1-1", "VendorId": "1d6b", "Manufacturer": "JetKVM"})

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rec.evs) != 3 {
		t.Errorf("got %d events, want 3", len(rec.evs))
	}
}

// TestSettlingDevice checks that a device seen before all its interfaces exist is reported
// once, complete, and that a replug at the same location is a removal plus an addition.
func TestSettlingDevice(t *testing.T) {
	full := Device{Location: "1-1", VendorID: "1d6b", ProductID: "0104", token: "5",
		Interfaces: []Interface{{0, 3, 1, 1}, {1, 3, 0, 2}}}
	partial := full
	partial.Interfaces = full.Interfaces[:1]
	partial.incomplete = true
	replug := full
	replug.token = "6"
	steps := [][]Device{{}, {partial}, {partial}, {full}, {full}, {replug}}
	var mu sync.Mutex
	calls := 0
	src := New(Config{PollInterval: 10 * time.Millisecond, SettleDelay: 10 * time.Millisecond})
	src.Open = func() (*backend, error) {
		return &backend{Product: event.Linux, List: func(context.Context) ([]Device, error) {
			mu.Lock()
			defer mu.Unlock()
			d := steps[min(calls, len(steps)-1)]
			calls++
			return append([]Device(nil), d...), nil
		}}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	go src.Run(ctx, rec.emit)
	e := rec.next(t)
	checkFields(t, "settled", e, map[string]any{"Action": "added", "Interfaces": []string{"03/01/01", "03/00/02"}})
	e = rec.next(t)
	if e.String("Action") != "added" && e.String("Action") != "removed" {
		t.Fatalf("replug: %v", e.Fields)
	}
	e2 := rec.next(t)
	if a := e.String("Action") + "," + e2.String("Action"); a != "added,removed" && a != "removed,added" {
		t.Errorf("replug gave %s", a)
	}
}

func TestNaturalOrder(t *testing.T) {
	devs := []Device{{Location: "usb2"}, {Location: "1-10"}, {Location: "1-2"}, {Location: "1-1.2"}, {Location: "usb1"}, {Location: "1-1"}}
	sortDevices(devs)
	var got []string
	for _, d := range devs {
		got = append(got, d.Location)
	}
	want := []string{"1-1", "1-1.2", "1-2", "1-10", "usb1", "usb2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func BenchmarkSysfsPoll(b *testing.B) {
	root := b.TempDir()
	for bus := 1; bus <= 4; bus++ {
		writeSysfs(b, root, "usb"+string(rune('0'+bus)), rootHub(bus, bus%2 == 0))
		for port := 1; port <= 4; port++ {
			writeSysfs(b, root, string(rune('0'+bus))+"-"+string(rune('0'+port)), logitechReceiver(bus, port+1))
		}
	}
	r := newSysfsReader(root, nil)
	if _, err := r.List(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		devs, err := r.List()
		if err != nil || len(devs) != 20 {
			b.Fatal(len(devs), err)
		}
	}
}

func BenchmarkSysfsColdRead(b *testing.B) {
	root := b.TempDir()
	writeSysfs(b, root, "usb1", rootHub(1, false))
	for port := 1; port <= 9; port++ {
		writeSysfs(b, root, "1-"+string(rune('0'+port)), logitechReceiver(1, port+1))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if devs, err := ReadSysfs(root); err != nil || len(devs) != 10 {
			b.Fatal(err)
		}
	}
}

func FuzzParsePnpText(f *testing.F) {
	f.Add([]byte(pnputilIDs))
	f.Add(utf16le(pnputilIDs))
	f.Add([]byte("DeviceID : USB\\VID_1&PID_2\\x\n  continued\nCompatibleID : {USB\\Class_03&SubClass_01&Prot_01, ...}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := ParsePnpText(b)
		if err != nil {
			return
		}
		for _, d := range DevicesFromPnp(nodes) {
			d.Fields("present")
		}
	})
}

func FuzzDevicesFromIoreg(f *testing.F) {
	f.Add([]byte(ioServicePlane))
	f.Add([]byte("+-o D@1  <class IOUSBHostDevice, id 0x1>\n{\n\"idVendor\" = 7531\n\"idProduct\" = 260\n\"kUSBSerialNumberString\" = \"AB\"\n\"UsbDeviceSignature\" = <6b1d04010001414200000003010108065>\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := DevicesFromIoreg(b)
		if err != nil {
			return
		}
		for _, d := range devs {
			if len(d.VendorID) != 4 || len(d.ProductID) != 4 {
				t.Fatalf("bad IDs %q %q", d.VendorID, d.ProductID)
			}
			d.Fields("present")
		}
	})
}
