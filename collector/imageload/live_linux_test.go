package imageload

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/internal/event"
)

// collect runs a Source on the live /proc and gathers its events.
type collect struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *collect) emit(ev *event.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
}

// libsOf waits for the image_load events of pid and returns their ImageLoaded values.
func (c *collect) libsOf(t *testing.T, pid int) (image string, libs []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, ev := range c.evs {
			if ev.Fields["ProcessId"] == pid {
				image = ev.Fields["Image"].(string)
				libs = append(libs, ev.Fields["ImageLoaded"].(string))
			}
		}
		c.mu.Unlock()
		if len(libs) > 0 {
			return image, libs
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no image_load event for pid %d within 30 s", pid)
	return "", nil
}

func contains(list []string, pred func(string) bool) bool {
	for _, s := range list {
		if pred(s) {
			return true
		}
	}
	return false
}

func isLibc(p string) bool { return strings.Contains(filepath.Base(p), "libc.so") }

// TestLiveEvasions runs a dynamically linked program (sleep) as each renaming evasion would and
// checks that its libraries are reported under the name the kernel shows: a renamed copy, a hard
// link, through the dynamic loader, from a memfd, and deleted after start.
func TestLiveEvasions(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	loader := ""
	for _, l := range []string{"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"} {
		if _, err := os.Stat(l); err == nil {
			loader = l
		}
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), ".x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	s := New(Config{Delay: 100 * time.Millisecond, NoHashes: true})
	var c collect
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c.emit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	start := func(t *testing.T, path string, args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(path, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		s.Notice(cmd.Process.Pid)
		return cmd
	}

	t.Run("renamed copy", func(t *testing.T) {
		p := copyTo("update-helper")
		cmd := start(t, p, "30")
		image, libs := c.libsOf(t, cmd.Process.Pid)
		if image != p || !contains(libs, isLibc) {
			t.Errorf("image %s, libs %q", image, libs)
		}
	})
	t.Run("hard link", func(t *testing.T) {
		p := filepath.Join(dir, "dbus-helper")
		if err := os.Link(copyTo("orig"), p); err != nil {
			t.Fatal(err)
		}
		cmd := start(t, p, "30")
		image, libs := c.libsOf(t, cmd.Process.Pid)
		if image != p || !contains(libs, isLibc) {
			t.Errorf("image %s, libs %q", image, libs)
		}
	})
	t.Run("dynamic loader", func(t *testing.T) {
		if loader == "" {
			t.Skip("no dynamic loader at a known path")
		}
		p := copyTo("loaded")
		cmd := start(t, loader, p, "30")
		image, libs := c.libsOf(t, cmd.Process.Pid)
		if !isLoader(image) || !contains(libs, func(l string) bool { return l == p }) || !contains(libs, isLibc) {
			t.Errorf("image %s, libs %q: want the loader as image, %s and libc loaded", image, libs, p)
		}
	})
	t.Run("memfd", func(t *testing.T) {
		fd, err := unix.MemfdCreate("kworker", unix.MFD_CLOEXEC)
		if err != nil {
			t.Skipf("memfd_create: %v", err)
		}
		f := os.NewFile(uintptr(fd), "memfd")
		defer f.Close()
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		cmd := start(t, fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), "30")
		image, libs := c.libsOf(t, cmd.Process.Pid)
		if !strings.HasPrefix(image, "/memfd:kworker") || !contains(libs, isLibc) {
			t.Errorf("image %s, libs %q", image, libs)
		}
	})
	t.Run("deleted after start", func(t *testing.T) {
		p := copyTo("gone")
		cmd := exec.Command(p, "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		s.Notice(cmd.Process.Pid)
		image, libs := c.libsOf(t, cmd.Process.Pid)
		if image != p || !contains(libs, isLibc) {
			t.Errorf("image %s, libs %q", image, libs)
		}
	})
	t.Run("same executable again: cached", func(t *testing.T) {
		p := filepath.Join(dir, "update-helper")
		before := s.Stats()
		cmd := start(t, p, "30")
		time.Sleep(500 * time.Millisecond)
		after := s.Stats()
		if after.CacheHits <= before.CacheHits {
			t.Errorf("a second run of %s read its maps again: %+v -> %+v", p, before, after)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range c.evs {
			if ev.Fields["ProcessId"] == cmd.Process.Pid {
				t.Errorf("reported again: %v", ev.Fields)
			}
		}
	})
	t.Logf("stats %+v", s.Stats())
}

// The libraries of a process already running when the source starts carry Snapshot; those of a
// process started later do not.
func TestSnapshotMarksRunningProcesses(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	dir := t.TempDir()
	copyExe := func(name string) string {
		b, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := exec.Command(copyExe("running-before"), "30")
	if err := before.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = before.Process.Kill(); _ = before.Wait() }()
	time.Sleep(200 * time.Millisecond) // mapped its libraries
	s := New(Config{Delay: 100 * time.Millisecond})
	c := &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c.emit) }()
	c.libsOf(t, before.Process.Pid)
	after := exec.Command(copyExe("started-after"), "30")
	if err := after.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = after.Process.Kill(); _ = after.Wait() }()
	s.Notice(after.Process.Pid)
	c.libsOf(t, after.Process.Pid)
	cancel()
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.evs {
		snap := ev.Fields["Snapshot"] == true
		switch ev.Fields["ProcessId"] {
		case before.Process.Pid:
			if !snap {
				t.Errorf("a library of the process running before the start without Snapshot: %v", ev.Fields)
			}
		case after.Process.Pid:
			if snap {
				t.Errorf("a library of the process started later marked Snapshot: %v", ev.Fields)
			}
		}
	}
}
