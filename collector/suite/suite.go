// Package suite assembles every endpoint source from one set of options (path roots for fixture
// and forensic runs, file-watch roots, intervals) and wires them together: removable volumes the
// media source sees become roots of the file watcher, and file events on them are tagged
// Removable. It also wires the identity aids: the DNS answers this host receives name the
// network source's outbound connections, new listeners are probed for remote-desktop protocols,
// and every process start asks the image-load source for its libraries and the network source
// for a prompt look at sockets. `vigil scan` and the agent both run collectors through it.
package suite

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/display"
	"github.com/vigilhq/vigil/collector/dnsnames"
	"github.com/vigilhq/vigil/collector/files"
	"github.com/vigilhq/vigil/collector/host"
	"github.com/vigilhq/vigil/collector/imageload"
	"github.com/vigilhq/vigil/collector/media"
	"github.com/vigilhq/vigil/collector/netconn"
	"github.com/vigilhq/vigil/collector/process"
	"github.com/vigilhq/vigil/collector/rdprobe"
	"github.com/vigilhq/vigil/collector/usb"
	"github.com/vigilhq/vigil/internal/event"
)

// Names of the sources, in the order they run.
var Names = []string{"host", "process", "imageload", "netconn", "usb", "display", "media", "files"}

// Options configures the suite. Empty roots mean the live system.
type Options struct {
	Only []string // source names to run (see Names); empty: all

	SysfsRoot string // stands for /sys (USB devices, DRM EDIDs, block devices, network classes)
	ProcRoot  string // stands for /proc (processes, network, mountinfo, ARP table)
	EtcRoot   string // stands for /etc (time zone, keyboard, OS release, user names)
	DevRoot   string // stands for /dev (volume labels)

	IoregFile          string // macOS `ioreg -p IOUSB -l -w0` output (USB devices)
	IoregDisplayFile   string // macOS `ioreg -lw0 -r -c IODisplayConnect` output (EDIDs)
	WindowsDevicesFile string // Windows `pnputil /enum-devices /connected` output (USB devices)
	DisplayRegistry    string // Windows `reg export HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY` file
	HostRegistry       string // Windows registry export for host settings (keyboard layouts, input methods)

	FileRoots    []string // watched folders; nil: the file collector's defaults (homes, temp)
	FileExcludes []string // nil: the file collector's defaults

	// The network source's aids, on by default on the live system and never with a ProcRoot
	// (fixture sockets are not this host's to probe, nor its DNS answers theirs):
	NoDNSNames      bool // no DNS answer capture, so no DestinationHostname
	NoListenerProbe bool // no remote-desktop protocol probe of new listeners

	// Pace, when set, lets the agent's self-limits slow the sources down.
	Pace *collector.Pace

	Logger hclog.Logger
}

// Suite is the set of configured sources.
type Suite struct {
	sources []collector.Source
	media   *media.Source
	files   *files.Source
	images  *imageload.Source
	dns     *dnsnames.Cache
	net     *netconn.Source // told of process starts when the process source runs
	log     hclog.Logger
}

// New builds the sources the options select.
func New(o Options) (*Suite, error) {
	log := collector.Logger(o.Logger)
	want := map[string]bool{}
	for _, n := range o.Only {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !contains(Names, part) {
				return nil, fmt.Errorf("unknown source %q (sources: %s)", part, strings.Join(Names, ", "))
			}
			want[part] = true
		}
	}
	on := func(name string) bool { return len(want) == 0 || want[name] }
	s := &Suite{log: log}
	named := func(n string) hclog.Logger { return log.Named(n) }
	if on("host") {
		s.sources = append(s.sources, host.New(host.Config{
			EtcRoot: o.EtcRoot, ProcRoot: o.ProcRoot, SysRoot: o.SysfsRoot,
			RegistryExport: o.HostRegistry, Logger: named("host"),
		}))
	}
	if on("process") {
		s.sources = append(s.sources, process.New(process.Config{ProcRoot: o.ProcRoot, EtcRoot: o.EtcRoot, Logger: named("process"), Pace: o.Pace}))
	}
	if on("imageload") {
		// The libraries a fixture tree's maps name are this machine's files, not the tree's:
		// they are not read (hashed) when a proc root is given.
		s.images = imageload.New(imageload.Config{ProcRoot: o.ProcRoot, NoHashes: o.ProcRoot != "", Logger: named("imageload")})
		s.sources = append(s.sources, s.images)
	}
	if on("netconn") {
		cfg := netconn.Config{ProcRoot: o.ProcRoot, EtcRoot: o.EtcRoot, Logger: named("netconn"), Pace: o.Pace}
		live := o.ProcRoot == ""
		if live && !o.NoDNSNames {
			s.dns = dnsnames.NewCache(0, -1)
			cfg.Hostnames = s.dns.LookupString
		}
		if live && !o.NoListenerProbe {
			cfg.Prober = rdprobe.New(rdprobe.Config{})
		}
		src := netconn.New(cfg)
		if on("process") {
			s.net = src
		}
		s.sources = append(s.sources, src)
	}
	if on("usb") {
		s.sources = append(s.sources, usb.New(usb.Config{
			SysfsRoot: o.SysfsRoot, IoregFile: o.IoregFile, WindowsDevicesFile: o.WindowsDevicesFile, Logger: named("usb"), Pace: o.Pace,
		}))
	}
	if on("display") {
		s.sources = append(s.sources, display.New(display.Config{
			SysfsRoot: o.SysfsRoot, IoregFile: o.IoregDisplayFile, RegistryFile: o.DisplayRegistry, Logger: named("display"), Pace: o.Pace,
		}))
	}
	if on("media") || on("files") {
		s.media = media.New(media.Config{ProcRoot: o.ProcRoot, SysfsRoot: o.SysfsRoot, DevRoot: o.DevRoot, Logger: named("media"), Pace: o.Pace})
		if on("media") {
			s.sources = append(s.sources, s.media)
		}
	}
	if on("files") {
		m := s.media
		s.files = files.New(files.Config{
			Roots: o.FileRoots, Excludes: o.FileExcludes, Logger: named("files"),
			IsRemovable: func(p string) bool { _, ok := m.IsRemovable(p); return ok },
		})
		s.sources = append(s.sources, s.files)
	}
	if len(s.sources) == 0 {
		return nil, errors.New("no source selected")
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Sources returns the configured sources in run order.
func (s *Suite) Sources() []collector.Source { return s.sources }

// serial makes emit safe to call from several sources at once.
func serial(emit collector.Emit) collector.Emit {
	var mu sync.Mutex
	return func(ev *collector.Event) {
		mu.Lock()
		defer mu.Unlock()
		emit(ev)
	}
}

// SourceError is one source's failure; Snapshot and Run join them.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Failures lists the sources' failures in an error returned by Snapshot or Run.
func Failures(err error) []*SourceError {
	var out []*SourceError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Failures(e)...)
		}
		return out
	}
	var se *SourceError
	if errors.As(err, &se) {
		out = append(out, se)
	}
	return out
}

// Snapshot runs every source's Snapshot once, one after another. A source that fails is
// reported in the returned error (the SourceErrors joined; see Failures) but does not stop the
// others.
func (s *Suite) Snapshot(ctx context.Context, emit collector.Emit) error {
	var errs []error
	for _, src := range s.sources {
		if err := src.Snapshot(ctx, emit); err != nil {
			s.log.Warn("source failed", "source", src.Name(), "error", err)
			errs = append(errs, &SourceError{Source: src.Name(), Err: err})
		}
	}
	return errors.Join(errs...)
}

// Run runs every source until ctx ends, serialising emit. Removable volumes the media source
// reports are added to (and removed from) the file watcher's roots as they come and go. It
// returns when all sources have returned, with their errors joined.
func (s *Suite) Run(ctx context.Context, emit collector.Emit) error {
	emit = s.tap(serial(emit))
	if s.dns != nil {
		go func() {
			err := s.dns.Capture(ctx, s.log.Named("dns"))
			switch {
			case errors.Is(err, dnsnames.ErrUnsupported):
				s.log.Debug("no DNS answer capture on this platform: connections carry no host names")
			case err != nil && ctx.Err() == nil:
				s.log.Warn("DNS answer capture unavailable: connections carry no host names", "error", err)
			}
		}()
	}
	if s.media != nil && s.files != nil {
		var mu sync.Mutex
		current := map[string]bool{}
		f := s.files
		s.media.Subscribe(func(mounts []media.Mount) {
			mu.Lock()
			defer mu.Unlock()
			seen := map[string]bool{}
			for _, m := range mounts {
				seen[m.MountPoint] = true
				if !current[m.MountPoint] {
					if err := f.AddRoot(m.MountPoint); err != nil {
						s.log.Warn("cannot watch removable volume", "mount", m.MountPoint, "error", err)
						continue
					}
					current[m.MountPoint] = true
				}
			}
			for mp := range current {
				if !seen[mp] {
					f.RemoveRoot(mp)
					delete(current, mp)
				}
			}
		})
	}
	sources := s.sources
	if s.media != nil && !contains(names(sources), "media") {
		// The file watcher needs the media source's mount tracking even when its events are not
		// wanted.
		sources = append(sources, quiet{s.media})
	}
	var wg sync.WaitGroup
	errCh := make(chan error, len(sources))
	for _, src := range sources {
		wg.Add(1)
		go func(src collector.Source) {
			defer wg.Done()
			if err := src.Run(ctx, emit); err != nil && ctx.Err() == nil {
				s.log.Warn("source stopped", "source", src.Name(), "error", err)
				errCh <- &SourceError{Source: src.Name(), Err: err}
			}
		}(src)
	}
	wg.Wait()
	close(errCh)
	var errs []error
	for err := range errCh {
		errs = append(errs, err)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// tap passes each process start on to the image-load source (which reads the new process's
// libraries) and the network source (which looks at sockets soon: a new process may listen).
func (s *Suite) tap(emit collector.Emit) collector.Emit {
	if s.images == nil && s.net == nil {
		return emit
	}
	return func(ev *collector.Event) {
		emit(ev)
		pid, ok := ev.Int("ProcessId")
		if ev.Category != event.ProcessCreation || !ok {
			return
		}
		if s.images != nil {
			s.images.Notice(pid)
		}
		if s.net != nil {
			s.net.Notice(pid)
		}
	}
}

// DNSNames is the cache of names learned from DNS answers (nil when capture is off).
func (s *Suite) DNSNames() *dnsnames.Cache { return s.dns }

func names(srcs []collector.Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name())
	}
	return out
}

// quiet runs a source and drops its events.
type quiet struct{ collector.Source }

func (q quiet) Run(ctx context.Context, _ collector.Emit) error {
	return q.Source.Run(ctx, func(*collector.Event) {})
}
