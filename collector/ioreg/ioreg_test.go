package ioreg

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/shareddata"
)

func TestParseCometCapture(t *testing.T) {
	dir := shareddata.Dir(t, "ipkvm-watch", "_device_output")
	b, err := os.ReadFile(filepath.Join(dir, "mac_glkvm"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("got %d entries, want 1", len(entries))
	}
	e := entries[0]
	if e.Name != "Composite KVM Device" || e.Location != "00100000" || e.Class != "IOUSBHostDevice" || e.ID != "0x1000893fc" {
		t.Errorf("header: %+v", e)
	}
	if v, _ := e.Int("idVendor"); v != 7531 {
		t.Errorf("idVendor = %d", v)
	}
	if v, _ := e.Int("idProduct"); v != 260 {
		t.Errorf("idProduct = %d", v)
	}
	if s, _ := e.String("USB Vendor Name"); s != "GLKVM" {
		t.Errorf("vendor = %q", s)
	}
	if s, _ := e.String("kUSBSerialNumberString"); s != "CAFEBABE" {
		t.Errorf("serial = %q", s)
	}
	sig, ok := e.Data("UsbDeviceSignature")
	if !ok || len(sig) != 32 || sig[0] != 0x6b || sig[1] != 0x1d {
		t.Errorf("UsbDeviceSignature = %x", sig)
	}
	pm, ok := e.Dict("IOPowerManagement")
	if !ok || pm["PowerOverrideOn"] != true || pm["CapabilityFlags"] != int64(32768) {
		t.Errorf("IOPowerManagement = %#v", e.Props["IOPowerManagement"])
	}
	ent, ok := e.Props["IOServiceDEXTEntitlements"].([]any)
	if !ok || len(ent) != 1 || !reflect.DeepEqual(ent[0], []any{"com.apple.developer.driverkit.transport.usb"}) {
		t.Errorf("IOServiceDEXTEntitlements = %#v", e.Props["IOServiceDEXTEntitlements"])
	}
	plug, _ := e.Dict("IOCFPlugInTypes")
	if plug["9dc7b780-9ec0-11d4-a54f-000a27052861"] != "IOUSBHostFamily.kext/Contents/PlugIns/IOUSBLib.bundle" {
		t.Errorf("IOCFPlugInTypes = %#v", plug)
	}
}

const tree = `+-o Root  <class IORegistryEntry, id 0x100000100, retain 27>
  +-o AppleT8103USBXHCI@00000000  <class AppleT8103USBXHCI, id 0x100000200, registered>
  | {
  |   "locationID" = 18446744073611116544
  |   "compatible" = <"usb-drd,t8103","usb-xhci">
  |   "neg" = -5
  |   "empty" = ()
  |   "weird" = some bare token
  | }
  | +-o USB Keyboard@00100000  <class IOUSBHostDevice, id 0x100000300, registered>
  | | {
  | |   "idVendor" = 1133
  | |   "Name "with" quotes" = "say "hi" there"
  | | }
  | | +-o IOUSBHostInterface@0  <class IOUSBHostInterface, id 0x100000301>
  | |     {
  | |       "bInterfaceClass" = 3
  | |     }
  | +-o Other@00200000  <class IOUSBHostDevice, id 0x100000400>
  +-o Second@1  <class Foo, id 0x5>
`

func TestParseTree(t *testing.T) {
	es, err := Parse(strings.NewReader(tree))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 6 {
		t.Fatalf("got %d entries", len(es))
	}
	root, xhci, kbd, intf, other, second := es[0], es[1], es[2], es[3], es[4], es[5]
	if root.Parent != nil || xhci.Parent != root || kbd.Parent != xhci || intf.Parent != kbd || other.Parent != xhci || second.Parent != root {
		t.Errorf("tree links wrong")
	}
	if len(xhci.Children) != 2 || len(root.Children) != 2 {
		t.Errorf("children: root %d xhci %d", len(root.Children), len(xhci.Children))
	}
	if v, ok := AsUint(xhci.Props["locationID"]); !ok || v != 18446744073611116544 {
		t.Errorf("locationID = %#v", xhci.Props["locationID"])
	}
	if _, ok := xhci.Int("locationID"); ok {
		t.Errorf("Int accepted a value above int64")
	}
	if d, _ := xhci.Data("compatible"); string(d) != "usb-drd,t8103\x00usb-xhci\x00" {
		t.Errorf("compatible = %q", d)
	}
	if v, _ := xhci.Int("neg"); v != -5 {
		t.Errorf("neg = %d", v)
	}
	if a, ok := xhci.Props["empty"].([]any); !ok || len(a) != 0 {
		t.Errorf("empty = %#v", xhci.Props["empty"])
	}
	if s, _ := xhci.String("weird"); s != "some bare token" {
		t.Errorf("weird = %q", s)
	}
	if s, _ := kbd.String(`Name "with" quotes`); s != `say "hi" there` {
		t.Errorf("quoted = %#v", kbd.Props)
	}
	if intf.Name != "IOUSBHostInterface" || intf.Location != "0" {
		t.Errorf("interface header %+v", intf)
	}
	if other.Props != nil {
		t.Errorf("entry without block has props")
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"text outside":        "+-o A  <class X, id 0x1>\nhello\n",
		"property outside":    "+-o A  <class X, id 0x1>\n\"a\" = 1\n",
		"unclosed block":      "+-o A  <class X, id 0x1>\n{\n\"a\" = 1\n",
		"close without open":  "}\n",
		"block before entry":  "{\n}\n",
		"bad hex":             "+-o A  <class X, id 0x1>\n{\n\"a\" = <0g>\n}\n",
		"unterminated dict":   "+-o A  <class X, id 0x1>\n{\n\"a\" = {\"b\"=1\n}\n",
		"unterminated array":  "+-o A  <class X, id 0x1>\n{\n\"a\" = (1,2\n}\n",
		"no equals":           "+-o A  <class X, id 0x1>\n{\n\"a\" 1\n}\n",
		"too deep":            "+-o A  <class X, id 0x1>\n{\n\"a\" = " + strings.Repeat("(", 100) + strings.Repeat(")", 100) + "\n}\n",
		"entry inside block":  "+-o A  <class X, id 0x1>\n{\n+-o B  <class X, id 0x2>\n}\n",
		"second block":        "+-o A  <class X, id 0x1>\n{\n}\n{\n}\n",
		"dict missing key":    "+-o A  <class X, id 0x1>\n{\n\"a\" = {=1}\n}\n",
		"trailing after dict": "+-o A  <class X, id 0x1>\n{\n\"a\" = {\"b\"=1} x\n}\n",
	}
	for name, in := range cases {
		_, err := Parse(strings.NewReader(in))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: error does not name a line: %v", name, err)
		}
	}
}

func TestParseHugeLine(t *testing.T) {
	in := "+-o A  <class X, id 0x1>\n{\n\"a\" = \"" + strings.Repeat("x", MaxLineBytes+10) + "\"\n}\n"
	if _, err := Parse(strings.NewReader(in)); err == nil {
		t.Fatal("a line over MaxLineBytes was accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(tree))
	f.Add([]byte("+-o A  <class X, id 0x1>\n{\n\"a\" = <\"x\",\"y\">\n\"b\" = {\"c\"=(1,Yes,<00>)}\n}\n"))
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "ipkvm-watch", "_device_output", "mac_glkvm")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, e := range es {
			if e.Parent != nil && e.Parent.Line >= e.Line {
				t.Fatalf("parent after child")
			}
		}
	})
}
