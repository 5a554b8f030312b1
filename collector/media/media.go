package media

import (
	"context"
	"path/filepath"
	"slices"
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
	// Pace slows polling down while the agent is over its budget (nil: full speed).
	Pace *collector.Pace
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

// Source is the removable-media collector, named "media". Snapshot reports the removable
// volumes mounted now with Action "present"; Run reports them, then mounts and unmounts
// ("mounted", "unmounted") until ctx ends. Mounts, IsRemovable and Subscribe are safe for
// concurrent use with Run; Emit calls come from one goroutine at a time.
type Source struct {
	*collector.Polling[Mount]
	cfg Config
	log hclog.Logger

	mu      sync.RWMutex
	mounts  []Mount
	scanned bool
	subs    []func([]Mount)
}

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
	log := collector.Logger(cfg.Logger)
	s := &Source{cfg: cfg, log: log}
	s.Polling = &collector.Polling[Mount]{
		SourceName: "media", Category: event.RemovableMedia, Fields: (*Mount).Fields, Key: (*Mount).key,
		Actions: collector.Actions{Present: "present", Added: "mounted", Removed: "unmounted"},
		Open:    s.backend,
		// A kernel notification from mountinfo (Linux) triggers an extra read at once.
		Loop:   collector.Loop{What: "mounts", Log: log, Interval: cfg.PollInterval, Pace: cfg.Pace},
		Listed: s.publish,
	}
	return s
}

type backend = collector.Backend[Mount]

func (s *Source) backend() (*backend, error) {
	var b *backend
	switch {
	case s.cfg.MountsFile != "" || s.cfg.DiskutilFile != "":
		b = s.darwinFileBackend()
	case s.cfg.ProcRoot != "" || s.cfg.SysfsRoot != "" || s.cfg.DevRoot != "":
		err := collector.CheckRoots(collector.Root{Stands: "/proc", Path: s.cfg.ProcRoot},
			collector.Root{Stands: "/sys", Path: s.cfg.SysfsRoot}, collector.Root{Stands: "/dev", Path: s.cfg.DevRoot})
		if err != nil {
			return nil, err
		}
		b = s.linuxBackend()
	default:
		var err error
		if b, err = s.liveBackend(); err != nil {
			return nil, err
		}
	}
	list := b.List
	b.List = func(ctx context.Context) ([]Mount, error) {
		ms, err := list(ctx)
		sort.Slice(ms, func(i, j int) bool { return ms[i].MountPoint < ms[j].MountPoint })
		return ms, err
	}
	return b, nil
}

// publish makes a listing what Mounts, IsRemovable and subscribers see.
func (s *Source) publish(ms []Mount) {
	s.mu.Lock()
	changed := !s.scanned || !slices.Equal(s.mounts, ms)
	s.mounts, s.scanned = slices.Clone(ms), true
	subs := slices.Clone(s.subs)
	s.mu.Unlock()
	if changed {
		for _, fn := range subs {
			fn(slices.Clone(ms))
		}
	}
}

// Mounts returns the removable volumes mounted now, as of the last scan by Snapshot or Run; if
// neither has scanned yet it scans once itself.
func (s *Source) Mounts() []Mount {
	s.mu.RLock()
	ms, ok := s.mounts, s.scanned
	s.mu.RUnlock()
	if !ok {
		var err error
		if _, ms, err = s.List(context.Background()); err != nil {
			s.log.Warn("listing removable media failed", "error", err)
			return nil
		}
	}
	return append([]Mount(nil), ms...)
}

// IsRemovable reports whether path lies on a removable volume, and which (the deepest mount
// point containing it). path should be absolute and clean.
func (s *Source) IsRemovable(path string) (Mount, bool) {
	// Windows drive letters and paths compare case-insensitively.
	fold := false
	if b, err := s.Backend(); err == nil {
		fold = b.Product == event.Windows
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
