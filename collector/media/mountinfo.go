package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/vigilhq/vigil/internal/event"
)

// MountEntry is one line of /proc/<pid>/mountinfo.
type MountEntry struct {
	ID, Parent   int
	Major, Minor int
	Root         string
	MountPoint   string
	Options      string
	FsType       string
	Source       string
	SuperOptions string
}

// maxMountinfoBytes bounds what is read of a mountinfo file.
const maxMountinfoBytes = 16 << 20

// ParseMountinfo reads mountinfo text (proc(5)): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 -
// ext3 /dev/root rw,errors=continue", with octal escapes (\040) in paths. Errors name the line.
func ParseMountinfo(r io.Reader) ([]MountEntry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxMountinfoBytes))
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	var out []MountEntry
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 6 || sep < 0 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: want 'id parent maj:min root mountpoint options ... - fstype source superoptions'", n)
		}
		var e MountEntry
		var err error
		if e.ID, err = strconv.Atoi(f[0]); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: mount id %q: %w", n, f[0], err)
		}
		if e.Parent, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: parent id %q: %w", n, f[1], err)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			return nil, fmt.Errorf("mountinfo line %d: device %q is not major:minor", n, f[2])
		}
		if e.Major, err = strconv.Atoi(maj); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: major %q: %w", n, maj, err)
		}
		if e.Minor, err = strconv.Atoi(min); err != nil {
			return nil, fmt.Errorf("mountinfo line %d: minor %q: %w", n, min, err)
		}
		e.Root, e.MountPoint, e.Options = unescape(f[3]), unescape(f[4]), f[5]
		e.FsType, e.Source = unescape(f[sep+1]), unescape(f[sep+2])
		if len(f) > sep+3 {
			e.SuperOptions = f[sep+3]
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo line %d: %w", n+1, err)
	}
	return out, nil
}

// unescape undoes the kernel's octal escapes (\040 space, \011 tab, \012 newline, \134 \).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// removableFS are file systems that removable volumes carry; a mount of one counts as removable
// when sysfs does not say otherwise: "media-path" under a media root, "fs-type" elsewhere (but
// not the boot and EFI system partitions).
var removableFS = map[string]bool{
	"vfat": true, "msdos": true, "exfat": true, "ntfs": true, "ntfs3": true, "fuseblk": true,
	"udf": true, "iso9660": true, "hfsplus": true, "hfs": true, "apfs": true,
}

var usbComponent = regexp.MustCompile(`^usb\d+$`)

// linuxClassifier decides which mounts are removable, caching the answer per mount.
type linuxClassifier struct {
	sysfs, dev string
	mediaRoots []string

	mu    sync.Mutex
	cache map[string]string // mount id + device + mount point -> reason ("" = not removable)
}

func newLinuxClassifier(sysfs, dev string, mediaRoots []string) *linuxClassifier {
	return &linuxClassifier{sysfs: sysfs, dev: dev, mediaRoots: mediaRoots, cache: map[string]string{}}
}

// ClassifyLinux returns the removable mounts among entries. A mount is removable when its
// block device's disk has the removable flag (USB sticks, card readers, optical drives), hangs
// off a USB bus in sysfs (USB disks that claim to be fixed), is an SD card, or when sysfs
// cannot tell and it is a removable-type file system mounted under one of mediaRoots. Device
// mapper and md devices are followed to the disks below them.
func ClassifyLinux(entries []MountEntry, sysfsRoot, devRoot string, mediaRoots []string) []Mount {
	return newLinuxClassifier(sysfsRoot, devRoot, mediaRoots).classify(entries)
}

func (c *linuxClassifier) classify(entries []MountEntry) []Mount {
	c.mu.Lock()
	defer c.mu.Unlock()
	var labels map[string]string
	var out []Mount
	seen := map[string]bool{}
	for _, e := range entries {
		k := fmt.Sprintf("%d\x00%d:%d\x00%s\x00%s", e.ID, e.Major, e.Minor, e.Source, e.MountPoint)
		seen[k] = true
		reason, ok := c.cache[k]
		if !ok {
			reason = c.reason(e)
			c.cache[k] = reason
		}
		if reason == "" {
			continue
		}
		if labels == nil {
			labels = readLabels(c.dev)
		}
		m := Mount{MountPoint: e.MountPoint, Device: e.Source, FsType: e.FsType, Reason: reason}
		if dev, err := filepath.EvalSymlinks(e.Source); err == nil && c.dev == "/dev" {
			m.Label = labels[filepath.Base(dev)]
		}
		if m.Label == "" {
			m.Label = labels[filepath.Base(e.Source)]
		}
		out = append(out, m)
	}
	for k := range c.cache {
		if !seen[k] {
			delete(c.cache, k)
		}
	}
	return out
}

func (c *linuxClassifier) reason(e MountEntry) string {
	if dir := c.blockDir(e); dir != "" {
		if r := diskReason(dir, 0); r != "" {
			return r
		}
	}
	if removableFS[e.FsType] {
		for _, root := range c.mediaRoots {
			if within(e.MountPoint, filepath.Clean(root), false) && e.MountPoint != filepath.Clean(root) {
				return "media-path"
			}
		}
		// Wherever else it is mounted (~/usb, /mnt/x, /srv/stick), a removable-type file system
		// counts too, except the boot and EFI system partitions.
		for _, sys := range systemFSPlaces {
			if within(e.MountPoint, sys, false) {
				return ""
			}
		}
		return "fs-type"
	}
	return ""
}

// systemFSPlaces hold vfat and other removable-type file systems that are part of the system.
var systemFSPlaces = []string{"/boot", "/efi", "/boot/efi"}

// blockDir finds the sysfs folder of the mount's block device (resolved), or "".
func (c *linuxClassifier) blockDir(e MountEntry) string {
	if e.Major != 0 {
		p := filepath.Join(c.sysfs, "dev", "block", fmt.Sprintf("%d:%d", e.Major, e.Minor))
		if d, err := filepath.EvalSymlinks(p); err == nil {
			return d
		}
	}
	if strings.HasPrefix(e.Source, "/dev/") {
		p := filepath.Join(c.sysfs, "class", "block", filepath.Base(e.Source))
		if d, err := filepath.EvalSymlinks(p); err == nil {
			return d
		}
	}
	return ""
}

// diskReason classifies a resolved sysfs block folder (a disk or a partition).
func diskReason(dir string, depth int) string {
	if depth > 4 {
		return ""
	}
	disk := dir
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		disk = filepath.Dir(dir)
	}
	if ents, err := os.ReadDir(filepath.Join(disk, "slaves")); err == nil && len(ents) > 0 {
		for _, s := range ents {
			if d, err := filepath.EvalSymlinks(filepath.Join(disk, "slaves", s.Name())); err == nil {
				if r := diskReason(d, depth+1); r != "" {
					return r
				}
			}
		}
		return ""
	}
	for _, part := range strings.Split(filepath.ToSlash(disk), "/") {
		if usbComponent.MatchString(part) {
			return "usb"
		}
	}
	if b, err := readSmall(filepath.Join(disk, "device", "type")); err == nil && strings.TrimSpace(b) == "SD" && strings.Contains(filepath.ToSlash(disk), "/mmc_host/") {
		return "sd-card"
	}
	if b, err := readSmall(filepath.Join(disk, "removable")); err == nil && strings.TrimSpace(b) == "1" {
		if strings.HasPrefix(filepath.Base(disk), "sr") {
			return "optical"
		}
		return "removable"
	}
	return ""
}

func readSmall(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	return string(b), err
}

// readLabels maps device names (sdb1) to labels from devRoot/disk/by-label, whose link names
// escape bytes as \xHH.
func readLabels(devRoot string) map[string]string {
	dir := filepath.Join(devRoot, "disk", "by-label")
	ents, err := os.ReadDir(dir)
	m := map[string]string{}
	if err != nil {
		return m
	}
	for _, e := range ents {
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		m[filepath.Base(t)] = unhexLabel(e.Name())
	}
	return m
}

func unhexLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// linuxBackend reads ProcRoot/self/mountinfo and classifies with SysfsRoot and DevRoot.
func (s *Source) linuxBackend() *backend {
	proc, sysfs, dev := s.cfg.ProcRoot, s.cfg.SysfsRoot, s.cfg.DevRoot
	if proc == "" {
		proc = "/proc"
	}
	if sysfs == "" {
		sysfs = "/sys"
	}
	if dev == "" {
		dev = "/dev"
	}
	c := newLinuxClassifier(sysfs, dev, s.cfg.MediaRoots)
	path := filepath.Join(proc, "self", "mountinfo")
	t := &mountTable{path: path}
	return &backend{
		Product: event.Linux,
		List: func(context.Context) ([]Mount, error) {
			entries, err := t.read()
			if err != nil {
				return nil, err
			}
			return c.classify(entries), nil
		},
		Watch: func(ctx context.Context) (<-chan struct{}, error) { return watchMountinfo(ctx, path, s.log) },
	}
}

// mountTable reads a mountinfo file for a poll loop. The table rarely changes between polls, so
// it is read into a reused buffer and parsed again only when its bytes differ from those of the
// last parse: an unchanged table costs a read and a comparison, not the allocations of a parse
// (which were most of what the idle agent allocated: the poll runs every 2 s).
type mountTable struct {
	path    string
	mu      sync.Mutex
	buf     bytes.Buffer
	last    []byte // the bytes entries were parsed from
	entries []MountEntry
	parsed  bool
}

// read returns the file's entries. They are shared between calls: callers must not modify them.
func (t *mountTable) read() ([]MountEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t.buf.Reset()
	if _, err := t.buf.ReadFrom(io.LimitReader(f, maxMountinfoBytes)); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	if t.parsed && bytes.Equal(t.buf.Bytes(), t.last) {
		return t.entries, nil
	}
	entries, err := ParseMountinfo(bytes.NewReader(t.buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	t.entries, t.last, t.parsed = entries, append(t.last[:0], t.buf.Bytes()...), true
	return entries, nil
}
