package suite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
)

func TestNewSelectsSources(t *testing.T) {
	s, err := New(Options{Only: []string{"usb, display"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, src := range s.Sources() {
		names = append(names, src.Name())
	}
	if strings.Join(names, ",") != "usb,display" {
		t.Errorf("sources %v", names)
	}
	if _, err := New(Options{Only: []string{"usb,keyboard"}}); err == nil || !strings.Contains(err.Error(), `unknown source "keyboard"`) {
		t.Errorf("unknown source: %v", err)
	}
	all, err := New(Options{})
	if err != nil || len(all.Sources()) != len(Names) {
		t.Errorf("all sources: %v %d", err, len(all.Sources()))
	}
}

// writeUSB lays out one USB device the way Linux sysfs does.
func writeUSB(t *testing.T, root, name string, attrs map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "bus", "usb", "devices", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range attrs {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSnapshotOnFixtureRoot(t *testing.T) {
	root := t.TempDir()
	writeUSB(t, root, "1-1", map[string]string{"idVendor": "046d", "idProduct": "c52b", "manufacturer": "Logitech",
		"product": "USB Receiver", "bDeviceClass": "00", "devnum": "2"})
	s, err := New(Options{Only: []string{"usb"}, SysfsRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	var got []*collector.Event
	if err := s.Snapshot(context.Background(), func(e *collector.Event) { got = append(got, e) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fields["VendorId"] != "046d" || got[0].Fields["Action"] != "present" {
		t.Fatalf("events %+v", got)
	}
}

// A failing source is reported but does not stop the others.
func TestSnapshotKeepsGoingPastFailures(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	s, err := New(Options{Only: []string{"usb", "display"}, SysfsRoot: missing})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Snapshot(context.Background(), func(*collector.Event) {})
	if err == nil || !strings.Contains(err.Error(), "usb") || !strings.Contains(err.Error(), "display") {
		t.Errorf("both failures must be reported: %v", err)
	}
	f := Failures(err)
	if len(f) != 2 || f[0].Source != "usb" || f[1].Source != "display" {
		t.Errorf("failures by source: %+v", f)
	}
	if Failures(nil) != nil {
		t.Error("no error, no failures")
	}
}

// Run serialises emit across sources and returns when the context ends.
func TestRunSerialisesAndStops(t *testing.T) {
	root := t.TempDir()
	writeUSB(t, root, "1-1", map[string]string{"idVendor": "1d6b", "idProduct": "0104", "bDeviceClass": "00", "devnum": "3"})
	files := t.TempDir()
	s, err := New(Options{Only: []string{"usb", "files"}, SysfsRoot: root, FileRoots: []string{files}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var mu sync.Mutex
	inside := false
	var cats []string
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(e *collector.Event) {
			if inside {
				t.Error("emit called concurrently")
			}
			inside = true
			mu.Lock()
			cats = append(cats, e.Category)
			mu.Unlock()
			inside = false
		})
	}()
	// A file written under the watched root shows up once it settles.
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(files, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(7 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := strings.Join(cats, ",")
		mu.Unlock()
		if strings.Contains(n, "usb_device") && strings.Contains(n, "file_event") {
			cancel()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if j := strings.Join(cats, ","); !strings.Contains(j, "usb_device") || !strings.Contains(j, "file_event") {
		t.Errorf("categories seen: %s", j)
	}
}

// Only the suite names the sources' loggers: "vigil.host", not "vigil.host.host".
func TestLoggerNamedOnce(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Name: "vigil", Output: &buf, Level: hclog.Warn})
	root := t.TempDir() // no net/arp: the host source warns about its neighbour table
	s, err := New(Options{Only: []string{"host"}, ProcRoot: root, SysfsRoot: root, EtcRoot: root, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(context.Background(), func(*collector.Event) {}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "vigil.host: neighbour table") || strings.Contains(out, "host.host") {
		t.Errorf("log:\n%s", out)
	}
}

// With a proc root, nothing outside it is read: the libraries its maps name (this machine's
// files) are not hashed.
func TestProcRootLibrariesNotHashed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("image loads are read from Linux procfs")
	}
	root := t.TempDir()
	lib := filepath.Join(t.TempDir(), "libvncserver.so.1")
	bin := filepath.Join(root, "x11vnc")
	for _, p := range []string{lib, bin} {
		if err := os.WriteFile(p, []byte("\x7fELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "exe")); err != nil {
		t.Fatal(err)
	}
	maps := "7f0000000000-7f0000001000 r-xp 00000000 08:01 42 " + lib + "\n"
	if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Only: []string{"imageload"}, ProcRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	var got []*collector.Event
	if err := s.Snapshot(context.Background(), func(e *collector.Event) { got = append(got, e) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fields["ImageLoaded"] != lib {
		t.Fatalf("events %v", got)
	}
	if h, ok := got[0].Fields["Hashes"]; ok {
		t.Errorf("Hashes %v: a file outside the proc root was read", h)
	}
}
