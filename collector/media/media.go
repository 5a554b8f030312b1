// Package media is the removable-media collector: it reports removable volumes mounted at
// start and mounted or unmounted afterwards (removable_media events, see docs/events.md), and
// answers other collectors' questions "is this path on removable media?" and "which removable
// mount points are there?" (Source.IsRemovable, Source.Mounts, Source.Subscribe). It reads
// Linux mountinfo and sysfs, macOS mounts under /Volumes with diskutil, and Windows drive
// types; the parsers are plain files, so saved dumps are read the same way on any OS.
package media

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// Defaults for Config.
const (
	DefaultPollInterval = 2 * time.Second
)

// DefaultMediaRoots are where desktop automounters (udisks) mount removable volumes on Linux.
var DefaultMediaRoots = []string{"/media", "/run/media"}

// Config says where the collector reads; empty fields mean the live system.
type Config struct {
	// ProcRoot stands for /proc: mounts are read from ProcRoot/self/mountinfo (Linux).
	ProcRoot string
	// SysfsRoot stands for /sys: a mount's block device is looked up under SysfsRoot/dev/block
	// and SysfsRoot/class/block (Linux).
	SysfsRoot string
	// DevRoot stands for /dev: volume labels come from DevRoot/disk/by-label (Linux).
	DevRoot string
	// MediaRoots are folders where a mount of a removable-type file system (vfat, exfat, ntfs,
	// udf, iso9660, hfsplus...) counts as removable even when sysfs cannot tell (Linux).
	// Default DefaultMediaRoots.
	MediaRoots []string
	// MountsFile is saved macOS `mount` output; DiskutilFile is saved `diskutil info -plist`
	// output for those devices (several plists, one after another). Either makes the source
	// read macOS data (product "macos") on any OS.
	MountsFile   string
	DiskutilFile string
	// VolumesRoot is where macOS mounts volumes. Default "/Volumes".
	VolumesRoot string
	// PollInterval is how often mounts are re-read. Default 2s: on Linux one read of a small
	// file (classification is cached per mount); on Windows a look at each drive letter; on
	// macOS one getfsstat call (diskutil runs once per new device). On Linux a kernel
	// notification from mountinfo triggers an extra read at once.
	PollInterval time.Duration
	Logger       hclog.Logger
}

// Mount is one mounted removable volume.
type Mount struct {
	MountPoint string
	Device     string // /dev/sdb1, disk4s1, E:
	FsType     string
	Label      string
	// Reason says why the volume counts as removable: "removable" (the disk's removable flag or
	// Windows DRIVE_REMOVABLE), "usb" (the disk hangs off a USB bus), "sd-card", "optical",
	// "media-path" (a removable-type file system under a MediaRoots folder), "external" (macOS
	// diskutil: ejectable or not internal), "volumes-path" (macOS, no diskutil answer).
	Reason string
}

// Fields are the removable_media event fields, with the given Action.
func (m *Mount) Fields(action string) map[string]any {
	f := map[string]any{"Action": action, "MountPoint": m.MountPoint}
	for k, v := range map[string]string{"Device": m.Device, "FsType": m.FsType, "Label": m.Label, "Reason": m.Reason} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

func (m *Mount) key() string { return m.MountPoint + "\x00" + m.Device + "\x00" + m.FsType }

// Source is the removable-media collector. Mounts, IsRemovable and Subscribe are safe for
// concurrent use with Run; Emit calls come from one goroutine at a time.
type Source struct {
	cfg Config
	log hclog.Logger

	backOnce sync.Once
	back     *backend
	backErr  error

	mu      sync.RWMutex
	mounts  []Mount
	scanned bool
	subs    []func([]Mount)
}

var _ collector.Source = (*Source)(nil)

// New returns a removable-media source reading where cfg says.
func New(cfg Config) *Source {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MediaRoots == nil {
		cfg.MediaRoots = DefaultMediaRoots
	}
	if cfg.VolumesRoot == "" {
		cfg.VolumesRoot = "/Volumes"
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Source{cfg: cfg, log: log.Named("media")}
}

// Name is "media".
func (s *Source) Name() string { return "media" }

type backend struct {
	product string
	list    func(ctx context.Context) ([]Mount, error)
	// watch, when set, signals when the mount table may have changed.
	watch func(ctx context.Context) (<-chan struct{}, error)
	// fold compares paths case-insensitively (Windows drive letters).
	fold bool
}

func (s *Source) backend() (*backend, error) {
	s.backOnce.Do(func() {
		switch {
		case s.cfg.MountsFile != "" || s.cfg.DiskutilFile != "":
			s.back = s.darwinFileBackend()
		case s.cfg.ProcRoot != "" || s.cfg.SysfsRoot != "":
			s.back = s.linuxBackend()
		default:
			s.back, s.backErr = s.liveBackend()
		}
	})
	return s.back, s.backErr
}

// scan lists the mounts and publishes them to Mounts, IsRemovable and subscribers.
func (s *Source) scan(ctx context.Context, b *backend) ([]Mount, error) {
	ms, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].MountPoint < ms[j].MountPoint })
	s.mu.Lock()
	changed := !s.scanned || !sameMounts(s.mounts, ms)
	s.mounts, s.scanned = ms, true
	subs := make([]func([]Mount), len(s.subs))
	copy(subs, s.subs)
	s.mu.Unlock()
	if changed {
		for _, fn := range subs {
			fn(append([]Mount(nil), ms...))
		}
	}
	return ms, nil
}

func sameMounts(a, b []Mount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Mounts returns the removable volumes mounted now, as of the last scan by Snapshot or Run; if
// neither has scanned yet it scans once itself.
func (s *Source) Mounts() []Mount {
	s.mu.RLock()
	ms, ok := s.mounts, s.scanned
	s.mu.RUnlock()
	if !ok {
		b, err := s.backend()
		if err == nil {
			ms, err = s.scan(context.Background(), b)
		}
		if err != nil {
			s.log.Warn("listing removable media failed", "error", err)
			return nil
		}
	}
	return append([]Mount(nil), ms...)
}

// IsRemovable reports whether path lies on a removable volume, and which (the deepest mount
// point containing it). path should be absolute and clean.
func (s *Source) IsRemovable(path string) (Mount, bool) {
	fold := false
	if b, err := s.backend(); err == nil {
		fold = b.fold
	}
	var best Mount
	found := false
	for _, m := range s.Mounts() {
		if within(path, m.MountPoint, fold) && (!found || len(m.MountPoint) > len(best.MountPoint)) {
			best, found = m, true
		}
	}
	return best, found
}

// Subscribe registers fn to be called with the full list whenever the removable mounts change
// (and once after the first scan). fn runs on the scanning goroutine and must not block.
func (s *Source) Subscribe(fn func([]Mount)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
}

// within tells whether path is mountPoint or below it, comparing whole path elements.
func within(path, mountPoint string, fold bool) bool {
	if mountPoint == "" {
		return false
	}
	if fold {
		path, mountPoint = strings.ToLower(path), strings.ToLower(mountPoint)
	}
	if path == mountPoint {
		return true
	}
	mp := mountPoint
	if !strings.HasSuffix(mp, "/") && !strings.HasSuffix(mp, `\`) {
		if !strings.HasPrefix(path, mp) || len(path) <= len(mp) {
			return false
		}
		c := path[len(mp)]
		return c == '/' || c == filepath.Separator || (fold && c == '\\')
	}
	return strings.HasPrefix(path, mp)
}

func (s *Source) emit(emit collector.Emit, b *backend, m *Mount, action string) {
	ev := event.New(event.RemovableMedia, m.Fields(action))
	ev.Product = b.product
	emit(ev)
}

// Snapshot reports the removable volumes mounted now, with Action "present".
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	b, err := s.backend()
	if err != nil {
		return err
	}
	ms, err := s.scan(ctx, b)
	if err != nil {
		return err
	}
	for i := range ms {
		s.emit(emit, b, &ms[i], "present")
	}
	return nil
}

// Run reports the removable volumes mounted now, then mounts and unmounts until ctx ends.
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	b, err := s.backend()
	if err != nil {
		return err
	}
	ms, err := s.scan(ctx, b)
	if err != nil {
		return err
	}
	known := collector.NewTracker(func(m *Mount) string { return m.key() })
	known.Update(ms, func(m *Mount) { s.emit(emit, b, m, "present") }, nil)
	var notify <-chan struct{}
	if b.watch != nil {
		if ch, err := b.watch(ctx); err != nil {
			s.log.Debug("mount change notifications unavailable", "reason", err)
		} else {
			notify = ch
		}
	}
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case _, ok := <-notify:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("mount notifications stopped, polling only", "interval", s.cfg.PollInterval)
				notify = nil
				continue
			}
		}
		cur, err := s.scan(ctx, b)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("listing mounts failed", "error", err)
			continue
		}
		known.Update(cur, func(m *Mount) { s.emit(emit, b, m, "mounted") }, func(m *Mount) { s.emit(emit, b, m, "unmounted") })
	}
}
