package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// item is what the test polling source lists.
type item struct {
	Name  string
	Ready bool
}

func itemFields(it *item, action string) map[string]any {
	return map[string]any{"Action": action, "Name": it.Name}
}

// script is a backend that returns one listing per call, repeating the last one.
type script struct {
	mu    sync.Mutex
	steps [][]item
	calls int
	errAt map[int]error
}

func (s *script) list(context.Context) ([]item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.calls
	s.calls++
	if err := s.errAt[i]; err != nil {
		return nil, err
	}
	return append([]item(nil), s.steps[min(i, len(s.steps)-1)]...), nil
}

// recorder collects events and hands them out one by one, with a generous deadline.
type recorder struct{ ch chan *event.Event }

func newRecorder() *recorder { return &recorder{ch: make(chan *event.Event, 100)} }

func (r *recorder) emit(e *event.Event) { r.ch <- e }

func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case e := <-r.ch:
		if e.Product != event.MacOS || e.Category != event.USBDevice {
			t.Errorf("event %s/%s, want the backend's product and the source's category", e.Category, e.Product)
		}
		return e.String("Action") + " " + e.String("Name")
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
		return ""
	}
}

func newTestPolling(sc *script, log hclog.Logger) *Polling[item] {
	return &Polling[item]{
		SourceName: "things", Category: event.USBDevice, Fields: itemFields,
		Key:  func(it *item) string { return it.Name },
		Open: func() (*Backend[item], error) { return &Backend[item]{Product: event.MacOS, List: sc.list}, nil },
		Loop: Loop{What: "things", Log: log, Interval: 5 * time.Millisecond, Settle: 5 * time.Millisecond},
	}
}

func TestPollingRun(t *testing.T) {
	// The second listing fails; the third finds b in a's place.
	sc := &script{steps: [][]item{{{Name: "a"}}, nil, {{Name: "b"}}}, errAt: map[int]error{1: errors.New("flaky")}}
	var logs bytes.Buffer
	var lmu sync.Mutex
	log := hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{w: &logs, mu: &lmu}, Level: hclog.Info})
	p := newTestPolling(sc, log)
	p.Actions = Actions{Present: "here", Added: "came", Removed: "went"}
	var listed [][]item
	p.Listed = func(its []item) { listed = append(listed, its) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec.emit) }()
	for _, want := range []string{"here a", "came b", "went a"} {
		if got := rec.next(t); got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	lmu.Lock()
	out := logs.String()
	lmu.Unlock()
	if strings.Count(out, "listing failed") != 1 || !strings.Contains(out, "flaky") || !strings.Contains(out, "listing works again") {
		t.Errorf("a failed poll is logged once and its recovery too:\n%s", out)
	}
	if len(listed) < 2 || len(listed[0]) != 1 || len(listed[1]) != 1 || listed[1][0].Name != "b" {
		t.Errorf("Listed saw %v: want every listing that succeeded", listed)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// A new item that is not ready is held back for a few listings, then reported; an item that
// never becomes ready is reported as it is after maxHolds listings.
func TestPollingHold(t *testing.T) {
	partial := item{Name: "x"}
	full := item{Name: "x", Ready: true}
	for _, c := range []struct {
		steps [][]item
		calls int // listings done when the item is reported
	}{
		{[][]item{{}, {partial}, {partial}, {full}}, 4},
		{[][]item{{}, {partial}}, 2 + maxHolds},
	} {
		sc := &script{steps: c.steps}
		p := newTestPolling(sc, nil)
		p.Hold = func(it *item) bool { return !it.Ready }
		ctx, cancel := context.WithCancel(context.Background())
		calls := make(chan int, 10)
		go func() {
			_ = p.Run(ctx, func(e *event.Event) {
				if e.String("Action") != "added" || e.String("Name") != "x" {
					t.Errorf("event %v", e.Fields)
				}
				sc.mu.Lock()
				calls <- sc.calls
				sc.mu.Unlock()
			})
		}()
		select {
		case n := <-calls:
			if n != c.calls {
				t.Errorf("reported at listing %d, want %d", n, c.calls)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("not reported within 30 s")
		}
		cancel()
	}
}

// The backend is opened once; its errors and the listing's start with the source's name.
func TestPollingErrors(t *testing.T) {
	opened := 0
	p := &Polling[item]{SourceName: "things", Open: func() (*Backend[item], error) {
		opened++
		return nil, errors.New("no backend here")
	}}
	for range 2 {
		if err := p.Snapshot(context.Background(), func(*event.Event) {}); err == nil || err.Error() != "things: no backend here" {
			t.Errorf("Snapshot: %v", err)
		}
	}
	if err := p.Run(context.Background(), func(*event.Event) {}); err == nil {
		t.Error("Run without a backend must fail")
	}
	if opened != 1 {
		t.Errorf("Open called %d times", opened)
	}
	sc := &script{steps: [][]item{{}}, errAt: map[int]error{0: errors.New("cannot list")}}
	p = newTestPolling(sc, nil)
	if err := p.Run(context.Background(), func(*event.Event) {}); err == nil || err.Error() != "things: cannot list" {
		t.Errorf("Run with a failing first listing: %v", err)
	}
}

func TestPollingSnapshot(t *testing.T) {
	sc := &script{steps: [][]item{{{Name: "a"}, {Name: "b"}}}}
	p := newTestPolling(sc, nil)
	rec := newRecorder()
	if err := p.Snapshot(context.Background(), rec.emit); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"present a", "present b"} {
		if got := rec.next(t); got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	}
}

// Notifications trigger a poll after Settle; when they stop, the loop goes on polling.
func TestLoopNotifications(t *testing.T) {
	notify := make(chan struct{})
	polls := make(chan struct{}, 100)
	l := Loop{What: "things", Interval: time.Hour, WatchedInterval: time.Hour, Settle: time.Millisecond,
		Watch: func(context.Context) (<-chan struct{}, error) { return notify, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(context.Context) (bool, error) { polls <- struct{}{}; return false, nil })
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-polls:
		case <-time.After(30 * time.Second):
			t.Fatalf("no poll after %s", what)
		}
	}
	notify <- struct{}{}
	notify <- struct{}{}
	wait("two notifications")
	close(notify)
	// Back to Interval (an hour): no poll comes before cancel.
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if len(polls) > 1 {
		t.Errorf("%d extra polls", len(polls))
	}

	// A Watch that fails leaves the loop polling every Interval.
	l = Loop{Interval: time.Millisecond, Watch: func(context.Context) (<-chan struct{}, error) { return nil, errors.New("no netlink") }}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- l.Run(ctx, func(context.Context) (bool, error) { polls <- struct{}{}; return false, nil })
	}()
	for len(polls) > 0 {
		<-polls
	}
	wait("a tick")
	wait("another tick")
	cancel()
	<-done
}

// A steady stream of notifications (a busy machine starting a process every few milliseconds)
// does not push the poll back: it comes Settle after the first, then again while they go on.
func TestLoopNotificationsKeepComing(t *testing.T) {
	notify := make(chan struct{})
	polls := make(chan time.Time, 100)
	const settle = 50 * time.Millisecond
	l := Loop{What: "things", Interval: time.Hour, WatchedInterval: time.Hour, Settle: settle,
		Watch: func(context.Context) (<-chan struct{}, error) { return notify, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(context.Context) (bool, error) { polls <- time.Now(); return false, nil })
	}()
	// Notifications every 5 ms for 40 settle periods: a debounce that restarts its wait on each
	// one would never poll.
	for end := time.Now().Add(40 * settle); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		notify <- struct{}{}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if len(polls) < 2 {
		t.Fatalf("%d polls during a steady stream of notifications over %s, want several", len(polls), 40*settle)
	}
}

func writeFile(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// A dump is parsed again only when its size or modification time changes (every file backend
// caches, as the USB one did); parse errors name the file and stay errors while it is unchanged.
func TestFileBackendCaches(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.txt")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	writeFile(t, path, "a b", t0)
	parses := 0
	b := FileBackend(path, event.Windows, func(raw []byte) ([]item, error) {
		parses++
		if bytes.HasPrefix(raw, []byte("bad")) {
			return nil, errors.New("line 1: not a dump")
		}
		var out []item
		for _, f := range strings.Fields(string(raw)) {
			out = append(out, item{Name: f})
		}
		return out, nil
	})
	if b.Product != event.Windows {
		t.Errorf("product %q", b.Product)
	}
	ctx := context.Background()
	for range 3 {
		its, err := b.List(ctx)
		if err != nil || len(its) != 2 {
			t.Fatalf("list: %v %v", its, err)
		}
		its[0].Name = "changed by the caller"
	}
	if parses != 1 {
		t.Errorf("parsed %d times for an unchanged file", parses)
	}
	if its, _ := b.List(ctx); its[0].Name != "a" {
		t.Errorf("a caller's change leaked into the cache: %v", its)
	}
	writeFile(t, path, "a b", t0.Add(time.Second)) // same size, newer
	writeFile(t, path, "bad", t0.Add(time.Second)) // same size and time as "a b": unseen
	writeFile(t, path, "bad!", t0.Add(time.Second))
	for range 2 {
		if _, err := b.List(ctx); err == nil || !strings.Contains(err.Error(), path+": line 1: not a dump") {
			t.Errorf("parse error: %v", err)
		}
	}
	if parses != 2 {
		t.Errorf("parsed %d times, want 2", parses)
	}
}

func TestFileBackendRefuses(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	blank := filepath.Join(dir, "blank")
	big := filepath.Join(dir, "big")
	writeFile(t, empty, "", time.Now())
	writeFile(t, blank, " \n\r\n\t", time.Now())
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxDumpBytes + 1); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	f.Close()
	for path, want := range map[string]string{
		empty:                        "empty file",
		blank:                        "empty file",
		big:                          "larger than",
		dir:                          "not a regular file",
		filepath.Join(dir, "absent"): "no such file",
	} {
		b := FileBackend(path, event.Linux, func([]byte) ([]item, error) { return nil, nil })
		_, err := b.List(context.Background())
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", path, err, want)
		}
	}
}

// DumpsBackend reads several files together and skips an empty path.
func TestDumpsBackend(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	writeFile(t, a, "A", time.Now())
	b := DumpsBackend(event.MacOS, []string{"", a}, func(raw [][]byte) ([]item, error) {
		return []item{{Name: fmt.Sprintf("%q %q", raw[0], raw[1])}}, nil
	})
	its, err := b.List(context.Background())
	if err != nil || len(its) != 1 || its[0].Name != `"" "A"` {
		t.Errorf("%v %v", its, err)
	}
}

func TestCheckRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeFile(t, file, "x", time.Now())
	if err := CheckRoots(Root{"/etc", ""}, Root{"/sys", dir}); err != nil {
		t.Errorf("an existing folder and the live path: %v", err)
	}
	for _, r := range []Root{{"/etc", filepath.Join(dir, "nope")}, {"/dev", file}} {
		err := CheckRoots(r)
		if err == nil || !strings.Contains(err.Error(), r.Path) || !strings.Contains(err.Error(), r.Stands) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}

func TestAbsentIsNone(t *testing.T) {
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	list := AbsentIsNone(log, "nothing of the kind here", func(context.Context) ([]item, error) {
		_, err := os.ReadDir(filepath.Join(t.TempDir(), "absent"))
		return nil, err
	})
	for range 2 {
		if its, err := list(context.Background()); err != nil || its != nil {
			t.Errorf("%v %v", its, err)
		}
	}
	if strings.Count(logs.String(), "nothing of the kind here") != 1 {
		t.Errorf("logged:\n%s", logs.String())
	}
	other := AbsentIsNone(log, "x", func(context.Context) ([]item, error) { return nil, errors.New("denied") })
	if _, err := other(context.Background()); err == nil {
		t.Error("an error other than a missing folder must stay an error")
	}
}
