package usb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// Defaults for Config's intervals.
const (
	DefaultPollInterval   = 5 * time.Second
	DefaultRescanInterval = 30 * time.Second
	DefaultSettleDelay    = 500 * time.Millisecond
)

// Config says where the collector reads. At most one of SysfsRoot, IoregFile and
// WindowsDevicesFile is normally set; when none is, the live system of the running OS is read.
type Config struct {
	// SysfsRoot stands for /sys: devices are read from SysfsRoot/bus/usb/devices. Empty means
	// "/sys" on Linux and is ignored elsewhere.
	SysfsRoot string
	// IoregFile is saved `ioreg -p IOUSB -l -w0` (or a full `ioreg -l -w0`) text; events get
	// product "macos" whatever OS reads it. Empty on macOS means: run ioreg.
	IoregFile string
	// WindowsDevicesFile is saved `pnputil /enum-devices /connected [/ids] [/relations]` and/or
	// `Get-CimInstance Win32_PnPEntity | Format-List` text (UTF-8 or UTF-16); product "windows".
	// Empty on Windows means: ask SetupAPI.
	WindowsDevicesFile string
	// PollInterval is how often the device list is re-read when no hotplug notification is
	// available (and how often a dump file is checked for changes). Default 5s.
	PollInterval time.Duration
	// RescanInterval is the safety re-read while netlink hotplug notifications are used, in case
	// one was lost or the kernel does not send them to this network namespace. Default 30s.
	RescanInterval time.Duration
	// SettleDelay is how long to wait after a hotplug notification (and before re-reading a new
	// device whose interfaces are not all there yet). Default 500ms.
	SettleDelay time.Duration
	// DisableNetlink forces polling on Linux even when a uevent socket could be opened.
	DisableNetlink bool
	Logger         hclog.Logger
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
}

// Interface is one USB interface of a device's active configuration.
type Interface struct {
	Number                    int
	Class, SubClass, Protocol uint8
}

// String is the interface as class/subclass/protocol in hex ("03/01/01").
func (i Interface) String() string {
	return fmt.Sprintf("%02x/%02x/%02x", i.Class, i.SubClass, i.Protocol)
}

// Device is one USB device as the OS reports it. Empty strings are "not observed".
type Device struct {
	Location                      string // sysfs name (1-1.2, usb1), macOS location ID, Windows instance ID
	VendorID, ProductID           string // four lowercase hex digits
	Manufacturer, Product, Serial string
	Description                   string // the OS's own description (Windows), not the device's
	DeviceClass                   string // two lowercase hex digits
	Configuration                 string
	Interfaces                    []Interface
	// ExtraClasses are interface kinds known without a class triple (a Windows interface known
	// only by its driver); they join InterfaceClasses.
	ExtraClasses []string

	token      string // changes when the device at Location is re-enumerated (sysfs devnum)
	incomplete bool   // fewer interfaces than the configuration declares (still being set up)
}

// key identifies one device instance for diffing.
func (d *Device) key() string {
	return d.Location + "\x00" + d.VendorID + "\x00" + d.ProductID + "\x00" + d.Serial + "\x00" + d.token
}

// InterfaceClasses names the device's interface kinds, once each, in interface order.
func (d *Device) InterfaceClasses() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, i := range d.Interfaces {
		add(ClassName(i.Class, i.SubClass, i.Protocol))
	}
	for _, s := range d.ExtraClasses {
		add(s)
	}
	return out
}

// Fields are the usb_device event fields for the device, with the given Action.
func (d *Device) Fields(action string) map[string]any {
	f := map[string]any{"Action": action}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("VendorId", d.VendorID)
	set("ProductId", d.ProductID)
	set("Manufacturer", d.Manufacturer)
	set("Product", d.Product)
	set("Serial", d.Serial)
	set("Description", d.Description)
	set("DeviceClass", d.DeviceClass)
	set("Configuration", d.Configuration)
	set("Location", d.Location)
	if cls := d.InterfaceClasses(); len(cls) > 0 {
		f["InterfaceClasses"] = cls
	}
	if len(d.Interfaces) > 0 {
		ifs := make([]string, len(d.Interfaces))
		for i, it := range d.Interfaces {
			ifs[i] = it.String()
		}
		f["Interfaces"] = ifs
	}
	return f
}

// Source is the USB collector, named "usb". Snapshot reports every device present with Action
// "present"; Run reports them, then additions and removals until ctx ends. Its Emit calls come
// from one goroutine at a time.
type Source struct {
	*collector.Polling[Device]
	cfg Config
	log hclog.Logger
}

// New returns a USB source reading where cfg says.
func New(cfg Config) *Source {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RescanInterval <= 0 {
		cfg.RescanInterval = DefaultRescanInterval
	}
	if cfg.SettleDelay <= 0 {
		cfg.SettleDelay = DefaultSettleDelay
	}
	log := collector.Logger(cfg.Logger)
	s := &Source{cfg: cfg, log: log}
	s.Polling = &collector.Polling[Device]{
		SourceName: "usb", Category: event.USBDevice, Fields: (*Device).Fields, Key: (*Device).key,
		Open: s.backend,
		// While netlink uevents arrive, the list is re-read after each burst of them (one plug
		// gives several) and every RescanInterval in case one was lost.
		Loop: collector.Loop{What: "USB devices", Log: log, Interval: cfg.PollInterval, Pace: cfg.Pace,
			WatchedInterval: cfg.RescanInterval, Settle: cfg.SettleDelay},
		// A new device whose interfaces are not all there yet is held back for a few re-reads,
		// so its "added" event is complete.
		Hold: func(d *Device) bool { return d.incomplete },
	}
	return s
}

// backend is one way of listing devices.
type backend = collector.Backend[Device]

func (s *Source) backend() (*backend, error) {
	switch {
	case s.cfg.IoregFile != "":
		return collector.FileBackend(s.cfg.IoregFile, event.MacOS, DevicesFromIoreg), nil
	case s.cfg.WindowsDevicesFile != "":
		return collector.FileBackend(s.cfg.WindowsDevicesFile, event.Windows, func(r []byte) ([]Device, error) {
			pnp, err := ParsePnpText(r)
			if err != nil {
				return nil, err
			}
			return DevicesFromPnp(pnp), nil
		}), nil
	case s.cfg.SysfsRoot != "":
		if err := collector.CheckRoots(collector.Root{Stands: "/sys", Path: s.cfg.SysfsRoot}); err != nil {
			return nil, err
		}
		return s.sysfsBackend(s.cfg.SysfsRoot), nil
	}
	return s.liveBackend()
}

func (s *Source) sysfsBackend(root string) *backend {
	r := newSysfsReader(root, s.log)
	b := &backend{Product: event.Linux, List: func(context.Context) ([]Device, error) { return r.List() }}
	if !s.cfg.DisableNetlink {
		b.Watch = func(ctx context.Context) (<-chan struct{}, error) { return watchUevents(ctx, root, s.log) }
	}
	return b
}

// sortDevices orders devices by location, so snapshots are stable.
func sortDevices(d []Device) {
	sort.SliceStable(d, func(i, j int) bool { return naturalLess(d[i].Location, d[j].Location) })
}

// naturalLess compares strings with digit runs as numbers ("1-2" < "1-10").
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			if len(strings.TrimLeft(da, "0")) != len(strings.TrimLeft(db, "0")) {
				return len(strings.TrimLeft(da, "0")) < len(strings.TrimLeft(db, "0"))
			}
			if c := strings.Compare(strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")); c != 0 {
				return c < 0
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
