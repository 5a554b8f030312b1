package media

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

func TestParseMountinfo(t *testing.T) {
	in := "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"\n" +
		"120 30 8:17 / /media/alice/MY\\040STICK rw,nosuid,nodev shared:60 master:2 - vfat /dev/sdb1 rw,uid=1000\n" +
		"121 30 0:50 / /run/user/1000 rw - tmpfs tmpfs rw\n" +
		"122 30 0:51 / /odd\\134path rw - fuse.x x\n"
	es, err := ParseMountinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 {
		t.Fatalf("got %d entries", len(es))
	}
	want := MountEntry{ID: 120, Parent: 30, Major: 8, Minor: 17, Root: "/", MountPoint: "/media/alice/MY STICK",
		Options: "rw,nosuid,nodev", FsType: "vfat", Source: "/dev/sdb1", SuperOptions: "rw,uid=1000"}
	if es[1] != want {
		t.Errorf("got %+v\nwant %+v", es[1], want)
	}
	if es[3].MountPoint != `/odd\path` || es[3].SuperOptions != "" {
		t.Errorf("entry 4: %+v", es[3])
	}
	for name, bad := range map[string]string{
		"short":        "1 2 3:4 / /\n",
		"no separator": "1 2 3:4 / / rw a b c\n",
		"bad id":       "x 2 3:4 / / rw - ext4 /dev/a rw\n",
		"bad dev":      "1 2 34 / / rw - ext4 /dev/a rw\n",
		"bad major":    "1 2 a:4 / / rw - ext4 /dev/a rw\n",
		"no source":    "1 2 3:4 / / rw - ext4\n",
	} {
		_, err := ParseMountinfo(strings.NewReader("36 35 98:0 / / rw - ext4 /dev/a rw\n" + bad))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// fixture builds a sysfs, dev and proc root with:
//
//	sda2  SATA, fixed                    mounted at /            -> not removable
//	sdb1  USB disk claiming to be fixed  /media/alice/MY STICK   -> usb, label "MY STICK"
//	sr0   SATA optical, removable        /media/alice/CDROM      -> optical
//	sdc1  internal card reader, removable /mnt/card              -> removable
//	mmcblk0p1 SD card                    /media/alice/SD         -> sd-card
//	dm-0  LUKS on a USB stick (sdd1)     /media/alice/secret     -> usb
//	loop0 vfat image                     /media/alice/IMG        -> media-path
//	loop1 ext4 image                     /media/alice/EXT        -> not removable
//	tmpfs                                /media/tmp              -> not removable
//	sda1  EFI system partition (vfat)    /boot/efi               -> not removable
//	loop2 exfat image                    /home/alice/usb         -> fs-type
type fixture struct{ sys, dev, proc string }

func newFixture(t testing.TB) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{sys: filepath.Join(base, "sys"), dev: filepath.Join(base, "dev"), proc: filepath.Join(base, "proc")}
	mk := func(p string, files map[string]string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range files {
			if err := os.WriteFile(filepath.Join(p, k), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	link := func(target, name string) {
		os.MkdirAll(filepath.Dir(name), 0o755)
		rel, err := filepath.Rel(filepath.Dir(name), target)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(rel, name); err != nil {
			t.Fatal(err)
		}
	}
	pci := filepath.Join(f.sys, "devices", "pci0000:00")
	disk := func(devpath, name string, removable string, majmin string, parts map[string]string) string {
		d := filepath.Join(devpath, "block", name)
		mk(d, map[string]string{"removable": removable, "dev": majmin})
		link(d, filepath.Join(f.sys, "class", "block", name))
		link(d, filepath.Join(f.sys, "dev", "block", majmin))
		for p, mm := range parts {
			pd := filepath.Join(d, p)
			mk(pd, map[string]string{"partition": "1", "dev": mm})
			link(pd, filepath.Join(f.sys, "class", "block", p))
			link(pd, filepath.Join(f.sys, "dev", "block", mm))
		}
		return d
	}
	disk(filepath.Join(pci, "0000:00:17.0", "ata1", "host0", "target0:0:0", "0:0:0:0"), "sda", "0", "8:0", map[string]string{"sda2": "8:2"})
	disk(filepath.Join(pci, "0000:00:14.0", "usb2", "2-1", "2-1:1.0", "host6", "target6:0:0", "6:0:0:0"), "sdb", "0", "8:16", map[string]string{"sdb1": "8:17"})
	disk(filepath.Join(pci, "0000:00:17.0", "ata2", "host1", "target1:0:0", "1:0:0:0"), "sr0", "1", "11:0", nil)
	disk(filepath.Join(pci, "0000:00:1c.0", "0000:02:00.0", "host3", "target3:0:0", "3:0:0:0"), "sdc", "1", "8:32", map[string]string{"sdc1": "8:33"})
	card := filepath.Join(f.sys, "devices", "platform", "sdhci", "mmc_host", "mmc0", "mmc0:aaaa")
	mk(card, map[string]string{"type": "SD"})
	mmc := disk(card, "mmcblk0", "0", "179:0", map[string]string{"mmcblk0p1": "179:1"})
	link(card, filepath.Join(mmc, "device"))
	usbStick := disk(filepath.Join(pci, "0000:00:14.0", "usb1", "1-3", "1-3:1.0", "host7", "target7:0:0", "7:0:0:0"), "sdd", "0", "8:48", map[string]string{"sdd1": "8:49"})
	dm := disk(filepath.Join(f.sys, "devices", "virtual"), "dm-0", "0", "253:0", nil)
	link(filepath.Join(usbStick, "sdd1"), filepath.Join(dm, "slaves", "sdd1"))
	disk(filepath.Join(f.sys, "devices", "virtual"), "loop0", "0", "7:0", nil)
	disk(filepath.Join(f.sys, "devices", "virtual"), "loop1", "0", "7:1", nil)

	os.MkdirAll(filepath.Join(f.dev, "disk", "by-label"), 0o755)
	os.Symlink("../../sdb1", filepath.Join(f.dev, "disk", "by-label", `MY\x20STICK`))
	os.Symlink("../../sr0", filepath.Join(f.dev, "disk", "by-label", "CDROM"))
	f.writeMountinfo(t, baseMounts)
	return f
}

var baseMounts = []string{
	"22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw",
	"30 22 0:5 / /dev rw - devtmpfs udev rw",
	"100 22 8:17 / /media/alice/MY\\040STICK rw,nosuid shared:60 - vfat /dev/sdb1 rw",
	"101 22 11:0 / /media/alice/CDROM ro shared:61 - iso9660 /dev/sr0 ro",
	"102 22 8:33 / /mnt/card rw shared:62 - exfat /dev/sdc1 rw",
	"103 22 179:1 / /media/alice/SD rw shared:63 - vfat /dev/mmcblk0p1 rw",
	"104 22 253:0 / /media/alice/secret rw shared:64 - ext4 /dev/mapper/luks-1 rw",
	"105 22 7:0 / /media/alice/IMG rw shared:65 - vfat /dev/loop0 rw",
	"106 22 7:1 / /media/alice/EXT rw shared:66 - ext4 /dev/loop1 rw",
	"107 22 0:60 / /media/tmp rw - tmpfs tmpfs rw",
	"108 22 8:1 / /boot/efi rw - vfat /dev/sda1 rw",
	"109 22 7:2 / /home/alice/usb rw - exfat /dev/loop2 rw",
}

func (f fixture) writeMountinfo(t testing.TB, lines []string) {
	t.Helper()
	dir := filepath.Join(f.proc, "self")
	os.MkdirAll(dir, 0o755)
	tmp := filepath.Join(dir, "mountinfo.tmp")
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "mountinfo")); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) source(poll time.Duration) *Source {
	return New(Config{ProcRoot: f.proc, SysfsRoot: f.sys, DevRoot: f.dev, PollInterval: poll})
}

func TestLinuxClassification(t *testing.T) {
	f := newFixture(t)
	var evs []*event.Event
	if err := f.source(0).Snapshot(context.Background(), func(e *collector.Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, e := range evs {
		if e.Category != event.RemovableMedia || e.Product != event.Linux {
			t.Errorf("envelope %s/%s", e.Category, e.Product)
		}
		got[e.String("MountPoint")] = e.Fields
	}
	want := map[string]map[string]any{
		"/media/alice/MY STICK": {"Action": "present", "MountPoint": "/media/alice/MY STICK", "Device": "/dev/sdb1", "FsType": "vfat", "Label": "MY STICK", "Reason": "usb"},
		"/media/alice/CDROM":    {"Action": "present", "MountPoint": "/media/alice/CDROM", "Device": "/dev/sr0", "FsType": "iso9660", "Label": "CDROM", "Reason": "optical"},
		"/mnt/card":             {"Action": "present", "MountPoint": "/mnt/card", "Device": "/dev/sdc1", "FsType": "exfat", "Reason": "removable"},
		"/media/alice/SD":       {"Action": "present", "MountPoint": "/media/alice/SD", "Device": "/dev/mmcblk0p1", "FsType": "vfat", "Reason": "sd-card"},
		"/media/alice/secret":   {"Action": "present", "MountPoint": "/media/alice/secret", "Device": "/dev/mapper/luks-1", "FsType": "ext4", "Reason": "usb"},
		"/media/alice/IMG":      {"Action": "present", "MountPoint": "/media/alice/IMG", "Device": "/dev/loop0", "FsType": "vfat", "Reason": "media-path"},
		"/home/alice/usb":       {"Action": "present", "MountPoint": "/home/alice/usb", "Device": "/dev/loop2", "FsType": "exfat", "Reason": "fs-type"},
	}
	if !reflect.DeepEqual(got, want) {
		for k := range got {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: got %v\nwant %v", k, got[k], want[k])
			}
		}
		for k := range want {
			if got[k] == nil {
				t.Errorf("%s missing", k)
			}
		}
	}
}

func TestIsRemovableAndMounts(t *testing.T) {
	f := newFixture(t)
	s := f.source(0)
	// No Snapshot or Run yet: the first question scans.
	if m, ok := s.IsRemovable("/media/alice/MY STICK/src/repo.tar"); !ok || m.Device != "/dev/sdb1" {
		t.Errorf("file on stick: %v %v", m, ok)
	}
	for _, p := range []string{"/media/alice/MY STICKER/x", "/home/alice/x", "/media/alice", "/media/alice/EXT/x"} {
		if m, ok := s.IsRemovable(p); ok {
			t.Errorf("%s reported on %v", p, m)
		}
	}
	if _, ok := s.IsRemovable("/media/alice/CDROM"); !ok {
		t.Error("mount point itself not removable")
	}
	if n := len(s.Mounts()); n != 7 {
		t.Errorf("Mounts: %d", n)
	}
}

func TestWithin(t *testing.T) {
	cases := []struct {
		p, mp string
		fold  bool
		want  bool
	}{
		{"/a/b", "/a", false, true}, {"/a", "/a", false, true}, {"/ab", "/a", false, false}, {"/a/b", "/", false, true},
		{`E:\dir\f.zip`, `E:\`, true, true}, {`e:\dir`, `E:\`, true, true}, {`F:\dir`, `E:\`, true, false}, {"/x", "", false, false},
	}
	for _, c := range cases {
		if got := within(c.p, c.mp, c.fold); got != c.want {
			t.Errorf("within(%q, %q) = %v", c.p, c.mp, got)
		}
	}
}

func TestRunMountUnmountFixture(t *testing.T) {
	f := newFixture(t)
	f.writeMountinfo(t, baseMounts[:2])
	s := f.source(20 * time.Millisecond)
	var subMu sync.Mutex
	var subs [][]Mount
	s.Subscribe(func(m []Mount) { subMu.Lock(); subs = append(subs, m); subMu.Unlock() })
	ch := make(chan *event.Event, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, func(e *collector.Event) { ch <- e }) }()
	next := func() *event.Event {
		select {
		case e := <-ch:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return nil
		}
	}
	// Wait until Run has scanned once, then mount the stick.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		subMu.Lock()
		n := len(subs)
		subMu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	f.writeMountinfo(t, append(append([]string(nil), baseMounts[:2]...), baseMounts[2]))
	if e := next(); e.String("Action") != "mounted" || e.String("MountPoint") != "/media/alice/MY STICK" || e.String("Label") != "MY STICK" {
		t.Fatalf("mount: %v", e.Fields)
	}
	if _, ok := s.IsRemovable("/media/alice/MY STICK/a"); !ok {
		t.Error("IsRemovable false while mounted")
	}
	f.writeMountinfo(t, baseMounts[:2])
	if e := next(); e.String("Action") != "unmounted" || e.String("Device") != "/dev/sdb1" {
		t.Fatalf("unmount: %v", e.Fields)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	subMu.Lock()
	defer subMu.Unlock()
	if len(subs) != 3 || len(subs[0]) != 0 || len(subs[1]) != 1 || len(subs[2]) != 0 {
		t.Errorf("subscriber saw %v", subs)
	}
}

func TestDarwinFiles(t *testing.T) {
	dir := t.TempDir()
	mount := `/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)
devfs on /dev (devfs, local, nobrowse)
/dev/disk3s5 on /System/Volumes/Data (apfs, local, journaled, nobrowse, protect)
map auto_home on /System/Volumes/Data/home (autofs, automounted, nobrowse)
/dev/disk4s1 on /Volumes/KINGSTON (msdos, local, nodev, nosuid, noowners, noatime, fskit)
/dev/disk5s1 on /Volumes/Installer (hfs, local, nodev, nosuid, read-only, noowners, quarantine, mounted by alice)
/dev/disk6s2 on /Volumes/Backup Disk (apfs, local, nodev, nosuid, journaled, noowners)
/dev/disk7s1 on /Volumes/Unknown (exfat, local, nodev, nosuid, noowners)
//alice@nas/share on /Volumes/share (smbfs, nodev, nosuid, mounted by alice)
`
	plistDoc := func(kv string) string {
		return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>` + kv + `</dict></plist>
`
	}
	diskutil := plistDoc(`<key>DeviceNode</key><string>/dev/disk4s1</string><key>BusProtocol</key><string>USB</string>
<key>Internal</key><false/><key>Ejectable</key><true/><key>RemovableMedia</key><true/><key>VolumeName</key><string>KINGSTON</string>
<key>FilesystemType</key><string>msdos</string><key>Size</key><integer>31000000000</integer>`) +
		plistDoc(`<key>DeviceNode</key><string>/dev/disk5s1</string><key>BusProtocol</key><string>Disk Image</string><key>Ejectable</key><true/>`) +
		plistDoc(`<key>DeviceNode</key><string>/dev/disk6s2</string><key>BusProtocol</key><string>Thunderbolt</string><key>Internal</key><false/><key>VolumeName</key><string>Backup Disk</string><key>Removable</key><string>odd type</string>`)
	mp, dp := filepath.Join(dir, "mount.txt"), filepath.Join(dir, "diskutil.plist")
	os.WriteFile(mp, []byte(mount), 0o644)
	os.WriteFile(dp, []byte(diskutil), 0o644)
	s := New(Config{MountsFile: mp, DiskutilFile: dp})
	var evs []*event.Event
	if err := s.Snapshot(context.Background(), func(e *collector.Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range evs {
		if e.Product != event.MacOS {
			t.Errorf("product %s", e.Product)
		}
		got[e.String("MountPoint")] = e.String("Reason") + "|" + e.String("Label") + "|" + e.String("FsType") + "|" + e.String("Device")
	}
	want := map[string]string{
		"/Volumes/KINGSTON":    "usb|KINGSTON|msdos|/dev/disk4s1",
		"/Volumes/Backup Disk": "external|Backup Disk|apfs|/dev/disk6s2",
		"/Volumes/Unknown":     "volumes-path|Unknown|exfat|/dev/disk7s1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if _, err := ParseMountOutput([]byte("/dev/disk1 on /x\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad mount line: %v", err)
	}
	if _, err := ParseDiskutilPlists([]byte("<plist><dict><key>X</key></plist>")); err == nil {
		t.Error("bad plist accepted")
	}
}

func TestClassifyWindowsDrive(t *testing.T) {
	cases := []struct {
		dt   uint32
		bus  int
		want string
	}{
		{driveRemovable, -1, "removable"}, {driveCDROM, -1, "optical"}, {driveFixed, busTypeUsb, "usb"},
		{driveFixed, busTypeSd, "sd-card"}, {driveFixed, 11, ""}, {driveFixed, -1, ""}, {4, -1, ""}, {6, -1, ""},
	}
	for _, c := range cases {
		if got := classifyWindowsDrive(c.dt, c.bus); got != c.want {
			t.Errorf("drive type %d bus %d: %q, want %q", c.dt, c.bus, got, c.want)
		}
	}
}

func BenchmarkLinuxPoll(b *testing.B) {
	f := newFixture(b)
	back := f.source(0).linuxBackend()
	ctx := context.Background()
	if _, err := back.List(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ms, err := back.List(ctx); err != nil || len(ms) != 6 {
			b.Fatal(len(ms), err)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	for _, l := range baseMounts {
		f.Add([]byte(l + "\n"))
	}
	f.Add([]byte("1 2 3:4 /a\\040b /c\\134 rw x:1 y:2 - vfat /dev/x\\011 rw\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseMountinfo(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		ClassifyLinux(es, "/nonexistent-sys", "/nonexistent-dev", DefaultMediaRoots)
	})
}

func TestMountTableParsesOnlyChanges(t *testing.T) {
	f := newFixture(t)
	mt := &mountTable{path: filepath.Join(f.proc, "self", "mountinfo")}
	first, err := mt.read()
	if err != nil || len(first) != len(baseMounts) {
		t.Fatalf("first read: %d entries, %v", len(first), err)
	}
	again, err := mt.read()
	if err != nil || len(again) != len(first) || &again[0] != &first[0] {
		t.Fatalf("an unchanged table was parsed again (or failed: %v)", err)
	}
	f.writeMountinfo(t, baseMounts[:2])
	changed, err := mt.read()
	if err != nil || len(changed) != 2 || changed[1].MountPoint != "/dev" {
		t.Fatalf("after a change: %v, %v", changed, err)
	}
	f.writeMountinfo(t, []string{"not a mountinfo line"})
	if _, err := mt.read(); err == nil || !strings.Contains(err.Error(), "mountinfo line 1") {
		t.Fatalf("a bad table: %v", err)
	}
	f.writeMountinfo(t, baseMounts[:2])
	if back, err := mt.read(); err != nil || len(back) != 2 {
		t.Fatalf("after the bad table: %v, %v", back, err)
	}
}
