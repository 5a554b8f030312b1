package usb

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/vigilhq/vigil/collector/ioreg"
)

// DevicesFromIoreg reads the USB devices in ioreg text: `ioreg -p IOUSB -l -w0` (devices only)
// or a full `ioreg -l -w0` (IOService plane, where each device's IOUSBHostInterface children
// carry the interfaces). An entry is a device when it has idVendor and idProduct and is not an
// interface. Without interface entries, the interfaces come from the device's
// UsbDeviceSignature property (VID, PID, bcdDevice, serial, device class triple, then one class
// triple per distinct interface kind), used only when it agrees with the device's own IDs.
func DevicesFromIoreg(text []byte) ([]Device, error) {
	entries, err := ioreg.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, e := range entries {
		if isIoregInterface(e) {
			continue
		}
		vid, ok1 := e.Int("idVendor")
		pid, ok2 := e.Int("idProduct")
		if !ok1 || !ok2 || vid < 0 || vid > 0xffff || pid < 0 || pid > 0xffff {
			continue
		}
		d := Device{VendorID: fmt.Sprintf("%04x", vid), ProductID: fmt.Sprintf("%04x", pid)}
		d.Manufacturer = firstString(e, "USB Vendor Name", "kUSBVendorString")
		d.Product = firstString(e, "USB Product Name", "kUSBProductString")
		d.Serial = firstString(e, "USB Serial Number", "kUSBSerialNumberString")
		if c, ok := e.Int("bDeviceClass"); ok && c >= 0 && c <= 0xff {
			d.DeviceClass = fmt.Sprintf("%02x", c)
		}
		if loc, ok := ioreg.AsUint(e.Props["locationID"]); ok {
			d.Location = fmt.Sprintf("0x%08x", loc)
		} else {
			d.Location = e.Location
		}
		for _, c := range e.Children {
			if it, ok := ioregInterface(c); ok {
				d.Interfaces = append(d.Interfaces, it)
			}
		}
		if len(d.Interfaces) == 0 {
			if sig, ok := e.Data("UsbDeviceSignature"); ok {
				d.Interfaces = signatureInterfaces(sig, uint16(vid), uint16(pid), d.Serial)
			}
		}
		sort.SliceStable(d.Interfaces, func(i, j int) bool { return d.Interfaces[i].Number < d.Interfaces[j].Number })
		out = append(out, d)
	}
	sortDevices(out)
	return out, nil
}

func firstString(e *ioreg.Entry, keys ...string) string {
	for _, k := range keys {
		if s, ok := e.String(k); ok && s != "" {
			return s
		}
	}
	return ""
}

func isIoregInterface(e *ioreg.Entry) bool {
	if e.Class == "IOUSBHostInterface" || e.Class == "IOUSBInterface" {
		return true
	}
	_, ok := e.Int("bInterfaceNumber")
	return ok
}

func ioregInterface(e *ioreg.Entry) (Interface, bool) {
	if !isIoregInterface(e) {
		return Interface{}, false
	}
	var v [4]int64
	for i, k := range []string{"bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"} {
		n, ok := e.Int(k)
		if !ok || n < 0 || n > 0xff {
			return Interface{}, false
		}
		v[i] = n
	}
	return Interface{Number: int(v[0]), Class: uint8(v[1]), SubClass: uint8(v[2]), Protocol: uint8(v[3])}, true
}

// signatureInterfaces decodes the interface triples of a UsbDeviceSignature. Interface numbers
// are not in the signature; they are given in order.
func signatureInterfaces(sig []byte, vid, pid uint16, serial string) []Interface {
	if len(sig) < 6 || uint16(sig[0])|uint16(sig[1])<<8 != vid || uint16(sig[2])|uint16(sig[3])<<8 != pid {
		return nil
	}
	rest := sig[6:]
	if serial != "" {
		if !bytes.HasPrefix(rest, []byte(serial)) {
			return nil
		}
		rest = rest[len(serial):]
	}
	if len(rest) < 3 || len(rest)%3 != 0 {
		return nil
	}
	rest = rest[3:] // the device's own class triple
	var out []Interface
	for i := 0; i+3 <= len(rest); i += 3 {
		out = append(out, Interface{Number: i / 3, Class: rest[i], SubClass: rest[i+1], Protocol: rest[i+2]})
	}
	return out
}
