package media

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// kernelHas tells whether /proc/filesystems lists fs.
func kernelHas(fs string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == fs {
			return true
		}
	}
	return false
}

func makeImage(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLoopMountedVfat mounts a real vfat image with `mount -o loop` under a media root and
// checks the live collector (real /proc/self/mountinfo and /sys).
func TestLoopMountedVfat(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	mkfs, err := exec.LookPath("mkfs.vfat")
	if err != nil {
		t.Skip("mkfs.vfat not installed (apt-get install dosfstools)")
	}
	if !kernelHas("vfat") {
		t.Skip("this kernel has no vfat driver (not in /proc/filesystems, no modules to load); TestLinuxClassification covers vfat from a fixture mountinfo, TestLoopMountedFuseblk mounts a real loop device")
	}
	dir := t.TempDir()
	img := makeImage(t, dir)
	if out, err := exec.Command(mkfs, "-n", "VIGILTEST", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v: %s", err, out)
	}
	liveMountTest(t, dir, "vfat", func(mp string) error {
		out, err := exec.Command("mount", "-o", "loop", "-t", "vfat", img, mp).CombinedOutput()
		if err != nil {
			return &mountErr{err, out}
		}
		return nil
	}, nil)
}

// TestLoopMountedFuseblk puts an NTFS image on a real loop device and mounts it with ntfs-3g,
// which the kernel shows as fuseblk on /dev/loopN: the same path through mountinfo and sysfs
// as a USB stick formatted NTFS, on kernels without vfat.
func TestLoopMountedFuseblk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	mkntfs, err1 := exec.LookPath("mkntfs")
	ntfs3g, err2 := exec.LookPath("ntfs-3g")
	if err1 != nil || err2 != nil {
		t.Skip("ntfs-3g not installed (apt-get install ntfs-3g)")
	}
	if !kernelHas("fuseblk") {
		t.Skip("this kernel has no fuseblk")
	}
	dir := t.TempDir()
	img := makeImage(t, dir)
	if out, err := exec.Command(mkntfs, "-F", "-Q", "-q", "-L", "VIGILTEST", img).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup refused here: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	liveMountTest(t, dir, "fuseblk", func(mp string) error {
		out, err := exec.Command(ntfs3g, loop, mp).CombinedOutput()
		if err != nil {
			return &mountErr{err, out}
		}
		return nil
	}, func(dev string) bool { return dev == loop })
}

type mountErr struct {
	err error
	out []byte
}

func (e *mountErr) Error() string { return e.err.Error() + ": " + strings.TrimSpace(string(e.out)) }

// liveMountTest runs the live collector, mounts with mount(mp), and checks the mounted event,
// IsRemovable and the unmounted event.
func liveMountTest(t *testing.T, dir, fstype string, mount func(mp string) error, devOK func(string) bool) {
	t.Helper()
	media := filepath.Join(dir, "media")
	mp := filepath.Join(media, "alice", "VIGILTEST")
	if err := os.MkdirAll(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	src := New(Config{MediaRoots: []string{media}, PollInterval: 200 * time.Millisecond})
	ch := make(chan *event.Event, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(e *collector.Event) { ch <- e }) }()
	time.Sleep(300 * time.Millisecond) // let Run take its first look

	if err := mount(mp); err != nil {
		t.Skipf("mount refused here: %v", err)
	}
	mounted := true
	defer func() {
		if mounted {
			unix.Unmount(mp, unix.MNT_DETACH)
		}
	}()
	wait := func(action string) *event.Event {
		t.Helper()
		for {
			select {
			case e := <-ch:
				if e.String("MountPoint") == mp {
					if e.String("Action") != action {
						t.Fatalf("got %s, want %s: %v", e.String("Action"), action, e.Fields)
					}
					return e
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s event for %s within 10s", action, mp)
			}
		}
	}
	e := wait("mounted")
	if e.String("FsType") != fstype || e.String("Reason") != "media-path" || e.Product != event.Linux {
		t.Errorf("mounted event: %v", e.Fields)
	}
	if dev := e.String("Device"); !strings.HasPrefix(dev, "/dev/loop") && (devOK == nil || !devOK(dev)) {
		t.Errorf("device %q", dev)
	}
	if m, ok := src.IsRemovable(filepath.Join(mp, "dump.zip")); !ok || m.MountPoint != mp {
		t.Errorf("IsRemovable: %v %v", m, ok)
	}
	if err := unix.Unmount(mp, 0); err != nil {
		t.Fatalf("umount: %v", err)
	}
	mounted = false
	wait("unmounted")
	if _, ok := src.IsRemovable(filepath.Join(mp, "dump.zip")); ok {
		t.Error("IsRemovable true after unmount")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
