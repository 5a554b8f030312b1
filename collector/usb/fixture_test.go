package usb

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lsusbDevice is what the test converter takes from `lsusb -v` text: the attributes Linux
// exposes in sysfs for the device and its interfaces.
type lsusbDevice struct {
	Bus, DevNum                   int
	VendorID, ProductID           uint16
	Manufacturer, Product, Serial string
	DeviceClass                   uint8
	Configuration                 string
	ConfigValue                   int
	NumInterfaces                 int
	Interfaces                    []Interface
}

// parseLsusb converts `lsusb -v` output (one or more devices) into lsusbDevice values. Only
// alternate setting 0 of each interface is kept (sysfs shows the active one, 0 by default), and
// the Device Qualifier (other-speed descriptor) is ignored.
func parseLsusb(t *testing.T, text string) []lsusbDevice {
	t.Helper()
	var (
		out     []lsusbDevice
		cur     *lsusbDevice
		section string
		it      *Interface
		alt     int
	)
	flushIf := func() {
		if it != nil && alt == 0 {
			cur.Interfaces = append(cur.Interfaces, *it)
		}
		it = nil
	}
	num := func(v string) uint64 {
		f := strings.Fields(v)
		if len(f) == 0 {
			t.Fatalf("lsusb: empty value")
		}
		n, err := strconv.ParseUint(f[0], 0, 16)
		if err != nil {
			t.Fatalf("lsusb: %q: %v", v, err)
		}
		return n
	}
	str := func(v string) string { // "1 GLKVM" -> "GLKVM"; "3 " -> ""
		_, s, _ := strings.Cut(strings.TrimLeft(v, " "), " ")
		return strings.TrimSpace(s)
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		// Captures may glue the next "Bus ..." line onto the previous device's last line.
		if i := strings.Index(line, "Bus "); i >= 0 && strings.Contains(line[i:], " Device ") && strings.Contains(line[i:], ": ID ") {
			if cur != nil {
				flushIf()
			}
			var bus, dev int
			var vid, pid uint16
			if _, err := fmt.Sscanf(line[i:], "Bus %d Device %d: ID %x:%x", &bus, &dev, &vid, &pid); err != nil {
				t.Fatalf("lsusb header %q: %v", line, err)
			}
			out = append(out, lsusbDevice{Bus: bus, DevNum: dev, VendorID: vid, ProductID: pid})
			cur = &out[len(out)-1]
			section = ""
			continue
		}
		if cur == nil {
			continue
		}
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "Device Descriptor:"):
			section = "device"
			continue
		case strings.HasPrefix(trim, "Configuration Descriptor:"):
			section = "config"
			continue
		case strings.HasPrefix(trim, "Interface Descriptor:"):
			flushIf()
			section = "interface"
			it, alt = &Interface{}, 0
			continue
		case strings.HasPrefix(trim, "Interface Association:"), strings.HasPrefix(trim, "Endpoint Descriptor:"),
			strings.HasPrefix(trim, "HID Device Descriptor:"):
			section = "other"
			continue
		case strings.HasPrefix(trim, "Device Qualifier"), strings.HasPrefix(trim, "Device Status:"):
			flushIf()
			section = "other"
			continue
		}
		key, val, _ := strings.Cut(trim, " ")
		switch section {
		case "device":
			switch key {
			case "bDeviceClass":
				cur.DeviceClass = uint8(num(val))
			case "idVendor":
				cur.VendorID = uint16(num(val))
			case "idProduct":
				cur.ProductID = uint16(num(val))
			case "iManufacturer":
				cur.Manufacturer = str(val)
			case "iProduct":
				cur.Product = str(val)
			case "iSerial":
				cur.Serial = str(val)
			}
		case "config":
			switch key {
			case "bNumInterfaces":
				cur.NumInterfaces = int(num(val))
			case "bConfigurationValue":
				cur.ConfigValue = int(num(val))
			case "iConfiguration":
				cur.Configuration = str(val)
			}
		case "interface":
			switch key {
			case "bInterfaceNumber":
				it.Number = int(num(val))
			case "bAlternateSetting":
				alt = int(num(val))
			case "bInterfaceClass":
				it.Class = uint8(num(val))
			case "bInterfaceSubClass":
				it.SubClass = uint8(num(val))
			case "bInterfaceProtocol":
				it.Protocol = uint8(num(val))
			}
		}
	}
	if cur != nil {
		flushIf()
	}
	return out
}

// writeSysfs lays a device out as Linux sysfs does: the device folder under
// devices/pci0000:00/0000:00:14.0/usbN/, interface folders inside it, and a symlink in
// bus/usb/devices. name is the sysfs name ("1-1", or "usb1" for a root hub). It returns the
// device folder.
func writeSysfs(t testing.TB, root, name string, d lsusbDevice) string {
	t.Helper()
	bus := strconv.Itoa(d.Bus)
	hub := filepath.Join(root, "devices", "pci0000:00", "0000:00:14.0", "usb"+bus)
	dir := hub
	ifPrefix := bus + "-0"
	if name != "usb"+bus {
		dir = filepath.Join(hub, name)
		ifPrefix = name
	}
	write := func(dir, file, val string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(val+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "idVendor", fmt.Sprintf("%04x", d.VendorID))
	write(dir, "idProduct", fmt.Sprintf("%04x", d.ProductID))
	write(dir, "bDeviceClass", fmt.Sprintf("%02x", d.DeviceClass))
	write(dir, "devnum", strconv.Itoa(d.DevNum))
	write(dir, "busnum", bus)
	write(dir, "bNumInterfaces", fmt.Sprintf("%2d", d.NumInterfaces))
	// The kernel creates string attributes only for non-empty strings.
	for file, v := range map[string]string{"manufacturer": d.Manufacturer, "product": d.Product, "serial": d.Serial, "configuration": d.Configuration} {
		if v != "" {
			write(dir, file, v)
		}
	}
	if d.ConfigValue > 0 {
		write(dir, "bConfigurationValue", strconv.Itoa(d.ConfigValue))
	}
	for _, it := range d.Interfaces {
		idir := filepath.Join(dir, fmt.Sprintf("%s:%d.%d", ifPrefix, d.ConfigValue, it.Number))
		write(idir, "bInterfaceNumber", fmt.Sprintf("%02x", it.Number))
		write(idir, "bAlternateSetting", " 0")
		write(idir, "bInterfaceClass", fmt.Sprintf("%02x", it.Class))
		write(idir, "bInterfaceSubClass", fmt.Sprintf("%02x", it.SubClass))
		write(idir, "bInterfaceProtocol", fmt.Sprintf("%02x", it.Protocol))
	}
	links := filepath.Join(root, "bus", "usb", "devices")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(links, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, filepath.Join(links, name)); err != nil {
		t.Fatal(err)
	}
	for _, it := range d.Interfaces {
		n := fmt.Sprintf("%s:%d.%d", ifPrefix, d.ConfigValue, it.Number)
		if err := os.Symlink(filepath.Join(rel, n), filepath.Join(links, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rootHub is a USB 2 or 3 root hub as Linux shows it.
func rootHub(bus int, usb3 bool) lsusbDevice {
	d := lsusbDevice{Bus: bus, DevNum: 1, VendorID: 0x1d6b, ProductID: 0x0002, DeviceClass: 9,
		Manufacturer: "Linux 6.1.0-28-amd64 xhci-hcd", Product: "xHCI Host Controller", Serial: "0000:00:14.0",
		ConfigValue: 1, NumInterfaces: 1, Interfaces: []Interface{{Number: 0, Class: 9, SubClass: 0, Protocol: 0}}}
	if usb3 {
		d.ProductID = 0x0003
	}
	return d
}

// logitechReceiver is an ordinary Logitech Unifying receiver (046d:c52b).
func logitechReceiver(bus, devnum int) lsusbDevice {
	return lsusbDevice{Bus: bus, DevNum: devnum, VendorID: 0x046d, ProductID: 0xc52b, DeviceClass: 0,
		Manufacturer: "Logitech", Product: "USB Receiver", Configuration: "RQR12.11_B0032", ConfigValue: 1, NumInterfaces: 3,
		Interfaces: []Interface{{0, 3, 1, 1}, {1, 3, 1, 2}, {2, 3, 0, 0}}}
}
