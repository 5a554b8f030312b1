package display

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// DefaultPollInterval is how often displays are re-read. Displays change rarely and reading
// them is cheap, but on macOS and Windows it means running ioreg or walking SetupAPI.
const DefaultPollInterval = 30 * time.Second

// maxEDIDBytes bounds what is read as one EDID (base block plus up to 255 extensions).
const maxEDIDBytes = 256 * 128

// Config says where the collector reads; when no source is set, the live system is read.
type Config struct {
	// SysfsRoot stands for /sys: EDIDs are read from SysfsRoot/class/drm/card*-*/edid for
	// connectors whose status is "connected". Empty means "/sys" on Linux.
	SysfsRoot string
	// IoregFile is saved `ioreg -lw0 -r -c IODisplayConnect` or `ioreg -lw0 -r -c AppleCLCD2`
	// (or a full `ioreg -lw0`) text; product "macos".
	IoregFile string
	// SystemProfilerFile is saved `system_profiler SPDisplaysDataType -json`; product "macos".
	SystemProfilerFile string
	// RegistryFile is a `reg export HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY file.reg`
	// export; product "windows". An export holds every monitor Windows has seen, not only the
	// connected ones.
	RegistryFile string
	// PollInterval between re-reads. Default 30s.
	PollInterval time.Duration
	Logger       hclog.Logger
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
}

// Display is one connected display.
type Display struct {
	Connector string // HDMI-A-1, a registry instance, an ioreg path
	Raw       []byte // the EDID bytes, when the OS gave them
	EDID      *EDID  // decoded identity (from Raw, or from the OS's own attributes)
	Err       error  // why Raw is not a valid EDID
}

// FromEDID decodes raw EDID bytes for a connector.
func FromEDID(connector string, raw []byte) Display {
	d := Display{Connector: connector, Raw: raw}
	d.EDID, d.Err = ParseEDID(raw)
	return d
}

func (d *Display) key() string {
	h := sha256.Sum256(d.Raw)
	id := ""
	if d.EDID != nil {
		id = fmt.Sprintf("%+v", *d.EDID)
	}
	return d.Connector + "\x00" + string(h[:]) + "\x00" + id
}

// Fields are the display event fields, with the given Action.
func (d *Display) Fields(action string) map[string]any {
	f := map[string]any{"Action": action}
	if d.Connector != "" {
		f["Connector"] = d.Connector
	}
	if e := d.EDID; e != nil {
		set := func(k, v string) {
			if v != "" {
				f[k] = v
			}
		}
		set("MonitorName", e.MonitorName)
		set("EdidManufacturer", e.Manufacturer)
		f["EdidProduct"] = fmt.Sprintf("%04x", e.Product)
		f["EdidSerial"] = fmt.Sprintf("%08x", e.Serial)
		set("EdidSerialString", e.SerialString)
		set("EdidText", e.Text)
		if e.Week != 0 {
			f["EdidWeek"] = e.Week
		}
		if e.Year > 1990 {
			f["EdidYear"] = e.Year
		}
		if e.Manufacturer != "" {
			f["PnpId"] = e.PnpID()
		}
	}
	if d.Raw != nil || d.Err != nil {
		f["EdidValid"] = d.Err == nil
		if d.Err != nil {
			f["EdidError"] = d.Err.Error()
		}
	}
	return f
}

// Source is the display collector, named "display". Snapshot reports every connected display
// with Action "present"; Run reports them, then displays added and removed, until ctx ends.
// Its Emit calls come from one goroutine at a time.
type Source struct {
	*collector.Polling[Display]
	cfg Config
	log hclog.Logger
}

// New returns a display source reading where cfg says.
func New(cfg Config) *Source {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	log := collector.Logger(cfg.Logger)
	s := &Source{cfg: cfg, log: log}
	s.Polling = &collector.Polling[Display]{
		SourceName: "display", Category: event.Display, Fields: (*Display).Fields, Key: (*Display).key,
		Open: s.backend,
		Loop: collector.Loop{What: "displays", Log: log, Interval: cfg.PollInterval, Pace: cfg.Pace},
	}
	return s
}

type backend = collector.Backend[Display]

func (s *Source) backend() (*backend, error) {
	switch {
	case s.cfg.IoregFile != "":
		return collector.FileBackend(s.cfg.IoregFile, event.MacOS, DisplaysFromIoreg), nil
	case s.cfg.SystemProfilerFile != "":
		return collector.FileBackend(s.cfg.SystemProfilerFile, event.MacOS, DisplaysFromSystemProfiler), nil
	case s.cfg.RegistryFile != "":
		return collector.FileBackend(s.cfg.RegistryFile, event.Windows, DisplaysFromRegFile), nil
	case s.cfg.SysfsRoot != "":
		root := s.cfg.SysfsRoot
		if err := collector.CheckRoots(collector.Root{Stands: "/sys", Path: root}); err != nil {
			return nil, err
		}
		return &backend{Product: event.Linux, List: func(context.Context) ([]Display, error) { return ReadDRM(root) }}, nil
	}
	return s.liveBackend()
}
