package display

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
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

// kvmEDIDs is the identity each shared EDID must decode to (testdata/edid/SOURCE.md).
var kvmEDIDs = []struct {
	file, mfr, product, serial, name string
}{
	{"tinypilot_pi4.hex", "TSB", "9876", "88888800", "TinyPilot"},
	{"jetkvm_native_default.hex", "LNX", "0001", "00000001", "JetkVM HDMI"},
	{"pikvm_tc358743_1080p60.hex", "LNX", "8888", "88888800", "PiKVM"},
}

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shareddata.Dir(t, "edid"), name))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return raw
}

func TestKVMEDIDs(t *testing.T) {
	for _, k := range kvmEDIDs {
		raw := readHex(t, k.file)
		e, err := ParseEDID(raw)
		if err != nil {
			t.Errorf("%s: %v", k.file, err)
			continue
		}
		got := []string{e.Manufacturer, fmt.Sprintf("%04x", e.Product), fmt.Sprintf("%08x", e.Serial), e.MonitorName}
		want := []string{k.mfr, k.product, k.serial, k.name}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", k.file, got, want)
		}
		if e.Extensions != 1 || len(raw) != 256 {
			t.Errorf("%s: %d extensions, %d bytes", k.file, e.Extensions, len(raw))
		}
		if e.PnpID() != k.mfr+strings.ToUpper(k.product) {
			t.Errorf("%s: PnpID %s", k.file, e.PnpID())
		}
	}
}

// dellEDID builds a normal monitor's base block: DEL, product 0xA0B3, serial 0x4C4C4D30,
// week 12 of 2021, name "DELL U2720Q", serial string "7XJ3M23", a correct checksum.
func dellEDID() []byte {
	b := make([]byte, 128)
	copy(b, edidHeader)
	code, _ := pnpCode("DEL")
	b[8], b[9] = byte(code>>8), byte(code)
	b[10], b[11] = 0xb3, 0xa0
	b[12], b[13], b[14], b[15] = 0x30, 0x4d, 0x4c, 0x4c
	b[16], b[17] = 12, 2021-1990
	b[18], b[19] = 1, 4
	// Descriptor 1: a detailed timing (3840x2160), left as its pixel clock only.
	b[54], b[55] = 0x08, 0xe8
	text := func(off int, tag byte, s string) {
		b[off+3] = tag
		f := []byte(s + "\n            ")[:13]
		copy(b[off+5:off+18], f)
	}
	text(72, 0xff, "7XJ3M23")
	text(90, 0xfc, "DELL U2720Q")
	text(108, 0xfd, "")
	var sum byte
	for _, c := range b[:127] {
		sum += c
	}
	b[127] = -sum
	return b
}

func TestDellEDID(t *testing.T) {
	e, err := ParseEDID(dellEDID())
	if err != nil {
		t.Fatal(err)
	}
	want := EDID{Manufacturer: "DEL", Product: 0xa0b3, Serial: 0x4c4c4d30, Week: 12, Year: 2021, Version: 1, Revision: 4,
		MonitorName: "DELL U2720Q", SerialString: "7XJ3M23"}
	if *e != want {
		t.Errorf("got %+v\nwant %+v", *e, want)
	}
	if e.PnpID() != "DELA0B3" {
		t.Errorf("PnpID %s", e.PnpID())
	}
}

func TestBrokenEDIDs(t *testing.T) {
	good := dellEDID()
	badSum := append([]byte(nil), good...)
	badSum[100] ^= 0x55
	badHeader := append([]byte(nil), good...)
	badHeader[3] = 0
	cases := []struct {
		name   string
		raw    []byte
		want   error
		fields bool
	}{
		{"empty", nil, ErrShort, false},
		{"short", good[:100], ErrShort, false},
		{"bad header", badHeader, ErrHeader, false},
		{"bad checksum", badSum, ErrChecksum, true},
	}
	for _, c := range cases {
		e, err := ParseEDID(c.raw)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
		if (e != nil) != c.fields {
			t.Errorf("%s: decoded %v", c.name, e)
		}
		d := FromEDID("HDMI-A-1", c.raw)
		f := d.Fields("present")
		if f["EdidValid"] != false || !strings.Contains(f["EdidError"].(string), "EDID") {
			t.Errorf("%s: fields %v", c.name, f)
		}
	}
	// Extension blocks, declared or not, do not matter.
	long := append(append([]byte(nil), good...), make([]byte, 300)...)
	if _, err := ParseEDID(long); err != nil {
		t.Errorf("EDID with trailing extension bytes: %v", err)
	}
}

func TestPnpLetters(t *testing.T) {
	for _, s := range []string{"LNX", "TSB", "DEL", "AAA", "ZZZ"} {
		c, ok := pnpCode(s)
		if !ok || pnpLetters(c) != s {
			t.Errorf("%s -> %04x -> %s", s, c, pnpLetters(c))
		}
	}
	if c, _ := pnpCode("LNX"); c != 0x31d8 {
		t.Errorf("LNX = %04x, want 31d8", c)
	}
	if pnpLetters(0) != "???" || pnpLetters(0x7fff) != "???" {
		t.Errorf("out-of-range letters: %q %q", pnpLetters(0), pnpLetters(0x7fff))
	}
}

// writeDRM lays out a connector as /sys/class/drm does.
func writeDRM(t testing.TB, root, name, status string, edid []byte) {
	t.Helper()
	dir := filepath.Join(root, "class", "drm", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "edid"), edid, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, s *Source) []*event.Event {
	t.Helper()
	var evs []*event.Event
	if err := s.Snapshot(context.Background(), func(e *collector.Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func byConnector(evs []*event.Event) map[string]*event.Event {
	m := map[string]*event.Event{}
	for _, e := range evs {
		m[e.String("Connector")] = e
	}
	return m
}

func TestDRMFixture(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "class", "drm", "card0"), 0o755)
	os.MkdirAll(filepath.Join(root, "class", "drm", "renderD128"), 0o755)
	conns := []string{"HDMI-A-1", "HDMI-A-2", "DP-1"}
	for i, k := range kvmEDIDs {
		writeDRM(t, root, "card0-"+conns[i], "connected", readHex(t, k.file))
	}
	writeDRM(t, root, "card1-eDP-1", "connected", dellEDID())
	writeDRM(t, root, "card1-DP-2", "disconnected", nil)
	bad := dellEDID()
	bad[127]++
	writeDRM(t, root, "card1-DP-3", "connected", bad)
	writeDRM(t, root, "card1-DP-4", "connected", nil)

	evs := snapshot(t, New(Config{SysfsRoot: root}))
	m := byConnector(evs)
	if len(evs) != 6 {
		t.Fatalf("got %d events: %v", len(evs), m)
	}
	for i, k := range kvmEDIDs {
		e := m[conns[i]]
		want := map[string]any{"EdidManufacturer": k.mfr, "EdidProduct": k.product, "EdidSerial": k.serial,
			"MonitorName": k.name, "EdidValid": true, "PnpId": k.mfr + strings.ToUpper(k.product), "Action": "present"}
		for f, w := range want {
			if e == nil || e.Fields[f] != w {
				t.Errorf("%s: %s = %v, want %v", k.file, f, e.Fields[f], w)
			}
		}
		if e.Product != event.Linux || e.Category != event.Display {
			t.Errorf("envelope %s/%s", e.Category, e.Product)
		}
	}
	dell := m["eDP-1"]
	if dell.Fields["MonitorName"] != "DELL U2720Q" || dell.Fields["EdidSerialString"] != "7XJ3M23" || dell.Fields["EdidWeek"] != 12 ||
		dell.Fields["EdidYear"] != 2021 || dell.Fields["PnpId"] != "DELA0B3" {
		t.Errorf("dell: %v", dell.Fields)
	}
	if f := m["DP-3"].Fields; f["EdidValid"] != false || !strings.Contains(f["EdidError"].(string), "checksum") || f["EdidManufacturer"] != "DEL" {
		t.Errorf("bad checksum connector: %v", f)
	}
	if f := m["DP-4"].Fields; f["EdidValid"] != false || f["EdidManufacturer"] != nil {
		t.Errorf("empty EDID connector: %v", f)
	}
	if _, err := ReadDRM(filepath.Join(root, "nope")); err == nil {
		t.Error("missing root accepted")
	}
}

func TestDRMHotplug(t *testing.T) {
	root := t.TempDir()
	writeDRM(t, root, "card0-eDP-1", "connected", dellEDID())
	writeDRM(t, root, "card0-HDMI-A-1", "disconnected", nil)
	var mu sync.Mutex
	ch := make(chan *event.Event, 10)
	src := New(Config{SysfsRoot: root, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- src.Run(ctx, func(e *collector.Event) { mu.Lock(); ch <- e; mu.Unlock() })
	}()
	next := func() *event.Event {
		select {
		case e := <-ch:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return nil
		}
	}
	if e := next(); e.String("Action") != "present" || e.String("Connector") != "eDP-1" {
		t.Fatalf("first: %v", e.Fields)
	}
	// The KVM's HDMI capture is plugged in.
	writeDRM(t, root, "card0-HDMI-A-1", "connected", readHex(t, "pikvm_tc358743_1080p60.hex"))
	if e := next(); e.String("Action") != "added" || e.String("MonitorName") != "PiKVM" {
		t.Fatalf("plug: %v", e.Fields)
	}
	writeDRM(t, root, "card0-HDMI-A-1", "disconnected", nil)
	if e := next(); e.String("Action") != "removed" || e.String("MonitorName") != "PiKVM" {
		t.Fatalf("unplug: %v", e.Fields)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// regExport writes a .reg export the way `reg export` does: UTF-16LE with BOM, CRLF, hex data
// wrapped with "\" continuations.
func regExport(keys map[string][][2]string) []byte {
	var b strings.Builder
	b.WriteString("Windows Registry Editor Version 5.00\r\n\r\n")
	for path, vals := range keys {
		b.WriteString("[" + path + "]\r\n")
		for _, v := range vals {
			b.WriteString(v[0] + "=" + v[1] + "\r\n")
		}
		b.WriteString("\r\n")
	}
	out := []byte{0xff, 0xfe}
	for _, r := range b.String() {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

func regHex(raw []byte) string {
	var b strings.Builder
	b.WriteString("hex:")
	for i, c := range raw {
		if i > 0 {
			b.WriteString(",")
			if i%25 == 0 {
				b.WriteString("\\\r\n  ")
			}
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

func TestRegistryExport(t *testing.T) {
	base := `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Enum\DISPLAY`
	pikvm := readHex(t, "pikvm_tc358743_1080p60.hex")
	keys := map[string][][2]string{
		base + `\LNX8888\5&2b7fa2c1&0&UID4352`:                     {{`"DeviceDesc"`, `"@monitor.inf,%pnpmonitor.devicedesc%;Generic PnP Monitor"`}, {`"Capabilities"`, `dword:00000024`}},
		base + `\LNX8888\5&2b7fa2c1&0&UID4352\Device Parameters`:   {{`"EDID"`, regHex(pikvm)}, {`"BAD_EDID"`, "hex:"}},
		base + `\DELA0B3\4&1234&0&UID256\Device Parameters`:        {{`"EDID"`, regHex(dellEDID())}},
		base + `\Default_Monitor\1&abc&0&UID0\Device Parameters`:   {{`@`, `"x"`}},
		base + `\DELA0B3\4&1234&0&UID256\Device Parameters\Extras`: {{`"EDID"`, regHex(dellEDID())}},
	}
	path := filepath.Join(t.TempDir(), "display.reg")
	if err := os.WriteFile(path, regExport(keys), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := snapshot(t, New(Config{RegistryFile: path}))
	m := byConnector(evs)
	if len(evs) != 2 {
		t.Fatalf("got %d events: %v", len(evs), m)
	}
	p := m[`DISPLAY\LNX8888\5&2b7fa2c1&0&UID4352`]
	if p == nil || p.Product != event.Windows || p.Fields["PnpId"] != "LNX8888" || p.Fields["MonitorName"] != "PiKVM" || p.Fields["EdidValid"] != true {
		t.Errorf("pikvm from registry: %+v", p)
	}
	if d := m[`DISPLAY\DELA0B3\4&1234&0&UID256`]; d == nil || d.Fields["MonitorName"] != "DELL U2720Q" {
		t.Errorf("dell from registry: %+v", d)
	}
}

func ioregHex(b []byte) string { return "<" + hex.EncodeToString(b) + ">" }

func TestIoregDisplays(t *testing.T) {
	intel := `+-o AppleIntelFramebuffer@0  <class AppleIntelFramebuffer, id 0x100000400>
  +-o display0  <class IODisplayConnect, id 0x100000500>
    +-o AppleDisplay  <class AppleDisplay, id 0x100000600>
        {
          "IODisplayEDID" = ` + ioregHex(readHex(t, "tinypilot_pi4.hex")) + `
          "DisplayProductID" = 39030
        }
`
	evs := snapshot(t, New(Config{IoregFile: writeTemp(t, intel)}))
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	f := evs[0].Fields
	if evs[0].Product != event.MacOS || f["MonitorName"] != "TinyPilot" || f["EdidManufacturer"] != "TSB" || f["EdidValid"] != true ||
		f["Connector"] != "AppleIntelFramebuffer@0/display0/AppleDisplay" {
		t.Errorf("intel ioreg: %v", f)
	}

	// Apple silicon: AppleCLCD2 with DisplayAttributes, no EDID bytes (PiKVM V4 Plus identity
	// from indicators.md).
	silicon := `+-o Root  <class IORegistryEntry, id 0x100000100>
  +-o dispext0@2A8000000  <class AppleARMIODevice, id 0x100000200>
    +-o AppleCLCD2  <class AppleCLCD2, id 0x100000300>
        {
          "DisplayAttributes" = {"SupportsSuspend"=No,"ProductAttributes"={"ManufacturerID"="LNX","YearOfManufacture"=2023,"SerialNumber"=16843009,"ProductName"="PiKVM V4 Plus","AlphanumericSerialNumber"="CAFEBABE","LegacyManufacturerID"=12760,"ProductID"=30579,"WeekOfManufacture"=1},"MaxHorizontalImageSize"=0}
        }
`
	ds, err := DisplaysFromIoreg([]byte(silicon))
	if err != nil || len(ds) != 1 {
		t.Fatalf("silicon: %v %v", ds, err)
	}
	f = ds[0].Fields("present")
	want := map[string]any{"EdidManufacturer": "LNX", "EdidProduct": "7773", "EdidSerial": "01010101", "MonitorName": "PiKVM V4 Plus",
		"EdidSerialString": "CAFEBABE", "PnpId": "LNX7773", "EdidYear": 2023, "Connector": "dispext0@2A8000000/AppleCLCD2"}
	for k, w := range want {
		if f[k] != w {
			t.Errorf("silicon %s = %v, want %v", k, f[k], w)
		}
	}
	if _, ok := f["EdidValid"]; ok {
		t.Errorf("EdidValid set without EDID bytes")
	}
}

func writeTemp(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dump")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSystemProfiler(t *testing.T) {
	js := `{"SPDisplaysDataType":[{"_name":"Apple M2","spdisplays_ndrvs":[
	  {"_name":"PiKVM V4 Plus","_spdisplays_display-product-id":"7773","_spdisplays_display-serial-number":"1010101",
	   "_spdisplays_display-vendor-id":"31d8","_spdisplays_display-week":"1","_spdisplays_display-year":"2023",
	   "spdisplays_connection_type":"spdisplays_hdmi"},
	  {"_name":"TinyPilot","_spdisplays_edid":"0x` + hex.EncodeToString(readHex(t, "tinypilot_pi4.hex")) + `"},
	  {"_name":"Broken","_spdisplays_edid":"0xzz"}]}]}`
	evs := snapshot(t, New(Config{SystemProfilerFile: writeTemp(t, js)}))
	if len(evs) != 3 {
		t.Fatalf("got %d events", len(evs))
	}
	f := evs[0].Fields
	if f["EdidManufacturer"] != "LNX" || f["EdidProduct"] != "7773" || f["EdidSerial"] != "01010101" || f["MonitorName"] != "PiKVM V4 Plus" ||
		f["EdidYear"] != 2023 || f["Connector"] != "Apple M2/0 spdisplays_hdmi" {
		t.Errorf("vendor-id display: %v", f)
	}
	if f := evs[1].Fields; f["EdidManufacturer"] != "TSB" || f["EdidValid"] != true {
		t.Errorf("EDID display: %v", f)
	}
	if f := evs[2].Fields; f["EdidValid"] != false {
		t.Errorf("broken hex: %v", f)
	}
	if _, err := DisplaysFromSystemProfiler([]byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
	// JSON that is not system_profiler's (another data type, an empty object) is an error, not
	// "no displays"; a Mac without displays still has the array.
	for _, js := range []string{`{}`, `{"SPUSBDataType":[]}`, `[]`, `"x"`, `{"SPDisplaysDataType":{}}`, `{"SPDisplaysDataType":[{"spdisplays_ndrvs":7}]}`} {
		if ds, err := DisplaysFromSystemProfiler([]byte(js)); err == nil || !strings.Contains(err.Error(), "not system_profiler") ||
			strings.Contains(err.Error(), "struct") || strings.Contains(err.Error(), "interface") {
			t.Errorf("%s: %v %v", js, ds, err)
		}
	}
	if ds, err := DisplaysFromSystemProfiler([]byte(`{"SPDisplaysDataType":[{"_name":"Apple M2"}]}`)); err != nil || len(ds) != 0 {
		t.Errorf("no displays: %v %v", ds, err)
	}
}

// A .reg file that is not an export of the DISPLAY key is an error; an export with no monitor
// is not.
func TestRegFileNotDisplayExport(t *testing.T) {
	other := regExport(map[string][][2]string{`HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName`: {{`"ComputerName"`, `"PC"`}}})
	if ds, err := DisplaysFromRegFile(other); err == nil || !strings.Contains(err.Error(), `Enum\DISPLAY`) {
		t.Errorf("another key's export: %v %v", ds, err)
	}
	none := regExport(map[string][][2]string{`HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Enum\DISPLAY`: nil})
	if ds, err := DisplaysFromRegFile(none); err != nil || len(ds) != 0 {
		t.Errorf("an export with no monitor: %v %v", ds, err)
	}
}

func BenchmarkParseEDID(b *testing.B) {
	raw := dellEDID()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseEDID(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadDRM(b *testing.B) {
	root := b.TempDir()
	writeDRM(b, root, "card0-eDP-1", "connected", dellEDID())
	writeDRM(b, root, "card0-HDMI-A-1", "connected", dellEDID())
	writeDRM(b, root, "card0-DP-1", "disconnected", nil)
	writeDRM(b, root, "card0-DP-2", "disconnected", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ds, err := ReadDRM(root); err != nil || len(ds) != 2 {
			b.Fatal(err)
		}
	}
}

func FuzzParseEDID(f *testing.F) {
	f.Add(dellEDID())
	f.Add(make([]byte, 128))
	f.Add(append(append([]byte(nil), edidHeader...), make([]byte, 120)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEDID(b)
		if err == nil && e == nil {
			t.Fatal("nil EDID without error")
		}
		d := FromEDID("x", b)
		f := d.Fields("present")
		if (f["EdidValid"] == true) != (err == nil) {
			t.Fatalf("EdidValid %v with error %v", f["EdidValid"], err)
		}
		if e != nil && len(e.Manufacturer) != 3 {
			t.Fatalf("manufacturer %q", e.Manufacturer)
		}
	})
}

func FuzzParseRegFile(f *testing.F) {
	f.Add(regExport(map[string][][2]string{`HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Enum\DISPLAY\DELA0B3\1\Device Parameters`: {{`"EDID"`, regHex(dellEDID())}}}))
	f.Add([]byte("REGEDIT4\n[K]\n\"a \\\"q\\\"\"=\"v\"\n@=-\n\"h\"=hex(2):41,00,\\\n  42,00\n\"d\"=dword:00000001\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := DisplaysFromRegFile(b)
		if err != nil {
			return
		}
		for i := range ds {
			ds[i].Fields("present")
		}
	})
}

func FuzzDisplaysFromIoreg(f *testing.F) {
	f.Add([]byte("+-o A  <class AppleCLCD2, id 0x1>\n{\n\"DisplayAttributes\" = {\"ProductAttributes\"={\"ManufacturerID\"=12760,\"ProductID\"=1,\"SerialNumber\"=99999999999}}\n}\n"))
	f.Add([]byte("+-o display0  <class IODisplayConnect, id 0x1>\n  +-o D  <class AppleDisplay, id 0x2>\n    {\n      \"IODisplayEDID\" = <00ffffffffffff00>\n    }\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := DisplaysFromIoreg(b)
		if err != nil {
			return
		}
		for i := range ds {
			ds[i].Fields("present")
		}
	})
}
