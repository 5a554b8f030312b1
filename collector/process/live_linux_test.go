package process

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// recorder collects events from a running source.
type recorder struct {
	mu     sync.Mutex
	events []*event.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) emit(e *event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// find returns the events that match, in order.
func (r *recorder) find(match func(*event.Event) bool) []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*event.Event
	for _, e := range r.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// wait waits until match finds at least n events or the timeout passes.
func (r *recorder) wait(t *testing.T, timeout time.Duration, n int, match func(*event.Event) bool) []*event.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.find(match); len(got) >= n {
			return got
		}
		select {
		case <-r.signal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			return r.find(match)
		}
	}
}

// fakeAnyDesk copies a real binary to <tmp>/opt/AnyDesk/anydesk and returns its path and the
// Sysmon-style hash of its bytes.
func fakeAnyDesk(t *testing.T) (string, string) {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to copy")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "opt", "AnyDesk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "anydesk")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return path, FormatSHA256(sum[:])
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the kernel process connector needs root (CAP_NET_ADMIN)")
	}
}

func startSource(t *testing.T, cfg Config) (*Source, *recorder, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	}
	s := New(cfg)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.emit) }()
	// Wait for the snapshot (this test process is in it) so later starts are live events.
	self := os.Getpid()
	if got := rec.wait(t, 20*time.Second, 1, func(e *event.Event) bool {
		return e.Category == event.ProcessCreation && e.Fields["ProcessId"] == self
	}); len(got) == 0 {
		cancel()
		t.Fatal("the snapshot did not report this test process")
	}
	return s, rec, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func isPid(cat string, pid int) func(*event.Event) bool {
	return func(e *event.Event) bool { return e.Category == cat && e.Fields["ProcessId"] == pid }
}

func TestConnectorSeesCopiedAnyDesk(t *testing.T) {
	requireRoot(t)
	path, hash := fakeAnyDesk(t)
	s, rec, stop := startSource(t, Config{})
	defer stop()
	if s.Mode() != ModeConnector {
		t.Fatalf("mode = %q, want connector", s.Mode())
	}
	cmd := exec.Command(path, "0.2", "0.1")
	cmd.Dir = filepath.Dir(path)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	got := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessCreation, pid))
	if len(got) == 0 {
		t.Fatalf("no process_creation for pid %d", pid)
	}
	e := got[0]
	t.Logf("event: %+v", e.Fields)
	self, _ := os.Executable()
	u, _ := user.Current()
	want := map[string]any{
		"Image":            path,
		"CommandLine":      path + " 0.2 0.1",
		"CurrentDirectory": filepath.Dir(path),
		"User":             u.Username,
		"ProcessId":        pid,
		"ParentProcessId":  os.Getpid(),
		"ParentImage":      self,
		"Hashes":           hash,
	}
	for k, v := range want {
		if e.Fields[k] != v {
			t.Errorf("%s = %#v, want %#v", k, e.Fields[k], v)
		}
	}
	if e.Product != event.Linux || e.Host != "" || e.Fields["Snapshot"] != nil {
		t.Errorf("product %q host %q snapshot %v", e.Product, e.Host, e.Fields["Snapshot"])
	}
	if !strings.Contains(e.String("ParentCommandLine"), filepath.Base(self)) {
		t.Errorf("ParentCommandLine = %q", e.String("ParentCommandLine"))
	}
	term := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessTermination, pid))
	if len(term) != 1 || term[0].Fields["Image"] != path {
		t.Fatalf("termination events for %d: %v", pid, term)
	}
}

func TestConnectorSeesTenMillisecondProcess(t *testing.T) {
	requireRoot(t)
	path, hash := fakeAnyDesk(t)
	s, rec, stop := startSource(t, Config{PollInterval: time.Hour}) // polling could not see it
	defer stop()
	if s.Mode() != ModeConnector {
		t.Fatalf("mode = %q, want connector", s.Mode())
	}
	const runs = 5
	var pids []int
	for i := 0; i < runs; i++ {
		cmd := exec.Command(path, "0.01")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	// Every exec is reported (the connector does not miss it). Its details are read from procfs
	// when the event arrives; a process gone before that (possible on a heavily loaded machine,
	// and usual below a millisecond) is reported with its id and parent only.
	detailed := 0
	for _, pid := range pids {
		got := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessCreation, pid))
		if len(got) != 1 {
			t.Fatalf("pid %d: %d process_creation events, want 1", pid, len(got))
		}
		f := got[0].Fields
		if f["ParentProcessId"] != os.Getpid() {
			t.Errorf("pid %d: parent %v", pid, f["ParentProcessId"])
		}
		if f["Image"] != nil {
			if f["Image"] != path || f["Hashes"] != hash || f["CommandLine"] != path+" 0.01" {
				t.Errorf("pid %d: %v", pid, f)
			}
			detailed++
		}
		if term := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessTermination, pid)); len(term) != 1 {
			t.Errorf("pid %d: %d process_termination events, want 1", pid, len(term))
		}
	}
	// On an idle machine all of them are; the test machine is shared, so one must be.
	t.Logf("%d of %d 10 ms processes read with full details", detailed, runs)
	if detailed == 0 {
		t.Errorf("none of %d 10 ms processes had their details read in time", runs)
	}
	if s.Mode() != ModeConnector {
		t.Fatalf("mode = %q after the run, want connector", s.Mode())
	}
}

func TestConnectorParentExitedBeforeExec(t *testing.T) {
	requireRoot(t)
	path, _ := fakeAnyDesk(t)
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	_, rec, stop := startSource(t, Config{})
	defer stop()
	// The outer shell lives ~150 ms (long enough to be read; a sub-millisecond process can exit
	// before procfs is read) and exits; its background subshell waits, then execs anydesk,
	// whose parent (the outer shell) is gone by then: procfs names the reaper as its parent.
	script := "(sleep 0.5; exec " + path + " 0.2 0.1) & sleep 0.15; exit 0"
	cmd := exec.Command("/bin/sh", "-c", script)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	shPid := cmd.Process.Pid
	got := rec.wait(t, 10*time.Second, 1, func(e *event.Event) bool {
		return e.Category == event.ProcessCreation && e.Fields["Image"] == path
	})
	if len(got) != 1 {
		t.Fatalf("%d events for the orphan, want 1", len(got))
	}
	f := got[0].Fields
	// The test is only meaningful if procfs no longer names the shell as the parent.
	if data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(f["ProcessId"].(int)), "status")); err == nil {
		if st, err := parseStatus(data); err == nil && st.PPid == shPid {
			t.Fatalf("the shell %d is still the parent in procfs; the scenario did not happen", shPid)
		}
	}
	if f["ParentProcessId"] != shPid || f["ParentImage"] != sh || f["ParentCommandLine"] != "/bin/sh -c "+script {
		t.Errorf("parent of the orphan: %v (want pid %d image %s)", f, shPid, sh)
		for _, e := range rec.find(func(e *event.Event) bool { return e.Fields["ProcessId"] == shPid }) {
			t.Logf("shell event: %s %v", e.Category, e.Fields)
		}
	}
}

func TestPollingFallback(t *testing.T) {
	path, hash := fakeAnyDesk(t)
	s, rec, stop := startSource(t, Config{Poll: true, PollInterval: 100 * time.Millisecond})
	defer stop()
	if s.Mode() != ModePoll {
		t.Fatalf("mode = %q, want poll", s.Mode())
	}
	cmd := exec.Command(path, "1.2", "0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	got := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessCreation, pid))
	if len(got) != 1 {
		_ = cmd.Process.Kill()
		t.Fatalf("no process_creation for pid %d", pid)
	}
	self, _ := os.Executable()
	f := got[0].Fields
	if f["Image"] != path || f["CommandLine"] != path+" 1.2 0.3" || f["Hashes"] != hash ||
		f["ParentProcessId"] != os.Getpid() || f["ParentImage"] != self || f["Snapshot"] != nil {
		t.Errorf("polled event: %v", f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	term := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessTermination, pid))
	if len(term) != 1 || term[0].Fields["Image"] != path {
		t.Fatalf("termination events: %v", term)
	}
	if again := rec.find(isPid(event.ProcessCreation, pid)); len(again) != 1 {
		t.Errorf("%d process_creation events across polls, want 1", len(again))
	}
}

func TestSnapshotReportsRunningProcesses(t *testing.T) {
	path, hash := fakeAnyDesk(t)
	cmd := exec.Command(path, "30", "0.5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// Wait until the child has exec'd (its exe link names the copy).
	for i := 0; i < 200; i++ {
		if l, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe")); l == path {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, cfg := range []Config{{}, {Poll: true}} {
		rec := newRecorder()
		if err := New(cfg).Snapshot(context.Background(), rec.emit); err != nil {
			t.Fatalf("poll=%v: %v", cfg.Poll, err)
		}
		got := rec.find(isPid(event.ProcessCreation, pid))
		if len(got) != 1 {
			t.Fatalf("poll=%v: %d events for pid %d", cfg.Poll, len(got), pid)
		}
		f := got[0].Fields
		if f["Snapshot"] != true || f["Image"] != path || f["CommandLine"] != path+" 30 0.5" || f["Hashes"] != hash || f["ParentProcessId"] != os.Getpid() {
			t.Errorf("poll=%v: %v", cfg.Poll, f)
		}
		if self := rec.find(isPid(event.ProcessCreation, os.Getpid())); len(self) != 1 || self[0].Fields["Snapshot"] != true {
			t.Errorf("poll=%v: this process: %v", cfg.Poll, self)
		}
		for _, e := range rec.events {
			if e.Category != event.ProcessCreation || e.Fields["Snapshot"] != true {
				t.Fatalf("poll=%v: snapshot emitted %s %v", cfg.Poll, e.Category, e.Fields)
			}
		}
	}
}

func TestConnectorExecChainReportedOnce(t *testing.T) {
	requireRoot(t)
	path, _ := fakeAnyDesk(t)
	_, rec, stop := startSource(t, Config{})
	defer stop()
	var pids []int
	for i := 0; i < 5; i++ {
		cmd := exec.Command("/bin/sh", "-c", "exec "+path+" 0.05")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	missed := 0
	for _, pid := range pids {
		rec.wait(t, 10*time.Second, 1, isPid(event.ProcessTermination, pid))
		got := rec.find(func(e *event.Event) bool {
			return e.Category == event.ProcessCreation && e.Fields["ProcessId"] == pid && e.Fields["Image"] == path
		})
		if len(got) > 1 {
			t.Errorf("pid %d: %d process_creation events for %s, want 1", pid, len(got), path)
			for _, e := range rec.find(func(e *event.Event) bool { return e.Fields["ProcessId"] == pid }) {
				t.Logf("  %s %s %v", e.ID, e.Category, e.Fields)
			}
		}
		if len(got) == 0 {
			// Only acceptable when the process could not be read in time at all.
			t.Logf("pid %d: %s not read in time (loaded machine)", pid, path)
			missed++
		}
	}
	if missed == len(pids) {
		t.Errorf("none of %d exec chains read in time", len(pids))
	}
}

// TestConnectorGoIdentityOfRenamedCopy runs a renamed copy of this test binary (a Go program):
// its process_creation event carries the Go build identity read from the executable, whatever
// its name; a non-Go program carries none.
func TestConnectorGoIdentityOfRenamedCopy(t *testing.T) {
	requireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), ".x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(dir, "kworker")
	if err := os.WriteFile(renamed, data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, rec, stop := startSource(t, Config{})
	defer stop()
	// The snapshot's event of this test process carries it too.
	mine := rec.find(isPid(event.ProcessCreation, os.Getpid()))
	if len(mine) == 0 || mine[0].Fields["GoModule"] != "github.com/vigilhq/vigil" {
		t.Errorf("snapshot of this process: %v", mine)
	}
	cmd := exec.Command(renamed, "-test.run=^$")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", renamed, err, out)
	}
	got := rec.wait(t, 10*time.Second, 1, isPid(event.ProcessCreation, cmd.Process.Pid))
	if len(got) == 0 {
		t.Fatal("no event for the renamed copy")
	}
	f := got[0].Fields
	if f["Image"] != renamed || f["GoPackage"] != "github.com/vigilhq/vigil/collector/process.test" || f["GoModule"] != "github.com/vigilhq/vigil" {
		t.Errorf("renamed copy: %v", f)
	}
	sh := exec.Command("/bin/sh", "-c", "exit 0")
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	got = rec.wait(t, 10*time.Second, 1, isPid(event.ProcessCreation, sh.Process.Pid))
	if len(got) == 0 || got[0].Fields["GoPackage"] != nil {
		t.Errorf("sh: %v", got)
	}
}
