package files

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// recorder collects emitted events.
type recorder struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (r *recorder) emit(e *event.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) all() []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Event(nil), r.evs...)
}

// find returns the events whose TargetFilename is p.
func (r *recorder) find(p string) []*event.Event {
	var out []*event.Event
	for _, e := range r.all() {
		if e.String("TargetFilename") == p {
			out = append(out, e)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// start runs a Source on cfg until the test ends; stop flushes and waits.
func start(t *testing.T, cfg Config) (*Source, *recorder, func()) {
	t.Helper()
	if cfg.Settle == 0 {
		cfg.Settle = 150 * time.Millisecond
	}
	if cfg.Window == 0 {
		cfg.Window = time.Second
	}
	s := New(cfg)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.emit) }()
	waitFor(t, "watches", 5*time.Second, func() bool { return s.Stats().Watches > 0 })
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, rec, stop
}

func TestWatchSeesRealArchives(t *testing.T) {
	for _, tool := range []string{"tar", "zip", "7z", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	work := t.TempDir()
	makeSourceTree(t, work)
	root := t.TempDir()
	_, rec, stop := start(t, Config{Roots: []string{root}, Excludes: []string{}})
	out := func(name string) string { return filepath.Join(root, name) }
	cmds := [][]string{
		{"tar", "cf", out("plain.tar"), "src"},
		{"tar", "czf", out("code.tgz"), "src"},
		{"tar", "cJf", out("code.txz"), "src"},
		{"tar", "cjf", out("code.tbz"), "src"},
		{"tar", "--zstd", "-cf", out("code.tzst"), "src"},
		{"zip", "-qr", out("code.zip"), "src"},
		{"zip", "-qr", "-P", "s3cret", out("enc.zip"), "src"},
		{"7z", "a", "-bd", "-y", out("code.7z"), "src"},
		{"7z", "a", "-bd", "-y", "-ps3cret", out("enc.7z"), "src"},
		{"7z", "a", "-bd", "-y", "-ps3cret", "-mhe=on", out("ench.7z"), "src"},
		{"7z", "a", "-bd", "-y", "-tzip", out("z7.zip"), "src"},
		{"7z", "a", "-bd", "-y", "-tzip", "-ps3cret", out("z7enc.zip"), "src"},
	}
	for _, c := range cmds {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = work
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, b)
		}
	}
	// A zip renamed to .txt (inside the watched tree) and a text file named .zip.
	if err := exec.Command("zip", "-qr", "-P", "pw", filepath.Join(work, "x.zip"), filepath.Join(work, "src")).Run(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(work, "x.zip"))
	if err := os.WriteFile(out("staged.zip.part"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// In its own directory: the root's per-directory budget goes to the archives' neighbours.
	if err := os.Mkdir(out("docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out("docs/fake.zip"), []byte("not an archive at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // let staged.zip.part settle and be reported
	if err := os.Rename(out("staged.zip.part"), out("notes.txt")); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{
		"plain.tar": {ArchiveTar, false}, "code.tgz": {ArchiveGz, false}, "code.txz": {ArchiveXz, false},
		"code.tbz": {ArchiveBz2, false}, "code.tzst": {ArchiveZst, false}, "code.zip": {ArchiveZip, false},
		"enc.zip": {ArchiveZip, true}, "code.7z": {Archive7z, false}, "enc.7z": {Archive7z, true},
		"ench.7z": {Archive7z, true}, "z7.zip": {ArchiveZip, false}, "z7enc.zip": {ArchiveZip, true},
		"notes.txt": {ArchiveZip, true},
	}
	waitFor(t, "archive events", 10*time.Second, func() bool {
		for name := range want {
			if len(rec.find(out(name))) == 0 {
				return false
			}
		}
		return true
	})
	stop()
	for name, w := range want {
		evs := rec.find(out(name))
		last := evs[len(evs)-1]
		if last.Fields["ArchiveType"] != w[0] || last.Fields["ArchiveEncrypted"] != w[1] {
			t.Errorf("%s: got %v", name, last.Fields)
		}
		if last.Category != event.FileEvent || last.Fields["Size"].(int64) <= 0 {
			t.Errorf("%s: bad event %+v", name, last)
		}
	}
	renamed := rec.find(out("notes.txt"))
	if a := renamed[len(renamed)-1].Fields; a["Action"] != "renamed" || a["SourceFilename"] != out("staged.zip.part") {
		t.Errorf("rename: %v", a)
	}
	fake := rec.find(out("docs/fake.zip"))
	if len(fake) != 1 || fake[0].Fields["Action"] != "created" {
		t.Fatalf("fake.zip: want one created event, got %d", len(fake))
	}
	if _, ok := fake[0].Fields["ArchiveType"]; ok {
		t.Errorf("fake.zip detected as archive: %v", fake[0].Fields)
	}
}

// makeTree writes dirs x files files of varying sizes under dir and returns the total bytes.
func makeTree(t testing.TB, dir string, dirs, files int) int64 {
	t.Helper()
	var total int64
	buf := bytes.Repeat([]byte("x"), 4096)
	for d := 0; d < dirs; d++ {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < files; f++ {
			n := (d*files + f) % 4096
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%04d.txt", f)), buf[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			total += int64(n)
		}
	}
	return total
}

// TestBurstAggregated copies 10,000 files with the real cp -r into a watched tree.
func TestBurstAggregated(t *testing.T) {
	src := t.TempDir()
	total := makeTree(t, src, 100, 100)
	root := t.TempDir()
	s, rec, stop := start(t, Config{Roots: []string{root}, Excludes: []string{}, Window: 3 * time.Second, Settle: 300 * time.Millisecond})
	if b, err := exec.Command("cp", "-r", src, filepath.Join(root, "loot")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	waitFor(t, "all files counted", 60*time.Second, func() bool { return countFiles(rec.all()) >= 10000 })
	stop()
	evs := rec.all()
	files, bytes := countFiles(evs), countBytes(evs)
	t.Logf("10,000 files in 100 directories: %d events (%d aggregates), stats %+v", len(evs), s.Stats().Aggregates, s.Stats())
	if files != 10000 || bytes != total {
		t.Fatalf("totals: %d files / %d bytes, want 10000 / %d", files, bytes, total)
	}
	// Bounded: at most GlobalLimit individual events per window plus one aggregate per directory
	// window (a directory's copy can straddle two windows).
	if len(evs) > 2*(DefaultGlobalLimit+100) {
		t.Fatalf("%d events for 10,000 files", len(evs))
	}
}

// An aggregate's event carries the time of its window's last file, not the time the window
// closed (10 s later by default): an archive made from the files right after the copy is then
// ordered after the burst, as the staging rules (gathered, then archived) need.
func TestAggregateTimeIsLastActivity(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, 2, 40)
	root := t.TempDir()
	_, rec, stop := start(t, Config{Roots: []string{root}, Excludes: []string{}, Window: 3 * time.Second, Settle: 300 * time.Millisecond})
	if b, err := exec.Command("cp", "-r", src, filepath.Join(root, "loot")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	waitFor(t, "the aggregates", 60*time.Second, func() bool { return countFiles(rec.all()) >= 80 })
	stop()
	n := 0
	for _, e := range rec.all() {
		if e.Fields["Action"] != "aggregate" {
			continue
		}
		n++
		ws, err1 := time.Parse(time.RFC3339Nano, e.Fields["WindowStart"].(string))
		we, err2 := time.Parse(time.RFC3339Nano, e.Fields["WindowEnd"].(string))
		if err1 != nil || err2 != nil {
			t.Fatalf("window fields %v", e.Fields)
		}
		if e.Time.Before(ws) || !e.Time.Before(we) {
			t.Errorf("aggregate of %s at %s, want within its window [%s, %s): the time its files were added", e.Fields["TargetFilename"],
				e.Time.Format(time.StampMilli), ws.Format(time.StampMilli), we.Format(time.StampMilli))
		}
	}
	if n == 0 {
		t.Fatal("no aggregate")
	}
}

// countFiles sums FileCount over aggregates plus individually reported created files in
// directories that have no aggregate covering them.
func countFiles(evs []*event.Event) int {
	n, _ := totals(evs)
	return n
}

func countBytes(evs []*event.Event) int64 {
	_, b := totals(evs)
	return b
}

func totals(evs []*event.Event) (int, int64) {
	agg := map[string]bool{}
	n, b := 0, int64(0)
	for _, e := range evs {
		if e.Fields["Action"] == "aggregate" {
			agg[e.String("TargetFilename")] = true
			n += e.Fields["FileCount"].(int)
			b += e.Fields["TotalBytes"].(int64)
		}
	}
	for _, e := range evs {
		if e.Fields["Action"] == "created" && !agg[filepath.Dir(e.String("TargetFilename"))] {
			n++
			b += e.Fields["Size"].(int64)
		}
	}
	return n, b
}

func TestNewSubdirectoriesWatched(t *testing.T) {
	root := t.TempDir()
	_, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}})
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// Written well after the directories appeared: only a watch on c can see it.
	p := filepath.Join(deep, "later.txt")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "file in new subdirectory", 5*time.Second, func() bool { return len(rec.find(p)) > 0 })
	if e := rec.find(p)[0]; e.Fields["Action"] != "created" || e.Fields["Size"] != int64(5) {
		t.Fatalf("got %v", e.Fields)
	}
	// A file modified later is reported as modified.
	if err := os.WriteFile(filepath.Join(root, "pre.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pre.txt", 5*time.Second, func() bool { return len(rec.find(filepath.Join(root, "pre.txt"))) == 1 })
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted", 5*time.Second, func() bool {
		evs := rec.find(p)
		return len(evs) == 2 && evs[1].Fields["Action"] == "deleted"
	})
}

func TestExistingFilesInNewTreeAreSeen(t *testing.T) {
	// A tree moved in at once: its files existed before any watch could be added.
	root := t.TempDir()
	staging := t.TempDir()
	makeTree(t, staging, 2, 3)
	_, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}})
	if err := os.Rename(staging, filepath.Join(root, "moved")); err != nil {
		t.Skipf("rename across temp dirs: %v", err)
	}
	waitFor(t, "6 files", 5*time.Second, func() bool { return countFiles(rec.all()) == 6 })
}

func TestExcludesGetNoWatchesNorEvents(t *testing.T) {
	root := t.TempDir()
	nm := filepath.Join(root, "proj", "node_modules", "left-pad")
	if err := os.MkdirAll(nm, 0o755); err != nil {
		t.Fatal(err)
	}
	s, rec, stop := start(t, Config{Roots: []string{root}})
	watches := s.Stats().Watches
	if watches != 2 { // root and proj
		t.Errorf("watches %d, want 2 (node_modules excluded)", watches)
	}
	for i := 0; i < 50; i++ {
		if err := os.WriteFile(filepath.Join(nm, fmt.Sprintf("f%d.js", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "proj", "node_modules", "new", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proj", "node_modules", "new", "deep", "x.js"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(root, "proj", "main.go")
	if err := os.WriteFile(marker, []byte("package main"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "marker", 5*time.Second, func() bool { return len(rec.find(marker)) > 0 })
	stop()
	for _, e := range rec.all() {
		if strings.Contains(e.String("TargetFilename"), "node_modules") {
			t.Errorf("excluded path reported: %v", e.Fields)
		}
	}
	if got := s.Stats().Watches; got != 0 {
		t.Errorf("watches after stop: %d", got)
	}
}

// TestWatchCapDegrades: a configured cap behaves like the kernel's inotify limit.
func TestWatchCapDegrades(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 10; i++ {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("d%d", i), "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	s, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}, MaxWatches: 4, Logger: logger})
	// start returns at the first watch; the walk of the tree may still be going on.
	waitFor(t, "the walk to reach the cap", 5*time.Second, func() bool { return s.Stats().WatchLimitReached })
	st := s.Stats()
	if st.Watches != 4 || !st.WatchLimitReached || st.UnwatchedDirs == 0 {
		t.Fatalf("stats %+v", st)
	}
	// New directories are counted, not watched, and nothing crashes.
	if err := os.MkdirAll(filepath.Join(root, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "still-seen.txt")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "event in a watched dir", 5*time.Second, func() bool { return len(rec.find(p)) > 0 })
	if got := s.Stats().UnwatchedDirs; got <= st.UnwatchedDirs {
		t.Errorf("unwatched dirs %d after a new directory, was %d", got, st.UnwatchedDirs)
	}
	if n := strings.Count(logs.String(), "watch limit reached"); n != 1 {
		t.Errorf("want one warning, got %d:\n%s", n, logs.String())
	}
}

func TestAddRemoveRootWhileRunning(t *testing.T) {
	root, usb := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(usb, "DCIM"), 0o755); err != nil {
		t.Fatal(err)
	}
	removable := func(p string) bool { return within(p, usb) }
	s, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}, IsRemovable: removable, ArchiveWait: 10 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // concurrent callers
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.AddRoot(usb); _ = s.Stats() }()
	}
	wg.Wait()
	p := filepath.Join(usb, "DCIM", "dump.7z")
	if err := os.WriteFile(p, append(append([]byte{}, magic7z...), make([]byte, 30)...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "event on the removable root", 5*time.Second, func() bool { return len(rec.find(p)) > 0 })
	if e := rec.find(p)[0]; e.Fields["Removable"] != true || e.Fields["ArchiveType"] != Archive7z {
		t.Fatalf("got %v", e.Fields)
	}
	before := s.Stats().Watches
	s.RemoveRoot(usb)
	if after := s.Stats().Watches; after != before-2 {
		t.Fatalf("watches %d after RemoveRoot, was %d", after, before)
	}
	if err := s.AddRoot(filepath.Join(usb, "missing")); err == nil {
		t.Fatal("AddRoot of a missing folder: no error")
	}
}

func TestCloudSyncTag(t *testing.T) {
	root := t.TempDir()
	sync := filepath.Join(root, "Library", "CloudStorage", "GoogleDrive-alice@example.com", "My Drive")
	if err := os.MkdirAll(sync, 0o755); err != nil {
		t.Fatal(err)
	}
	_, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}})
	p := filepath.Join(sync, "repo.zip")
	if err := os.WriteFile(p, append([]byte("PK\x05\x06"), make([]byte, 18)...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "event", 5*time.Second, func() bool { return len(rec.find(p)) > 0 })
	if e := rec.find(p)[0]; e.Fields["CloudSync"] != CloudGoogleDrive {
		t.Fatalf("got %v", e.Fields)
	}
}

// TestDeleteTree: removing a tree reports its files (not its directories) as deleted, in bursts
// as aggregates.
func TestDeleteTree(t *testing.T) {
	root := t.TempDir()
	tree := filepath.Join(root, "stage")
	makeTree(t, tree, 3, 10)
	s, rec, stop := start(t, Config{Roots: []string{root}, Excludes: []string{}, Window: 500 * time.Millisecond})
	if w := s.Stats().Watches; w != 5 {
		t.Fatalf("watches %d, want 5", w)
	}
	if err := os.RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "watches dropped", 5*time.Second, func() bool { return s.Stats().Watches == 1 })
	time.Sleep(700 * time.Millisecond)
	stop()
	deleted, inAggs := 0, 0
	for _, e := range rec.all() {
		p := e.String("TargetFilename")
		switch e.Fields["Action"] {
		case "deleted":
			deleted++
			if !strings.HasSuffix(p, ".txt") {
				t.Errorf("directory reported deleted: %s", p)
			}
		case "aggregate":
			inAggs += e.Fields["DeletedCount"].(int)
		default:
			t.Errorf("unexpected %v", e.Fields)
		}
	}
	if inAggs != 30 || deleted == 0 || deleted > DefaultGlobalLimit {
		t.Errorf("deleted events %d, DeletedCount total %d (want 30)", deleted, inAggs)
	}
}

// deepTree makes n directories under dir, 100 per level-one folder.
func deepTree(t testing.TB, dir string, n int) {
	t.Helper()
	for i := range n {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("e%03d", i%100)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// A tree walk stops at once when Run's context ends: not one more directory is watched.
func TestTreeWalkStopsWhenRunEnds(t *testing.T) {
	root := t.TempDir()
	deepTree(t, root, 300)
	s := New(Config{Roots: []string{root}})
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Skipf("no file watcher: %v", err)
	}
	defer w.Close()
	stop := make(chan struct{})
	s.w, s.stop = w, stop
	s.addTree(root, false)
	if n := len(s.watched); n != 304 {
		t.Fatalf("a walk while running watched %d directories, want 304", n)
	}
	s.dropTreeLocked(root)
	close(stop)
	s.addTree(root, false)
	if n := len(s.watched); n != 0 {
		t.Fatalf("a walk after the stop watched %d directories, want none", n)
	}
}

// Stopping Run in the middle of its first walk of a big tree returns promptly (measured and
// logged; the bound asserted is generous, the walk itself is what must not run to its end).
func TestRunStopsMidWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a tree of 20,000 directories")
	}
	root := t.TempDir()
	deepTree(t, root, 20000)
	s := New(Config{Roots: []string{root}, Logger: hclog.NewNullLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(*event.Event) {}) }()
	waitFor(t, "the walk to start", 30*time.Second, func() bool { return s.Stats().Watches > 0 })
	at := s.Stats().Watches
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still walking 30 s after its context ended")
	}
	t.Logf("cancelled with %d of 20,201 directories watched; Run returned %v later", at, time.Since(start).Round(time.Microsecond))
}
