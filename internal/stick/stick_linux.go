package stick

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// Mount formats an image of size bytes (sparse, in a temporary folder) and mounts it on mp,
// unmounted when the test ends. It returns the file-system type mountinfo shows ("vfat" or
// "fuseblk"), or an error saying why no stick can be mounted here.
func Mount(t testing.TB, mp string, size int64) (string, error) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "stick.img")
	f, err := os.Create(img)
	if err != nil {
		return "", err
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		return "", err
	}
	if b, _ := os.ReadFile("/proc/filesystems"); strings.Contains(string(b), "\tvfat\n") {
		mkfs, err := rdservers.Lookup("mkfs.vfat")
		if err != nil {
			return "", err
		}
		if out, err := exec.Command(mkfs, "-n", "STICK", img).CombinedOutput(); err != nil {
			return "", fmt.Errorf("mkfs.vfat: %v %s", err, out)
		}
		if out, err := exec.Command("mount", "-o", "loop", "-t", "vfat", img, mp).CombinedOutput(); err != nil {
			return "", fmt.Errorf("loop mount refused here: %v %s", err, out)
		}
		t.Cleanup(func() { _ = unix.Unmount(mp, unix.MNT_DETACH) })
		return "vfat", nil
	}
	mkntfs, err := rdservers.Lookup("mkntfs")
	if err != nil {
		return "", err
	}
	ntfs3g, err := rdservers.Lookup("ntfs-3g")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command(mkntfs, "-F", "-Q", "-q", "-L", "STICK", img).CombinedOutput(); err != nil {
		return "", fmt.Errorf("mkntfs: %v %s", err, out)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("losetup refused here: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", loop).Run() })
	if out, err := exec.Command(ntfs3g, loop, mp).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ntfs-3g mount refused here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = unix.Unmount(mp, unix.MNT_DETACH) })
	return "fuseblk", nil
}
