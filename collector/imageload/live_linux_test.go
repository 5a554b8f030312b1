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

// runSource runs s until the test ends, gathering its events.
func runSource(t *testing.T, s *Source) *collect {
	t.Helper()
	c := &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}

// waitLoaded waits (30 s at most) until the dynamic loader has mapped pid's libraries: its
// maps show libc.
func waitLoaded(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		if err == nil && !stillLoading(parseMaps(data)) && contains(loaded(parseMaps(data), ""), isLibc) {
			return
		}
	}
	t.Fatalf("process %d has not mapped libc within 30 s", pid)
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
	c := runSource(t, s)

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
		// Its turn comes after the delay: wait for the cache hit (30 s at most).
		after := s.Stats()
		for deadline := time.Now().Add(30 * time.Second); after.CacheHits <= before.CacheHits && time.Now().Before(deadline); after = s.Stats() {
			time.Sleep(10 * time.Millisecond)
		}
		if after.CacheHits <= before.CacheHits || after.MapsRead != before.MapsRead {
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

// TestWaitsForTheLoader reads a process (a fixture /proc) whose dynamic loader has not mapped
// its libraries yet: the source reads it again until libc is there, then reports them all.
func TestWaitsForTheLoader(t *testing.T) {
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "update-helper")
	if err := os.WriteFile(exe, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	line := func(p string) string { return "7f0000000000-7f0000001000 r-xp 00000000 08:01 1 " + p + "\n" }
	proc := func(pid, exe, maps string) string {
		dir := filepath.Join(root, pid)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(maps), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "maps")
	}
	// A process present at the start, for the snapshot to read (and so tell it is over).
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	proc("1", other, line(other)+line("/usr/lib/x86_64-linux-gnu/libc.so.6"))
	s := New(Config{ProcRoot: root, Delay: 10 * time.Millisecond, NoHashes: true})
	c := runSource(t, s)
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().MapsRead == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	early := line(exe) + line("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	maps := proc("4242", exe, early)
	s.Notice(4242)
	for s.Stats().Waits == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the loader's early maps were not read within 30 s: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	for _, ev := range c.evs {
		if ev.Fields["ProcessId"] == 4242 {
			t.Fatalf("reported while the loader was at work: %v", ev.Fields)
		}
	}
	c.mu.Unlock()
	// The loader has mapped the libraries (renamed into place: the source never reads half a file).
	full := early + line("/usr/lib/x86_64-linux-gnu/libvncserver.so.1") + line("/usr/lib/x86_64-linux-gnu/libc.so.6")
	if err := os.WriteFile(maps+".new", []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(maps+".new", maps); err != nil {
		t.Fatal(err)
	}
	image, libs := c.libsOf(t, 4242)
	if image != exe || !contains(libs, isLibc) || !contains(libs, func(l string) bool { return strings.Contains(l, "libvncserver") }) {
		t.Errorf("image %s, libs %q: want libvncserver and libc", image, libs)
	}
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
	waitLoaded(t, before.Process.Pid)
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
