package usb

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/collector/winreg"
)

// PnpDevice is one Windows device node: what SetupAPI returns live, or one record of saved
// pnputil / Get-CimInstance text.
type PnpDevice struct {
	InstanceID      string // USB\VID_1D6B&PID_0104\CAFEBABE
	Description     string // the OS's description (driver INF or friendly name)
	BusReportedDesc string // DEVPKEY_Device_BusReportedDeviceDesc: the device's own product string
	ClassName       string
	Manufacturer    string // the driver INF's manufacturer, not the device's string
	Driver          string // usbstor.inf, hidusb.inf...
	Service         string
	Status          string
	Parent          string // parent's instance ID, when known
	HardwareIDs     []string
	CompatibleIDs   []string
}

// InstanceID is a parsed Windows device instance ID.
type InstanceID struct {
	Enumerator string // USB, USBSTOR, HID...
	VendorID   string // four lowercase hex digits
	ProductID  string
	MI         int    // interface number for USB\VID_x&PID_y&MI_nn, else -1
	Instance   string // the last part: a serial, or a generated "9&9f4824e&0&0004"
	Serial     string // Instance when the OS took it from the device's serial number
}

var (
	reVID  = regexp.MustCompile(`(?i)VID_?([0-9A-F]{4})`)
	rePID  = regexp.MustCompile(`(?i)PID_?([0-9A-F]{4})`)
	reMI   = regexp.MustCompile(`(?i)&MI_([0-9A-F]{2})`)
	reCls  = regexp.MustCompile(`(?i)^USB\\Class_([0-9A-F]{2})(?:&SubClass_([0-9A-F]{2}))?(?:&Prot_([0-9A-F]{2}))?$`)
	reDevC = regexp.MustCompile(`(?i)^USB\\DevClass_([0-9A-F]{2})`)
)

// ParseInstanceID splits an instance ID. ok is false for an ID without three parts.
func ParseInstanceID(id string) (InstanceID, bool) {
	parts := strings.SplitN(id, `\`, 3)
	if len(parts) != 3 || parts[0] == "" {
		return InstanceID{}, false
	}
	out := InstanceID{Enumerator: strings.ToUpper(parts[0]), MI: -1, Instance: parts[2]}
	if m := reVID.FindStringSubmatch(parts[1]); m != nil {
		out.VendorID = strings.ToLower(m[1])
	}
	if m := rePID.FindStringSubmatch(parts[1]); m != nil {
		out.ProductID = strings.ToLower(m[1])
	}
	if m := reMI.FindStringSubmatch(parts[1]); m != nil {
		n, _ := strconv.ParseUint(m[1], 16, 8)
		out.MI = int(n)
	}
	// Windows uses the device's serial as the instance part when the device has a usable
	// one; otherwise it generates one with '&' in it.
	if !strings.Contains(parts[2], "&") && out.MI < 0 {
		out.Serial = parts[2]
	}
	return out, true
}

// ParsePnpText reads saved `pnputil /enum-devices` output (with or without /ids and
// /relations) and `Get-CimInstance Win32_PnPEntity` list output, in UTF-8 or UTF-16. Records
// are blocks of "Key: value" lines separated by blank lines; a record without an instance ID
// (DeviceID, PNPDeviceID) is skipped, and records for the same instance ID are merged. Text
// without any device record is an error.
func ParsePnpText(raw []byte) ([]PnpDevice, error) {
	text, err := winreg.DecodeText(raw)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var (
		out     []PnpDevice
		index   = map[string]int{}
		rec     map[string][]string
		lastKey string
		cimKey  bool // the last key was "Key   : value" (wrapped lines concatenate)
		lineNo  int
	)
	flush := func() {
		if rec != nil {
			if d, ok := pnpRecord(rec); ok {
				k := strings.ToUpper(d.InstanceID)
				if i, dup := index[k]; dup {
					mergePnp(&out[i], d)
				} else {
					index[k] = len(out)
					out = append(out, d)
				}
			}
		}
		rec, lastKey = nil, ""
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "=====") {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if lastKey == "" {
				continue
			}
			v := strings.TrimSpace(line)
			vals := rec[lastKey]
			if cimKey && len(vals) > 0 {
				vals[len(vals)-1] += v
			} else {
				rec[lastKey] = append(vals, v)
			}
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			lastKey = "" // a title line such as "Microsoft PnP Utility"
			continue
		}
		key := strings.TrimSpace(line[:i])
		if rec == nil {
			rec = map[string][]string{}
		}
		lastKey = strings.ToLower(key)
		cimKey = line[i-1] == ' '
		if len(rec) > 1000 {
			return nil, fmt.Errorf("line %d: more than 1000 keys in one record", lineNo)
		}
		rec[lastKey] = append(rec[lastKey], strings.TrimSpace(line[i+1:]))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	flush()
	if len(out) == 0 {
		// Real output lists at least the USB host controllers and root hubs: text with no
		// device record at all is something else, and reading it as "no devices" would make a
		// scan that could not look pass for a clean one.
		return nil, fmt.Errorf("%d lines without a device record (Instance ID, DeviceID or PNPDeviceID with a device instance ID): not pnputil /enum-devices or Get-CimInstance Win32_PnPEntity output", lineNo)
	}
	return out, nil
}

func pnpRecord(r map[string][]string) (PnpDevice, bool) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := r[k]; len(v) > 0 && strings.Join(v, "") != "" {
				return strings.Join(v, "")
			}
		}
		return ""
	}
	list := func(keys ...string) []string {
		var out []string
		for _, k := range keys {
			for _, v := range r[k] {
				// Get-CimInstance prints arrays as {a, b, c...}, cut with "..." when long.
				if strings.HasPrefix(v, "{") {
					v = strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}")
					for _, p := range strings.Split(v, ",") {
						p = strings.TrimSpace(p)
						if p != "" && !strings.HasSuffix(p, "...") {
							out = append(out, p)
						}
					}
					continue
				}
				if v != "" {
					out = append(out, v)
				}
			}
		}
		return out
	}
	d := PnpDevice{
		InstanceID:      first("instance id", "pnpdeviceid", "deviceid"),
		Description:     first("device description", "name", "caption", "description"),
		BusReportedDesc: first("bus reported device description", "busreporteddevicedesc"),
		ClassName:       first("class name", "pnpclass"),
		Manufacturer:    first("manufacturer name", "manufacturer"),
		Driver:          first("driver name"),
		Service:         first("service"),
		Status:          first("status"),
		Parent:          first("parent"),
		HardwareIDs:     list("hardware ids", "hardwareid"),
		CompatibleIDs:   list("compatible ids", "compatibleid"),
	}
	if _, ok := ParseInstanceID(d.InstanceID); !ok {
		return d, false
	}
	return d, true
}

func mergePnp(dst *PnpDevice, src PnpDevice) {
	fill := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	fill(&dst.Description, src.Description)
	fill(&dst.BusReportedDesc, src.BusReportedDesc)
	fill(&dst.ClassName, src.ClassName)
	fill(&dst.Manufacturer, src.Manufacturer)
	fill(&dst.Driver, src.Driver)
	fill(&dst.Service, src.Service)
	fill(&dst.Status, src.Status)
	fill(&dst.Parent, src.Parent)
	if len(dst.HardwareIDs) == 0 {
		dst.HardwareIDs = src.HardwareIDs
	}
	if len(dst.CompatibleIDs) == 0 {
		dst.CompatibleIDs = src.CompatibleIDs
	}
}

// classFromIDs finds a USB\Class_xx&SubClass_yy&Prot_zz compatible ID.
func classFromIDs(ids []string) (Interface, bool) {
	for _, id := range ids {
		m := reCls.FindStringSubmatch(id)
		if m == nil || m[2] == "" || m[3] == "" {
			continue
		}
		c, _ := strconv.ParseUint(m[1], 16, 8)
		s, _ := strconv.ParseUint(m[2], 16, 8)
		p, _ := strconv.ParseUint(m[3], 16, 8)
		return Interface{Class: uint8(c), SubClass: uint8(s), Protocol: uint8(p)}, true
	}
	return Interface{}, false
}

// classFromDriver names an interface known only by the Windows driver bound to it.
func classFromDriver(d PnpDevice) string {
	s := strings.ToLower(d.Driver + " " + d.Service)
	switch {
	case strings.Contains(s, "usbstor") || strings.Contains(s, "uaspstor"):
		return "mass-storage"
	case strings.Contains(s, "rndis"):
		return "rndis"
	case strings.Contains(s, "usbncm") || strings.Contains(s, "ncm"):
		return "cdc-ncm"
	case strings.Contains(s, "hidusb") || strings.Contains(s, "input.inf"):
		return "hid"
	case strings.Contains(s, "usbser"):
		return "cdc-acm"
	case strings.Contains(s, "usbaudio"):
		return "audio"
	case strings.Contains(s, "usbvideo"):
		return "video"
	}
	return ""
}

// DevicesFromPnp builds USB devices from Windows device nodes: USB\VID_x&PID_y\<instance>
// nodes are devices, USB\VID_x&PID_y&MI_nn nodes are their interfaces (attached by Parent when
// known, else to the only device with that VID and PID), USB\ROOT_HUB* nodes are root hubs.
// Other enumerators (USBSTOR, HID...) are skipped. The device's own product string is
// BusReportedDesc; Windows does not expose its manufacturer string here.
func DevicesFromPnp(nodes []PnpDevice) []Device {
	var devs []Device
	byID := map[string]int{}
	byVidPid := map[string][]int{}
	var ifaces []PnpDevice
	for _, n := range nodes {
		id, ok := ParseInstanceID(n.InstanceID)
		if !ok || id.Enumerator != "USB" {
			continue
		}
		if id.MI >= 0 {
			ifaces = append(ifaces, n)
			continue
		}
		d := Device{Location: n.InstanceID, VendorID: id.VendorID, ProductID: id.ProductID, Serial: id.Serial,
			Product: n.BusReportedDesc, Description: n.Description}
		upper := strings.ToUpper(n.InstanceID)
		if strings.HasPrefix(upper, `USB\ROOT_HUB`) {
			d.DeviceClass = "09"
			for _, h := range n.HardwareIDs {
				if m := reVID.FindStringSubmatch(h); m != nil && d.VendorID == "" {
					d.VendorID = strings.ToLower(m[1])
				}
				if m := rePID.FindStringSubmatch(h); m != nil && d.ProductID == "" {
					d.ProductID = strings.ToLower(m[1])
				}
			}
		}
		for _, c := range n.CompatibleIDs {
			if m := reDevC.FindStringSubmatch(c); m != nil {
				d.DeviceClass = strings.ToLower(m[1])
				break
			}
			if strings.EqualFold(c, `USB\COMPOSITE`) {
				d.DeviceClass = "00"
			}
		}
		if d.DeviceClass != "00" {
			// A single-interface device carries its interface's class itself.
			if it, ok := classFromIDs(n.CompatibleIDs); ok {
				d.Interfaces = append(d.Interfaces, it)
			} else if c := classFromDriver(n); c != "" {
				d.ExtraClasses = append(d.ExtraClasses, c)
			}
		}
		byID[upper] = len(devs)
		k := id.VendorID + ":" + id.ProductID
		byVidPid[k] = append(byVidPid[k], len(devs))
		devs = append(devs, d)
	}
	sort.SliceStable(ifaces, func(i, j int) bool {
		a, _ := ParseInstanceID(ifaces[i].InstanceID)
		b, _ := ParseInstanceID(ifaces[j].InstanceID)
		return a.MI < b.MI
	})
	for _, n := range ifaces {
		id, _ := ParseInstanceID(n.InstanceID)
		owner := -1
		if i, ok := byID[strings.ToUpper(n.Parent)]; ok && n.Parent != "" {
			owner = i
		} else if c := byVidPid[id.VendorID+":"+id.ProductID]; len(c) == 1 {
			owner = c[0]
		}
		if owner < 0 {
			continue
		}
		d := &devs[owner]
		if d.DeviceClass == "" {
			d.DeviceClass = "00" // interfaces as separate nodes: a composite device
		}
		if it, ok := classFromIDs(n.CompatibleIDs); ok {
			it.Number = id.MI
			d.Interfaces = append(d.Interfaces, it)
		} else if c := classFromDriver(n); c != "" {
			d.ExtraClasses = append(d.ExtraClasses, c)
		}
	}
	sortDevices(devs)
	return devs
}
