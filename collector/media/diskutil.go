package media

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"

	"howett.net/plist"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// DarwinMount is one mounted file system as macOS reports it (getfsstat, or a line of `mount`).
type DarwinMount struct {
	Device     string // /dev/disk4s1
	MountPoint string
	FsType     string
	Local      bool
	RootFS     bool
	ReadOnly   bool
}

// ParseMountOutput reads macOS `mount` output: "/dev/disk4s1 on /Volumes/USB (msdos, local,
// nodev, nosuid, noowners)". Errors name the line.
func ParseMountOutput(text []byte) ([]DarwinMount, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	var out []DarwinMount
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		on := strings.Index(line, " on ")
		open := strings.LastIndex(line, " (")
		if on < 0 || open < on+4 || !strings.HasSuffix(line, ")") {
			return nil, fmt.Errorf("mount output line %d: want 'device on mountpoint (type, options)'", n)
		}
		m := DarwinMount{Device: line[:on], MountPoint: line[on+4 : open]}
		opts := strings.Split(line[open+2:len(line)-1], ",")
		m.FsType = strings.TrimSpace(opts[0])
		for _, o := range opts[1:] {
			switch strings.TrimSpace(o) {
			case "local":
				m.Local = true
			case "read-only":
				m.ReadOnly = true
			}
		}
		m.RootFS = m.MountPoint == "/"
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mount output line %d: %w", n+1, err)
	}
	return out, nil
}

// DiskInfo is what classification needs from `diskutil info -plist <device>`.
type DiskInfo struct {
	DeviceNode     string
	VolumeName     string
	FilesystemType string
	BusProtocol    string // "USB", "Disk Image", "Secure Digital", "PCI-Express", "Apple Fabric"...
	Internal       *bool
	Removable      bool
	RemovableMedia bool
	Ejectable      bool
	Optical        bool // OpticalMediaType present
}

// ParseDiskutilPlists reads one or more `diskutil info -plist` documents, one after another,
// keyed by DeviceNode. Keys of an unexpected type are ignored.
func ParseDiskutilPlists(raw []byte) (map[string]DiskInfo, error) {
	out := map[string]DiskInfo{}
	docs := bytes.SplitAfter(raw, []byte("</plist>"))
	for i, d := range docs {
		if len(bytes.TrimSpace(d)) == 0 {
			continue
		}
		var m map[string]any
		if _, err := plist.Unmarshal(d, &m); err != nil {
			return nil, fmt.Errorf("diskutil plist %d: %w", i+1, err)
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		flag := func(k string) bool { b, _ := m[k].(bool); return b }
		info := DiskInfo{DeviceNode: str("DeviceNode"), VolumeName: str("VolumeName"), FilesystemType: str("FilesystemType"),
			BusProtocol: str("BusProtocol"), Removable: flag("Removable"), RemovableMedia: flag("RemovableMedia"),
			Ejectable: flag("Ejectable"), Optical: str("OpticalMediaType") != ""}
		if b, ok := m["Internal"].(bool); ok {
			info.Internal = &b
		}
		if info.DeviceNode == "" {
			return nil, fmt.Errorf("diskutil plist %d: no DeviceNode", i+1)
		}
		out[info.DeviceNode] = info
	}
	return out, nil
}

// ClassifyDarwin returns the removable volumes among mounts: local file systems mounted under
// volumesRoot, other than the root and disk images, that diskutil says are removable, ejectable
// or not internal. Without a diskutil answer for the device, a local volume under volumesRoot
// counts (Reason "volumes-path").
func ClassifyDarwin(mounts []DarwinMount, volumesRoot string, info map[string]DiskInfo) []Mount {
	var out []Mount
	root := strings.TrimSuffix(volumesRoot, "/") + "/"
	for _, m := range mounts {
		if !m.Local || m.RootFS || !strings.HasPrefix(m.MountPoint, root) || !strings.HasPrefix(m.Device, "/dev/") {
			continue
		}
		mt := Mount{MountPoint: m.MountPoint, Device: m.Device, FsType: m.FsType, Label: path.Base(m.MountPoint)}
		di, ok := info[m.Device]
		switch {
		case !ok:
			mt.Reason = "volumes-path"
		case di.BusProtocol == "Disk Image":
			continue
		case di.Optical:
			mt.Reason = "optical"
		case di.BusProtocol == "USB":
			mt.Reason = "usb"
		case di.BusProtocol == "Secure Digital":
			mt.Reason = "sd-card"
		case di.Removable || di.RemovableMedia:
			mt.Reason = "removable"
		case di.Ejectable || (di.Internal != nil && !*di.Internal):
			mt.Reason = "external"
		default:
			continue
		}
		if ok && di.VolumeName != "" {
			mt.Label = di.VolumeName
		}
		out = append(out, mt)
	}
	return out
}

// darwinFileBackend reads saved `mount` and `diskutil info -plist` output.
func (s *Source) darwinFileBackend() *backend {
	mountsFile, diskFile, vroot := s.cfg.MountsFile, s.cfg.DiskutilFile, s.cfg.VolumesRoot
	return collector.DumpsBackend(event.MacOS, []string{mountsFile, diskFile}, func(raw [][]byte) ([]Mount, error) {
		var mounts []DarwinMount
		if raw[0] != nil {
			var err error
			if mounts, err = ParseMountOutput(raw[0]); err != nil {
				return nil, fmt.Errorf("%s: %w", mountsFile, err)
			}
		}
		info := map[string]DiskInfo{}
		if raw[1] != nil {
			var err error
			if info, err = ParseDiskutilPlists(raw[1]); err != nil {
				return nil, fmt.Errorf("%s: %w", diskFile, err)
			}
		}
		return ClassifyDarwin(mounts, vroot, info), nil
	})
}
