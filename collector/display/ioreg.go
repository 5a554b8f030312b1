package display

import (
	"bytes"
	"strings"

	"github.com/vigilhq/vigil/collector/ioreg"
)

// edidKeys are the ioreg properties that hold a display's EDID bytes.
var edidKeys = []string{"IODisplayEDID", "IODisplayEDIDOriginal", "EDID"}

// DisplaysFromIoreg reads displays from ioreg text. An entry with EDID bytes (IODisplayEDID on
// Intel Macs, under IODisplayConnect) gives a display decoded from them; otherwise an entry
// with DisplayAttributes (AppleCLCD2 on Apple silicon) gives one from its ProductAttributes,
// without EDID validity. The connector is the entry's path in the dump.
func DisplaysFromIoreg(text []byte) ([]Display, error) {
	entries, err := ioreg.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	var out []Display
	for _, e := range entries {
		conn := ioregPath(e)
		found := false
		for _, k := range edidKeys {
			if raw, ok := e.Data(k); ok {
				out = append(out, FromEDID(conn, raw))
				found = true
				break
			}
		}
		if found {
			continue
		}
		attrs, ok := e.Dict("DisplayAttributes")
		if !ok {
			continue
		}
		pa, ok := attrs["ProductAttributes"].(map[string]any)
		if !ok {
			continue
		}
		out = append(out, Display{Connector: conn, EDID: edidFromAttributes(pa)})
	}
	return out, nil
}

// ioregPath names an entry by its ancestors below the registry root: "AppleCLCD2@0/..." .
func ioregPath(e *ioreg.Entry) string {
	var parts []string
	for p := e; p != nil; p = p.Parent {
		if p.Parent == nil && p.Name == "Root" {
			break
		}
		n := p.Name
		if p.Location != "" {
			n += "@" + p.Location
		}
		parts = append([]string{n}, parts...)
	}
	return strings.Join(parts, "/")
}

// edidFromAttributes maps AppleCLCD2's ProductAttributes (ManufacturerID "LNX" or its numeric
// LegacyManufacturerID, ProductID, SerialNumber, ProductName, AlphanumericSerialNumber,
// WeekOfManufacture, YearOfManufacture).
func edidFromAttributes(pa map[string]any) *EDID {
	e := &EDID{}
	if s, ok := pa["ManufacturerID"].(string); ok {
		e.Manufacturer = s
	} else if n, ok := ioreg.AsInt(pa["ManufacturerID"]); ok && n >= 0 && n <= 0xffff {
		e.Manufacturer = pnpLetters(uint16(n))
	} else if n, ok := ioreg.AsInt(pa["LegacyManufacturerID"]); ok && n >= 0 && n <= 0xffff {
		e.Manufacturer = pnpLetters(uint16(n))
	}
	if n, ok := ioreg.AsInt(pa["ProductID"]); ok && n >= 0 && n <= 0xffff {
		e.Product = uint16(n)
	}
	if n, ok := ioreg.AsUint(pa["SerialNumber"]); ok && n <= 0xffffffff {
		e.Serial = uint32(n)
	}
	e.MonitorName, _ = pa["ProductName"].(string)
	e.SerialString, _ = pa["AlphanumericSerialNumber"].(string)
	if n, ok := ioreg.AsInt(pa["WeekOfManufacture"]); ok && n >= 0 && n <= 255 {
		e.Week = int(n)
	}
	if n, ok := ioreg.AsInt(pa["YearOfManufacture"]); ok && n > 1990 && n < 10000 {
		e.Year = int(n)
	}
	return e
}
