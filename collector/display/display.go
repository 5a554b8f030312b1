// Package display is the display collector: it reports each connected display and the
// identity in its EDID (display events, see docs/events.md), at start and when displays come
// and go. IP-KVMs show up here as "monitors" with tell-tale EDIDs. It reads Linux DRM sysfs,
// macOS ioreg or system_profiler output, and the Windows registry; the parsers for each are
// plain files, so saved dumps (Config.SysfsRoot, IoregFile, SystemProfilerFile, RegistryFile)
// are read the same way on any OS.
package display

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
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

// Source is the display collector. Its Emit calls come from one goroutine at a time.
type Source struct {
	cfg Config
	log hclog.Logger

	mu   sync.Mutex
	back *backend
}

var _ collector.Source = (*Source)(nil)

// New returns a display source reading where cfg says.
func New(cfg Config) *Source {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Source{cfg: cfg, log: log.Named("display")}
}

// Name is "display".
func (s *Source) Name() string { return "display" }

type backend struct {
	product string
	list    func(ctx context.Context) ([]Display, error)
}

func (s *Source) backend() (*backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.back != nil {
		return s.back, nil
	}
	var b *backend
	switch {
	case s.cfg.IoregFile != "":
		b = fileBackend(s.cfg.IoregFile, event.MacOS, DisplaysFromIoreg)
	case s.cfg.SystemProfilerFile != "":
		b = fileBackend(s.cfg.SystemProfilerFile, event.MacOS, DisplaysFromSystemProfiler)
	case s.cfg.RegistryFile != "":
		b = fileBackend(s.cfg.RegistryFile, event.Windows, DisplaysFromRegFile)
	case s.cfg.SysfsRoot != "":
		root := s.cfg.SysfsRoot
		b = &backend{product: event.Linux, list: func(context.Context) ([]Display, error) { return ReadDRM(root) }}
	default:
		var err error
		if b, err = s.liveBackend(); err != nil {
			return nil, err
		}
	}
	s.back = b
	return b, nil
}

const maxDumpBytes = 64 << 20

func fileBackend(path, product string, parse func([]byte) ([]Display, error)) *backend {
	return &backend{product: product, list: func(context.Context) ([]Display, error) {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("display: %w", err)
		}
		if st.Size() > maxDumpBytes {
			return nil, fmt.Errorf("display: %s: %d bytes, larger than the %d accepted", path, st.Size(), maxDumpBytes)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("display: %w", err)
		}
		d, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("display: %s: %w", path, err)
		}
		return d, nil
	}}
}

func (s *Source) emit(emit collector.Emit, b *backend, d *Display, action string) {
	ev := event.New(event.Display, d.Fields(action))
	ev.Product = b.product
	emit(ev)
}

// Snapshot reports every connected display with Action "present".
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	b, err := s.backend()
	if err != nil {
		return err
	}
	ds, err := b.list(ctx)
	if err != nil {
		return err
	}
	for i := range ds {
		s.emit(emit, b, &ds[i], "present")
	}
	return nil
}

// Run reports the connected displays, then displays added and removed, until ctx ends.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	b, err := s.backend()
	if err != nil {
		return err
	}
	ds, err := b.list(ctx)
	if err != nil {
		return err
	}
	known := collector.NewTracker(func(d *Display) string { return d.key() })
	known.Update(ds, func(d *Display) { s.emit(emit, b, d, "present") }, nil)
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := b.list(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("listing displays failed", "error", err)
			continue
		}
		known.Update(cur, func(d *Display) { s.emit(emit, b, d, "added") }, func(d *Display) { s.emit(emit, b, d, "removed") })
	}
}
