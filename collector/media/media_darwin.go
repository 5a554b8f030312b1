package media

import (
	"context"
	"fmt"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend lists mounts with getfsstat and asks `diskutil info -plist` about each new
// device under /Volumes once (answers are cached per device).
func (s *Source) liveBackend() (*backend, error) {
	var (
		mu    sync.Mutex
		cache = map[string]DiskInfo{}
	)
	vroot := s.cfg.VolumesRoot
	return &backend{Product: event.MacOS, List: func(ctx context.Context) ([]Mount, error) {
		n, err := unix.Getfsstat(nil, unix.MNT_NOWAIT)
		if err != nil {
			return nil, fmt.Errorf("getfsstat: %w", err)
		}
		buf := make([]unix.Statfs_t, n+4)
		n, err = unix.Getfsstat(buf, unix.MNT_NOWAIT)
		if err != nil {
			return nil, fmt.Errorf("getfsstat: %w", err)
		}
		var mounts []DarwinMount
		for _, st := range buf[:n] {
			mounts = append(mounts, DarwinMount{
				Device:     unix.ByteSliceToString(st.Mntfromname[:]),
				MountPoint: unix.ByteSliceToString(st.Mntonname[:]),
				FsType:     unix.ByteSliceToString(st.Fstypename[:]),
				Local:      st.Flags&unix.MNT_LOCAL != 0,
				RootFS:     st.Flags&unix.MNT_ROOTFS != 0,
				ReadOnly:   st.Flags&unix.MNT_RDONLY != 0,
			})
		}
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, m := range mounts {
			if !m.Local || m.RootFS || len(m.Device) < 6 {
				continue
			}
			seen[m.Device] = true
			if _, ok := cache[m.Device]; ok {
				continue
			}
			out, err := exec.CommandContext(ctx, "/usr/sbin/diskutil", "info", "-plist", m.Device).Output()
			if err != nil {
				s.log.Debug("diskutil info failed", "device", m.Device, "error", err)
				continue
			}
			info, err := ParseDiskutilPlists(out)
			if err != nil {
				s.log.Debug("diskutil output unreadable", "device", m.Device, "error", err)
				continue
			}
			for k, v := range info {
				cache[k] = v
				if k != m.Device {
					cache[m.Device] = v
				}
			}
		}
		for k := range cache {
			if !seen[k] {
				delete(cache, k)
			}
		}
		return ClassifyDarwin(mounts, vroot, cache), nil
	}}, nil
}
