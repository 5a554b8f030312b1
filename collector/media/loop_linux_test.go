package media

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// TestLoopMountedVfat mounts a real vfat image through a loop device under a media root and
// checks that the live collector (real /proc and /sys, mountinfo change notifications) reports
// it mounted, answers IsRemovable for it, and reports it unmounted.
func TestLoopMountedVfat(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	mkfs, err := exec.LookPath("mkfs.vfat")
	if err != nil {
		t.Skip("mkfs.vfat not installed (apt-get install dosfstools)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-n", "VIGILTEST", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v: %s", err, out)
	}
	media := filepath.Join(dir, "media")
	mp := filepath.Join(media, "alice", "VIGILTEST")
	if err := os.MkdirAll(mp, 0o755); err != nil {
		t.Fatal(err)
	}

	src := New(Config{MediaRoots: []string{media}, PollInterval: time.Hour, RescanInterval: time.Hour})
	ch := make(chan *event.Event, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(e *collector.Event) { ch <- e }) }()
	// Let Run take its first look (nothing of ours is mounted yet).
	time.Sleep(300 * time.Millisecond)

	if out, err := exec.Command("mount", "-o", "loop", "-t", "vfat", img, mp).CombinedOutput(); err != nil {
		t.Skipf("loop mount refused here: %v: %s", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			unix.Unmount(mp, unix.MNT_DETACH)
		}
	}()
	// PollInterval and RescanInterval are an hour: only the mountinfo notification can
	// deliver these events in time.
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
	if e.String("FsType") != "vfat" || e.String("Reason") != "media-path" || e.Product != event.Linux {
		t.Errorf("mounted event: %v", e.Fields)
	}
	if dev := e.String("Device"); len(dev) < 9 || dev[:9] != "/dev/loop" {
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
